/**
 * @module Log lines from a source the bridge does not control (a child's stderr, a flood of
 * dropped messages): a burst is written, the rest of the window is counted, and one summary line
 * says how many were held back. A noisy child cannot fill the disk or starve the event loop.
 */
import type { LogFields, Logger, LogLevel } from "./logger.ts";

export interface ThrottledLog {
  /** Writes the line unless this window's burst is spent (then counts it). */
  write(level: LogLevel, message: string, fields?: LogFields): void;
  /** Writes the summary of what was held back now (the source is going away). */
  flush(): void;
}

/**
 * At most `burst` lines per `windowMs`; the summary line ("<source>: N lines not logged") comes at
 * the end of a window that held lines back, or at flush.
 */
export function throttledLog(logger: Logger, source: string, options: { burst: number; windowMs: number }, fields?: LogFields): ThrottledLog {
  // performance.now(): a step of the wall clock must not stretch a window; none is open before the first write.
  let windowStart = Number.NEGATIVE_INFINITY;
  let written = 0;
  let suppressed = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const summarize = () => {
    clearTimeout(timer);
    timer = undefined;
    if (suppressed === 0) return;
    logger.warn(`${source}: lines not logged (rate limit)`, { ...fields, suppressed, window_ms: options.windowMs });
    suppressed = 0;
  };

  return {
    write(level, message, lineFields) {
      if (!logger.enabled(level)) return;
      const now = performance.now();
      if (now - windowStart >= options.windowMs) {
        windowStart = now;
        written = 0;
      }
      if (written < options.burst) {
        written++;
        logger[level](message, lineFields);
        return;
      }
      suppressed++;
      timer ??= setTimeout(summarize, Math.max(0, windowStart + options.windowMs - now));
    },
    flush: summarize,
  };
}
