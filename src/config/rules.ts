/**
 * @module Rules that span several configuration keys, checked after the schema. Each carries the
 * sentence docs/configuration.md shows for it, so the reference lists exactly the rules enforced.
 */
import type { AuthConfig, Config } from "./schema.ts";
import type { ConfigIssue } from "./errors.ts";

export interface CrossKeyRule {
  /** One sentence for the configuration reference. */
  summary: string;
  /** The issues this rule finds; each names the key to fix. */
  check(config: Config): ConfigIssue[];
}

const BCRYPT_HASH = /^\$2[abyx]\$\d\d\$[./A-Za-z0-9]{53}$/;

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

const serverOnly = (check: (server: NonNullable<Config["server"]>) => ConfigIssue[]) => (config: Config) =>
  config.mode === "server" && config.server ? check(config.server) : [];
const clientOnly = (check: (client: NonNullable<Config["client"]>) => ConfigIssue[]) => (config: Config) =>
  config.mode === "client" && config.client ? check(config.client) : [];

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
      'With `server.auth.type: none`, `"*"` in `server.allowed_origins` or `server.cors.allowed_origins` is refused: any web page could drive the MCP server through the user\'s browser.',
    check: serverOnly((server) => {
      if ((server.auth?.type ?? "none") !== "none") return [];
      const message = 'must not contain "*" when authentication is off: any web page could use the MCP server; list the origins that may call it, or turn authentication on';
      return [
        ...unless(!server.allowed_origins.includes("*"), "server.allowed_origins", message),
        ...unless(!server.cors.enabled || !server.cors.allowed_origins.includes("*"), "server.cors.allowed_origins", message),
      ];
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
      "Server mode, `auth.type: oauth`: one of `discovery_url`, `jwks_url`, `introspection_url` or `introspection.endpoint` is required; introspection needs a `client_id`.",
    check: serverOnly(({ auth }) => {
      if (auth?.type !== "oauth") return [];
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
      "With `server.oauth_server.enabled`: `issuer` is required, and `signing.key_file` (or `signing.generate_key: true`). Builtin mode needs at least one user, each with exactly one of `password_hash` (a bcrypt hash) and `password_env`. Federated mode needs `upstream_issuer` (or `upstream_discovery_url`), `client_id` and `client_secret_env` (or `client_secret`).",
    check: serverOnly(({ oauth_server: as }) => {
      if (!as.enabled) return [];
      const issues = [
        ...unless(as.issuer, "server.oauth_server.issuer", "is required when the authorization server is enabled"),
        ...unless(as.signing.key_file || as.signing.generate_key, "server.oauth_server.signing.key_file", "is required (or generate_key: true for development)"),
      ];
      if (as.mode === "builtin") {
        issues.push(...unless(as.builtin.users.length > 0, "server.oauth_server.builtin.users", "needs at least one user in builtin mode"));
        as.builtin.users.forEach((user, i) => {
          const path = `server.oauth_server.builtin.users[${i}]`;
          issues.push(...unless(Boolean(user.password_hash) !== Boolean(user.password_env), path, "needs exactly one of password_hash and password_env"));
          if (user.password_hash) {
            issues.push(...unless(BCRYPT_HASH.test(user.password_hash.reveal()), `${path}.password_hash`, "is not a bcrypt hash (make one with: mcp-bridge hash-password)"));
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
      "Client mode, `auth.type: bearer`: `token` is required; `valid_tokens` and `validation_endpoint` (server mode's keys) are refused. `auth.type: oauth`: `token_url` or `discovery_url` is required.",
    check: clientOnly(({ auth }) => {
      if (auth?.type === "bearer") {
        return [
          ...unless(auth.bearer?.token, "client.auth.bearer.token", "is required: the token to send"),
          ...unless(!auth.bearer?.valid_tokens, "client.auth.bearer.valid_tokens", "is for server mode; in client mode set token"),
          ...unless(!auth.bearer?.validation_endpoint, "client.auth.bearer.validation_endpoint", "is for server mode; in client mode set token"),
        ];
      }
      if (auth?.type === "oauth") return unless(auth.oauth?.token_url || auth.oauth?.discovery_url, "client.auth.oauth.token_url", "is required (or discovery_url)");
      return [];
    }),
  },
];

/** Every issue of every rule. */
export function checkRules(config: Config): ConfigIssue[] {
  return CROSS_KEY_RULES.flatMap((rule) => rule.check(config));
}
