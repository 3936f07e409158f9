/**
 * @module Login throttling on the Store, so it holds across restarts and (later) replicas.
 *
 * Two counters of failures in a window: per client address (an IPv6 address's /64, see
 * addressBucket), and per (username, address). Past a few free failures each further attempt
 * must wait a doubling delay. A username under attack
 * from many addresses (its own counter high) leaves each address one free attempt before the
 * backoff. A correct password from an address that has not failed is always checked, so an
 * attacker can never lock the real user out from elsewhere.
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
  /** Milliseconds to wait before an attempt for `username` from `address` is checked; 0: check it now. */
  waitFor(username: string, address: string): Promise<number>;
  failed(username: string, address: string): Promise<void>;
  succeeded(username: string, address: string): Promise<void>;
}

interface Counter {
  count: number;
  last: number;
}

export function createLoginLimiter(store: Store, now: () => number = Date.now): LoginLimiter {
  const keys = (username: string, address: string) => ({
    address: `login:a:${addressBucket(address)}`,
    pair: `login:p:${addressBucket(address)}:${username.toLowerCase()}`,
    user: `login:u:${username.toLowerCase()}`,
  });
  const delay = (counter: Counter | undefined, free: number) => {
    if (!counter || counter.count < free) return 0;
    const wait = Math.min(MAX_DELAY_MS, 1000 * 2 ** Math.min(counter.count - free, 20));
    return Math.max(0, counter.last + wait - now());
  };
  async function bump(key: string): Promise<void> {
    await store.increment(key, 1, WINDOW_MS);
    await store.put(`${key}:t`, now(), WINDOW_MS);
  }
  async function read(key: string): Promise<Counter | undefined> {
    const [count, last] = await Promise.all([store.get<number>(key), store.get<number>(`${key}:t`)]);
    return count === undefined ? undefined : { count, last: last ?? now() };
  }
  return {
    async waitFor(username, address) {
      const k = keys(username, address);
      const [byAddress, byPair, byUser] = await Promise.all([read(k.address), read(k.pair), read(k.user)]);
      const pairFree = (byUser?.count ?? 0) >= USERNAME_UNDER_ATTACK ? 1 : FREE_PER_PAIR;
      return Math.max(delay(byAddress, FREE_PER_ADDRESS), delay(byPair, pairFree));
    },
    async failed(username, address) {
      const k = keys(username, address);
      await Promise.all([bump(k.address), bump(k.pair), bump(k.user)]);
    },
    async succeeded(username, address) {
      const { pair } = keys(username, address);
      await Promise.all([store.delete(pair), store.delete(`${pair}:t`)]);
    },
  };
}
