/**
 * @module Everything `run` would refuse at start that needs no network, checked before anything
 * starts, so `check-config` and `run` give the same verdict: features not provided, files named in
 * the config (TLS), and the authenticator's own settings checks (plain-http IdP or validation URLs).
 */
import { authenticates, createAuthenticator } from "../auth/index.ts";
import { AuthSettingError } from "../auth/types.ts";
import { ConfigError, type ConfigIssue } from "../config/errors.ts";
import { notProvided } from "../config/not-provided.ts";
import type { Config, ServerConfig } from "../config/schema.ts";
import { createLogger } from "../log/logger.ts";
import { isAbsolute } from "../runtime/command-resolution.ts";
import type { Platform } from "../runtime/types.ts";
import { InputTooLargeError, MAX_CONFIGURED_FILE_BYTES } from "../util/bounded-read.ts";
import { commandRunnable } from "./child.ts";
import { isLoopbackHost } from "../util/host.ts";

/** What a PEM file named by each key must hold: a wrong or swapped file is named here, not as an OpenSSL code at start. */
const PEM_LABELS: Record<string, { pattern: RegExp; what: string }> = {
  "server.tls.cert_file": { pattern: /-----BEGIN CERTIFICATE-----/, what: "a PEM certificate (-----BEGIN CERTIFICATE-----)" },
  "server.tls.client_ca": { pattern: /-----BEGIN CERTIFICATE-----/, what: "PEM CA certificates (-----BEGIN CERTIFICATE-----)" },
  "server.tls.key_file": { pattern: /-{5}BEGIN (?:[A-Z]+ )?PRIVATE KEY-{5}/, what: "a PEM private key (a PRIVATE KEY block)" },
};

/** Reads a file named in the config; a failure, or a PEM file of the wrong kind, is a config error naming the key. */
export async function readConfiguredFile(platform: Platform, key: string, path: string): Promise<string> {
  let text: string;
  try {
    text = await platform.readTextFile(path, MAX_CONFIGURED_FILE_BYTES);
  } catch (error) {
    const missing = (error as { code?: string }).code === "ENOENT" || (error as Error).name === "NotFound";
    // A newcomer writes a path relative to the config file; it is read from the working directory (as the Go original does).
    const relative = missing && !isAbsolute(path, platform.isWindows) ? "; a relative path is read from the directory the bridge was started in, not the configuration file's: write an absolute path" : "";
    const reason = error instanceof InputTooLargeError ? `larger than ${MAX_CONFIGURED_FILE_BYTES} bytes` : error instanceof TypeError ? "not text" : missing ? "no such file" : ((error as { code?: string }).code ?? (error as Error).name);
    throw new ConfigError("CONFIG_INVALID", [{ path: key, message: `cannot read "${path}" (${reason})${relative}` }]);
  }
  const expected = PEM_LABELS[key];
  if (expected && !expected.pattern.test(text)) throw new ConfigError("CONFIG_INVALID", [{ path: key, message: `"${path}" does not hold ${expected.what}${key === "server.tls.client_ca" ? "" : "; are cert_file and key_file swapped?"}` }]);
  return text;
}

/** An authenticator's refusal of its settings (a TypeError) as a config issue naming the key when it is known. */
export function authSettingIssue(error: TypeError): ConfigIssue {
  return { path: error instanceof AuthSettingError ? `server.auth.${error.key}` : "server.auth", message: error.message };
}

