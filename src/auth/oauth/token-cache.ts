/**
 * @module Validated tokens, keyed by the SHA-256 of the token (the token itself is never stored),
 * bounded in size, each kept no longer than its exp, so a busy session does not pay a signature
 * check or an introspection round trip on every request.
 */
import { sha256 as webSha256, toHex, type Sha256 } from "../../util/digest.ts";
import { TtlCache } from "../ttl-cache.ts";

/** Default bound on cached tokens; the oldest entry goes first. */
export const TOKEN_CACHE_MAX_ENTRIES = 10_000;
/**
 * Bound on cached refusals, kept apart from acceptances: each token an attacker makes up is a new
 * entry, and must push out only other refusals, never an honest user's cached answer.
 */
export const REFUSED_TOKEN_CACHE_ENTRIES = 1_000;

export async function tokenCacheKey(token: string, sha256: Sha256 = webSha256): Promise<string> {
  return toHex(await sha256(token));
}

export class TokenCache<V> {
  readonly #cache: TtlCache<{ value: V; until: number | undefined }>;
  readonly #now: () => number;
  readonly #maxTtl: number;

  /**
   * `maxTtl` (ms) caps every entry, so that a key the IdP withdraws stops working within it; `now`
   * is the wall clock (ms since the epoch) that `until` is read against. Entries live at most
   * `maxTtl` on the monotonic clock (see TtlCache), and never past `until` on the wall clock: a
   * wall clock stepped forward past a token's exp ends its cached acceptance with it.
   */
  constructor(options: { maxEntries?: number; maxTtl: number; now: () => number }) {
    this.#now = options.now;
    this.#maxTtl = options.maxTtl;
    this.#cache = new TtlCache(options.maxEntries ?? TOKEN_CACHE_MAX_ENTRIES);
  }

  get(key: string): V | undefined {
    const entry = this.#cache.get(key);
    return entry && (entry.until === undefined || entry.until > this.#now()) ? entry.value : undefined;
  }

  /** Keeps `value` until the earlier of `until` (ms since the epoch, e.g. exp) and now + maxTtl. */
  set(key: string, value: V, until: number | undefined): void {
    const now = this.#now();
    const ttl = Math.min(this.#maxTtl, (until ?? Number.POSITIVE_INFINITY) - now);
    this.#cache.set(key, { value, until }, ttl);
  }
}
