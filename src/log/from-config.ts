/** @module Builds the process logger from the `log:` section. */
import type { LogConfig } from "../config/schema.ts";
import type { Platform } from "../runtime/types.ts";
import { createLogger, type Logger } from "./logger.ts";

export function createLoggerFromConfig(log: LogConfig, platform: Platform): Logger {
  const write =
    log.output === "stderr" ? platform.writeStderr : log.output === "stdout" ? platform.writeStdout : platform.openAppendFile(log.output);
  return createLogger({ level: log.level, format: log.format, write });
}
