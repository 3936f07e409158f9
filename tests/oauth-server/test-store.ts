/** @module Test-only stand-in for the memory Store until h10a's lands (then this file goes). */
import type { Store, StoredValue } from "../../src/store/types.ts";

export /** Test-only stand-in until the memory store lands: the Store contract, single process. */
function memoryStore(): Store & { size(): number } {
  const entries = new Map<string, { value: string; expires: number }>();
  const live = (key: string) => {
    const entry = entries.get(key);
    if (entry && entry.expires <= Date.now()) entries.delete(key);
    return entries.get(key);
  };
  return {
    size: () => entries.size,
    async get(key) {
      const entry = live(key);
      return entry && JSON.parse(entry.value);
    },
    async put(key, value, ttlMs) {
      entries.set(key, { value: JSON.stringify(value), expires: Date.now() + ttlMs });
    },
    async putIfAbsent(key, value, ttlMs) {
      if (live(key)) return false;
      entries.set(key, { value: JSON.stringify(value), expires: Date.now() + ttlMs });
      return true;
    },
    async take(key) {
      const entry = live(key);
      entries.delete(key);
      return entry && JSON.parse(entry.value);
    },
    async compareAndSet(key, expected: StoredValue, next, ttlMs) {
      const entry = live(key);
      if (!entry || entry.value !== JSON.stringify(expected)) return false;
      entries.set(key, { value: JSON.stringify(next), expires: Date.now() + ttlMs });
      return true;
    },
    async delete(key) {
      entries.delete(key);
    },
    async increment(key, delta, ttlMs) {
      const value = Number(live(key)?.value ?? 0) + delta;
      entries.set(key, { value: String(value), expires: live(key)?.expires ?? Date.now() + ttlMs });
      return value;
    },
    async prune() {},
    async close() {},
  };
}
