/**
 * @module The one configuration schema: validation, defaults, TypeScript types and the
 * generated reference (docs/configuration.md) all come from here.
 *
 * Every key of the seed's authentication guide and of the Go original's reference is accepted
 * with the same meaning. Objects are strict: an unknown key is an error naming the nearest key.
 */
import { z } from "zod";
import { Secret } from "./secret.ts";
import { parseDuration, parseSize } from "./units.ts";
import { closestKey } from "./suggest.ts";

/** A strict object whose unknown-key error names the nearest valid key. */
function section<Shape extends z.ZodRawShape>(shape: Shape) {
  const known = Object.keys(shape);
  return z.strictObject(shape, {
    error: (issue) => {
      if (issue.code !== "unrecognized_keys") return undefined;
      return issue.keys
        .map((key) => {
          const near = closestKey(key, known);
          return near ? `unknown key "${key}" (did you mean "${near}"?)` : `unknown key "${key}" (valid keys: ${known.join(", ")})`;
        })
        .join("; ");
    },
  });
}

/** Milliseconds, written as "30s", "5m", "1h30m" or "250ms". */
const duration = () =>
  z.union([z.string(), z.number()]).transform((value, ctx) => {
    if (typeof value === "number") {
      ctx.addIssue({ code: "custom", message: `a duration needs a unit: write "${value}s" for seconds or "${value}ms"` });
      return z.NEVER;
    }
    const ms = parseDuration(value);
    if (ms === undefined) {
      ctx.addIssue({ code: "custom", message: `"${value}" is not a duration: use forms like "500ms", "30s", "5m", "1h30m"` });
      return z.NEVER;
    }
    return ms;
  });

/** Bytes, written as "16MiB", "512KB" or a plain number. */
const byteSize = () =>
  z.union([z.string(), z.number().int().nonnegative()]).transform((value, ctx) => {
    const bytes = typeof value === "number" ? value : parseSize(value);
    if (bytes === undefined) {
      ctx.addIssue({ code: "custom", message: `"${value}" is not a size: use forms like "16MiB", "512KB" or a number of bytes` });
      return z.NEVER;
    }
    return bytes;
  });

const secret = () => z.string().min(1, "must not be empty").transform((value) => new Secret(value));

const httpUrl = () =>
  z.string().refine((value) => {
    try {
      const url = new URL(value);
      return url.protocol === "https:" || url.protocol === "http:";
    } catch {
      return false;
    }
  }, "must be an absolute http:// or https:// URL");

const nonEmpty = () => z.string().min(1, "must not be empty");

/** The listen address: "host:port", ":port" (all interfaces, as in the Go original) or "[::1]:port". */
const listenAddress = () =>
  z.string().transform((value, ctx) => {
    const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value.trim());
    const port = match ? Number(match[3]) : NaN;
    if (!match || port > 65535) {
      ctx.addIssue({ code: "custom", message: `"${value}" is not host:port (e.g. "127.0.0.1:8080", ":8080", "[::1]:8080")` });
      return z.NEVER;
    }
    const host = match[1] ?? (match[2] || "0.0.0.0");
    return { host, port, text: value };
  });

const logSchema = section({
  level: z.enum(["debug", "info", "warn", "error"]).default("info").describe("Lowest level written."),
  format: z.enum(["text", "json"]).default("text").describe("Line format."),
  output: z.string().default("stderr").describe('"stderr", "stdout" or a file path (appended to).'),
});

const tlsServerSchema = section({
  enabled: z.boolean().default(false),
  cert_file: z.string().optional().describe("PEM certificate chain."),
  key_file: z.string().optional().describe("PEM private key."),
  client_ca: z.string().optional().describe("PEM bundle of CAs that sign client certificates (mutual TLS)."),
  client_auth: z
    .enum(["none", "request", "require", "verify", "require_and_verify"])
    .default("none")
    .describe("none: no client certificate; request: asked for, not required or checked; require: required, not checked; verify: checked against client_ca when sent; require_and_verify: required and checked."),
  min_version: z.enum(["1.2", "1.3"]).default("1.2"),
  max_version: z.enum(["1.2", "1.3"]).optional(),
});

