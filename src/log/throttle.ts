/**
 * @module Log lines an attacker can cause (refused requests, failing upstreams) are written at most
 * once per key and interval; the next line written for that key says how many were left out.
 */

/** At most this many keys are remembered; beyond that, the oldest key is forgotten. */
const MAX_KEYS = 10_000;

export interface LogThrottle {
  /**
   * Undefined when a line for `key` was written within the interval (this one is counted and
   * left out); otherwise the number left out since the last line written for `key` (often 0).
   */
  admit(key: string): number | undefined;
}

export function createLogThrottle(intervalMs: number, now: () => number = Date.now): LogThrottle {
  const seen = new Map<string, { at: number; suppressed: number }>();
  return {
    admit(key) {
      const time = now();
      const entry = seen.get(key);
      if (entry && time - entry.at < intervalMs) {
        entry.suppressed++;
        return undefined;
      }
      const suppressed = entry?.suppressed ?? 0;
      seen.delete(key);
      if (seen.size >= MAX_KEYS) seen.delete(seen.keys().next().value!);
      seen.set(key, { at: time, suppressed: 0 });
      return suppressed;
    },
  };
}
