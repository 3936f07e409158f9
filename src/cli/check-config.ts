/** @module `mcp-bridge check-config`: validate a config and print the effective result, secrets redacted. */
import { stringify } from "yaml";
import { configToFileForm } from "../config/describe.ts";
import { ConfigError } from "../config/errors.ts";
import { commandWarning, reachWarnings } from "../server/preflight.ts";
import { UsageError } from "./args.ts";
import type { Command } from "./command.ts";
import { configOption, loadConfigFile } from "./config-file.ts";
import { writtenScalars } from "./config-exposure.ts";
import type { ClientConfig } from "../config/schema.ts";
import type { Platform } from "../runtime/types.ts";
import { MAX_CONFIGURED_FILE_BYTES } from "../util/bounded-read.ts";

const FORMATS = ["yaml", "json"] as const;

/** What client mode reads at start: the files client.tls names and client.auth.oauth.private_key_file (a usable key). */
async function checkClientFiles(client: ClientConfig, platform: Platform): Promise<void> {
  const { readClientTlsFiles } = await import("../client/index.ts");
  await readClientTlsFiles(client.tls, platform);
  const oauth = client.auth?.type === "oauth" ? client.auth.oauth : undefined;
  if (!oauth?.private_key_file) return;
  const { loadAssertionKey } = await import("../auth/outbound/client-auth.ts");
  await loadAssertionKey(oauth, (file) => platform.readTextFile(file, MAX_CONFIGURED_FILE_BYTES)).catch((error: unknown) => {
    const message = (error as Error).message.replace(/^client\.auth\.oauth\.private_key_file: /, "");
    throw new ConfigError("CONFIG_INVALID", [{ path: "client.auth.oauth.private_key_file", message }]);
  });
}

export const checkConfigCommand: Command = {
  name: "check-config",
  summary: "Validate a configuration file and print the effective configuration (secrets redacted)",
  usage: "check-config [-c FILE] [--quiet] [--format yaml|json]",
  options: {
    config: configOption,
    quiet: { type: "boolean", alias: "q", description: "Print nothing when the file is valid" },
    format: { type: "string", value: "yaml|json", description: "Output format (default: yaml)" },
  },
  examples: [
    "mcp-bridge check-config -c config.yaml",
    "mcp-bridge check-config -c config.yaml --format json | jq .server.listen",
    "MCP_BRIDGE_CONFIG=/etc/mcp-bridge/prod.yaml mcp-bridge check-config --quiet",
  ],
  details: [
    "The effective configuration is the file with every default filled in, durations and sizes in the",
    'largest unit that divides them ("60s" prints as "1m", 1048576 as "1MiB"), as docs/configuration.md',
    "shows defaults. An auth section the file leaves out stays out (no authentication, or the built-in",
    "authorization server's). Secrets, the values of mcp_server.env and client.headers, and what the",
    "environment (${VAR}) filled in to mcp_server.command, mcp_server.args and the *_command keys print",
    'as "[redacted]"; URLs print as logs show them (credentials and key-like path segments redacted).',
    "YAML output starts with a comment line naming the file; JSON output is bare JSON.",
    "Problems go to stderr, one per line, each naming its key; the exit code is then 2. Warnings",
    "(secrets in a file others can read, a listener beyond loopback open to anyone, an mcp_server.command",
    "that is no executable file on this machine's PATH) go to stderr too. Files the configuration names",
    "are read as run reads them (TLS certificates and keys, client.auth.oauth.private_key_file).",
  ].join("\n"),
  async run(args, platform) {
    const format = (args.values.format as string | undefined) ?? "yaml";
    if (!FORMATS.includes(format as (typeof FORMATS)[number])) throw new UsageError(`--format must be yaml or json (got "${format}")`);
    const { config, path, text } = await loadConfigFile(platform, args.values.config as string | undefined);
    if (config.server?.oauth_server.enabled) {
      const { checkAuthorizationServerFiles } = await import("../oauth-server/check.ts");
      await checkAuthorizationServerFiles(config, platform).catch((error: unknown) => {
        throw error instanceof ConfigError ? error.locatedIn(path) : error;
      });
    }
    if (config.client) await checkClientFiles(config.client, platform).catch((error: unknown) => {
      throw error instanceof ConfigError ? error.locatedIn(path) : error;
    });
    if (config.server) {
      for (const warning of reachWarnings(config.server)) platform.writeStderr(`mcp-bridge: warning: ${warning.listen}: ${warning.message}\n`);
      const unrunnable = commandWarning(config.server, platform);
      if (unrunnable) platform.writeStderr(`mcp-bridge: warning: ${unrunnable}\n`);
    }
    if (args.values.quiet) return 0;
    const effective = configToFileForm(config, writtenScalars(text));
    platform.writeStdout(
      format === "json"
        ? JSON.stringify(effective, null, 2) + "\n"
        : `# ${path}: valid (mode: ${config.mode}); effective configuration, defaults filled in, secrets redacted\n` + stringify(effective, { lineWidth: 0 }),
    );
    return 0;
  },
};
