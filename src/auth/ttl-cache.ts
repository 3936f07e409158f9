/**
 * @module A bounded map whose entries expire: validation results keyed by a token's hash. Lifetimes
 * run on the monotonic clock: a step of the wall clock (an NTP correction, a resumed VM) must not
 * keep a revoked token's cached acceptance alive, nor end entries early.
 */

export class TtlCache<V> {
  readonly #entries = new Map<string, { value: V; expiresAt: number }>();
  constructor(readonly maxEntries: number) {}

  get(key: string): V | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= performance.now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  /** Keeps `value` for `ttlMs` milliseconds from now; nothing when `ttlMs` is not positive. */
  set(key: string, value: V, ttlMs: number): void {
    if (ttlMs <= 0) return;
    this.#entries.delete(key);
    // Maps iterate in insertion order: the first key is the oldest.
    if (this.#entries.size >= this.maxEntries) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(key, { value, expiresAt: performance.now() + ttlMs });
  }
}
