/**
 * @module Login throttling on the Store, so it holds across restarts and (later) replicas.
 *
 * Two counters of failures in a window: per client address (an IPv6 address's /64, see
 * addressBucket), and per (username, address). Past a few free failures each further attempt
 * must wait a doubling delay. A username under attack
 * from many addresses (its own counter high) leaves each address one free attempt before the
 * backoff. A correct password from an address that has not failed is always checked, so an
 * attacker can never lock the real user out from elsewhere.
 *
 * An attempt is counted as a failure when it is admitted, before its password is checked (an
 * atomic increment), and taken back on success: guesses sent all at once are admitted one by one
 * against the counters, so they get no more checks than guesses sent one after another.
 */
import type { Store } from "../store/types.ts";
import { addressBucket } from "../util/cidr.ts";

const WINDOW_MS = 15 * 60_000;
/** Failures per address before backoff (a shared NAT has several users). */
const FREE_PER_ADDRESS = 10;
/** Failures per (username, address) before backoff. */
const FREE_PER_PAIR = 5;
/** Failures of one username, from all addresses, after which each address gets one free attempt only. */
const USERNAME_UNDER_ATTACK = 20;
const MAX_DELAY_MS = 15 * 60_000;

export interface LoginLimiter {
  /**
   * Admits a password check for `username` from `address`: 0 when it may be checked now — it then
   * counts as a failure until `succeeded` — otherwise the milliseconds to wait (nothing counted).
   */
  attempt(username: string, address: string): Promise<number>;
  /** The admitted attempt's password was right: it is not a failure, and the username's failures from that address are cleared. */
  succeeded(username: string, address: string): Promise<void>;
}

interface Counter {
  /** Failures before this attempt. */
  count: number;
  /** When the last one was let through (ms since the epoch), if known. */
  last: number | undefined;
}

export function createLoginLimiter(store: Store, now: () => number = Date.now): LoginLimiter {
  const keys = (username: string, address: string) => {
    const bucket = addressBucket(address);
    const name = username.toLowerCase();
    return { address: `login:a:${bucket}`, pair: `login:p:${bucket}:${name}`, user: `login:u:${name}` };
  };
  const delay = (counter: Counter, free: number) => {
    if (counter.count < free) return 0;
    const wait = Math.min(MAX_DELAY_MS, 1000 * 2 ** Math.min(counter.count - free, 20));
    // Never more than `wait`: a wall clock stepped back must not lengthen it by the step.
    return Math.min(wait, Math.max(0, (counter.last ?? now()) + wait - now()));
  };
  /** The failures at `key` before this attempt, which has just been added to them. */
  async function claim(key: string): Promise<Counter> {
    const count = await store.increment(key, 1, WINDOW_MS);
    return { count: count - 1, last: await store.get<number>(`${key}:t`) };
  }
  const undo = (key: string) => store.increment(key, -1, WINDOW_MS);
  return {
    async attempt(username, address) {
      const k = keys(username, address);
      // An address waiting already is refused before any username's key is made: its guesses at ever
      // new usernames would otherwise leave two keys each and fill the store's unauthenticated share.
      const byAddress = await claim(k.address);
      const addressWait = delay(byAddress, FREE_PER_ADDRESS);
      if (addressWait > 0) {
        await undo(k.address);
        return addressWait;
      }
      // The username's own count only sets the pair's free failures: no time of its last failure is kept.
      const [byPair, userCount] = await Promise.all([claim(k.pair), store.increment(k.user, 1, WINDOW_MS)]);
      const limits: [string, Counter, number][] = [
        [k.address, byAddress, FREE_PER_ADDRESS],
        [k.pair, byPair, userCount - 1 >= USERNAME_UNDER_ATTACK ? 1 : FREE_PER_PAIR],
      ];
      let wait = Math.max(...limits.map(([, counter, free]) => delay(counter, free)));
      // Past the free failures, attempts sent at once all see the same last time: only the one
      // that moves it on goes ahead, the others wait from now.
      for (const [key, counter, free] of limits) {
        if (wait === 0 && counter.count >= free && !(await store.compareAndSet(`${key}:t`, counter.last!, now(), WINDOW_MS))) wait = delay({ count: counter.count, last: now() }, free);
      }
      if (wait > 0) {
        await Promise.all([undo(k.address), undo(k.pair), undo(k.user)]);
        return wait;
      }
      // Those past their free failures had their time moved on above.
      await Promise.all(limits.filter(([, counter, free]) => counter.count < free).map(([key]) => store.put(`${key}:t`, now(), WINDOW_MS)));
      return 0;
    },
    async succeeded(username, address) {
      const k = keys(username, address);
      await Promise.all([undo(k.address), undo(k.user), store.delete(k.pair), store.delete(`${k.pair}:t`)]);
    },
  };
}
