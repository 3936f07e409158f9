/** @module Command dispatch, top-level help and exit codes. The only place that turns errors into exit codes. */
import { ConfigError } from "../config/errors.ts";
import { closestKey } from "../config/suggest.ts";
import { escapeControls, redactUrl } from "../log/sanitize.ts";
import type { Platform } from "../runtime/types.ts";
import { VERSION } from "../version.ts";
import { formatOptions, parseArgs, UsageError } from "./args.ts";
import { EXIT_FAILURE, EXIT_USAGE, type Command } from "./command.ts";
import { runCommand } from "./run.ts";
import { checkConfigCommand } from "./check-config.ts";
import { hashPasswordCommand } from "./hash-password.ts";
import { genKeyCommand } from "./gen-key.ts";
import { genTokenCommand } from "./gen-token.ts";
import { completionCommand } from "./completion.ts";
import { connectCommand } from "./connect.ts";

/** Every subcommand; `run` is also what a bare `mcp-bridge -c FILE` does. */
export const COMMANDS: readonly Command[] = [runCommand, connectCommand, checkConfigCommand, hashPasswordCommand, genKeyCommand, genTokenCommand, completionCommand];

function topLevelHelp(): string {
  const width = Math.max(...COMMANDS.map((command) => command.name.length));
  return [
    `mcp-bridge ${VERSION}: a bridge between stdio and HTTP MCP transports, with authentication.`,
    "",
    "Usage: mcp-bridge [command] [options]",
    "",
    "Commands:",
    ...COMMANDS.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`),
    "",
    "Without a command, mcp-bridge runs `run`: it reads its config and serves (mode: server) or",
    "connects (mode: client).",
    "",
    "Options:",
    "  -h, --help     Show help (also: mcp-bridge COMMAND --help)",
    "  -V, --version  Print the version",
    "",
    "Examples:",
    "  mcp-bridge -c config.yaml",
    "  mcp-bridge connect https://mcp.example.com/mcp --token-env MCP_TOKEN",
    "  mcp-bridge check-config -c config.yaml",
    "  mcp-bridge hash-password",
    "  mcp-bridge gen-key --alg ES256 --out signing-key.pem",
    "",
    "Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error.",
  ].join("\n");
}

export function commandHelp(command: Command): string {
  const sections = [`Usage: mcp-bridge ${command.usage}`, "", command.summary, "", "Options:", formatOptions({ ...command.options, help: { type: "boolean", alias: "h", description: "Show this help" } })];
  if (command.details) sections.push("", command.details);
  if (command.examples.length > 0) sections.push("", "Examples:", ...command.examples.map((example) => `  ${example}`));
  return sections.join("\n");
}

/** Runs the CLI and returns the exit code. */
export async function runCli(argv: readonly string[], platform: Platform): Promise<number> {
  const [first, ...rest] = argv;
  if (first === "--version" || first === "-V" || first === "version") {
    platform.writeStdout(`mcp-bridge ${VERSION}\n`);
    return 0;
  }
  if (first === "--help" || first === "-h" || first === "help") {
    const named = rest[0] && COMMANDS.find((command) => command.name === rest[0]);
    if (rest[0] !== undefined && !named) {
      // `help conect` printed the general help with exit 0, as if the command existed.
      const near = closestKey(rest[0], COMMANDS.map((command) => command.name));
      platform.writeStderr(`mcp-bridge: unknown command "${escapeControls(redactUrl(rest[0]))}"${near ? ` (did you mean "${near}"?)` : ""}\nRun "mcp-bridge --help" for the list.\n`);
      return EXIT_USAGE;
    }
    platform.writeStdout((named ? commandHelp(named) : topLevelHelp()) + "\n");
    return 0;
  }
  const explicit = first !== undefined && !first.startsWith("-") ? COMMANDS.find((command) => command.name === first) : undefined;
  if (first !== undefined && !first.startsWith("-") && !explicit) {
    const near = closestKey(first, COMMANDS.map((command) => command.name));
    // A URL there is usually client.url without "connect" before it: shown as logs show it (a key in its path).
    platform.writeStderr(`mcp-bridge: unknown command "${escapeControls(redactUrl(first))}"${near ? ` (did you mean "${near}"?)` : ""}\nRun "mcp-bridge --help" for the list.\n`);
    return EXIT_USAGE;
  }
  const command = explicit ?? runCommand;
  const commandArgs = explicit ? rest : argv;
  try {
    if (commandArgs.includes("--help") || commandArgs.includes("-h")) {
      platform.writeStdout(commandHelp(command) + "\n");
      return 0;
    }
    const parsed = parseArgs(commandArgs, command.options, COMMANDS.filter((other) => other !== command));
    // A word beyond what the command takes is a mistake, never ignored.
    const stray = parsed.positionals[command.positionals ?? 0];
    if (stray !== undefined) {
      const named = COMMANDS.find((other) => other.name === stray);
      // The rest is repeated as typed but for credentials in a URL (https://user:password@host, a key in its path).
      if (named) throw new UsageError(`unexpected argument "${stray}" (the command comes first: mcp-bridge ${stray} ${commandArgs.filter((arg) => arg !== stray).map(redactUrl).join(" ")})`);
      // Not quoted: the usual stray word is the second half of an unquoted value (--header X-Api-Key: <key>), a secret.
      const takes = command.positionals ? `${command.positionals} argument${command.positionals > 1 ? "s" : ""} besides its options` : "only options";
      // Quoting advice only where an option takes a value (gen-token, completion have none).
      const valued = Object.values(command.options).some((option) => option.type === "string");
      const quoting = valued ? `, and a value holding spaces must be quoted as one argument${command.options.header ? " ('Name: value')" : ""}` : "";
      throw new UsageError(`unexpected argument (not shown: it may be a secret); ${command.name} takes ${takes}${quoting}`);
    }
    return await command.run(parsed, platform);
  } catch (error) {
    if (error instanceof UsageError) {
      platform.writeStderr(`mcp-bridge ${command.name}: ${error.message}\nRun "mcp-bridge ${command.name} --help" for usage.\n`);
      return EXIT_USAGE;
    }
    if (error instanceof ConfigError || (error instanceof Error && error.name === "OutboundAuthError" && (error as { code?: string }).code === "config")) {
      platform.writeStderr(`mcp-bridge: ${error.message}\n`);
      return EXIT_USAGE;
    }
    platform.writeStderr(`mcp-bridge: ${(error as Error)?.message ?? String(error)}\n`);
    return EXIT_FAILURE;
  }
}
