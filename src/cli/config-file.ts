/** @module Finding and reading the configuration file for the commands that need one. */
import { configCandidates, notFoundError, parseConfig } from "../config/load.ts";
import { ConfigError } from "../config/errors.ts";
import type { Config } from "../config/schema.ts";
import type { Platform } from "../runtime/types.ts";
import { preflight } from "../server/preflight.ts";
import { exposureWarning } from "./config-exposure.ts";
import type { OptionSpec } from "./args.ts";
import { InputTooLargeError } from "../util/bounded-read.ts";

/** A configuration file is a few kilobytes; this bounds what `-c /dev/zero` or a wrong file costs. */
const MAX_CONFIG_BYTES = 1024 * 1024;

export const configOption: OptionSpec = {
  type: "string",
  alias: "c",
  value: "FILE",
  // `-c base.yaml -c local.yaml` looks like layering, which the bridge does not do.
  once: "the bridge reads one configuration file, files are not merged",
  description: "Configuration file (default: $MCP_BRIDGE_CONFIG, ./config.yaml, /etc/mcp-bridge/config.yaml, /etc/pgedge/config.yaml, config.yaml beside the executable)",
};

/** The configuration found and validated, its path, and its text as read. @throws ConfigError */
export async function loadConfigFile(platform: Platform, explicitPath: string | undefined): Promise<{ config: Config; path: string; text: string }> {
  let path = explicitPath;
  if (path === undefined) {
    const candidates = configCandidates(platform.env, platform.executableDir);
    path = candidates.find((candidate) => platform.fileExists(candidate));
    if (path === undefined) throw notFoundError(candidates, platform.env);
  }
  let text: string;
  try {
    text = await platform.readTextFile(path, MAX_CONFIG_BYTES);
  } catch (error) {
    const reason =
      (error as { code?: string }).code === "ENOENT" || (error as Error).name === "NotFound"
        ? "no such file"
        : error instanceof InputTooLargeError
          ? `larger than ${MAX_CONFIG_BYTES} bytes: is this the configuration file?`
          : error instanceof TypeError
            ? "not UTF-8 text: save it as UTF-8"
            : (error as { code?: string }).code === "EISDIR" || (error as Error).name === "IsADirectory"
              ? "is a directory: name the configuration file in it"
              : (error as Error).message;
    throw new ConfigError("CONFIG_UNREADABLE", [{ path: "", message: `${path}: ${reason}` }]);
  }
  const config = parseConfig(text, platform.env, path, platform.unenforced);
  await preflight(config, platform, path);
  const exposed = await exposureWarning(platform, path, text, config);
  if (exposed) platform.writeStderr(`mcp-bridge: warning: ${exposed}\n`);
  return { config, path, text };
}
