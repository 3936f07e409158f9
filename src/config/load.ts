/**
 * @module From YAML text to a validated Config: YAML parsing, the `auth:`/`logging:` aliases,
 * environment substitution on parsed string values, the zod schema, then rules across keys.
 * Runtime-agnostic: the caller reads files and passes the environment in.
 */
import { parseDocument } from "yaml";
import type { z } from "zod";
import { ConfigSchema, type Config } from "./schema.ts";
import { ConfigError, formatPath, type ConfigIssue } from "./errors.ts";

/** Keys whose values are taken literally: bcrypt hashes contain "$". */
const LITERAL_KEYS = new Set(["password_hash"]);

type Env = Readonly<Record<string, string | undefined>>;

const VARIABLE = /\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g;

/**
 * Expands `${VAR}`, `$VAR` and `${VAR:-default}`; `$$` is a literal `$`. An unset variable
 * without a default is an error, never the literal text (that would make `${TOKEN}` a valid token).
 */
export function substituteVariables(value: string, env: Env, path: string, issues: ConfigIssue[]): string {
  return value.replace(VARIABLE, (whole, braced: string | undefined, fallback: string | undefined, bare: string | undefined) => {
    if (whole === "$$") return "$";
    const name = (braced ?? bare)!;
    const found = env[name];
    if (found !== undefined && (found !== "" || fallback === undefined)) return found;
    if (fallback !== undefined) return fallback;
    issues.push({ path, message: `environment variable ${name} is not set (set it, give a default with \${${name}:-value}, or write $$ for a literal $)` });
    return "";
  });
}

function substituteTree(node: unknown, env: Env, path: (string | number)[], issues: ConfigIssue[]): unknown {
  if (typeof node === "string") {
    const key = path[path.length - 1];
    return typeof key === "string" && LITERAL_KEYS.has(key) ? node : substituteVariables(node, env, formatPath(path), issues);
  }
  if (Array.isArray(node)) return node.map((item, index) => substituteTree(item, env, [...path, index], issues));
  if (node && typeof node === "object") {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(node)) out[key] = substituteTree(value, env, [...path, key], issues);
    return out;
  }
  return node;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The seed shows `auth:` and `logging:` at the top level; move them where the schema has them. */
function applyAliases(raw: Record<string, unknown>, issues: ConfigIssue[]): void {
  if ("logging" in raw) {
    if ("log" in raw) issues.push({ path: "logging", message: 'both "log" and "logging" are set; keep one' });
    else raw.log = raw.logging;
    delete raw.logging;
  }
  if ("auth" in raw) {
    const mode = raw.mode;
    if (mode !== "server" && mode !== "client") return; // the schema reports the missing mode
    const section = (raw[mode] ??= {});
    if (isRecord(section) && "auth" in section) {
      issues.push({ path: "auth", message: `both "auth" and "${mode}.auth" are set; keep one (the top-level block applies to the active mode)` });
    } else if (isRecord(section)) {
      section.auth = raw.auth;
    }
    delete raw.auth;
  }
}

function zodIssues(error: z.ZodError): ConfigIssue[] {
  return error.issues.map((issue) => {
    let message = issue.message;
    if (issue.code === "invalid_type" && /received undefined/.test(message)) message = "is required";
    if (issue.code === "invalid_value" && "values" in issue) message = `must be one of: ${issue.values.map(String).join(", ")}`;
    return { path: formatPath(issue.path), message };
  });
}

