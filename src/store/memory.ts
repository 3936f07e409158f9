/**
 * @module The in-memory Store: one process, lost on restart. Every operation runs to completion
 * within one turn of the event loop, which is what makes take and compareAndSet atomic here.
 */
import type { Store, StoredValue } from "./types.ts";

/** Entries kept at most, by default: a store that fills up refuses new keys rather than growing without bound. */
export const DEFAULT_MAX_ENTRIES = 100_000;
const PRUNE_INTERVAL_MS = 60_000;

/** Thrown by put/putIfAbsent/increment when the store holds `maxEntries` live entries. */
export class StoreFullError extends Error {
  readonly code = "STORE_FULL";
  constructor(limit: number) {
    super(`the state store holds its limit of ${limit} entries`);
    this.name = "StoreFullError";
  }
}

/** One entry as kept: the value's JSON text (so callers never share objects with the store) and its expiry (ms). */
export interface Entry {
  json: string;
  expiresAt: number;
}

/** JSON with object keys sorted, so that deep equality is string equality. */
export function canonicalJson(value: StoredValue): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key]!)}`).join(",")}}`;
}

function startsWithAny(key: string, prefixes: readonly string[]): boolean {
  return prefixes.some((prefix) => key.startsWith(prefix));
}

export interface MemoryStoreOptions {
  maxEntries?: number;
  /**
   * Prefixes of the keys anyone may have made without signing in (pending sign-ins, limiter
   * counters): together they hold at most half of maxEntries, so that a flood of them from many
   * addresses leaves room for the codes and refresh tokens of people who did sign in.
   */
  unauthenticatedPrefixes?: readonly string[];
  /**
   * Prefixes of the unauthenticated keys that only remember (limiter counters), each also one of
   * unauthenticatedPrefixes. They hold at most a quarter of maxEntries: past it, or when the share
   * is full, the least recently written of them gives way to a new one. Counters made from ever new
   * addresses then cannot crowd out pending sign-ins, where the next person's sign-in would be
   * refused; what is lost is the count that was idle longest. They never give way to other kinds
   * of key, nor when the whole store is full: a new one is refused then, so a limiter fails closed
   * rather than forgetting the counts of whoever is busy.
   */
  evictablePrefixes?: readonly string[];
  /** Milliseconds since the epoch; tests move it. */
  now?: () => number;
  /**
   * Called synchronously after every change of `key` with its entry (undefined: removed), before
   * the operation's promise resolves: the file store journals it then. Expiry is not a change.
   * When it throws (the journal cannot be written), the change is undone and the operation
   * rejects: a caller told "failed" never finds the change made after all.
   */
  onChange?: (key: string, entry: Entry | undefined) => void;
}

export class MemoryStore implements Store {
  protected readonly entries = new Map<string, Entry>();
  readonly #maxEntries: number;
  readonly #unauthenticatedPrefixes: readonly string[];
  readonly #evictablePrefixes: readonly string[];
  /** Live or expired-but-not-dropped entries under unauthenticatedPrefixes. */
  #unauthenticated = 0;
  /** Keys under evictablePrefixes, the least recently written first (a Set keeps insertion order). */
  readonly #evictable = new Set<string>();
  readonly #maxEvictable: number;
  /**
   * No entry expires before this (ms), as of the last prune and every entry placed since: a full
   * store refusing key after key scans its entries again only once one may have expired.
   */
  #nextExpiry = 0;
  readonly #now: () => number;
  readonly #onChange: (key: string, entry: Entry | undefined) => void;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(options: MemoryStoreOptions = {}) {
    this.#maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
    this.#unauthenticatedPrefixes = options.unauthenticatedPrefixes ?? [];
    this.#evictablePrefixes = options.evictablePrefixes ?? [];
    this.#maxEvictable = Math.floor(this.#maxEntries / 4);
    const stray = this.#evictablePrefixes.find((prefix) => !this.#isUnauthenticated(prefix));
    if (stray !== undefined) throw new TypeError(`evictable prefix "${stray}" is not among the unauthenticated prefixes`);
    this.#now = options.now ?? Date.now;
    this.#onChange = options.onChange ?? (() => {});
    this.#timer = setInterval(() => this.#pruneNow(), PRUNE_INTERVAL_MS);
    (this.#timer as { unref?: () => void }).unref?.();
  }

  #isUnauthenticated(key: string): boolean {
    return startsWithAny(key, this.#unauthenticatedPrefixes);
  }

  #isEvictable(key: string): boolean {
    return startsWithAny(key, this.#evictablePrefixes);
  }

  /** Every entry goes in through here and out through #drop, which keep #unauthenticated and #evictable counted. */
  #place(key: string, entry: Entry): void {
    if (!this.entries.has(key) && this.#isUnauthenticated(key)) this.#unauthenticated++;
    if (this.#isEvictable(key)) {
      // Written now: the most recently written, the last to give way.
      this.#evictable.delete(key);
      this.#evictable.add(key);
    }
    this.entries.set(key, entry);
    this.#nextExpiry = Math.min(this.#nextExpiry, entry.expiresAt);
  }

  #drop(key: string): boolean {
    if (!this.entries.delete(key)) return false;
    if (this.#isUnauthenticated(key)) this.#unauthenticated--;
    this.#evictable.delete(key);
    return true;
  }

