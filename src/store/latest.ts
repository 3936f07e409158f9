/**
 * @module The latest few of one owner's entries (a user's grants or login sessions), listed in one
 * store entry kept by compare-and-set: past the limit the oldest fall off, for the caller to remove.
 * However often the owner signs in, what they keep in the store stays bounded.
 */
import type { Store } from "./types.ts";

/** Retries of a write that lost a race with another writer of the same list. */
const ATTEMPTS = 5;

/**
 * Appends `item` to the list at `key` (kept `ttlMs` ms from now, so as long as its newest item) and
 * keeps its last `limit` items. Resolves with the items that fell off, oldest first, or undefined
 * when concurrent writers of the list won the race every time (nothing was added then).
 */
export async function keepLatest(store: Store, key: string, item: string, limit: number, ttlMs: number): Promise<string[] | undefined> {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const listed = await store.get<string[]>(key);
    const next = [...(listed ?? []), item];
    const fallen = next.splice(0, Math.max(0, next.length - limit));
    if (listed === undefined ? await store.putIfAbsent(key, next, ttlMs) : await store.compareAndSet(key, listed, next, ttlMs)) return fallen;
  }
  return undefined;
}
