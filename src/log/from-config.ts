/** @module Builds the process logger from the `log:` section. */
import { ConfigError } from "../config/errors.ts";
import type { LogConfig } from "../config/schema.ts";
import type { Platform } from "../runtime/types.ts";
import { createLogger, type Logger } from "./logger.ts";

/**
 * The logger `log:` asks for. A log file that cannot be opened is a ConfigError naming
 * `log.output` (exit 2); one that stops taking lines later (a full disk) hands over to stderr
 * with one notice, since a log line that cannot be written must not fail the request that logs it.
 */
export function createLoggerFromConfig(log: LogConfig, platform: Platform): Logger {
  const write = log.output === "stderr" ? platform.writeStderr : log.output === "stdout" ? platform.writeStdout : appendOrStderr(log.output, platform);
  return createLogger({ level: log.level, format: log.format, write });
}

function appendOrStderr(path: string, platform: Platform): (line: string) => void {
  let append: ((line: string) => void) | undefined;
  try {
    append = platform.openAppendFile(path);
  } catch (error) {
    throw new ConfigError("CONFIG_INVALID", [{ path: "log.output", message: `cannot open "${path}" for appending (${errorCode(error)}): name a writable file, or "stderr"` }]);
  }
  return (line) => {
    if (append) {
      try {
        return append(line);
      } catch (error) {
        append = undefined;
        platform.writeStderr(`mcp-bridge: cannot write to the log file "${path}" (${errorCode(error)}); logging to stderr from now on\n`);
      }
    }
    platform.writeStderr(line);
  };
}

function errorCode(error: unknown): string {
  return (error as { code?: string }).code ?? (error as Error).name ?? "error";
}