const corsSchema = section({
  enabled: z.boolean().default(false),
  allowed_origins: z.array(z.string()).default([]).describe('Origins allowed to call the bridge from a browser; "*" allows any.'),
  allowed_methods: z.array(z.string()).default(["GET", "POST", "DELETE", "OPTIONS"]),
  allowed_headers: z
    .array(z.string())
    .default(["Authorization", "Content-Type", "Accept", "Mcp-Session-Id", "MCP-Protocol-Version", "Last-Event-ID"]),
  exposed_headers: z.array(z.string()).default(["Mcp-Session-Id", "WWW-Authenticate"]),
  allow_credentials: z.boolean().default(false),
  max_age: z.number().int().nonnegative().default(86400).describe("Seconds a browser may cache a preflight answer."),
});

const mcpServerSchema = section({
  command: nonEmpty().describe("Executable of the stdio MCP server (looked up on PATH)."),
  args: z.array(z.string()).default([]),
  env: z.record(z.string(), z.string()).default({}).describe("Extra environment variables for the child."),
  inherit_env: z
    .array(z.string())
    .default(["PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LC_ALL", "TZ", "TMPDIR", "TEMP", "TMP", "SYSTEMROOT", "APPDATA", "LOCALAPPDATA", "USERPROFILE", "NODE_EXTRA_CA_CERTS"])
    .describe("Variables copied from the bridge's environment; nothing else is, so the bridge's secrets stay out of the child."),
  dir: z.string().optional().describe("Working directory of the child."),
  read_timeout: duration().prefault("30s").describe("How long a request may wait for the child's reply before the client gets a JSON-RPC error."),
  graceful_shutdown_timeout: duration().prefault("30s").describe("After stdin closes, how long before SIGTERM (and as long again before SIGKILL)."),
  restart_on_failure: z.boolean().default(true).describe("Shared mode: restart the one child when it dies."),
  max_restarts: z.number().int().nonnegative().default(5),
  restart_delay: duration().prefault("5s").describe("First restart delay; doubles after each failure in a row."),
  pass_identity: z.boolean().default(false).describe("Per-session children get MCP_BRIDGE_SUBJECT, MCP_BRIDGE_EMAIL, MCP_BRIDGE_ROLES, MCP_BRIDGE_SCOPES and MCP_BRIDGE_CLIENT_ID (never the token)."),
});

const sessionSchema = section({
  enabled: z.boolean().default(true).describe("Accepted for compatibility; sessions are how the bridge keeps clients apart and cannot be turned off."),
  mode: z.enum(["per_session", "shared"]).default("per_session").describe("per_session: a child for every session; shared: one child for all, with request ids remapped."),
  timeout: duration().prefault("30m").describe("Idle time after which a session ends."),
  max_sessions: z.number().int().positive().default(100),
  max_sessions_per_subject: z.number().int().positive().optional().describe("Cap per authenticated subject; off by default."),
  cleanup_interval: duration().prefault("1m"),
  event_buffer_size: z.number().int().nonnegative().default(1000).describe("Events per session kept for SSE replay (Last-Event-ID)."),
});

const bearerSchema = section({
  valid_tokens: z.array(secret()).optional().describe('Server mode: accepted tokens, plaintext or "sha256:<hex>" of the token.'),
  validation_endpoint: httpUrl().optional().describe('Server mode: POSTed {"token": …}; answers {"valid", "subject", "scopes", "claims", "metadata"}.'),
  validation_timeout: duration().prefault("5s"),
  cache_ttl: duration().prefault("30s").describe("How long a positive answer of the validation endpoint is reused."),
  negative_cache_ttl: duration().prefault("5s").describe("How long a negative answer of the validation endpoint is reused."),
  token: secret().optional().describe("Client mode: the token sent to the remote server."),
});

const oauthClaimsSchema = section({
  subject_claim: z.string().default("sub"),
  email_claim: z.string().default("email"),
  roles_claim: z.string().default("roles"),
  client_id_claim: z.string().default("client_id"),
});

const oauthValidationSchema = section({
  allowed_algorithms: z
    .array(z.enum(["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"]))
    .min(1)
    .default(["RS256", "ES256"])
    .describe("Asymmetric algorithms only: none and HS* are never accepted."),
  clock_skew: duration().prefault("30s"),
  require_expiration: z.boolean().default(true),
  max_token_age: duration().optional().describe("Reject tokens whose iat is older than this."),
});

