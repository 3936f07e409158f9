/**
 * @module The one configuration schema: validation, defaults, TypeScript types and the
 * generated reference (docs/configuration.md) all come from here.
 *
 * Every key of the seed's authentication guide and of the Go original's reference is accepted
 * with the same meaning. Objects are strict: an unknown key is an error naming the nearest key.
 */
import * as z from "../util/zod.ts";
import { Secret } from "./secret.ts";
import { formatDuration, parseDuration, parseSize } from "./units.ts";
import { closestKey } from "./suggest.ts";
import { parseCidr, parseIp } from "../util/cidr.ts";
import { parseHostPort } from "../util/host.ts";

/** How a value is written in the file when that differs from its parsed form (see describe.ts). */
export type ValueKind = "duration" | "size" | "secret" | "url" | "listen";

declare module "zod" {
  interface GlobalMeta {
    kind?: ValueKind;
    /** check-config prints every value of this map as "[redacted]": child environments and headers carry credentials. */
    sensitive?: boolean;
    /** check-config prints a value (or list item) that a ${VAR} filled in as "[redacted]": a child's arguments often carry a token that way. */
    expandedSecret?: boolean;
  }
}

/** The keys of a section nested in `schema` (behind optional, default or prefault), or none. */
function nestedKeys(schema: z.core.$ZodType): string[] {
  let def = (schema as z.core.$ZodTypes)._zod.def;
  while (def.type === "optional" || def.type === "default" || def.type === "prefault") def = (def.innerType as z.core.$ZodTypes)._zod.def;
  return def.type === "object" ? Object.keys(def.shape) : [];
}

/**
 * A strict object whose unknown-key error names the nearest valid key, or the nested section the
 * key belongs in (a line indented one level too little: `auth: {valid_tokens}` for `auth: {bearer: {valid_tokens}}`).
 */
function section<Shape extends z.ZodRawShape>(shape: Shape) {
  const known = Object.keys(shape);
  return z.strictObject(shape, {
    error: (issue) => {
      if (issue.code !== "unrecognized_keys") return undefined;
      return issue.keys
        .map((key) => {
          // Only a key that one nested section has: "enabled" could be any of several.
          const homes = known.filter((name) => nestedKeys(shape[name]!).includes(key));
          if (homes.length === 1) return `unknown key "${key}" (it goes under "${homes[0]}": ${homes[0]}.${key})`;
          const near = closestKey(key, known);
          return near ? `unknown key "${key}" (did you mean "${near}"?)` : `unknown key "${key}" (valid keys: ${known.join(", ")})`;
        })
        .join("; ");
    },
  });
}

// Messages below never echo the value: it may have come from an environment variable holding a secret.

/** The longest delay a JavaScript timer takes (ms); a longer one fires at once (Node warns and uses 1 ms). */
const TIMER_MAX_MS = 2 ** 31 - 1;

/**
 * Milliseconds, written as "30s", "5m", "1h30m" or "250ms". A `timer` (the default) is waited for
 * with a timer, so it is bounded by TIMER_MAX_MS (about 24.8 days); a `lifetime` is only compared
 * with clocks (token and cache lifetimes) and has no bound but `most`. A `positive` one refuses
 * "0s": as a timeout every wait would fail at once, as an interval the work would repeat without
 * pause, as a lifetime what it times would expire as it is made.
 */
const duration = (kind: "timer" | "lifetime" = "timer", positive = false, most?: { ms: number; why: string }) =>
  z.union([z.string(), z.number()], { error: 'must be a duration such as "30s"' }).transform((value, ctx) => {
    if (typeof value === "number") {
      ctx.addIssue({ code: "custom", message: `a duration needs a unit: write "${value}s" for seconds or "${value}ms"` });
      return z.NEVER;
    }
    const ms = parseDuration(value);
    if (ms === undefined) {
      // A bare number written as text ("30", --timeout 30): the unit is what is missing (the value is not echoed).
      const unitless = /^\s*\d+(\.\d+)?\s*$/.test(value);
      ctx.addIssue({ code: "custom", message: unitless ? 'is not a duration: it needs a unit, "s" for seconds or "ms" for milliseconds (e.g. "30s")' : 'is not a duration: use forms like "500ms", "30s", "5m", "1h30m"' });
      return z.NEVER;
    }
    if (positive && ms === 0) {
      const why = kind === "timer" ? "zero would fail every wait at once, or repeat the work without pause" : "zero would make what it times expire as it is made";
      ctx.addIssue({ code: "custom", message: `must be longer than "0s": ${why} (e.g. "10s")` });
      return z.NEVER;
    }
    if (most && ms > most.ms) {
      ctx.addIssue({ code: "custom", message: `is too long: at most "${formatDuration(most.ms)}" (${most.why})` });
      return z.NEVER;
    }
    if (kind === "timer" && ms > TIMER_MAX_MS) {
      ctx.addIssue({ code: "custom", message: `is too long: a timer waits at most ${TIMER_MAX_MS} ms (about 24.8 days, e.g. "24d")` });
      return z.NEVER;
    }
    return ms;
  })
  .meta({ kind: "duration" });

/**
 * Bytes, written as "16MiB", "512KB" or a plain number; at most 2^53 - 1, where byte counts stop
 * being exact. A `positive` size refuses 0: a limit nothing fits under.
 */
const byteSize = (positive = false) =>
  z.union([z.string(), z.number().int().nonnegative()], { error: 'must be a size such as "16MiB" or a number of bytes' }).transform((value, ctx) => {
    const bytes = typeof value === "number" ? value : parseSize(value);
    if (bytes === undefined) {
      ctx.addIssue({ code: "custom", message: 'is not a size: use forms like "16MiB", "512KB" or a number of bytes' });
      return z.NEVER;
    }
    if (!Number.isSafeInteger(bytes)) {
      ctx.addIssue({ code: "custom", message: `is too large: at most ${Number.MAX_SAFE_INTEGER} bytes` });
      return z.NEVER;
    }
    if (positive && bytes === 0) {
      ctx.addIssue({ code: "custom", message: 'must be more than 0: nothing would fit (e.g. "16MiB")' });
      return z.NEVER;
    }
    return bytes;
  })
  .meta({ kind: "size" });

