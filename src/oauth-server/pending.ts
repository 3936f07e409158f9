/**
 * @module Pending sign-ins: an authorization request waiting for its form, a sign-in started at the
 * upstream provider. Anyone can start one, and each is kept in the store until it ends, so they
 * live in a ring of slots (store/ring.ts): a flood of them cuts short the oldest, and never fills
 * the store's share for such entries, where the next person's sign-in would be refused.
 */
import { SlotRing } from "../store/ring.ts";
import type { Store, StoredValue } from "../store/types.ts";

/**
 * How long a person may take between opening the sign-in page and sending it (or coming back from
 * the upstream provider): typing, a password manager, MFA. Codes have their own, short lifetime.
 */
export const PENDING_LIFETIME_MS = 15 * 60_000;

export interface PendingSignIns {
  /** Keeps `value` at `key` for `ttlMs` (at most PENDING_LIFETIME_MS), the oldest pending sign-in giving way when the ring is full. */
  put(key: string, value: StoredValue, ttlMs: number): Promise<void>;
}

/** Pending sign-ins kept in `store`, at most `slots` at once. */
export function pendingSignIns(store: Store, slots: number): PendingSignIns {
  const ring = new SlotRing<string>({ store, prefix: "pending-slot:", slots, release: (key) => store.delete(key) });
  return {
    async put(key, value, ttlMs) {
      await ring.claim(key, ttlMs);
      await store.put(key, value, ttlMs);
    },
  };
}