const oauthJwksSchema = section({
  refresh_interval: duration().prefault("1h"),
  fetch_timeout: duration().prefault("10s"),
  cooldown: duration().prefault("30s").describe("Least time between two refetches caused by an unknown kid."),
});

const oauthIntrospectionSchema = section({
  enabled: z.boolean().default(false),
  endpoint: httpUrl().optional(),
  client_id: z.string().optional(),
  client_secret: secret().optional(),
  auth_method: z.enum(["client_secret_basic", "client_secret_post"]).default("client_secret_basic"),
  cache_ttl: duration().prefault("60s"),
});

const oauthSchema = section({
  // Server mode: validating incoming tokens.
  discovery_url: httpUrl().optional().describe("Issuer URL; {discovery_url}/.well-known/openid-configuration is fetched (RFC 8414 metadata as fallback)."),
  issuer: httpUrl().optional().describe("Expected iss when there is no discovery."),
  jwks_url: httpUrl().optional(),
  introspection_url: httpUrl().optional().describe("RFC 7662 endpoint for opaque tokens."),
  audience: z.string().optional().describe("Required aud; defaults to this server's canonical resource URL (RFC 8707)."),
  required_scopes: z.array(z.string()).default([]),
  method_scopes: z
    .record(z.string(), z.array(z.string()))
    .default({})
    .describe('Extra scopes per MCP method or tool: {"tools/call": ["mcp:write"], "tools/call:delete_file": ["mcp:admin"]}.'),
  claims: oauthClaimsSchema.prefault({}),
  validation: oauthValidationSchema.prefault({}),
  jwks: oauthJwksSchema.prefault({}),
  introspection: oauthIntrospectionSchema.prefault({}),
  http_timeout: duration().prefault("10s"),
  // Shared by both modes.
  client_id: z.string().optional(),
  client_secret: secret().optional(),
  // Client mode: obtaining tokens.
  token_url: httpUrl().optional(),
  authorization_url: httpUrl().optional(),
  scopes: z.array(z.string()).default([]),
  use_pkce: z.boolean().default(true).describe("Client mode: use the authorization-code flow with PKCE (S256) when a user is present."),
  resource: z.string().optional().describe("RFC 8707 resource indicator sent with token requests."),
  redirect_uri: httpUrl().optional().describe("Client mode: loopback redirect URI for the authorization-code flow."),
  token_cache: z.string().optional().describe("Client mode: file where tokens are kept between runs (mode 0600)."),
});

export const AuthSchema = section({
  type: z.enum(["none", "bearer", "oauth"]).default("none"),
  bearer: bearerSchema.optional(),
  oauth: oauthSchema.optional(),
});

const brandingSchema = section({
  page_title: z.string().optional(),
  heading: z.string().optional(),
  subtitle: z.string().optional(),
  username_label: z.string().optional(),
  password_label: z.string().optional(),
  button_text: z.string().optional(),
  footer_text: z.string().optional(),
  primary_color: z.string().optional(),
  secondary_color: z.string().optional(),
});

const builtinUserSchema = section({
  username: nonEmpty(),
  password_hash: secret().optional().describe("bcrypt hash ($2a$/$2b$/$2y$); taken literally, never $-substituted."),
  password_env: z.string().optional().describe("Name of an environment variable holding the password; hashed at start."),
  scopes: z.array(z.string()).default([]),
});

