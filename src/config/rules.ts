/**
 * @module Rules that span several configuration keys, checked after the schema. Each carries the
 * sentence docs/configuration.md shows for it, so the reference lists exactly the rules enforced.
 */
import { ConfigSchema, type AuthConfig, type Config } from "./schema.ts";
import type { ConfigIssue } from "./errors.ts";
import { isTrustedEndpoint } from "../auth/oauth/http.ts";
import { isCredentialHeader } from "../log/sanitize.ts";
import { authenticates } from "../auth/index.ts";
import { introspectionWanted } from "../auth/oauth/introspection.ts";
import { SCOPE_TOKEN } from "../auth/oauth/principal.ts";
import { grantKind } from "../auth/outbound/types.ts";
import { isPrivateUseScheme } from "../oauth-server/redirect.ts";
import { isObject } from "../util/object.ts";
import { isLoopbackHost } from "../util/host.ts";

export interface CrossKeyRule {
  /** One sentence for the configuration reference. */
  summary: string;
  /** The issues this rule finds; each names the key to fix. `written` is the file's data before defaults were filled in. */
  check(config: Config, written: Record<string, unknown>): ConfigIssue[];
}

/** A DNS name: dot-separated labels of letters, digits and hyphens. */
const DOMAIN_NAME = /^(?=.{1,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const BCRYPT_HASH = /^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/;

/** [{ path, message }] when `ok` is falsy, [] otherwise. */
function unless(ok: unknown, path: string, message: string): ConfigIssue[] {
  return ok ? [] : [{ path, message }];
}

/** A block for another auth type would be ignored, and the bridge would run with less protection than its file suggests. */
function checkAuthBlocks(auth: AuthConfig | undefined, path: string): ConfigIssue[] {
  if (!auth) return [];
  return [
    ...unless(!auth.bearer || auth.type === "bearer", `${path}.bearer`, `is set but ${path}.type is "${auth.type}"; set type: bearer or remove the block`),
    ...unless(!auth.oauth || auth.type === "oauth", `${path}.oauth`, `is set but ${path}.type is "${auth.type}"; set type: oauth or remove the block`),
  ];
}

/** Keys of `auth.bearer` and `auth.oauth` that only one mode reads; `valid_tokens`, `validation_endpoint` and `token` have rules of their own. */
const ONE_MODE_KEYS = {
  bearer: { server: ["validation_timeout", "cache_ttl", "negative_cache_ttl"], client: ["token_env"] },
  oauth: {
    server: ["jwks_url", "introspection_url", "audience", "required_scopes", "method_scopes", "claims", "validation", "jwks", "introspection"],
    client: ["token_url", "authorization_url", "scopes", "use_pkce", "resource", "redirect_uri", "token_cache", "token_endpoint_auth_method", "private_key_file", "private_key_id", "signing_algorithm", "client_metadata_url", "client_name", "browser_command", "authorization_timeout", "enterprise", "workload_identity"],
  },
} as const;

/**
 * Every section's values when nothing is written (both modes, both auth blocks): a key equal to
 * its default asks for nothing (check-config prints every default, and its output must load back).
 */
const DEFAULTS = ConfigSchema.parse({
  mode: "server",
  server: { mcp_server: { command: "-" }, auth: { bearer: {}, oauth: {} } },
  client: { url: "http://-/", auth: { bearer: {}, oauth: {} } },
});
const AUTH_DEFAULTS = DEFAULTS.server!.auth!;

/** Keys of the other mode set in `auth` (differing from their defaults): the bridge would ignore them. */
function otherModeKeys(auth: AuthConfig | undefined, mode: "server" | "client", path: string): ConfigIssue[] {
  const other = mode === "server" ? "client" : "server";
  return (["bearer", "oauth"] as const).flatMap((type) => {
    const block = auth?.[type] as Record<string, unknown> | undefined;
    if (!block) return [];
    const defaults = AUTH_DEFAULTS[type] as Record<string, unknown>;
    return ONE_MODE_KEYS[type][other]
      .filter((key) => block[key] !== undefined && JSON.stringify(block[key]) !== JSON.stringify(defaults[key]))
      .map((key) => ({ path: `${path}.${type}.${key}`, message: `is read in ${other} mode only; in ${mode} mode it would be ignored: remove it` }));
  });
}

/** Server mode's sections as they are when nothing is written, for telling what a file sets. */
const SERVER_DEFAULTS = DEFAULTS.server!;

/** Keys of `section` that differ from `defaults`, `enabled` aside. */
function changedKeys(section: object, defaults: object): string[] {
  const written = section as Record<string, unknown>;
  const fallback = defaults as Record<string, unknown>;
  return Object.keys(written).filter((key) => key !== "enabled" && written[key] !== undefined && JSON.stringify(written[key]) !== JSON.stringify(fallback[key]));
}

/** The value at `path` (keys joined by ".") in `data`, or undefined. */
function valueAt(data: object, path: string): unknown {
  return path.split(".").reduce<unknown>((node, key) => (isObject(node) ? node[key] : undefined), data);
}

/**
 * Keys (or whole sections) that only some settings read. Written in the file where nothing reads
 * them, each is refused naming it, with `unread`'s reason and fix: the bridge would run without
 * what the file asks for. Only what the file writes counts, and not a value equal to the default.
 */
interface UnreadKeys {
  summary: string;
  /** Dot-separated paths in the file. */
  paths: readonly string[];
  /** Why nothing reads `path` under `config` (`written`: the file's data), and the fix; undefined when something does. */
  unread(config: Config, path: string, written: Record<string, unknown>): string | undefined;
}

function unreadKeysRule({ summary, paths, unread }: UnreadKeys): CrossKeyRule {
  return {
    summary,
    check: (config, written) =>
      paths.flatMap((path) => {
        const asked = valueAt(written, path) !== undefined && JSON.stringify(valueAt(config, path)) !== JSON.stringify(valueAt(DEFAULTS, path));
        const why = asked ? unread(config, path, written) : undefined;
        return why ? [{ path, message: why }] : [];
      }),
  };
}

/** `config.server` in server mode, else undefined (a server section in client mode is refused as a whole). */
const activeServer = (config: Config) => (config.mode === "server" ? config.server : undefined);
/** Server mode's `auth.oauth` when `auth.type` is oauth, else undefined. */
const serverOAuth = (config: Config) => {
  const auth = activeServer(config)?.auth;
  return auth?.type === "oauth" ? auth.oauth : undefined;
};
/** Client mode's `auth`, else undefined. */
const clientAuth = (config: Config) => (config.mode === "client" ? config.client?.auth : undefined);

const UNREAD_KEYS: readonly UnreadKeys[] = [
  {
    summary: "`client` is refused in server mode and `server` in client mode: each mode reads only its own section.",
    paths: ["server", "client"],
    unread: (config, path) => (path !== config.mode ? `is read in ${path} mode only, and mode is "${config.mode}": remove it` : undefined),
  },
  {
    summary:
      "With `server.oauth_server.enabled`, `federated` is refused in builtin mode, and `builtin.users`, `login_session_lifetime` and (without `builtin.login_template`) `builtin.branding`'s `username_label`, `password_label` and `button_text` in federated mode (the other mode's sign-in is not run); `federated.client_secret_env` is refused with `federated.client_secret`, which is used instead.",
    paths: [
      "server.oauth_server.federated",
      "server.oauth_server.builtin.users",
      "server.oauth_server.login_session_lifetime",
      ...["username_label", "password_label", "button_text"].map((key) => `server.oauth_server.builtin.branding.${key}`),
      "server.oauth_server.federated.client_secret_env",
    ],
    unread: (config, path) => {
      const as = activeServer(config)?.oauth_server;
      if (!as?.enabled) return undefined;
      if (path.endsWith("client_secret_env")) {
        return as.mode === "federated" && as.federated.client_secret
          ? "names the variable holding the upstream client secret, and federated.client_secret is set, which is used instead: remove one of the two"
          : undefined;
      }
      const needs = path.endsWith("federated") ? "federated" : "builtin";
      if (as.mode === needs) return undefined;
      const fix = `server.oauth_server.mode is ${as.mode}: set mode: ${needs}, or remove it`;
      // In federated mode the consent page has no username and password: people sign in upstream.
      if (path.endsWith("login_session_lifetime")) return `keeps a browser signed in after a builtin sign-in (username and password), and none happens here: people sign in at the upstream provider, and ${fix}`;
      if (path.includes(".branding.")) {
        return as.builtin.login_template ? undefined : `labels the username and password form, which is shown in builtin mode only (people sign in at the upstream provider), and ${fix}`;
      }
      return `is read in ${needs} mode only, and ${fix}`;
    },
  },
  {
    summary: "Server mode, `auth.type: bearer`: `validation_timeout`, `cache_ttl` and `negative_cache_ttl` are refused without `validation_endpoint`, whose answers they time and keep.",
    paths: ["validation_timeout", "cache_ttl", "negative_cache_ttl"].map((key) => `server.auth.bearer.${key}`),
    unread: (config) => {
      const auth = activeServer(config)?.auth;
      return auth?.type === "bearer" && !auth.bearer?.validation_endpoint ? "applies to validation_endpoint's answers, and none is set (valid_tokens are checked by the bridge itself): set validation_endpoint, or remove it" : undefined;
    },
  },
  {
    summary:
      "`mcp_server.restart_on_failure`, `max_restarts`, `restart_delay` and `restart_window` are refused with `session.mode: per_session`: they restart the one child of `shared`; a per-session child that dies ends its session. `max_restarts`, `restart_delay` and `restart_window` are refused with `restart_on_failure: false` too: the shared child is then never restarted.",
    paths: ["restart_on_failure", "max_restarts", "restart_delay", "restart_window"].map((key) => `server.mcp_server.${key}`),
    unread: (config, path) => {
      const server = activeServer(config);
      if (server?.session.mode === "per_session") {
        return "restarts the one child of session.mode: shared; with per_session (the default) a child that dies ends its session and is never restarted: set session.mode: shared, or remove it";
      }
      return server?.mcp_server?.restart_on_failure === false && !path.endsWith("restart_on_failure")
        ? "paces the restarts of the shared child, and restart_on_failure is false, so a child that dies is never restarted: set restart_on_failure: true, or remove it"
        : undefined;
    },
  },
  {
    summary:
      "`session.max_sessions_per_subject` and `server.auth_failure_limit` are refused without authentication: there is no subject (each client address gets half of `max_sessions`), and no request fails authentication.",
    paths: ["server.session.max_sessions_per_subject", "server.auth_failure_limit"],
    unread: (config, path) => {
      const server = activeServer(config);
      if (!server || authenticates(server)) return undefined;
      return path.endsWith("max_sessions_per_subject")
        ? "caps the sessions of each authenticated subject, and authentication is off (set server.auth or server.oauth_server.enabled), so there is none: remove it (each client address gets half of max_sessions), or turn authentication on"
        : "limits failed authentications per client address, and authentication is off (set server.auth or server.oauth_server.enabled), so no request fails it: remove it, or turn authentication on";
    },
  },
  {
    summary:
      "`mcp_server.pass_identity` is refused without authentication (no identity to pass), and with `session.mode: shared` together with `modern_child: shared` (every child is shared by all users, so none is given one).",
    paths: ["server.mcp_server.pass_identity"],
    unread: (config) => {
      const server = activeServer(config);
      if (!server) return undefined;
      if (!authenticates(server)) {
        return "passes the authenticated user's identity to the child, and authentication is off (set server.auth or server.oauth_server.enabled): remove it, or turn authentication on";
      }
      return server.session.mode === "shared" && server.session.modern_child === "shared"
        ? "passes a child its one user's identity, and with session.mode: shared and modern_child: shared every child serves all users, so none gets it: set session.mode: per_session or modern_child: per_principal, or remove it"
        : undefined;
    },
  },
  {
    summary:
      "Server mode, `auth.type: oauth`: `introspection.client_id`, `introspection.client_secret`, `introspection.auth_method` and `introspection.cache_ttl` are refused without introspection (`introspection_url`, `introspection.endpoint` or `introspection.enabled`); `introspection.enabled: false` keeps them, unused.",
    paths: ["client_id", "client_secret", "auth_method", "cache_ttl"].map((key) => `server.auth.oauth.introspection.${key}`),
    unread: (config, _path, written) => {
      const server = activeServer(config);
      const oauth = serverOAuth(config);
      // As for tls and oauth_server: enabled: false says the settings are kept on purpose.
      if (!oauth || introspectionWanted(oauth) || valueAt(written, "server.auth.oauth.introspection.enabled") === false) return undefined;
      return server!.oauth_server.enabled
        ? "configures token introspection, which oauth_server.enabled does not use (tokens are this bridge's own): remove it"
        : "configures token introspection, and none is asked for: set introspection.enabled (with introspection.endpoint, introspection_url or discovery_url), or remove it";
    },
  },
  {
    summary:
      "Server mode, `auth.type: oauth`: `client_id` and `client_secret` are refused without token introspection (`introspection_url`, `introspection.endpoint` or `introspection.enabled`), the only request they authenticate; `http_timeout` without introspection or `discovery_url`, the only requests it times; with `oauth_server.enabled`, `validation.allowed_algorithms` and `validation.require_at_jwt` are refused (tokens carry the server's own `signing.algorithm`, as `typ: at+jwt`).",
    paths: ["client_id", "client_secret", "http_timeout", "validation.allowed_algorithms", "validation.require_at_jwt"].map((key) => `server.auth.oauth.${key}`),
    unread: (config, path) => {
      const server = activeServer(config);
      const oauth = serverOAuth(config);
      if (!oauth) return undefined;
      if (path.endsWith("allowed_algorithms")) {
        return server!.oauth_server.enabled ? "is set by the built-in authorization server with oauth_server.enabled (its tokens are signed with server.oauth_server.signing.algorithm): remove it" : undefined;
      }
      if (path.endsWith("require_at_jwt")) {
        return server!.oauth_server.enabled ? "is set by the built-in authorization server with oauth_server.enabled (its tokens are RFC 9068 access tokens, typ at+jwt, and nothing else passes): remove it" : undefined;
      }
      if (introspectionWanted(oauth)) return undefined;
      if (path.endsWith("http_timeout")) {
        return oauth.discovery_url ? undefined : "times discovery (discovery_url) and introspection requests, and this configuration makes neither (JWKS fetches have jwks.fetch_timeout): remove it";
      }
      return "authenticates the bridge for token introspection only, and none is configured (introspection_url, introspection.endpoint or introspection.enabled): remove it";
    },
  },
  {
    summary:
      "Client mode, `auth.type: oauth`: `authorization_url`, `redirect_uri`, `browser_command`, `authorization_timeout`, `client_name`, `client_metadata_url` and `token_cache` are refused unless a person signs in (the authorization code grant): not with client credentials, `enterprise` or `workload_identity` (whose tokens are kept in memory only). `use_pkce: false` is refused with `enterprise` or `workload_identity`, which choose the grant themselves.",
    paths: ["authorization_url", "redirect_uri", "browser_command", "authorization_timeout", "client_name", "client_metadata_url", "token_cache", "use_pkce"].map((key) => `client.auth.oauth.${key}`),
    unread: (config, path) => {
      const auth = clientAuth(config);
      const grant = auth?.type === "oauth" && auth.oauth ? grantKind(auth.oauth) : undefined;
      if (grant === undefined || grant === "authorization_code") return undefined;
      if (path.endsWith("use_pkce")) {
        // use_pkce: true has a rule of its own (it asks for a sign-in these grants cannot give).
        return grant !== "client_credentials" && auth!.oauth!.use_pkce === false ? `chooses between a person's sign-in and client credentials, and this configuration gets tokens with ${grant}: remove it` : undefined;
      }
      const what = path.endsWith("token_cache") ? "is where a person's sign-in (authorization code) is kept between runs (tokens of other grants are kept in memory only)" : "is for a person signing in (authorization code)";
      return grant === "client_credentials"
        ? `${what}, and this configuration uses client credentials (a client_secret or private_key_file without use_pkce: true): remove it, or set use_pkce: true`
        : `${what}, and this configuration gets tokens with ${grant}: remove it`;
    },
  },
  {
    summary:
      "Server mode, `auth.type: oauth` without a key source (`jwks_url`, `discovery_url` or `oauth_server.enabled`; `introspection_url` alone checks tokens by introspection): `jwks` settings and `validation.allowed_algorithms`, `require_expiration`, `max_token_age`, which apply to JWTs checked with keys, are refused.",
    paths: [...["refresh_interval", "fetch_timeout", "cooldown"].map((key) => `jwks.${key}`), ...["allowed_algorithms", "require_expiration", "max_token_age"].map((key) => `validation.${key}`)].map((key) => `server.auth.oauth.${key}`),
    unread: (config) => {
      const server = activeServer(config);
      const oauth = serverOAuth(config);
      return oauth && !oauth.jwks_url && !oauth.discovery_url && !server!.oauth_server.enabled
        ? "applies to JWTs checked with the issuer's keys, and no key source is configured (tokens are checked by introspection only): set jwks_url or discovery_url, or remove it"
        : undefined;
    },
  },
  {
    summary: "Client mode, `auth.type: oauth`: `private_key_id` and `signing_algorithm` are refused without `private_key_file`, whose assertions they describe.",
    paths: ["private_key_id", "signing_algorithm"].map((key) => `client.auth.oauth.${key}`),
    unread: (config) => {
      const auth = clientAuth(config);
      return auth?.type === "oauth" && !auth.oauth?.private_key_file ? "applies to private_key_jwt assertions signed with private_key_file, which is not set: set private_key_file, or remove it" : undefined;
    },
  },
  {
    summary: "Client mode, `auth.oauth.enterprise`: `idp_issuer` is refused next to `idp_token_endpoint`, which is used instead of discovering it.",
    paths: ["client.auth.oauth.enterprise.idp_issuer"],
    unread: (config) => {
      const auth = clientAuth(config);
      return auth?.type === "oauth" && auth.oauth?.enterprise?.idp_token_endpoint
        ? "is where the identity provider's token endpoint is discovered, and enterprise.idp_token_endpoint is set, which is used instead: remove one of the two"
        : undefined;
    },
  },
  {
    summary:
      "Server mode, `auth.type: oauth`, with token introspection: `client_id`, `client_secret` and `introspection_url` are refused next to `introspection.client_id`, `introspection.client_secret` and `introspection.endpoint`, which are used instead.",
    paths: ["client_id", "client_secret", "introspection_url"].map((key) => `server.auth.oauth.${key}`),
    unread: (config, path) => {
      const oauth = serverOAuth(config);
      // Without introspection neither is read, and the rules above say so.
      if (!oauth || activeServer(config)!.oauth_server.enabled || !introspectionWanted(oauth)) return undefined;
      const key = path.slice("server.auth.oauth.".length) as "client_id" | "client_secret" | "introspection_url";
      const instead = key === "introspection_url" ? "endpoint" : key;
      return oauth.introspection[instead] !== undefined ? `names the ${key === "introspection_url" ? "introspection endpoint" : `bridge's ${key} for token introspection`}, and introspection.${instead} is set, which is used instead: remove one of the two` : undefined;
    },
  },
  {
    summary: "With `server.tls.enabled`, `client_ca` is refused when `client_auth` is `none` (the default): no client certificate is asked for, so none is checked against it.",
    paths: ["server.tls.client_ca"],
    unread: (config) => {
      const tls = activeServer(config)?.tls;
      return tls?.enabled && tls.client_auth === "none"
        ? "holds the CAs that client certificates are checked against (mutual TLS), and client_auth is none, so no client certificate is asked for: set client_auth (verify or require_and_verify check certificates against it), or remove it"
        : undefined;
    },
  },
  {
    summary:
      "Client mode: `client.tls` settings are refused when `client.url` is plain `http://` and `client.auth.type` is not `oauth` (an authorization server may be reached over https): no TLS connection is made.",
    paths: ["ca_cert", "cert_file", "key_file", "insecure_skip_verify", "server_name"].map((key) => `client.tls.${key}`),
    unread: (config) => {
      const client = config.mode === "client" ? config.client : undefined;
      if (!client || new URL(client.url).protocol !== "http:" || client.auth?.type === "oauth") return undefined;
      return `configures TLS to the remote server, and client.url is plain http:// (and ${client.auth && client.auth.type !== "none" ? `client.auth.${client.auth.type}` : "client.auth, unset,"} reaches no other server), so no TLS connection is made: use the server's https:// URL, or remove it`;
    },
  },
  {
    summary: "Client mode: `retry.initial_delay` is refused with `retry.max_retries: 0`, and `retry.multiplier` with fewer than 2 retries: no delay, or no second delay, is waited. `retry.enabled: false` keeps them, unused.",
    paths: ["initial_delay", "multiplier"].map((key) => `client.retry.${key}`),
    unread: (config, path) => {
      const retry = config.mode === "client" ? config.client?.retry : undefined;
      if (!retry?.enabled) return undefined;
      if (path.endsWith("initial_delay")) return retry.max_retries === 0 ? "is the delay before the first retry, and max_retries is 0, so none is made: set max_retries, or remove it" : undefined;
      return retry.max_retries < 2 ? `grows the delay after each retry, and max_retries is ${retry.max_retries}, so no later delay uses it: set max_retries to 2 or more, or remove it` : undefined;
    },
  },
];

/** Request headers client mode sets itself, lower case. */
const BRIDGE_HEADERS = new Set(["content-type", "accept", "mcp-session-id", "mcp-protocol-version", "last-event-id", "dpop", "host", "content-length", "transfer-encoding", "connection"]);

const serverOnly = (check: (server: NonNullable<Config["server"]>) => ConfigIssue[]) => (config: Config) =>
  config.mode === "server" && config.server ? check(config.server) : [];
const clientOnly = (check: (client: NonNullable<Config["client"]>) => ConfigIssue[]) => (config: Config) =>
  config.mode === "client" && config.client ? check(config.client) : [];

/** Whether requests to `url` travel in clear to another machine: plain http beyond loopback. */
const inClear = (url: string) => !isTrustedEndpoint(new URL(url).origin);
const IN_CLEAR = "would send its credential over plain http to a host beyond loopback, where anyone on the path could read and replay it (RFC 6750 §5.3): use the server's https:// URL";

/** Client mode's OAuth: each grant has what it needs. */
function checkClientOAuth(oauth: NonNullable<AuthConfig["oauth"]>| undefined): ConfigIssue[] {
  if (!oauth) return [{ path: "client.auth.oauth", message: "is required when client.auth.type is oauth" }];
  const path = "client.auth.oauth";
  const hasCredential = Boolean(oauth.client_secret || oauth.private_key_file);
  const method = oauth.token_endpoint_auth_method;
  const redirect = oauth.redirect_uri ? new URL(oauth.redirect_uri) : undefined;
  const metadataUrl = oauth.client_metadata_url ? new URL(oauth.client_metadata_url) : undefined;
  const issues = [
    ...unless(
      !redirect || (redirect.protocol === "http:" && ["127.0.0.1", "[::1]", "localhost"].includes(redirect.hostname)),
      `${path}.redirect_uri`,
      "must be a loopback http URL such as http://127.0.0.1:8765/callback (the bridge listens there for the browser's redirect)",
    ),
    ...unless(
      !metadataUrl || (metadataUrl.protocol === "https:" && metadataUrl.pathname !== "/"),
      `${path}.client_metadata_url`,
      "must be an https URL with a path (e.g. https://example.com/mcp-client.json), where your Client ID Metadata Document is served",
    ),
    ...unless(method !== "private_key_jwt" || oauth.private_key_file, `${path}.private_key_file`, "is required for token_endpoint_auth_method private_key_jwt"),
    ...unless((method !== "client_secret_basic" && method !== "client_secret_post") || oauth.client_secret, `${path}.client_secret`, `is required for token_endpoint_auth_method ${method}`),
  ];
  issues.push(
    ...unless(!oauth.authorization_url || oauth.token_url, `${path}.token_url`, "is required with authorization_url (both endpoints, or neither and discovery)"),
    ...unless(!(oauth.enterprise && oauth.workload_identity), `${path}.workload_identity`, "cannot be combined with enterprise: choose one way to get tokens"),
    ...unless(
      oauth.use_pkce !== true || !(oauth.enterprise || oauth.workload_identity),
      `${path}.use_pkce`,
      "asks for a person's sign-in, but enterprise / workload_identity get tokens without one: remove use_pkce",
    ),
  );
  const enterprise = oauth.enterprise;
  if (enterprise) {
    const sources = [enterprise.id_token, enterprise.id_token_env, enterprise.id_token_command].filter(Boolean).length;
    return [
      ...issues,
      ...unless(oauth.client_id, `${path}.client_id`, "is required for enterprise-managed authorization (the client at the MCP server's authorization server)"),
      ...unless(enterprise.idp_client_id, `${path}.enterprise.idp_client_id`, "is required: the client id at the enterprise identity provider"),
      ...unless(enterprise.idp_issuer || enterprise.idp_token_endpoint, `${path}.enterprise.idp_issuer`, "is required (or idp_token_endpoint)"),
      ...unless(sources === 1, `${path}.enterprise.id_token`, "needs exactly one of id_token, id_token_env and id_token_command"),
    ];
  }
  const workload = oauth.workload_identity;
  if (workload) {
    const sources = [workload.token, workload.token_env, workload.token_file, workload.token_command].filter(Boolean).length;
    return [
      ...issues,
      ...unless(oauth.client_id, `${path}.client_id`, "is required for workload identity federation (the workload's client at the authorization server)"),
      ...unless(sources === 1, `${path}.workload_identity.token_file`, "needs exactly one of token, token_env, token_file and token_command"),
    ];
  }
  if (grantKind(oauth) !== "client_credentials") return issues;
  return [
    ...issues,
    ...unless(oauth.client_id, `${path}.client_id`, "is required for the client credentials grant"),
    ...unless(hasCredential, `${path}.client_secret`, "is required for the client credentials grant (or private_key_file); for a person signing in, remove use_pkce: false"),
  ];
}

/** Paths the bridge answers itself in server mode, given what else is on; server.path must be none of them. */
function ownPaths(server: NonNullable<Config["server"]>): { exact: string[]; prefixes: string[] } {
  const exact = ["/health", "/ready"];
  const prefixes = ["/.well-known/"];
  if (server.legacy_sse) exact.push("/sse", "/messages");
  if (server.oauth_server.enabled) {
    exact.push("/authorize", "/token", "/register");
    prefixes.push("/oauth/");
  }
  return { exact, prefixes };
}

export const CROSS_KEY_RULES: readonly CrossKeyRule[] = [
  {
    summary: "`mode: server` needs a `server` section with `server.mcp_server` (at least its `command`).",
    check: (config) =>
      config.mode !== "server"
        ? []
        : [
            ...unless(config.server, "server", 'is required when mode is "server"'),
            ...unless(!config.server || config.server.mcp_server, "server.mcp_server", "is required: the stdio MCP server to run (command, args)"),
          ],
  },
  {
    summary: "`mode: client` needs a `client` section with `client.url`.",
    check: (config) => (config.mode === "client" ? unless(config.client, "client", 'is required when mode is "client"') : []),
  },
  {
    summary: "In client mode, stdout carries the MCP messages: `log.output` must not be `stdout`.",
    check: (config) =>
      config.mode === "client"
        ? unless(config.log.output !== "stdout", "log.output", 'must not be "stdout" in client mode: stdout carries the MCP messages (use "stderr" or a file)')
        : [],
  },
  {
    summary:
      'With `server.auth.type: none`, `"*"` or `"null"` in `server.allowed_origins` or `server.cors.allowed_origins` is refused: any web page could drive the MCP server through the user\'s browser (`"null"` is what sandboxed frames send).',
    check: serverOnly((server) => {
      if ((server.auth?.type ?? "none") !== "none") return [];
      const message = 'must not contain "*" when authentication is off: any web page could use the MCP server; list the origins that may call it, or turn authentication on';
      const nullMessage = 'must not contain "null" when authentication is off: any web page can send it from a sandboxed frame and use the MCP server; list real origins, or turn authentication on';
      const check = (origins: readonly string[], path: string) => [
        ...unless(!origins.includes("*"), path, message),
        ...unless(!origins.some((origin) => origin.toLowerCase() === "null"), path, nullMessage),
      ];
      return [...check(server.allowed_origins, "server.allowed_origins"), ...(server.cors.enabled ? check(server.cors.allowed_origins, "server.cors.allowed_origins") : [])];
    }),
  },
  {
    summary: "`auth.bearer` is only allowed with `auth.type: bearer`, `auth.oauth` only with `auth.type: oauth` (a block for another type would be ignored).",
    check: (config) => [...checkAuthBlocks(config.server?.auth, "server.auth"), ...checkAuthBlocks(config.client?.auth, "client.auth")],
  },
  {
    summary:
      "With `server.tls.enabled`, `cert_file` and `key_file` are required; `client_auth: verify` or `require_and_verify` needs `client_ca`; `max_version` must not be lower than `min_version`.",
    check: serverOnly(({ tls }) =>
      !tls.enabled
        ? []
        : [
            ...unless(tls.cert_file, "server.tls.cert_file", "is required when tls.enabled is true"),
            ...unless(tls.key_file, "server.tls.key_file", "is required when tls.enabled is true"),
            ...unless(
              (tls.client_auth !== "verify" && tls.client_auth !== "require_and_verify") || tls.client_ca,
              "server.tls.client_ca",
              `is required when client_auth is "${tls.client_auth}"`,
            ),
            ...unless(!tls.max_version || tls.max_version >= tls.min_version, "server.tls.max_version", "must not be lower than min_version"),
          ],
    ),
  },
  {
    summary: "Server mode, `auth.type: bearer`: `valid_tokens` or `validation_endpoint` is required; `token` (client mode's key) is refused.",
    check: serverOnly(({ auth }) => {
      if (auth?.type !== "bearer") return [];
      const bearer = auth.bearer;
      return [
        ...unless(bearer?.valid_tokens?.length || bearer?.validation_endpoint, "server.auth.bearer", "needs valid_tokens or validation_endpoint"),
        ...unless(!bearer?.token, "server.auth.bearer.token", "is for client mode; in server mode list accepted tokens in valid_tokens"),
      ];
    }),
  },
  {
    summary:
      "Server mode, `auth.type: oauth` (without the built-in authorization server): one of `discovery_url`, `jwks_url`, `introspection_url` or `introspection.endpoint` is required; introspection needs a `client_id`.",
    check: serverOnly(({ auth, oauth_server }) => {
      if (auth?.type !== "oauth" || oauth_server.enabled) return [];
      const oauth = auth.oauth;
      const introspecting = oauth?.introspection_url || oauth?.introspection.enabled;
      return [
        ...unless(
          oauth?.discovery_url || oauth?.jwks_url || oauth?.introspection_url || oauth?.introspection.endpoint,
          "server.auth.oauth",
          "needs discovery_url, jwks_url or introspection_url",
        ),
        ...unless(!introspecting || oauth?.introspection.client_id || oauth?.client_id, "server.auth.oauth.client_id", "is required for token introspection"),
      ];
    }),
  },
  {
    summary:
      "With `server.oauth_server.enabled`: `issuer` must be https unless it is a loopback address, with no path, query or fragment, written as browsers write an origin (lower-case, no default port); every scope (`scopes_supported`, users' `scopes`, `default_scopes`, `admin_scopes`) is a single RFC 6749 scope token; `signing.generate_key` and `signing.key_file` exclude each other; each `allowed_redirect_uris` entry is an absolute http(s) URL without a fragment, or `*`; `server.auth` may be absent, `type: bearer` (static tokens accepted next to the server's own JWTs), or `type: oauth` carrying only scope rules (`required_scopes`, `method_scopes`, `claims`), since the JWTs are this server's own. Builtin mode needs at least one user, each with exactly one of `password_hash` (a bcrypt hash) and `password_env`. Federated mode needs `upstream_issuer` (or `upstream_discovery_url`), `client_id` and `client_secret_env` (or `client_secret`).",
    check: serverOnly(({ oauth_server: as, auth }) => {
      if (!as.enabled) return [];
      const issues: ConfigIssue[] = [];
      if (as.issuer) {
        const url = new URL(as.issuer);
        const loopback = isLoopbackHost(url.hostname);
        issues.push(
          ...unless(url.protocol === "https:" || loopback, "server.oauth_server.issuer", "must be an https URL (plain http is accepted only for loopback addresses): clients send passwords and codes to it"),
          ...unless(
            (url.pathname === "/" || url.pathname === "") && !url.search && !url.hash && !url.username && !url.password && !as.issuer.endsWith("/"),
            "server.oauth_server.issuer",
            'must be an origin only, like "https://mcp.example.com" (no path, trailing slash, query, fragment or user info): clients build /.well-known/oauth-authorization-server from it',
          ),
        );
        // Browsers send the Origin of the sign-in form normalised; the form is checked against the issuer as written.
        if (issues.length === 0 && url.origin !== as.issuer) {
          issues.push({ path: "server.oauth_server.issuer", message: `must be written as browsers write its origin, "${url.origin}" (lower-case scheme and host, no default port): the sign-in form's Origin is compared with it` });
        }
      }
      issues.push(...unless(!(as.signing.generate_key && as.signing.key_file), "server.oauth_server.signing.generate_key", "cannot be combined with key_file; remove one"));
      as.allowed_redirect_uris.forEach((uri, i) => {
        const url = URL.canParse(uri) ? new URL(uri) : undefined;
        issues.push(
          ...unless(
            uri === "*" || (url && (url.protocol === "https:" || url.protocol === "http:" || isPrivateUseScheme(url)) && !uri.includes("#")),
            `server.oauth_server.allowed_redirect_uris[${i}]`,
            'must be an absolute http(s) URL or a native app\'s private-use URI (com.example.app:/callback) without a fragment (compared exactly; loopback ports may vary), or "*" to allow any',
          ),
        );
      });
      if (auth?.type === "oauth" && auth.oauth) {
        for (const key of ["discovery_url", "issuer", "jwks_url", "introspection_url", "audience"] as const) {
          issues.push(...unless(auth.oauth[key] === undefined, `server.auth.oauth.${key}`, "cannot be set with oauth_server.enabled: tokens are validated against this bridge's own authorization server; remove it"));
        }
        issues.push(...unless(!auth.oauth.introspection.enabled && !auth.oauth.introspection.endpoint, "server.auth.oauth.introspection", "cannot be used with oauth_server.enabled; remove it"));
      }
      // A scope with a space is one name here but several to whoever reads the token's scope claim (space-separated).
      const scopeLists: [string, string[]][] = [
        ["server.oauth_server.scopes_supported", as.scopes_supported],
        ...as.builtin.users.map((user, i): [string, string[]] => [`server.oauth_server.builtin.users[${i}].scopes`, user.scopes]),
        ["server.oauth_server.federated.default_scopes", as.federated.default_scopes],
        ["server.oauth_server.federated.admin_scopes", as.federated.admin_scopes],
      ];
      for (const [path, scopes] of scopeLists) {
        scopes.forEach((scope, i) => {
          issues.push(...unless(SCOPE_TOKEN.test(scope), `${path}[${i}]`, `${JSON.stringify(scope)} is not one scope: a scope is a single word without spaces, quotes or backslashes (RFC 6749 §3.3); list each scope as its own item`));
        });
      }
      if (as.mode === "builtin") {
        issues.push(...unless(as.builtin.users.length > 0, "server.oauth_server.builtin.users", "needs at least one user in builtin mode (make a password hash with: mcp-bridge hash-password)"));
        const seen = new Set<string>();
        as.builtin.users.forEach((user, i) => {
          const path = `server.oauth_server.builtin.users[${i}]`;
          issues.push(...unless(!seen.has(user.username), `${path}.username`, `"${user.username}" is listed twice`));
          seen.add(user.username);
          issues.push(...unless(Boolean(user.password_hash) !== Boolean(user.password_env), path, "needs exactly one of password_hash and password_env"));
          const hash = user.password_hash?.reveal();
          if (hash !== undefined && !BCRYPT_HASH.test(hash)) {
            // password_hash is read literally (bcrypt hashes hold "$"): a ${VAR} in it is never replaced. Only a value
            // that is wholly a reference gets that hint; an argon2 ("$argon2id$…") or yescrypt ("$y$…") hash is no ${VAR}.
            const variable = /^\$(?:\{[A-Za-z_]\w*\}|[A-Za-z_]\w*)$/.test(hash) ? "; password_hash is read literally, never as a ${VAR}: give a password from the environment with password_env" : "";
            issues.push({ path: `${path}.password_hash`, message: `is not a bcrypt hash (make one with: mcp-bridge hash-password)${variable}` });
          }
        });
      } else {
        const fed = as.federated;
        issues.push(
          ...unless(fed.upstream_issuer || fed.upstream_discovery_url, "server.oauth_server.federated.upstream_issuer", "is required in federated mode"),
          ...unless(fed.client_id, "server.oauth_server.federated.client_id", "is required in federated mode"),
          ...unless(fed.client_secret || fed.client_secret_env, "server.oauth_server.federated.client_secret_env", "is required in federated mode (or client_secret)"),
        );
      }
      return issues;
    }),
  },
  {
    summary:
      "Federated mode: `upstream_issuer` and `upstream_discovery_url` must be https (plain http only on loopback, for local providers); `scopes` must include `openid`; `allowed_domains` are bare domain names.",
    check: serverOnly(({ oauth_server: as }) => {
      if (!as.enabled || as.mode !== "federated") return [];
      const fed = as.federated;
      const https = (key: "upstream_issuer" | "upstream_discovery_url") =>
        unless(
          fed[key] === undefined || isTrustedEndpoint(fed[key]),
          `server.oauth_server.federated.${key}`,
          "must be an https URL without credentials or fragment (http is accepted only for loopback addresses): sign-in answers and keys come from it",
        );
      return [
        ...https("upstream_issuer"),
        ...https("upstream_discovery_url"),
        ...unless(fed.scopes.includes("openid"), "server.oauth_server.federated.scopes", 'must include "openid": sign-in needs an ID token (e.g. ["openid", "email", "profile"])'),
        // A URL or an address here would match no one: everyone locked out, with no hint why.
        ...fed.allowed_domains.flatMap((domain, i) =>
          unless(DOMAIN_NAME.test(domain.replace(/^@/, "")), `server.oauth_server.federated.allowed_domains[${i}]`, 'must be a domain name such as "example.com" (compared with the part of the verified email after "@")'),
        ),
      ];
    }),
  },
  {
    summary:
      "Client mode, `auth.type: bearer`: exactly one of `token` and `token_env` is required; `valid_tokens` and `validation_endpoint` (server mode's keys) are refused. `auth.type: oauth`: client credentials (`use_pkce: false`, or a `client_secret` / `private_key_file` without `use_pkce`) need `client_id` and a `client_secret` or `private_key_file`; `token_endpoint_auth_method` needs its credential; `redirect_uri` is a loopback http URL; `client_metadata_url` an https URL with a path; `authorization_url` needs `token_url`; `enterprise`, `workload_identity` and `use_pkce: true` exclude each other; `enterprise` needs `client_id`, `idp_client_id`, `idp_issuer` or `idp_token_endpoint`, and exactly one of `id_token`, `id_token_env`, `id_token_command`; `workload_identity` needs `client_id` and exactly one of `token`, `token_env`, `token_file`, `token_command`.",
    check: clientOnly(({ auth }) => {
      if (auth?.type === "bearer") {
        return [
          ...unless(auth.bearer?.token || auth.bearer?.token_env, "client.auth.bearer.token", "is required (or token_env): the token to send"),
          ...unless(!auth.bearer?.token || !auth.bearer?.token_env, "client.auth.bearer.token_env", "is set together with token; keep one"),
          ...unless(!auth.bearer?.valid_tokens, "client.auth.bearer.valid_tokens", "is for server mode; in client mode set token"),
          ...unless(!auth.bearer?.validation_endpoint, "client.auth.bearer.validation_endpoint", "is for server mode; in client mode set token"),
        ];
      }
      if (auth?.type === "oauth") return checkClientOAuth(auth.oauth);
      return [];
    }),
  },
  {
    summary:
      "Client mode: a bearer token (`client.auth.type: bearer`) or a `client.headers` entry that carries a credential (its name says so, or its value looks generated) needs an https `client.url`; plain http is accepted only for loopback addresses. (With `auth.type: oauth` no token is sent over such a URL, and the log says why.)",
    check: clientOnly(({ auth, headers, url }) => {
      if (!inClear(url)) return [];
      return [
        ...unless(auth?.type !== "bearer", "client.auth.bearer", IN_CLEAR),
        ...Object.entries(headers).flatMap(([name, value]) => unless(!isCredentialHeader(name, value), `client.headers.${name}`, IN_CLEAR)),
      ];
    }),
  },
  {
    summary:
      "Client mode, `client.tls`: `cert_file` and `key_file` go together (mutual TLS needs both); `insecure_skip_verify` cannot be combined with `ca_cert` or `server_name`, which it would make pointless.",
    check: clientOnly(({ tls }) => [
      ...unless(!tls.cert_file || tls.key_file, "client.tls.key_file", "is required with cert_file (the client certificate's private key)"),
      ...unless(!tls.key_file || tls.cert_file, "client.tls.cert_file", "is required with key_file (the client certificate)"),
      ...unless(!tls.insecure_skip_verify || (!tls.ca_cert && !tls.server_name), "client.tls.insecure_skip_verify", "turns off the certificate checks that ca_cert and server_name configure; remove one or the other"),
    ]),
  },
  {
    summary: "Client mode: `client.max_answer_bytes_in_flight` is at least `client.max_message_size`, so that an answer of the largest size can be held.",
    check: clientOnly(({ max_message_size, max_answer_bytes_in_flight }) =>
      unless(
        max_answer_bytes_in_flight >= max_message_size,
        "client.max_answer_bytes_in_flight",
        `is less than client.max_message_size (${max_message_size} bytes): no answer of that size could be held; raise it to at least that (the default is four times it)`,
      ),
    ),
  },
  {
    summary:
      "`server.path` is not a path the bridge answers itself: `/health`, `/ready`, `/.well-known/…`, with `legacy_sse` `/sse` and `/messages`, with `oauth_server.enabled` `/authorize`, `/token`, `/register` and `/oauth/…` (one of the two would never be reached).",
    check: serverOnly((server) => {
      const { exact, prefixes } = ownPaths(server);
      const taken = exact.includes(server.path) || prefixes.some((prefix) => server.path.startsWith(prefix) || `${server.path}/` === prefix);
      return unless(!taken, "server.path", `is a path the bridge answers itself (${[...exact, ...prefixes.map((prefix) => `${prefix}…`)].join(", ")}): choose another, e.g. "/mcp"`);
    }),
  },
  {
    summary: "`server.metrics_listen` is not the address `server.listen` binds (the same port on the same or every interface): the second listener could not start.",
    check: serverOnly(({ listen, metrics_listen: metrics }) => {
      const everywhere = (host: string) => host === "0.0.0.0" || host === "::";
      const clash = metrics !== undefined && metrics.port !== 0 && metrics.port === listen.port && (metrics.host === listen.host || everywhere(metrics.host) || everywhere(listen.host));
      return unless(!clash, "server.metrics_listen", `uses port ${metrics?.port}, which server.listen binds too: give it another port (e.g. "127.0.0.1:9464")`);
    }),
  },
  {
    summary:
      "Keys of `auth.bearer` and `auth.oauth` that one mode reads are refused in the other (they would be ignored): server mode's `validation_timeout`, `cache_ttl`, `negative_cache_ttl`, `jwks_url`, `introspection_url`, `audience`, `required_scopes`, `method_scopes`, `claims`, `validation`, `jwks`, `introspection`; client mode's `token_env`, `token_url`, `authorization_url`, `scopes`, `use_pkce`, `resource`, `redirect_uri`, `token_cache`, `token_endpoint_auth_method`, `private_key_file`, `private_key_id`, `signing_algorithm`, `client_metadata_url`, `client_name`, `browser_command`, `authorization_timeout`, `enterprise`, `workload_identity`.",
    check: (config) => (config.mode === "server" ? otherModeKeys(config.server?.auth, "server", "server.auth") : otherModeKeys(config.client?.auth, "client", "client.auth")),
  },
  {
    summary:
      "Settings of `server.tls`, `server.oauth_server` and `server.cors` are refused when the section does not say `enabled`: a certificate, users or allowed origins written without `enabled: true` would be ignored (plain HTTP, no authorization server, no CORS headers). `enabled: false` keeps them, unused.",
    check: (config, written) => {
      if (config.mode !== "server" || !config.server) return [];
      const server = config.server;
      const file = isObject(written.server) ? written.server : {};
      return (["tls", "oauth_server", "cors"] as const).flatMap((name) => {
        const said = isObject(file[name]) && "enabled" in file[name];
        const set = server[name].enabled || said ? [] : changedKeys(server[name], SERVER_DEFAULTS[name]);
        return unless(set.length === 0, `server.${name}.enabled`, `is not set, so ${set.join(", ")} would be ignored: set enabled: true (or enabled: false to keep ${set.length > 1 ? "them" : "it"} unused)`);
      });
    },
  },
  {
    summary: "`storage` settings other than the defaults are refused unless `server.oauth_server` says `enabled`: only the authorization server keeps state (they would be ignored). With `oauth_server.enabled: false` they are kept, unused.",
    check: (config, written) => {
      const server = isObject(written.server) ? written.server : {};
      // As for the section's own settings: only `enabled`, true or false, says the section is meant.
      const section = isObject(server.oauth_server) ? server.oauth_server : undefined;
      if (config.mode === "server" && section?.enabled !== undefined) return [];
      const why = config.mode !== "server" ? "client mode runs none (client.auth.oauth.token_cache says where its tokens are kept): remove it" : section ? "server.oauth_server does not say enabled: set server.oauth_server.enabled, or remove storage" : "this file configures none: remove it";
      // Keys equal to their defaults ask for nothing (check-config prints them, and its output loads back).
      const asked = changedKeys(config.storage, DEFAULTS.storage);
      return unless(asked.length === 0, "storage", `is set (${asked.join(", ")}) but only the authorization server (server.oauth_server) keeps state, and ${why}`);
    },
  },
  {
    summary: "`storage.path` and `storage.allow_group_write` are refused with `storage.type: memory`, which keeps no directory (they would be ignored).",
    check: (config, written) => {
      if (config.storage.type !== "memory") return [];
      const file = isObject(written.storage) ? written.storage : {};
      return (["path", "allow_group_write"] as const).flatMap((key) => unless(file[key] === undefined, `storage.${key}`, `is set but storage.type is memory, which keeps nothing on disk: set type: file, or remove ${key}`));
    },
  },
  {
    summary: "`server.public_url` has no user info and no fragment: it is published as the protected resource (RFC 9728) and is the token audience (RFC 8707 §2).",
    check: serverOnly(({ public_url }) => {
      const url = public_url === undefined ? undefined : new URL(public_url);
      return unless(!url || (!url.username && !url.password && !public_url!.includes("#")), "server.public_url", 'must have no user info ("user:password@") and no fragment ("#…"): it is published in the metadata and is the audience of tokens');
    }),
  },
  {
    summary:
      "`client.headers` does not set a header the bridge sets itself (`Content-Type`, `Accept`, `Mcp-Session-Id`, `MCP-Protocol-Version`, `Last-Event-ID`, `DPoP`, and the connection's `Host`, `Content-Length`, `Transfer-Encoding`, `Connection`), nor `Authorization` together with `client.auth` (one credential, not two).",
    check: clientOnly(({ headers, auth }) =>
      Object.keys(headers).flatMap((name) => {
        const lower = name.toLowerCase();
        if (BRIDGE_HEADERS.has(lower)) return [{ path: `client.headers.${name}`, message: "is set by the bridge on every request (this value would be ignored or break the protocol): remove it" }];
        if (lower === "authorization" && (auth?.type ?? "none") !== "none") return [{ path: `client.headers.${name}`, message: `conflicts with client.auth.${auth!.type}, whose token would replace it: keep one` }];
        return [];
      }),
    ),
  },
  ...UNREAD_KEYS.map(unreadKeysRule),
];

/** Every issue of every rule; `written` is the file's data before defaults (see CrossKeyRule.check). */
export function checkRules(config: Config, written: Record<string, unknown>): ConfigIssue[] {
  return CROSS_KEY_RULES.flatMap((rule) => rule.check(config, written));
}
