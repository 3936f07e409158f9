/** @module Configuration errors: each names the key path and what to do about it. */
import { escapeControls } from "../log/sanitize.ts";

export type ConfigErrorCode = "CONFIG_NOT_FOUND" | "CONFIG_UNREADABLE" | "CONFIG_SYNTAX" | "CONFIG_INVALID";

const HEADLINES: Record<ConfigErrorCode, string> = {
  CONFIG_NOT_FOUND: "no configuration file found",
  CONFIG_UNREADABLE: "configuration file cannot be read",
  CONFIG_SYNTAX: "configuration file is not valid YAML",
  CONFIG_INVALID: "invalid configuration",
};

export interface ConfigIssue {
  /** Dotted key path, e.g. "server.session.timeout"; "" for the whole file. */
  path: string;
  message: string;
}

export class ConfigError extends Error {
  readonly code: ConfigErrorCode;
  readonly issues: ConfigIssue[];
  /** The file (or "command line") the issues are in, when known. */
  readonly source: string | undefined;
  constructor(code: ConfigErrorCode, issues: ConfigIssue[], source?: string) {
    const where = source ? `${source}: ` : "";
    // Keys and values from the file reach a terminal here: an ESC or a newline in them must not recolour it or forge a line.
    const lines = issues.map((issue) => escapeControls(issue.path ? `  ${issue.path}: ${issue.message}` : `  ${issue.message}`));
    super(`${escapeControls(where)}${HEADLINES[code]}\n${lines.join("\n")}`);
    this.name = "ConfigError";
    this.code = code;
    this.issues = issues;
    this.source = source;
  }

  /** This error naming `source`, for one raised where the file's name is not known (a check after loading it). */
  locatedIn(source: string): ConfigError {
    return this.source === undefined ? new ConfigError(this.code, this.issues, source) : this;
  }
}

export function formatPath(path: readonly PropertyKey[]): string {
  let text = "";
  for (const part of path) {
    if (typeof part === "number") text += `[${part}]`;
    else text += text ? `.${String(part)}` : String(part);
  }
  return text;
}