/** Rules that span several keys; each names the key to fix. */
function checkRules(config: Config): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const need = (ok: unknown, path: string, message: string) => {
    if (!ok) issues.push({ path, message });
  };
  if (config.mode === "server") {
    const server = config.server;
    need(server, "server", 'is required when mode is "server"');
    if (!server) return issues;
    need(server.mcp_server, "server.mcp_server", "is required: the stdio MCP server to run (command, args)");
    const tls = server.tls;
    if (tls.enabled) {
      need(tls.cert_file, "server.tls.cert_file", "is required when tls.enabled is true");
      need(tls.key_file, "server.tls.key_file", "is required when tls.enabled is true");
      const needsCa = tls.client_auth === "verify" || tls.client_auth === "require_and_verify";
      need(!needsCa || tls.client_ca, "server.tls.client_ca", `is required when client_auth is "${tls.client_auth}"`);
      if (tls.max_version) need(tls.max_version >= tls.min_version, "server.tls.max_version", "must not be lower than min_version");
    }
    const auth = server.auth;
    if (auth?.type === "bearer") {
      const bearer = auth.bearer;
      need(bearer?.valid_tokens?.length || bearer?.validation_endpoint, "server.auth.bearer", "needs valid_tokens or validation_endpoint");
      need(!bearer?.token, "server.auth.bearer.token", "is for client mode; in server mode list accepted tokens in valid_tokens");
    }
    if (auth?.type === "oauth") {
      const oauth = auth.oauth;
      need(
        oauth?.discovery_url || oauth?.jwks_url || oauth?.introspection_url || oauth?.introspection.endpoint,
        "server.auth.oauth",
        "needs discovery_url, jwks_url or introspection_url",
      );
      const introspecting = oauth?.introspection_url || oauth?.introspection.enabled;
      need(!introspecting || oauth?.introspection.client_id || oauth?.client_id, "server.auth.oauth.client_id", "is required for token introspection");
    }
    const as = server.oauth_server;
    if (as.enabled) {
      need(as.issuer, "server.oauth_server.issuer", "is required when the authorization server is enabled");
      need(as.signing.key_file || as.signing.generate_key, "server.oauth_server.signing.key_file", "is required (or generate_key: true for development)");
      if (as.mode === "builtin") {
        need(as.builtin.users.length > 0, "server.oauth_server.builtin.users", "needs at least one user in builtin mode");
        as.builtin.users.forEach((user, i) => {
          const path = `server.oauth_server.builtin.users[${i}]`;
          need(Boolean(user.password_hash) !== Boolean(user.password_env), path, "needs exactly one of password_hash and password_env");
          if (user.password_hash) need(/^\$2[abyx]\$\d\d\$[./A-Za-z0-9]{53}$/.test(user.password_hash.reveal()), `${path}.password_hash`, "is not a bcrypt hash (run `mcp-bridge hash-password`)");
        });
      } else {
        const fed = as.federated;
        need(fed.upstream_issuer || fed.upstream_discovery_url, "server.oauth_server.federated.upstream_issuer", "is required in federated mode");
        need(fed.client_id, "server.oauth_server.federated.client_id", "is required in federated mode");
        need(fed.client_secret || fed.client_secret_env, "server.oauth_server.federated.client_secret_env", "is required in federated mode (or client_secret)");
      }
    }
  } else {
    need(config.client, "client", 'is required when mode is "client"');
    const auth = config.client?.auth;
    if (auth?.type === "bearer") need(auth.bearer?.token, "client.auth.bearer.token", "is required: the token to send");
    if (auth?.type === "oauth") {
      need(auth.oauth?.token_url || auth.oauth?.discovery_url, "client.auth.oauth.token_url", "is required (or discovery_url)");
    }
  }
  return issues;
}

/** Parses and validates a configuration file's text. Throws ConfigError listing every problem found. */
export function parseConfig(text: string, env: Env, source?: string): Config {
  const document = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (document.errors.length > 0) {
    throw new ConfigError("CONFIG_SYNTAX", document.errors.map((error) => ({ path: "", message: error.message.split("\n")[0]! })), source);
  }
  const raw: unknown = document.toJS() ?? {};
  if (!isRecord(raw)) throw new ConfigError("CONFIG_INVALID", [{ path: "", message: "the file must be a YAML mapping of keys" }], source);
  const issues: ConfigIssue[] = [];
  applyAliases(raw, issues);
  const substituted = substituteTree(raw, env, [], issues);
  if (issues.length > 0) throw new ConfigError("CONFIG_INVALID", issues, source);
  const result = ConfigSchema.safeParse(substituted);
  if (!result.success) throw new ConfigError("CONFIG_INVALID", zodIssues(result.error), source);
  const ruleIssues = checkRules(result.data);
  if (ruleIssues.length > 0) throw new ConfigError("CONFIG_INVALID", ruleIssues, source);
  return result.data;
}

/** Where a config is looked for without -c, in order. */
export function configCandidates(env: Env, executableDir: string): string[] {
  const list = [];
  if (env.MCP_BRIDGE_CONFIG) list.push(env.MCP_BRIDGE_CONFIG);
  list.push("config.yaml", "/etc/mcp-bridge/config.yaml", "/etc/pgedge/config.yaml", `${executableDir}/config.yaml`);
  return list;
}

export function notFoundError(candidates: string[]): ConfigError {
  return new ConfigError("CONFIG_NOT_FOUND", [
    { path: "", message: `looked in: ${candidates.join(", ")}` },
    { path: "", message: "pass one with -c FILE or set MCP_BRIDGE_CONFIG" },
  ]);
}