/**
 * The largest client.max_message_size: V8's strings stop just under 512 MiB, and a body read as
 * text, or a batch's array of answers, must never reach that (RangeError).
 */
const MESSAGE_SIZE_CEILING = 256 * 1024 * 1024;

const secret = () =>
  z
    .string()
    .min(1, "must not be empty")
    .transform((value) => new Secret(value))
    .meta({ kind: "secret" });

const httpUrl = () =>
  z.string().refine((value) => {
    try {
      const url = new URL(value);
      return url.protocol === "https:" || url.protocol === "http:";
    } catch {
      return false;
    }
  }, "must be an absolute http:// or https:// URL")
  .meta({ kind: "url" });

/**
 * A command as one string or a list of arguments; check-config redacts what a ${VAR} filled in
 * (a command printing a token is often given the credential it exchanges that way).
 */
const commandLine = () => z.union([z.string().min(1), z.array(z.string()).min(1)]).meta({ expandedSecret: true });

/** An IP address or CIDR range ("10.0.0.0/8", "fd00::/8", "192.0.2.7"). */
const cidrRange = () =>
  z.string().superRefine((value, ctx) => {
    try {
      parseCidr(value);
    } catch (error) {
      ctx.addIssue({ code: "custom", message: (error as Error).message });
    }
  });

/**
 * An Origin header value as browsers send it ("https://app.example.com", "http://localhost:6274",
 * a browser extension's "chrome-extension://<id>"), "*" or "null": a path, a trailing slash or a
 * missing scheme would never match one.
 */
const origin = () =>
  z.string().refine(
    (value) => value === "*" || value === "null" || (URL.canParse(value) && originOf(new URL(value)) === value),
    'must be an origin as browsers send it, such as "https://app.example.com" (scheme, lower-case host and port; no path or trailing slash), "*" or "null"',
  );

/** The origin a browser sends for `url`: scheme and host for a scheme without a URL origin (an extension's). */
function originOf(url: URL): string {
  return url.origin !== "null" ? url.origin : url.host && !url.username && !url.password ? `${url.protocol}//${url.host}` : "null";
}

const nonEmpty = () => z.string().min(1, "must not be empty");

/** A string; a number or boolean is taken as its text, as the Go original's YAML decoding does (`PORT: 8080`). */
const scalarString = () => z.union([z.string(), z.number(), z.boolean()], { error: "must be a string" }).transform(String);