  /** The live entry at `key`; an expired one is dropped on the way. */
  #live(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.#now()) {
      this.#drop(key);
      return undefined;
    }
    return entry;
  }

  /** The limit a new `key` would exceed, if any. */
  #overLimit(key: string): number | undefined {
    if (this.entries.size >= this.#maxEntries) return this.#maxEntries;
    const share = Math.floor(this.#maxEntries / 2);
    return this.#isUnauthenticated(key) && this.#unauthenticated >= share ? share : undefined;
  }

  #set(key: string, value: StoredValue, ttlMs: number): void {
    if (!(ttlMs > 0) || !Number.isFinite(ttlMs)) throw new TypeError(`store TTL must be a positive number of milliseconds (got ${ttlMs})`);
    if (!this.entries.has(key)) this.#makeRoom(key);
    this.#place(key, { json: JSON.stringify(value), expiresAt: this.#now() + ttlMs });
  }

  /** Reports the change of `key`, whose entry was `before` it; undone when the report throws. */
  #changed(key: string, before: Entry | undefined): void {
    const entry = this.entries.get(key);
    try {
      this.#onChange(key, entry);
    } catch (error) {
      if (before === undefined) this.#drop(key);
      else this.#place(key, before);
      throw error;
    }
  }

  /** Makes room for the new `key`, or throws StoreFullError. */
  #makeRoom(key: string): void {
    const evictable = this.#isEvictable(key);
    // A new evictable key displaces another (never any other kind of key) when their quarter or the
    // share is full, and never when the whole store is: one giving way frees a place in both.
    const crowded = () => evictable && this.entries.size < this.#maxEntries && (this.#evictable.size >= this.#maxEvictable || this.#overLimit(key) !== undefined);
    if (this.#overLimit(key) === undefined && !crowded()) return;
    if (this.#now() >= this.#nextExpiry) this.#pruneNow();
    // More than one only when more were kept than fit now (max_entries lowered, or an older version's state).
    while (crowded() && this.#evictable.size > 0) this.#evictLeastRecent();
    const limit = this.#overLimit(key) ?? (evictable && this.#evictable.size >= this.#maxEvictable ? this.#maxEvictable : undefined);
    if (limit !== undefined) throw new StoreFullError(limit);
  }

  /** Drops the least recently written evictable entry (there is one), reported as a change (undone when the report throws). */
  #evictLeastRecent(): void {
    const key = this.#evictable.values().next().value as string;
    const entry = this.entries.get(key)!;
    this.#drop(key);
    this.#changed(key, entry);
  }

  #pruneNow(): boolean {
    const now = this.#now();
    let dropped = false;
    let nextExpiry = Infinity;
    for (const [key, entry] of this.entries) {
      if (entry.expiresAt <= now) {
        this.#drop(key);
        dropped = true;
      } else nextExpiry = Math.min(nextExpiry, entry.expiresAt);
    }
    this.#nextExpiry = nextExpiry;
    return dropped;
  }

  async get<T extends StoredValue>(key: string): Promise<T | undefined> {
    const entry = this.#live(key);
    return entry === undefined ? undefined : (JSON.parse(entry.json) as T);
  }

  async put(key: string, value: StoredValue, ttlMs: number): Promise<void> {
    const before = this.#live(key);
    this.#set(key, value, ttlMs);
    this.#changed(key, before);
  }

  async putIfAbsent(key: string, value: StoredValue, ttlMs: number): Promise<boolean> {
    if (this.#live(key) !== undefined) return false;
    this.#set(key, value, ttlMs);
    this.#changed(key, undefined);
    return true;
  }

  async take<T extends StoredValue>(key: string): Promise<T | undefined> {
    const entry = this.#live(key);
    if (entry === undefined) return undefined;
    this.#drop(key);
    this.#changed(key, entry);
    return JSON.parse(entry.json) as T;
  }

  async compareAndSet(key: string, expected: StoredValue, next: StoredValue, ttlMs: number): Promise<boolean> {
    const entry = this.#live(key);
    if (entry === undefined || canonicalJson(JSON.parse(entry.json) as StoredValue) !== canonicalJson(expected)) return false;
    this.#set(key, next, ttlMs);
    this.#changed(key, entry);
    return true;
  }

  async delete(key: string): Promise<void> {
    const entry = this.entries.get(key);
    if (!this.#drop(key)) return;
    this.#changed(key, entry);
  }

  async increment(key: string, delta: number, ttlMs: number): Promise<number> {
    const entry = this.#live(key);
    const current = entry === undefined ? 0 : Number(JSON.parse(entry.json));
    const value = Math.max(0, (Number.isFinite(current) ? current : 0) + delta);
    // Taking back from a count that is gone (expired, or given way) leaves nothing to keep.
    if (entry === undefined && value === 0) return 0;
    if (entry === undefined) this.#set(key, value, ttlMs);
    else this.#place(key, { json: JSON.stringify(value), expiresAt: entry.expiresAt });
    this.#changed(key, entry);
    return value;
  }

  async prune(): Promise<void> {
    this.#pruneNow();
  }

  async close(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Live entries, for persistence. */
  protected snapshot(): Record<string, [string, number]> {
    const now = this.#now();
    const out: Record<string, [string, number]> = Object.create(null);
    for (const [key, entry] of this.entries) if (entry.expiresAt > now) out[key] = [entry.json, entry.expiresAt];
    return out;
  }

  /** Loads persisted entries, skipping expired ones and anything malformed. */
  protected restore(entries: Record<string, unknown>): void {
    for (const [key, raw] of Object.entries(entries)) {
      if (Array.isArray(raw)) this.replay(key, raw[0], raw[1]);
    }
  }

  /** Applies one persisted change: `json` and `expiresAt` set the entry, anything else removes it. */
  protected replay(key: string, json: unknown, expiresAt: unknown): void {
    if (typeof json !== "string" || typeof expiresAt !== "number" || expiresAt <= this.#now()) {
      this.#drop(key);
      return;
    }
    // Never dropped for the limit here: what was on disk is kept, and the opener checks the count (FileStore.open).
    this.#place(key, { json, expiresAt });
  }

  /** Live entries, counted. */
  protected get size(): number {
    return this.entries.size;
  }
}
