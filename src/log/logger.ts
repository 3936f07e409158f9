/**
 * @module Leveled logging as text or JSON lines. Field values that are Secrets, or whose key names
 * a credential, are written as "[redacted]". Every string (message and values, nested ones too)
 * goes through sanitizeForLog: control characters escaped, long values cut, credentials in URLs
 * redacted. Callers check `enabled(level)` before building costly fields so that hot paths pay
 * nothing below the configured level.
 */
import { Secret } from "../config/secret.ts";
import { sanitizeForLog } from "./sanitize.ts";

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;

const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const CREDENTIAL_KEY = /token|secret|password|authorization|cookie|api[_-]?key|credential/i;

export interface Logger {
  enabled(level: LogLevel): boolean;
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
}

function redact(key: string, value: unknown): unknown {
  if (value instanceof Secret) return "[redacted]";
  if (CREDENTIAL_KEY.test(key) && value !== undefined && typeof value !== "boolean" && typeof value !== "number") return "[redacted]";
  if (value instanceof Error) return sanitizeForLog(value.message);
  if (typeof value === "string") return sanitizeForLog(value);
  if (value !== null && typeof value === "object") return sanitizeNested(value, 0);
  return value;
}

/** Nested data keeps its shape; its strings are sanitized and its depth bounded. */
function sanitizeNested(value: unknown, depth: number): unknown {
  if (typeof value === "string") return sanitizeForLog(value);
  if (value === null || typeof value !== "object") return value;
  if (depth >= 8) return "[nested too deep]";
  if (Array.isArray(value)) return value.map((item) => sanitizeNested(item, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [sanitizeForLog(key), sanitizeNested(item, depth + 1)]));
}

function formatTextValue(value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text !== undefined && /[\s"=]/.test(text) ? JSON.stringify(text) : String(text);
}

/** JSON.stringify leaves DEL, C1 controls (NEL) and U+2028/U+2029 raw; a log line must not have them. */
function jsonLine(record: Record<string, unknown>): string {
  return JSON.stringify(record).replace(/[\u007f-\u009f\u2028\u2029]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

export function createLogger(options: { level: LogLevel; format: "text" | "json"; write: (line: string) => void; now?: () => Date }, bound: LogFields = {}): Logger {
  const minimum = LEVEL_RANK[options.level];
  const now = options.now ?? (() => new Date());
  const emit = (level: LogLevel, message: string, fields?: LogFields) => {
    if (LEVEL_RANK[level] < minimum) return;
    const all = fields ? { ...bound, ...fields } : bound;
    const time = now().toISOString();
    if (options.format === "json") {
      const record: Record<string, unknown> = { time, level, msg: sanitizeForLog(message) };
      for (const key of Object.keys(all)) record[key] = redact(key, all[key]);
      options.write(jsonLine(record) + "\n");
    } else {
      let line = `${time} ${level.toUpperCase().padEnd(5)} ${sanitizeForLog(message)}`;
      for (const key of Object.keys(all)) {
        const value = redact(key, all[key]);
        if (value !== undefined) line += ` ${key}=${formatTextValue(value)}`;
      }
      options.write(line + "\n");
    }
  };
  return {
    enabled: (level) => LEVEL_RANK[level] >= minimum,
    debug: (message, fields) => emit("debug", message, fields),
    info: (message, fields) => emit("info", message, fields),
    warn: (message, fields) => emit("warn", message, fields),
    error: (message, fields) => emit("error", message, fields),
    child: (fields) => createLogger(options, { ...bound, ...fields }),
  };
}