const oauthServerSchema = section({
  enabled: z.boolean().default(false),
  issuer: httpUrl().optional().describe("Public base URL; byte-identical to what clients use."),
  mode: z.enum(["builtin", "federated"]).default("builtin"),
  token_lifetime: duration().prefault("1h"),
  refresh_token_lifetime: duration().prefault("24h"),
  auth_code_lifetime: duration().prefault("10m"),
  allow_dynamic_registration: z.boolean().default(true),
  signing: section({
    algorithm: z.enum(["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "ES512", "EdDSA"]).default("RS256"),
    key_file: z.string().optional(),
    key_id: z.string().optional(),
    generate_key: z.boolean().default(false).describe("Development only: an ephemeral key, lost on restart."),
  }).prefault({}),
  builtin: section({
    users: z.array(builtinUserSchema).default([]),
    login_template: z.string().optional(),
    branding: brandingSchema.prefault({}),
  }).prefault({}),
  federated: section({
    upstream_issuer: httpUrl().optional(),
    upstream_discovery_url: httpUrl().optional(),
    client_id: z.string().optional(),
    client_secret: secret().optional(),
    client_secret_env: z.string().optional(),
    scopes: z.array(z.string()).default(["openid", "email", "profile"]),
    allowed_domains: z.array(z.string()).default([]),
    default_scopes: z.array(z.string()).default([]),
    admin_users: z.array(z.string()).default([]),
    admin_scopes: z.array(z.string()).default([]),
    http_timeout: duration().prefault("10s"),
  }).prefault({}),
  allowed_redirect_uris: z
    .array(z.string())
    .default(["https://claude.ai/api/mcp/auth_callback", "https://claude.com/api/mcp/auth_callback"]),
  scopes_supported: z.array(z.string()).default([]),
});

const serverSchema = section({
  listen: listenAddress().prefault("127.0.0.1:8080").describe('Address to listen on; ":8080" means every interface.'),
  path: z.string().startsWith("/").default("/mcp").describe("Streamable HTTP endpoint (also answered on /)."),
  public_url: httpUrl().optional().describe("Canonical URL of the MCP endpoint as clients see it (behind a proxy)."),
  read_timeout: duration().prefault("30s").describe("Time allowed to receive a request's headers and body."),
  write_timeout: duration().prefault("60s").describe("Time allowed to write a non-streaming response; never applied to SSE streams."),
  idle_timeout: duration().prefault("120s").describe("Keep-alive connection idle time."),
  sse_keepalive_interval: duration().prefault("30s"),
  max_body_size: byteSize().prefault("16MiB"),
  allowed_origins: z.array(z.string()).default([]).describe("Origins accepted in the Origin header, besides those of loopback listeners and CORS."),
  allowed_hosts: z.array(z.string()).default([]).describe("Host header values accepted; empty: loopback names for a loopback listener, anything otherwise."),
  legacy_sse: z.boolean().default(true).describe("Serve the 2024-11-05 HTTP+SSE transport on /sse and /messages."),
  auth_failure_limit: z.number().int().positive().default(20).describe("Failed authentications per client address per minute before 429."),
  tls: tlsServerSchema.prefault({}),
  cors: corsSchema.prefault({}),
  mcp_server: mcpServerSchema.optional(),
  session: sessionSchema.prefault({}),
  auth: AuthSchema.optional(),
  oauth_server: oauthServerSchema.prefault({}),
});

const clientSchema = section({
  url: httpUrl().describe("URL of the remote MCP endpoint."),
  transport: z.enum(["auto", "streamable-http", "sse"]).default("auto"),
  timeout: duration().prefault("30s"),
  max_idle_conns: z.number().int().positive().default(10),
  idle_conn_timeout: duration().prefault("90s"),
  tls: section({
    ca_cert: z.string().optional(),
    cert_file: z.string().optional(),
    key_file: z.string().optional(),
    insecure_skip_verify: z.boolean().default(false),
    server_name: z.string().optional(),
  }).prefault({}),
  headers: z.record(z.string(), z.string()).default({}),
  auth: AuthSchema.optional(),
  retry: section({
    enabled: z.boolean().default(true),
    max_retries: z.number().int().nonnegative().default(3),
    initial_delay: duration().prefault("100ms"),
    max_delay: duration().prefault("5s"),
    multiplier: z.number().min(1).default(2),
  }).prefault({}),
});

export const ConfigSchema = section({
  mode: z.enum(["server", "client"]).describe("server: serve a stdio MCP server over HTTP; client: connect stdio to a remote HTTP server."),
  log: logSchema.prefault({}),
  server: serverSchema.optional(),
  client: clientSchema.optional(),
});

export type Config = z.output<typeof ConfigSchema>;
export type ServerConfig = z.output<typeof serverSchema>;
export type ClientConfig = z.output<typeof clientSchema>;
export type AuthConfig = z.output<typeof AuthSchema>;
export type BearerConfig = z.output<typeof bearerSchema>;
export type OAuthConfig = z.output<typeof oauthSchema>;
export type OAuthServerConfig = z.output<typeof oauthServerSchema>;
export type McpServerConfig = z.output<typeof mcpServerSchema>;
export type SessionConfig = z.output<typeof sessionSchema>;
export type LogConfig = z.output<typeof logSchema>;
export type TlsServerConfig = z.output<typeof tlsServerSchema>;
export type CorsConfig = z.output<typeof corsSchema>;
