/** @module `mcp-bridge connect URL`: client mode from flags, no config file — the one-line setup for Claude Desktop, Claude Code, Cursor. */
import type { Command } from "./command.ts";
import { UsageError } from "./args.ts";
import { substituteVariables, validateConfig } from "../config/load.ts";
import { ConfigError, type ConfigIssue } from "../config/errors.ts";
import { createLoggerFromConfig } from "../log/from-config.ts";
import { bearerTokenProblem } from "../auth/types.ts";
import { variableNamed } from "../log/sanitize.ts";

/** "Name: value" → [name, value]; the value may use ${VAR} (handy where the host's config cannot quote), whose names go to `used`. */
function parseHeader(text: string, env: Readonly<Record<string, string | undefined>>, issues: ConfigIssue[], used: Set<string>): [string, string] {
  const colon = text.indexOf(":");
  const name = colon < 0 ? "" : text.slice(0, colon).trim();
  // The value is never repeated: it may be a secret.
  if (colon < 0) throw new UsageError(`--header needs "Name: value" (got no colon after the name; quote the whole header as one argument: --header 'X-Api-Key: value')`);
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw new UsageError(`--header needs "Name: value" (got a header without a valid name)`);
  return [name, substituteVariables(text.slice(colon + 1).trim(), env, `--header ${name}`, issues, used)];
}

/** `client.auth.oauth` from the OAuth flags (empty when none was given). */
function oauthFromFlags(values: Record<string, unknown>, env: Readonly<Record<string, string | undefined>>): Record<string, unknown> {
  const oauth: Record<string, unknown> = {};
  const copy = (flag: string, key: string) => {
    if (values[flag] !== undefined) oauth[key] = values[flag];
  };
  copy("client-id", "client_id");
  copy("scope", "scopes");
  copy("resource", "resource");
  copy("client-metadata-url", "client_metadata_url");
  copy("callback", "redirect_uri");
  copy("browser-command", "browser_command");
  if (values["use-pkce"] === true) oauth.use_pkce = true;
  const secretEnv = values["client-secret-env"] as string | undefined;
  if (secretEnv !== undefined) {
    const secret = env[secretEnv];
    if (!secret) throw new ConfigError("CONFIG_INVALID", [{ path: "--client-secret-env", message: `${variableNamed(secretEnv)} is not set or empty` }], "command line");
    oauth.client_secret = secret;
  }
  return oauth;
}

/** The flag (or argument) each configuration key of `connect` comes from, so its errors name what the user typed. */
const FLAG_OF_KEY: [prefix: string, flag: string][] = [
  ["client.url", "URL"],
  ["client.transport", "--transport"],
  ["client.timeout", "--timeout"],
  ["client.tls.ca_cert", "--ca-cert"],
  ["client.auth.bearer.token_env", "--token-env"],
  ["client.auth.bearer", "--token-env"],
  ["client.auth.oauth.client_id", "--client-id"],
  ["client.auth.oauth.scopes", "--scope"],
  ["client.auth.oauth.resource", "--resource"],
  ["client.auth.oauth.client_metadata_url", "--client-metadata-url"],
  ["client.auth.oauth.redirect_uri", "--callback"],
  ["client.auth.oauth.browser_command", "--browser-command"],
  ["client.auth.oauth", "the OAuth flags"],
  ["client.auth", "--token-env or the OAuth flags"],
  ["log.level", "--log-level"],
  ["log.output", "--log-file"],
];

/** A configuration key named inside an issue's message ("conflicts with client.auth.bearer"), not part of a URL or host name. */
const KEY_IN_MESSAGE = /(?<![\w./:-])client(?:\.[A-Za-z_][\w-]*)+/g;

/**
 * `error` with its key paths replaced by the flags they came from (a ConfigError), else `error`
 * itself; keys named in a message too, since `connect` users never wrote one.
 */
function namingFlags(error: unknown): unknown {
  if (!(error instanceof ConfigError)) return error;
  const flagOf = (path: string) =>
    path.startsWith("client.headers.") ? `--header ${path.slice("client.headers.".length)}` : (FLAG_OF_KEY.find(([key]) => path === key || path.startsWith(`${key}.`) || path.startsWith(`${key}[`))?.[1] ?? path);
  return new ConfigError(error.code, error.issues.map((issue) => ({ ...issue, path: flagOf(issue.path), message: issue.message.replace(KEY_IN_MESSAGE, flagOf) })), "command line");
}

