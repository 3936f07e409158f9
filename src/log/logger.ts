/**
 * @module Leveled logging as text or JSON lines. Field values that are Secrets, or whose key names
 * a credential, are written as "[redacted]". Callers check `enabled(level)` before building costly
 * fields so that hot paths pay nothing below the configured level.
 */
import { Secret } from "../config/secret.ts";

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
  if (value instanceof Error) return value.message;
  return value;
}

function formatTextValue(value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text !== undefined && /[\s"=]/.test(text) ? JSON.stringify(text) : String(text);
}

export function createLogger(options: { level: LogLevel; format: "text" | "json"; write: (line: string) => void; now?: () => Date }, bound: LogFields = {}): Logger {
  const minimum = LEVEL_RANK[options.level];
  const now = options.now ?? (() => new Date());
  const emit = (level: LogLevel, message: string, fields?: LogFields) => {
    if (LEVEL_RANK[level] < minimum) return;
    const all = fields ? { ...bound, ...fields } : bound;
    const time = now().toISOString();
    if (options.format === "json") {
      const record: Record<string, unknown> = { time, level, msg: message };
      for (const key of Object.keys(all)) record[key] = redact(key, all[key]);
      options.write(JSON.stringify(record) + "\n");
    } else {
      let line = `${time} ${level.toUpperCase().padEnd(5)} ${message}`;
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
