/**
 * @module The one state interface behind the authorization server and the limiters.
 * Designed for a shared store (Redis/Valkey) from day one: every operation is atomic on its own,
 * so callers never read-then-write. Implementations: memory, file (the default), later Redis.
 */

/** A JSON-serialisable value kept in a store. */
export type StoredValue = null | boolean | number | string | StoredValue[] | { [key: string]: StoredValue };

export interface Store {
  /** The value at `key`, or `undefined` when absent or expired. */
  get<T extends StoredValue>(key: string): Promise<T | undefined>;
  /** Sets `key` to `value`, expiring after `ttlMs` milliseconds (required: nothing lives forever). */
  put(key: string, value: StoredValue, ttlMs: number): Promise<void>;
  /** Sets `key` only when absent or expired; resolves `true` when this call set it. */
  putIfAbsent(key: string, value: StoredValue, ttlMs: number): Promise<boolean>;
  /**
   * Removes `key` and returns its value, atomically: of two concurrent calls at most one gets the
   * value (single-use authorization codes, RFC 6749 §4.1.2).
   */
  take<T extends StoredValue>(key: string): Promise<T | undefined>;
  /**
   * Replaces the value at `key` with `next` only while it still equals `expected` (deep JSON
   * equality); resolves `true` when replaced (refresh-token rotation).
   */
  compareAndSet(key: string, expected: StoredValue, next: StoredValue, ttlMs: number): Promise<boolean>;
  /** Removes `key`; a no-op when absent. */
  delete(key: string): Promise<void>;
  /**
   * Adds `delta` to the count at `key` (0 when absent), never below 0, keeping or setting its
   * expiry; returns the new count (limiters). A count that reaches 0 from absent is not stored.
   */
  increment(key: string, delta: number, ttlMs: number): Promise<number>;
  /** Drops expired entries now (implementations also prune on their own). */
  prune(): Promise<void>;
  /** Flushes pending writes and releases files and timers. */
  close(): Promise<void>;
}