/** Throws ConfigError (exit 2) for the first class of problem found; `source` names the file. */
export async function preflight(config: Config, platform: Platform, source: string): Promise<void> {
  const missing = notProvided(config);
  if (missing.length > 0) throw new ConfigError("CONFIG_INVALID", missing, source);
  const server = config.server;
  if (config.mode !== "server" || !server) return;
  const tls = server.tls;
  if (tls.enabled) {
    const files: Array<[string, string | undefined]> = [
      ["server.tls.cert_file", tls.cert_file],
      ["server.tls.key_file", tls.key_file],
      ["server.tls.client_ca", tls.client_ca],
    ];
    for (const [key, path] of files) if (path !== undefined) await readConfiguredFile(platform, key, path);
  }
  // Building an authenticator runs its settings checks and touches no network (start() does).
  const silent = createLogger({ level: "error", format: "text", write: () => {} });
  const resource = server.public_url ?? `http://127.0.0.1:${server.listen.port}${server.path}`;
  // With the built-in authorization server, an auth.oauth block only adds scope rules: the key source is the server's own.
  const auth = server.oauth_server.enabled && server.auth?.type === "oauth" ? undefined : server.auth;
  try {
    const authenticator = await createAuthenticator(auth, { resource, logger: silent, sha256: platform.sha256 });
    authenticator?.close?.();
  } catch (error) {
    if (error instanceof TypeError) throw new ConfigError("CONFIG_INVALID", [authSettingIssue(error)], source);
    throw error;
  }
}

/**
 * The host the bridge names in its own URLs (its startup line, and OAuth's when server.public_url
 * is unset): the listener's, IPv6 in brackets; a listener on every interface (0.0.0.0, ::) is
 * named 127.0.0.1, the one address of it certain to answer.
 */
export function ownUrlHost(listenHost: string): string {
  if (listenHost === "0.0.0.0" || listenHost === "::") return "127.0.0.1";
  return listenHost.includes(":") ? `[${listenHost}]` : listenHost;
}

/**
 * What `run` warns about at start and `check-config` prints too: listeners beyond loopback that
 * anyone who reaches them may use, or whose OAuth URLs name loopback (`listen`: the address as written).
 */
export function reachWarnings(server: ServerConfig): Array<{ message: string; listen: string }> {
  const warnings: Array<{ message: string; listen: string }> = [];
  if (!authenticates(server) && !isLoopbackHost(server.listen.host)) {
    warnings.push({ message: "authentication is off on a non-loopback address: anyone who can reach it can use the MCP server (set server.auth, or a loopback server.listen)", listen: server.listen.text });
  }
  // Without public_url the URLs OAuth clients are given name the listener's host, 127.0.0.1 for one on every interface: fine on this machine, useless from another.
  const named = ownUrlHost(server.listen.host);
  if ((server.oauth_server.enabled || server.auth?.type === "oauth") && !server.public_url && named === "127.0.0.1" && !isLoopbackHost(server.listen.host)) {
    warnings.push({
      message: `server.public_url is unset: the URLs OAuth clients are given (the 401's resource_metadata, the token audience${server.oauth_server.enabled && !server.oauth_server.issuer ? ", the authorization server's issuer" : ""}) name ${server.tls.enabled ? "https" : "http"}://127.0.0.1${server.listen.port ? `:${server.listen.port}` : ""}, which clients on other machines cannot use (set server.public_url to the URL they connect to)`,
      listen: server.listen.text,
    });
  }
  if (server.metrics_listen && !isLoopbackHost(server.metrics_listen.host)) {
    warnings.push({ message: "server.metrics_listen is not a loopback address: anyone who can reach it can read the metrics and session counts", listen: server.metrics_listen.text });
  }
  return warnings;
}

/**
 * What `run` warns about at start (per-session children start on demand, so it would otherwise show
 * only at the first initialize) and `check-config` prints too: server.mcp_server.command resolves to
 * no executable file on the child's PATH. Undefined when it does. In every session.mode: the shared
 * child's failure at start-up is logged too, but without the key or where arguments go, and
 * 2026-07-28 clients get children on demand whatever session.mode is (session.modern_child).
 */
export function commandWarning(server: ServerConfig, platform: Platform): string | undefined {
  const { command, dir } = server.mcp_server!;
  if (commandRunnable(server.mcp_server!, platform)) return undefined;
  if (dir !== undefined && !platform.isDirectory(dir)) return "server.mcp_server.dir is not a directory: every session will fail to start and /ready is 503 until it is";
  // "npx -y some-server" in command is the usual slip: the command is run as one file name, never split.
  const withArguments = /\S\s+\S/.test(command) ? "; arguments go in server.mcp_server.args, one list item each" : "";
  return `server.mcp_server.command cannot be run (no executable file by that name on the child's PATH, or at that path): every session will fail to start and /ready is 503 until it can${withArguments}`;
}