export const connectCommand: Command = {
  name: "connect",
  summary: "Connect stdio to a remote MCP server (client mode without a config file)",
  usage: "connect URL [--header 'Name: value']... [--token-env VAR] [options]",
  positionals: 1,
  options: {
    header: { type: "string", value: "'NAME: VALUE'", multiple: true, description: "Header sent with every request (repeatable); ${VAR} in the value is read from the environment" },
    "token-env": { type: "string", value: "VAR", description: "Send the bearer token held in environment variable VAR (no OAuth)" },
    "client-id": { type: "string", value: "ID", description: "OAuth client id registered at the server's authorization server (else CIMD or dynamic registration)" },
    "client-secret-env": { type: "string", value: "VAR", description: "Its secret, from environment variable VAR: client credentials unless --use-pkce" },
    "use-pkce": { type: "boolean", description: "Sign in a person (authorization code + PKCE) even with a client secret" },
    scope: { type: "string", value: "SCOPE", multiple: true, description: "Scope to ask for (repeatable); default: the server's challenge, else its scopes_supported" },
    resource: { type: "string", value: "URI", description: "RFC 8707 resource indicator; default: the server's protected resource metadata" },
    "client-metadata-url": { type: "string", value: "URL", description: "https URL of this client's Client ID Metadata Document" },
    callback: { type: "string", value: "URI", description: "Loopback redirect URI (http://127.0.0.1:PORT/PATH); default: a free port" },
    "browser-command": { type: "string", value: "CMD", description: 'Command that opens the sign-in URL (its last argument); "none" prints it to stderr' },
    transport: { type: "string", value: "KIND", description: "auto (default), streamable_http or sse" },
    timeout: { type: "string", value: "DURATION", description: 'Time allowed to connect and between reads (default "30s")' },
    "ca-cert": { type: "string", value: "FILE", description: "PEM CA bundle trusted for the server's certificate" },
    "log-level": { type: "string", value: "LEVEL", description: "debug, info, warn (default) or error; logs go to stderr" },
    "log-file": { type: "string", value: "FILE", description: "Write logs to FILE (appended to) instead of stderr" },
  },
  examples: [
    "mcp-bridge connect https://mcp.example.com/mcp",
    "MCP_TOKEN=… mcp-bridge connect https://mcp.example.com/mcp --token-env MCP_TOKEN",
    "mcp-bridge connect https://mcp.example.com/mcp --header 'X-Api-Key: ${API_KEY}'",
    "mcp-bridge connect https://mcp.example.com/mcp --client-id my-app --client-secret-env MY_SECRET --scope mcp:read",
  ],
  details:
    "stdin and stdout carry the MCP messages (newline-delimited JSON-RPC); nothing else is written to stdout. Without --token-env or an Authorization header, the bridge signs in with OAuth when the server asks (a 401): the browser opens once, tokens are cached. For everything else (mutual TLS, retries, private_key_jwt, enterprise-managed authorization) use a config file with mode: client and run mcp-bridge -c FILE.",
  async run(args, platform) {
    const [url] = args.positionals;
    if (url === undefined) throw new UsageError("the URL of the remote MCP server is required");
    const issues: ConfigIssue[] = [];
    const headerVariables = new Set<string>();
    const headers = Object.fromEntries(((args.values.header as string[] | undefined) ?? []).map((text) => parseHeader(text, platform.env, issues, headerVariables)));
    if (issues.length > 0) throw new ConfigError("CONFIG_INVALID", issues, "command line");
    const tokenEnv = args.values["token-env"] as string | undefined;
    const client: Record<string, unknown> = { url, headers };
    if (args.values.transport !== undefined) client.transport = args.values.transport;
    if (args.values.timeout !== undefined) client.timeout = args.values.timeout;
    if (args.values["ca-cert"] !== undefined) client.tls = { ca_cert: args.values["ca-cert"] };
    const oauth = oauthFromFlags(args.values, platform.env);
    if (tokenEnv !== undefined) {
      const token = platform.env[tokenEnv];
      if (!token) throw new ConfigError("CONFIG_INVALID", [{ path: "--token-env", message: `${variableNamed(tokenEnv)} is not set or empty` }], "command line");
      const problem = bearerTokenProblem(token);
      if (problem) throw new ConfigError("CONFIG_INVALID", [{ path: "--token-env", message: `the value of ${tokenEnv} ${problem}` }], "command line");
      if (Object.keys(oauth).length > 0) throw new UsageError("--token-env sends a fixed token: it cannot be combined with the OAuth flags");
      client.auth = { type: "bearer", bearer: { token_env: tokenEnv } };
    } else if (Object.keys(oauth).length > 0 || !Object.keys(headers).some((name) => name.toLowerCase() === "authorization")) {
      // As mcp-remote does: OAuth unless told otherwise. No token is sent before the server asks with a 401.
      client.auth = { type: "oauth", oauth };
    }
    try {
      const config = validateConfig(
        {
          mode: "client",
          log: { level: args.values["log-level"] ?? "warn", output: args.values["log-file"] ?? "stderr" },
          client,
        },
        "command line",
        headerVariables,
      );
      const logger = createLoggerFromConfig(config.log, platform);
      const { runClient } = await import("../client/index.ts");
      return await runClient(config.client!, platform, logger);
    } catch (error) {
      throw namingFlags(error);
    }
  },
};
