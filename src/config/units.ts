/** @module Durations ("30s", "1h30m", "250ms") and byte sizes ("16MiB", "4MB") as written in config files. */

const DURATION_UNITS_MS: Record<string, number> = { __proto__: null as never, ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/y;

/** Parses a Go-style duration into milliseconds; returns undefined when the text is not one. */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (trimmed === "0") return 0;
  if (trimmed === "") return undefined;
  let total = 0;
  DURATION_PART.lastIndex = 0;
  while (DURATION_PART.lastIndex < trimmed.length) {
    const match = DURATION_PART.exec(trimmed);
    if (!match) return undefined;
    total += Number(match[1]) * DURATION_UNITS_MS[match[2]!]!;
  }
  return Math.round(total);
}

const SIZE_UNITS: Record<string, number> = {
  __proto__: null as never,
  "": 1, b: 1,
  kb: 1000, mb: 1000 ** 2, gb: 1000 ** 3,
  k: 1024, m: 1024 ** 2, g: 1024 ** 3,
  kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3,
};

/** Parses a byte size ("16MiB", "512KB", "1048576") into bytes; undefined when the text is not one. */
export function parseSize(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  if (!match) return undefined;
  const unit = SIZE_UNITS[match[2]!.toLowerCase()];
  return unit === undefined ? undefined : Math.floor(Number(match[1]) * unit);
}

/** Formats milliseconds the way a config file would write them, for check-config output. */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  for (const [unit, size] of [["h", 3_600_000], ["m", 60_000], ["s", 1000]] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

const SIZE_FORMATS = [["GiB", 1024 ** 3], ["MiB", 1024 ** 2], ["KiB", 1024], ["GB", 1000 ** 3], ["MB", 1000 ** 2], ["KB", 1000]] as const;

/** Formats bytes the way a config file would write them: the largest unit that divides exactly, binary first. */
export function formatSize(bytes: number): string {
  for (const [unit, size] of SIZE_FORMATS) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return String(bytes);
}
