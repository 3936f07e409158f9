/** @module `mcp-bridge check-config`: validate a config and print the effective result, secrets redacted. */
import { stringify } from "yaml";
import type { Command } from "./command.ts";
import { configOption, loadConfigFile } from "./config-file.ts";

export const checkConfigCommand: Command = {
  name: "check-config",
  summary: "Validate a configuration file and print the effective configuration (secrets redacted)",
  usage: "check-config [-c FILE] [--quiet]",
  options: {
    config: configOption,
    quiet: { type: "boolean", alias: "q", description: "Print nothing when the file is valid" },
  },
  examples: ["mcp-bridge check-config -c config.yaml", "MCP_BRIDGE_CONFIG=/etc/mcp-bridge/prod.yaml mcp-bridge check-config --quiet"],
  async run(args, platform) {
    const { config, path } = await loadConfigFile(platform, args.values.config as string | undefined);
    if (!args.values.quiet) {
      platform.writeStdout(`# ${path}: valid\n` + stringify(JSON.parse(JSON.stringify(config))));
    }
    return 0;
  },
};
