/**
 * @module Throttling of authentication failures per client address (after trusted-proxy
 * resolution; an IPv6 address counts as its /64, see addressBucket). It throttles the failures
 * only: a request whose credential verifies always goes through, so honest users behind the same
 * address (a reverse proxy, a NAT) are never locked out by someone else's bad tokens. Past the
 * limit, failures are answered 429 instead of 401, and the log says so once per address and
 * window, with a count, instead of once per failure.
 */
import type { Logger } from "../log/logger.ts";
import { addressBucket } from "../util/cidr.ts";

const WINDOW_MS = 60_000;
/** Addresses tracked at once; beyond this, expired entries are swept, then the oldest dropped. */
const MAX_ADDRESSES = 10_000;

interface Window {
  since: number;
  failures: number;
  /** Failures answered 429 in this window, for the summary line. */
  throttled: number;
}

export class FailureLimiter {
  readonly #limit: number;
  readonly #logger: Logger;
  readonly #windows = new Map<string, Window>();

  constructor(limitPerMinute: number, logger: Logger) {
    this.#limit = limitPerMinute;
    this.#logger = logger;
  }

  /**
   * Records a failure from `client`. Undefined while within the limit; past it, the failure must be
   * answered 429, and this is the number of seconds until the window ends (for Retry-After, at
   * least 1). The first failure past the limit is logged at warn, later ones only counted.
   */
  fail(client: string): number | undefined {
    const address = addressBucket(client);
    const now = performance.now();
    let window = this.#windows.get(address);
    if (!window || now - window.since > WINDOW_MS) {
      if (window) this.#summarize(address, window);
      else if (this.#windows.size >= MAX_ADDRESSES) this.#sweep(now);
      window = { since: now, failures: 0, throttled: 0 };
      this.#windows.set(address, window);
    }
    window.failures++;
    if (window.failures <= this.#limit) return undefined;
    if (window.throttled++ === 0) {
      this.#logger.warn("authentication failures throttled: answering 429 to further failures from this address; valid credentials still pass", {
        remote: address,
        limit_per_minute: this.#limit,
      });
    }
    return Math.max(1, Math.ceil((window.since + WINDOW_MS - now) / 1000));
  }

  #summarize(address: string, window: Window): void {
    if (window.throttled > 0) this.#logger.warn("authentication failures throttled in the last window", { remote: address, throttled: window.throttled, failures: window.failures });
  }

  #sweep(now: number): void {
    for (const [address, window] of this.#windows) {
      if (now - window.since <= WINDOW_MS) continue;
      this.#summarize(address, window);
      this.#windows.delete(address);
    }
    // All live: forget the oldest (Map keeps insertion order) rather than grow without bound.
    if (this.#windows.size >= MAX_ADDRESSES) this.#windows.delete(this.#windows.keys().next().value!);
  }
}