/** A DNS host name: dot-separated labels of letters, digits and hyphens. */
const HOST_NAME = /^(?=.{1,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?$/;

/** A scalarString without NUL: a process argument or environment value cannot carry one (the child could not start). */
const noNul = () => scalarString().refine((value) => !value.includes("\0"), "must not contain a NUL character");

/** The listen address: "host:port", ":port" (all interfaces, as in the Go original) or "[::1]:port". */
const listenAddress = () =>
  z.union([z.string(), z.number()], { error: 'must be host:port such as "127.0.0.1:8080"' }).transform((value, ctx) => {
    if (typeof value === "number") {
      // A bare port (listen: 8080): which interface is the one thing the bridge must not guess.
      ctx.addIssue({ code: "custom", message: `a port alone is not an address: write "127.0.0.1:${value}" (this machine only) or ":${value}" (every interface), quoted` });
      return z.NEVER;
    }
    const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value.trim());
    const port = match ? Number(match[3]) : NaN;
    if (!match || port > 65535) {
      ctx.addIssue({ code: "custom", message: 'is not host:port with a port from 0 to 65535 (e.g. "127.0.0.1:8080", ":8080", "[::1]:8080")' });
      return z.NEVER;
    }
    const host = match[1] ?? (match[2] || "0.0.0.0");
    // Checked here, not when binding: "300.1.1.1" or a name with a space would only fail at start (exit 1).
    if (parseIp(host) === undefined && (!HOST_NAME.test(host) || /^[\d.]+$/.test(host))) {
      ctx.addIssue({ code: "custom", message: 'has a host that is neither an IP address nor a host name (e.g. "127.0.0.1", "[::1]", "localhost", or none for every interface: ":8080")' });
      return z.NEVER;
    }
    return { host, port, text: value };
  })
  .meta({ kind: "listen" });

const logSchema = section({
  level: z.enum(["debug", "info", "warn", "error"]).default("info").describe("Lowest level written."),
  format: z.enum(["text", "json"]).default("text").describe("Line format."),
  output: z.string().default("stderr").describe('"stderr", "stdout" or a file path (appended to).'),
});

const tlsServerSchema = section({
  enabled: z.boolean().default(false).describe("Serve HTTPS instead of HTTP."),
  cert_file: z.string().optional().describe("PEM certificate chain."),
  key_file: z.string().optional().describe("PEM private key."),
  client_ca: z.string().optional().describe("PEM bundle of CAs that sign client certificates (mutual TLS)."),
  client_auth: z
    .enum(["none", "request", "require", "verify", "require_and_verify"])
    .default("none")
    .describe("none: no client certificate; request: asked for, not required or checked; require: required, not checked; verify: checked against client_ca when sent; require_and_verify: required and checked."),
  min_version: z.enum(["1.2", "1.3"]).default("1.2").describe("Lowest TLS version accepted."),
  max_version: z.enum(["1.2", "1.3"]).optional().describe("Highest TLS version accepted; unset: the newest the runtime supports."),
});

const corsSchema = section({
  enabled: z.boolean().default(false).describe("Answer CORS preflights and add CORS headers for the allowed origins."),
  allowed_origins: z.array(origin()).default([]).describe('Origins allowed to call the bridge from a browser; "*" allows any, and is refused while authentication is off.'),
  allowed_methods: z.array(z.string()).default(["GET", "POST", "DELETE", "OPTIONS"]).describe("Methods listed in Access-Control-Allow-Methods."),
  allowed_headers: z
    .array(z.string())
    .default(["Authorization", "Content-Type", "Accept", "Mcp-Session-Id", "MCP-Protocol-Version", "Last-Event-ID", "Mcp-Method", "Mcp-Name"])
    .describe("Request headers listed in Access-Control-Allow-Headers. Mcp-Method and Mcp-Name are sent by 2026-07-28 clients; add the Mcp-Param-* headers your tools declare (x-mcp-header)."),
  exposed_headers: z.array(z.string()).default(["Mcp-Session-Id", "WWW-Authenticate"]).describe("Response headers listed in Access-Control-Expose-Headers."),
  allow_credentials: z.boolean().default(false).describe("Send Access-Control-Allow-Credentials: true."),
  max_age: z.number().int().nonnegative().default(86400).describe("Seconds a browser may cache a preflight answer."),
});

const mcpServerSchema = section({
  command: nonEmpty().meta({ expandedSecret: true }).describe("Executable of the stdio MCP server (looked up on PATH); check-config redacts it when the environment (${VAR}) filled it in."),
  args: z.array(noNul()).meta({ expandedSecret: true }).default([]).describe("Arguments passed to command; check-config redacts those filled in from the environment (${VAR})."),
  // "=" splits a variable name from its value (A=B: x would reach the child as A="B=x"); a NUL ends the text the child sees.
  env: z.record(z.string().regex(/^[^=\0]+$/, 'is not an environment variable name (no "=" or NUL)'), noNul()).meta({ sensitive: true }).default({}).describe("Extra environment variables for the child; check-config redacts the values."),
  inherit_env: z
    .array(z.string())
    .default(["PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LC_ALL", "TZ", "TMPDIR", "TEMP", "TMP", "SYSTEMROOT", "APPDATA", "LOCALAPPDATA", "USERPROFILE", "NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE", "SSL_CERT_DIR", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"])
    .describe("Variables copied from the bridge's environment; nothing else is, so the bridge's secrets stay out of the child."),
  dir: z.string().optional().describe("Working directory of the child."),
  read_timeout: duration("timer", true).prefault("30s").describe("How long a request may wait for the child's reply before the client gets a JSON-RPC error."),
  graceful_shutdown_timeout: duration().prefault("30s").describe("After stdin closes, how long before SIGTERM (and as long again before SIGKILL)."),
  restart_on_failure: z.boolean().default(true).describe("Shared mode: restart the one child when it dies."),
  max_restarts: z.number().int().nonnegative().default(5).describe("Shared mode: restarts allowed within restart_window; past it the child waits until the oldest failure leaves the window (the budget recovers, the bridge never stays failed)."),
  restart_delay: duration().prefault("5s").describe("Shared mode: first restart delay; doubles after each failure in a row."),
  restart_window: duration("timer", true).prefault("5m").describe("Shared mode: the window max_restarts counts failures in; also the longest restart delay."),
  pass_identity: z.boolean().default(false).describe("Per-session children (and a principal's own modern children) get MCP_BRIDGE_SUBJECT, MCP_BRIDGE_EMAIL, MCP_BRIDGE_ROLES, MCP_BRIDGE_SCOPES and MCP_BRIDGE_CLIENT_ID (never the token); a child every principal shares gets none."),
  startup_timeout: duration().prefault("60s").describe("How long the child may take to answer initialize (slow starts such as `npx -y` downloading a package); read_timeout when that is longer. A child that does not answer in time is ended and the client gets an error without a session."),
  max_message_size: byteSize(true).prefault("32MiB").describe("Longest line (one JSON-RPC message) the child may write to stdout; a longer one is dropped and logged."),
  stdin_buffer_size: byteSize(true).prefault("8MiB").describe("Bytes waiting to be read by the child's stdin; while more are waiting, POSTs to its sessions get 503 with Retry-After."),
});

const sessionSchema = section({
  enabled: z.boolean().default(true).describe("Accepted for compatibility; sessions are how the bridge keeps clients apart and cannot be turned off."),
  mode: z.enum(["per_session", "shared"]).default("per_session").describe("per_session: a child for every session; shared: one child for all, with request ids remapped. Legacy sessions only: 2026-07-28 clients get children as modern_child says."),
  timeout: duration("lifetime", true).prefault("30m").describe("Idle time after which a session ends."),
  max_sessions: z.number().int().positive().default(100).describe("Sessions open at once, and MCP server processes alive at once (a child that is still exiting counts until it is gone); the next initialize gets 503 with Retry-After."),
  max_sessions_per_subject: z.number().int().positive().optional().describe("Cap per authenticated subject; with authentication on it defaults to half of max_sessions (at least 1), so one credential cannot take every slot. Without authentication the key is refused, and each client address (see trusted_proxies; an IPv6 address counts as its /64) gets half of max_sessions."),
  cleanup_interval: duration("timer", true).prefault("1m").describe("How often idle sessions are looked for and ended."),
  event_buffer_size: z.number().int().nonnegative().default(1000).describe("Events per session kept for SSE replay (Last-Event-ID)."),
  resume_window: duration().prefault("10s").describe("How long requests of a dropped SSE stream wait for the client to resume it (Last-Event-ID) before they are cancelled at the MCP server."),
  modern_child: z.enum(["per_principal", "shared"]).default("per_principal").describe("Modern (2026-07-28) clients: per_principal: children of their own per authenticated subject; shared: the same children (up to modern_pool_size) for every principal. Without auth there is one principal."),
  modern_pool_size: z.number().int().positive().max(64).default(8).describe("Modern clients of a legacy MCP server: children per principal, each running one call that may ask for input (elicitation, sampling, roots) at a time; when all are taken, a call waiting for its client's input is ended once it has waited 2 s (a quarter of read_timeout at most): another client's only when it holds more children than the new call's client (docs/modern.md)."),
  input_window: duration().prefault("0s").describe("Modern clients of a legacy MCP server: how long the bridge waits, after the server's first elicitation/sampling/roots request during a call, for others to send in the same round; 0s: only what has already arrived (no added latency)."),
  cache_ttl: duration("lifetime").prefault("0s").describe("Modern clients: ttlMs put on list results (and resources/read, server/discover) when the MCP server gives none."),
  cache_scope: z.enum(["private", "public"]).default("private").describe("Modern clients: cacheScope put on those results when the MCP server gives none."),
  request_state_key: secret().optional().describe("Key of the sealed requestState of multi round-trip requests; default: a random key per process."),
  event_buffer_bytes: byteSize().prefault("4MiB").describe("Bytes of events per session kept for SSE replay; the oldest go first, and an event larger than this is not kept."),
  stream_buffer_size: byteSize(true).prefault("4MiB").describe("Bytes waiting for a client per SSE stream (one that does not read; a stream resumed with Last-Event-ID gets room for its replay on top), and half as much per session for messages while no stream is open; past it the stream is closed or the oldest message dropped, logged once."),
});

const bearerSchema = section({
  valid_tokens: z.array(secret()).optional().describe('Server mode: accepted tokens, plaintext or "sha256:<hex>" of the token.'),
  validation_endpoint: httpUrl().optional().describe('Server mode: POSTed {"token": …}; answers {"valid", "subject", "scopes", "claims", "metadata"}. After it fails to answer clearly, the bridge asks it about a random token (at most once a second): /ready is 503 only when that fails too, not for one token the endpoint chokes on.'),
  validation_timeout: duration("timer", true).prefault("5s").describe("Time allowed for the validation endpoint to answer; when it does not, the request fails with 503."),
  cache_ttl: duration("lifetime").prefault("30s").describe("How long a positive answer of the validation endpoint is reused."),
  negative_cache_ttl: duration("lifetime").prefault("5s").describe("How long a negative answer of the validation endpoint is reused."),
  token: secret().optional().describe("Client mode: the token sent to the remote server."),
  token_env: z.string().optional().describe("Client mode: name of an environment variable holding the token (read at start), instead of token."),
});

const oauthClaimsSchema = section({
  subject_claim: z.string().default("sub").describe("Claim holding the subject (user id)."),
  email_claim: z.string().default("email").describe("Claim holding the email address."),
  roles_claim: z.string().default("roles").describe("Claim holding the roles."),
  client_id_claim: z.string().default("client_id").describe("Claim holding the OAuth client id."),
});

const oauthValidationSchema = section({
  allowed_algorithms: z
    .array(z.enum(["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"]))
    .min(1)
    .default(["RS256", "ES256"])
    .describe("Asymmetric algorithms only: none and HS* are never accepted."),
  clock_skew: duration("lifetime").prefault("30s").describe("Tolerance for exp, nbf and iat against this server's clock."),
  require_expiration: z.boolean().default(true).describe("Reject tokens without an exp claim."),
  require_at_jwt: z
    .boolean()
    .default(false)
    .describe("Accept only JWTs whose header says typ at+jwt (RFC 9068 §4), not also JWT or none: for an authorization server that issues RFC 9068 access tokens, so that its other JWTs (ID tokens) cannot pass as access tokens. Set by the built-in authorization server."),
  max_token_age: duration("lifetime", true).optional().describe("Reject tokens whose iat is older than this."),
});

const oauthJwksSchema = section({
  refresh_interval: duration("timer", true).prefault("1h").describe("How often the JWKS is refetched."),
  fetch_timeout: duration("timer", true).prefault("10s").describe("Time allowed for a JWKS fetch."),
  cooldown: duration("timer", true).prefault("30s").describe("Least time between two refetches caused by an unknown kid."),
});

const oauthIntrospectionSchema = section({
  enabled: z.boolean().default(false).describe("Fall back to token introspection (RFC 7662) for tokens that are not JWTs."),
  endpoint: httpUrl().optional().describe("Introspection endpoint."),
  client_id: z.string().optional().describe("Client id used to authenticate to the introspection endpoint."),
  client_secret: secret().optional().describe("Client secret used to authenticate to the introspection endpoint."),
  auth_method: z.enum(["client_secret_basic", "client_secret_post"]).default("client_secret_basic").describe("How the bridge authenticates to the introspection endpoint."),
  cache_ttl: duration("lifetime").prefault("60s").describe("How long an introspection answer is reused."),
});

const oauthSchema = section({
  // Server mode: validating incoming tokens.
  discovery_url: httpUrl().optional().describe("Issuer URL; {discovery_url}/.well-known/openid-configuration is fetched (RFC 8414 metadata as fallback)."),
  issuer: httpUrl().optional().describe("Expected iss when there is no discovery."),
  jwks_url: httpUrl().optional().describe("JWKS URL for JWT validation without discovery."),
  introspection_url: httpUrl().optional().describe("RFC 7662 endpoint for opaque tokens."),
  audience: z.string().optional().describe("Required aud; defaults to this server's canonical resource URL (RFC 8707)."),
  required_scopes: z.array(z.string()).default([]).describe("Scopes every request must carry."),
  method_scopes: z
    .record(z.string(), z.array(z.string()))
    .default({})
    .describe('Extra scopes per MCP method or tool: {"tools/call": ["mcp:write"], "tools/call:delete_file": ["mcp:admin"]}.'),
  claims: oauthClaimsSchema.prefault({}).describe("Where identity is read from in token claims."),
  validation: oauthValidationSchema.prefault({}).describe("JWT validation options."),
  jwks: oauthJwksSchema.prefault({}).describe("JWKS fetching and caching."),
  introspection: oauthIntrospectionSchema.prefault({}).describe("Token introspection (RFC 7662) as a fallback for opaque tokens."),
  http_timeout: duration("timer", true).prefault("10s").describe("Time allowed for discovery and introspection requests."),
  // Shared by both modes.
  client_id: z.string().optional().describe("OAuth client id: for token introspection in server mode, for obtaining tokens in client mode."),
  client_secret: secret().optional().describe("OAuth client secret belonging to client_id."),
  // Client mode: obtaining tokens.
  token_url: httpUrl().optional().describe("Client mode: token endpoint; found by discovery when unset."),
  authorization_url: httpUrl().optional().describe("Client mode: authorization endpoint for the authorization-code flow; found by discovery when unset."),
  scopes: z.array(z.string()).default([]).describe("Client mode: scopes requested; unset: those of the server's challenge, else its scopes_supported."),
  use_pkce: z.boolean().optional().describe("Client mode: true: authorization code with PKCE (S256) for a person in a browser; false: client credentials. Unset: PKCE unless a client_secret or private_key_file is set."),
  resource: z.string().optional().describe("Client mode: RFC 8707 resource indicator sent with token requests; unset: the server's protected resource metadata, else client.url."),
  redirect_uri: httpUrl().optional().describe("Client mode: loopback redirect URI (http://127.0.0.1:PORT/PATH) for the authorization-code flow; unset: a free port, /callback."),
  token_cache: z.string().optional().describe("Client mode, a person signing in (authorization code): directory where tokens and client registrations are kept between runs (files of mode 0600, keyed by server and issuer); unset: $XDG_STATE_HOME/mcp-bridge, else ~/.local/state/mcp-bridge. Other grants keep tokens in memory only."),
  token_endpoint_auth_method: z
    .enum(["client_secret_basic", "client_secret_post", "private_key_jwt", "none"])
    .optional()
    .describe("Client mode: how the bridge authenticates at the token endpoint; unset: private_key_jwt with private_key_file, else what the server supports (basic preferred), none without a secret."),
  private_key_file: z.string().optional().describe("Client mode: PEM (PKCS#8) private key for private_key_jwt client authentication (RFC 7523)."),
  private_key_id: z.string().optional().describe("Client mode: kid put in the header of private_key_jwt assertions."),
  signing_algorithm: z.enum(["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]).default("RS256").describe("Client mode: algorithm of private_key_jwt assertions; must fit the key."),
  client_metadata_url: httpUrl().optional().describe("Client mode: an https URL serving this client's Client ID Metadata Document, used as client_id where the server supports it."),
  client_name: z.string().default("mcp-bridge").describe("Client mode: client_name sent in dynamic client registration."),
  browser_command: commandLine().optional().describe('Client mode: command that opens the authorization URL, given as its last argument (e.g. "firefox" or ["open", "-a", "Safari"]); "none" only prints the URL. Unset: the system browser.'),
  authorization_timeout: duration("timer", true).prefault("5m").describe("Client mode: how long to wait for the person to finish signing in."),
  enterprise: section({
    idp_issuer: httpUrl().optional().describe("Issuer of the enterprise identity provider that signed the ID token."),
    idp_token_endpoint: httpUrl().optional().describe("Token endpoint of the enterprise identity provider (token exchange, RFC 8693); found by discovery from idp_issuer when unset."),
    idp_client_id: z.string().optional().describe("Client id of the bridge at the enterprise identity provider."),
    idp_client_secret: secret().optional().describe("Client secret at the enterprise identity provider, when it requires one."),
    id_token: secret().optional().describe("The person's ID token from the enterprise identity provider."),
    id_token_env: z.string().optional().describe("Name of an environment variable holding the ID token (read when a token is needed)."),
    id_token_command: commandLine().optional().describe("Command printing a fresh ID token on stdout (run when a token is needed)."),
  }).optional().describe("Client mode: enterprise-managed authorization (SEP-990): the ID token is exchanged at the enterprise IdP for an identity assertion grant, then for an access token at the MCP server's authorization server."),
  workload_identity: section({
    token: secret().optional().describe("The workload's JWT."),
    token_env: z.string().optional().describe("Name of an environment variable holding the workload's JWT."),
    token_file: z.string().optional().describe("File holding the workload's JWT, re-read each time (e.g. a Kubernetes projected service account token)."),
    token_command: commandLine().optional().describe("Command printing the workload's JWT on stdout."),
  }).optional().describe("Client mode: workload identity federation (SEP-1933): a JWT the platform issues to this workload, presented as an RFC 7523 JWT bearer grant with client_id; no secret."),
});

export const AuthSchema = section({
  type: z.enum(["none", "bearer", "oauth"]).default("none").describe("none: no authentication; bearer: bearer tokens; oauth: OAuth 2.0 / OIDC access tokens."),
  bearer: bearerSchema.optional().describe("Settings for type: bearer."),
  oauth: oauthSchema.optional().describe("Settings for type: oauth."),
});

const brandingSchema = section({
  page_title: z.string().optional().describe("Browser title of the login page."),
  heading: z.string().optional().describe("Heading of the login page."),
  subtitle: z.string().optional().describe("Text under the heading."),
  username_label: z.string().optional().describe("Label of the username field."),
  password_label: z.string().optional().describe("Label of the password field."),
  button_text: z.string().optional().describe("Text of the sign-in button."),
  footer_text: z.string().optional().describe("Text at the foot of the page."),
  primary_color: z.string().optional().describe("Main colour (a CSS colour)."),
  secondary_color: z.string().optional().describe("Accent colour (a CSS colour)."),
});

const builtinUserSchema = section({
  username: nonEmpty().describe("Login name."),
  password_hash: secret().optional().describe("bcrypt hash ($2a$/$2b$/$2y$); taken literally, never $-substituted."),
  password_env: z.string().optional().describe("Name of an environment variable holding the password; hashed at start."),
  scopes: z.array(z.string()).default([]).describe("Scopes this user may be granted."),
});

const oauthServerSchema = section({
  enabled: z.boolean().default(false).describe("Run the OAuth 2.1 authorization server, which issues tokens for this bridge and then protects the MCP endpoint with them (no auth: block needed)."),
  issuer: httpUrl().optional().describe("Public base URL (https outside loopback); byte-identical to what clients use. Default: the origin of server.public_url, else of the listening address (http://127.0.0.1:PORT when listening on every interface, so set public_url for clients on other machines)."),
  mode: z.enum(["builtin", "federated"]).default("builtin").describe("builtin: local users with bcrypt passwords; federated: sign-in delegated to an upstream identity provider."),
  token_lifetime: duration("lifetime", true, { ms: 86_400_000, why: "an access token is a JWT no one can revoke; refresh tokens carry a longer grant" }).prefault("1h").describe("Lifetime of issued access tokens (at most 24h: they cannot be revoked)."),
  refresh_token_lifetime: duration("lifetime", true).prefault("24h").describe("Absolute lifetime of a refresh token family: rotation never extends it."),
  auth_code_lifetime: duration("lifetime", true, { ms: 600_000, why: "RFC 6749 §4.1.2: a code lives 10 minutes at most" }).prefault("10m").describe("Lifetime of authorization codes, at most 10m (a sign-in page itself stays valid 15 minutes)."),
  login_session_lifetime: duration("lifetime").prefault("0s").describe('Builtin mode: how long a browser stays signed in (a __Host- cookie), so the next authorization only asks for consent; "0s": off.'),
  allow_dynamic_registration: z.boolean().default(true).describe("Accept dynamic client registration (RFC 7591) at /register and /oauth/register."),
  registration_lifetime: duration("lifetime", true).prefault("30d").describe("A dynamically registered client unused this long (30 days) is forgotten."),
  client_metadata_documents: section({
    enabled: z.boolean().default(true).describe("Accept https URLs as client_id (Client ID Metadata Documents) and advertise client_id_metadata_document_supported."),
    allowed_hosts: z.array(z.string()).default([]).describe('Host names whose documents are accepted ("*.example.com" for subdomains); empty: any public host.'),
    allow_private_addresses: z.boolean().default(false).describe("Also fetch documents from loopback, private and link-local addresses. Development only."),
    fetch_timeout: duration("timer", true).prefault("5s").describe("Time allowed to fetch a document."),
    max_cache_time: duration("lifetime", true).prefault("1h").describe("Longest time a fetched document is reused (less when its Cache-Control says so)."),
  }).prefault({}).describe("Client ID Metadata Documents: the registration the MCP specification prefers."),
  signing: section({
    algorithm: z.enum(["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]).default("RS256").describe("Signature algorithm of issued tokens."),
    key_file: z.string().optional().describe("PEM private key that signs tokens (PKCS#8, PKCS#1 or SEC1). Unset: a key generated once and kept in the storage directory."),
    key_id: z.string().optional().describe("kid published in the JWKS; default: the key's RFC 7638 thumbprint."),
    generate_key: z.boolean().default(false).describe("Development only: an ephemeral key, lost on restart (every token with it)."),
    previous_key_files: z.array(z.string()).default([]).describe("Retired keys (PEM, private or public) whose public halves stay in the JWKS during a rotation."),
  }).prefault({}).describe("Token signing key."),
  builtin: section({
    users: z.array(builtinUserSchema).default([]).describe("Local users."),
    login_template: z.string().optional().describe("HTML template replacing the built-in login page; {{name}} placeholders are filled with escaped text only."),
    branding: brandingSchema.prefault({}).describe("Texts and colours of the built-in login page."),
  }).prefault({}).describe("Builtin mode: local users and the login page."),
  federated: section({
    upstream_issuer: httpUrl().optional().describe("Issuer URL of the upstream identity provider."),
    upstream_discovery_url: httpUrl().optional().describe("Discovery URL of the upstream provider, when it cannot be derived from upstream_issuer."),
    client_id: z.string().optional().describe("Client id registered at the upstream provider."),
    client_secret: secret().optional().describe("Client secret registered at the upstream provider."),
    client_secret_env: z.string().optional().describe("Name of an environment variable holding the upstream client secret."),
    scopes: z.array(z.string()).default(["openid", "email", "profile"]).describe("Scopes requested from the upstream provider."),
    allowed_domains: z.array(z.string()).default([]).describe("Email domains whose users may sign in; empty: any."),
    default_scopes: z.array(z.string()).default([]).describe("Scopes granted to every signed-in user."),
    admin_users: z.array(z.string()).default([]).describe("Emails of users who get admin_scopes."),
    admin_scopes: z.array(z.string()).default([]).describe("Scopes granted to admin_users."),
    http_timeout: duration("timer", true).prefault("10s").describe("Time allowed for requests to the upstream provider."),
  }).prefault({}).describe("Federated mode: sign-in through an upstream identity provider."),
  allowed_redirect_uris: z
    .array(z.string())
    .default([
      "https://claude.ai/api/mcp/auth_callback",
      "https://claude.com/api/mcp/auth_callback",
      "http://localhost/callback",
      "http://127.0.0.1/callback",
      "http://[::1]/callback",
      "http://localhost/oauth/callback",
      "http://localhost/oauth/callback/debug",
    ])
    .describe("Redirect URIs clients may register and use, compared exactly; for loopback (localhost, 127.0.0.1, [::1]) any port matches (RFC 8252 §7.3). Private-use schemes (com.example.app:/callback) are for native apps. The defaults cover Claude (claude.ai, claude.com), Claude Code and MCP Inspector."),
  scopes_supported: z.array(z.string()).default([]).describe("Scopes advertised in the metadata; default: every scope some user may be granted."),
});
const serverSchema = section({
  listen: listenAddress().prefault("127.0.0.1:8080").describe('Address to listen on; ":8080" means every interface.'),
  path: z
    .string()
    // The router reads ":name", "*" and "{…}" as patterns ("/mcp/:x" answered on every /mcp/…).
    .regex(/^\/[A-Za-z0-9._~!$&'()+,;=@%/-]*$/, 'must be a plain URL path such as "/mcp" (letters, digits, - . _ ~ % and /; no ":", "*", "?", "#", braces or spaces)')
    .default("/mcp")
    .describe("Streamable HTTP endpoint (also answered on /); not a path the bridge answers itself (/health, /ready, /.well-known/…, /sse and /messages with legacy_sse, the authorization server's)."),
  public_url: httpUrl().optional().describe("Canonical URL of the MCP endpoint as clients see it (behind a proxy): its host is accepted in Host and Origin, and URLs the bridge hands out (the legacy /messages endpoint, metadata) carry its path prefix."),
  read_timeout: duration("timer", true).prefault("30s").describe("Time allowed to receive a request's headers and body."),
  write_timeout: duration().prefault("60s").describe('How long a response may stall (as send_timeout in nginx): when the client takes none of the bytes the bridge has written for this long, the connection is closed. It does not limit how long a response lasts: a call waiting for the MCP server (bounded by mcp_server.read_timeout), a quiet SSE stream and a slow download that keeps moving are never cut. Each closed connection is logged (warn) and counted in /metrics (mcp_bridge_write_timeouts_total). "0s": off. Refused under Deno, which cannot apply it (docs/install.md).'),
  idle_timeout: duration().prefault("120s").describe("Keep-alive connection idle time."),
  sse_keepalive_interval: duration("timer", true).prefault("30s").describe("Interval of keep-alive comments on open SSE streams. A call still running after half of it, whose client accepts SSE, gets its response head and the comments too, so proxies with idle timeouts see it alive: set it below your proxy's idle timeout."),
  max_body_size: byteSize(true).prefault("16MiB").describe("Largest request body accepted; larger ones get 413."),
  allowed_origins: z.array(origin()).default([]).describe("Origins accepted in the Origin header, besides those of loopback listeners and CORS."),
  allowed_hosts: z
    .array(z.string().refine((entry) => parseHostPort(entry) !== undefined, 'must be a host name or IP address, optionally with ":port" (e.g. "mcp.example.com", "[2001:db8::1]:8443"); wildcards and URLs are not accepted'))
    .default([])
    .describe("Host header values accepted besides public_url's host. Empty: loopback names on a loopback listener; loopback names and IP literals on any other (a DNS-rebinding page reaches the bridge under a name, so names must be listed)."),
  trusted_proxies: z
    .array(cidrRange())
    .default([])
    .describe('Reverse proxies (IP addresses or CIDR ranges, e.g. "10.0.0.0/8") whose X-Forwarded-For or Forwarded header names the client; the client address is used in limits, caps and logs. Empty: the peer address is the client.'),
  legacy_sse: z.boolean().default(true).describe("Serve the 2024-11-05 HTTP+SSE transport on /sse and /messages."),
  metrics_listen: listenAddress()
    .optional()
    .describe('Address of a second, plain-HTTP listener for operators: Prometheus /metrics and the detailed /health (with counts), e.g. "127.0.0.1:9464". Unset: no metrics are served; the public /health and /ready carry states only.'),
  auth_failure_limit: z.number().int().positive().default(20).describe("Failed authentications per client address (see trusted_proxies; an IPv6 address counts as its /64) per minute; past it further failures get 429, while valid credentials and open sessions from that address still pass."),
  tls: tlsServerSchema.prefault({}).describe("HTTPS and mutual TLS."),
  cors: corsSchema.prefault({}).describe("Cross-origin requests from browsers."),
  mcp_server: mcpServerSchema.optional().describe("The stdio MCP server the bridge runs; required in server mode."),
  session: sessionSchema.prefault({}).describe("Session lifetime and limits, and how children are shared."),
  auth: AuthSchema.optional().describe("Authentication of incoming requests; may also be written as a top-level auth: block."),
  oauth_server: oauthServerSchema.prefault({}).describe("The built-in OAuth 2.0 authorization server."),
  header_timeout: duration("timer", true).prefault("10s").describe("Time a connection has to send a complete request head, from connecting or from starting its next request; a connection that sends nothing is closed after it."),
  max_connections: z.number().int().positive().default(1024).describe("Connections open at once. Past it, the oldest connection that has not sent a complete request head yet is closed to make room (idle sockets cannot lock clients out); when every connection is busy, the new one is closed."),
  max_connections_per_address: z.number().int().positive().default(128).describe("Connections open at once from one client address (an IPv6 address counts as its /64); further ones are closed at once. Behind a proxy listed in trusted_proxies, requests in progress per forwarded client address."),
  max_body_bytes_in_flight: byteSize(true).prefault("256MiB").describe("Bytes of request bodies received at once: a body with Content-Length counts it, a chunked one its bytes as they arrive (in steps of 64 KiB). A POST that does not fit gets 503 with Retry-After, before its body is read (a chunked one as soon as its next bytes do not fit; the rest is not read). One principal (or, without authentication, one client address) holds at most a quarter of it beyond its first body."),
});

const clientSchema = section({
  url: httpUrl().describe("URL of the remote MCP endpoint."),
  transport: z
    .enum(["auto", "streamable_http", "sse"])
    .default("auto")
    .describe("auto: Streamable HTTP (either era), falling back to the legacy HTTP+SSE transport when the first POST gets 400, 404 or 405; streamable_http or sse: that transport only."),
  timeout: duration("timer", true).prefault("30s").describe("Time allowed to connect to the remote server, for the answer to anything but a JSON-RPC request (notifications, responses, streams opening, session end), and for each pause inside a response body. The answer to a request is waited for as long as the local client keeps it: long tool calls are not cut off."),
  max_idle_conns: z.number().int().positive().default(100).describe("Idle keep-alive connections kept open to the remote server."),
  max_message_size: byteSize(true)
    .prefault("64MiB")
    .refine((bytes) => bytes <= MESSAGE_SIZE_CEILING, `is too large: at most ${MESSAGE_SIZE_CEILING / 1024 / 1024}MiB (a longer message, or a batch of answers adding up to it, would pass the longest string JavaScript can hold)`)
    .describe("Longest message either side may send: a line the local client writes on stdin, a JSON body or SSE event of the remote server, a batch's array of answers. A longer one fails alone, with an error naming this key; at most 256MiB."),
  max_answer_bytes_in_flight: byteSize(true)
    .prefault("256MiB")
    .describe("Bytes of the remote server's answers held at once over every request and stream: bodies being read, unfinished SSE events, answers a batch keeps until its last one comes, what the local client has not read from stdout yet. An answer that would pass it fails alone, with an error naming this key; at least max_message_size."),
  idle_conn_timeout: duration("timer", true).prefault("90s").describe("How long an idle keep-alive connection is kept."),
  tls: section({
    ca_cert: z.string().optional().describe("PEM CA bundle trusted for the remote server's certificate."),
    cert_file: z.string().optional().describe("PEM client certificate for mutual TLS."),
    key_file: z.string().optional().describe("PEM private key of the client certificate."),
    insecure_skip_verify: z.boolean().default(false).describe("Do not verify the remote server's certificate. Development only."),
    server_name: z.string().optional().describe("Name expected in the remote server's certificate, when it differs from the URL's host."),
  }).prefault({}).describe("TLS for the connection to the remote server."),
  headers: z
    .record(
      z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, "is not a header name (letters, digits and !#$%&'*+.^_`|~-)"),
      // A CR, LF or NUL would make every request fail (or, elsewhere, split the header): refused here, naming the key.
      scalarString().refine((value) => !/[\r\n\0]/.test(value), "must not contain a line break or NUL"),
    )
    .meta({ sensitive: true }).default({}).describe("Headers added to every request to the remote server; check-config redacts the values."),
  auth: AuthSchema.optional().describe("Authentication sent to the remote server; may also be written as a top-level auth: block."),
  retry: section({
    enabled: z.boolean().default(true).describe("Retry failed requests that are safe to repeat."),
    max_retries: z.number().int().nonnegative().default(3).describe("Retries after the first attempt."),
    initial_delay: duration().prefault("100ms").describe("Delay before the first retry."),
    max_delay: duration().prefault("5s").describe("Longest delay between retries."),
    multiplier: z.number().min(1).default(2).describe("Factor the delay grows by after each retry."),
  }).prefault({}).describe("Retries of failed requests to the remote server."),
});

const storageSchema = section({
  type: z.enum(["file", "memory"]).default("file").describe("file: kept in one file under path, surviving restarts; memory: lost on restart."),
  path: z.string().optional().describe("State directory; default $XDG_STATE_HOME/mcp-bridge, else ~/.local/state/mcp-bridge. Created with mode 0700."),
  max_entries: z.number().int().positive().default(100_000).describe("Entries kept at most (clients, codes, refresh tokens, limiter counters); beyond it new ones are refused (503). Limiter counters and cached documents take at most a quarter, the least recently written giving way to a new one; one user's sign-ins keep at most a few hundred entries, so keep it at 1000 or more."),
  allow_group_write: z.boolean().default(false).describe("Accept a state directory its group may write to, as a Kubernetes volume with fsGroup is (mode 2770): every member of that group is then trusted as the bridge itself. A directory others may write to is refused always."),
});

export const ConfigSchema = section({
  mode: z.enum(["server", "client"]).describe("server: serve a stdio MCP server over HTTP; client: connect stdio to a remote HTTP server."),
  log: logSchema.prefault({}).describe("Logging; may also be written as logging:."),
  server: serverSchema.optional().describe("Server mode: the HTTP side and the stdio MCP server behind it."),
  client: clientSchema.optional().describe("Client mode: the remote MCP server that stdio is connected to."),
  storage: storageSchema.prefault({}).describe("Where state that outlives a request is kept (the authorization server's clients, codes and refresh tokens)."),
});

export type Config = z.output<typeof ConfigSchema>;
export type ServerConfig = z.output<typeof serverSchema>;
/**
 * The client section as loaded. `headerVariables` is no key of the file: the names of the
 * environment variables a ${VAR} put into client.headers values (set by validateConfig), which the
 * programs started for a sign-in are not given.
 */
export type ClientConfig = z.output<typeof clientSchema> & { headerVariables?: readonly string[] };
export type AuthConfig = z.output<typeof AuthSchema>;
export type BearerConfig = z.output<typeof bearerSchema>;
export type OAuthConfig = z.output<typeof oauthSchema>;
export type OAuthServerConfig = z.output<typeof oauthServerSchema>;
export type StorageConfig = z.output<typeof storageSchema>;
export type McpServerConfig = z.output<typeof mcpServerSchema>;
export type SessionConfig = z.output<typeof sessionSchema>;
export type LogConfig = z.output<typeof logSchema>;
export type TlsServerConfig = z.output<typeof tlsServerSchema>;
export type CorsConfig = z.output<typeof corsSchema>;
