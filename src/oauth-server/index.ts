/**
 * @module The OAuth 2.1 authorization server (MCP authorization, RFC 8414, 7591, 7009, 9068, 9207,
 * 8707): built once at start-up, mounted on the HTTP app, and the source of the key set that the
 * ordinary JWT authenticator validates /mcp tokens with.
 *
 * Routes: /.well-known/oauth-authorization-server, /.well-known/openid-configuration, /oauth/jwks,
 * /oauth/authorize (and /authorize), /oauth/token (and /token), /oauth/register (and /register),
 * /oauth/revoke, /oauth/callback.
 */
import type { Context, Hono } from "hono";
import { AuthSchema, type AuthConfig, type Config, type OAuthServerConfig } from "../config/schema.ts";
import { ConfigError } from "../config/errors.ts";
import type { Authenticator } from "../auth/types.ts";
import type { Logger } from "../log/logger.ts";
import type { ConnectionInfo, Platform } from "../runtime/types.ts";
import type { Metrics } from "../server/metrics.ts";
import { jsonError, methodNotAllowed } from "../server/http-errors.ts";
import { openStore, type KeyClasses } from "../store/index.ts";
import { createAuthorizeEndpoint } from "./authorize.ts";
import { createMetadataDocumentResolver } from "./cimd.ts";
import { ClientRegistry } from "./clients.ts";
import type { AuthorizationServerContext } from "./context.ts";
import { Grants } from "./grants.ts";
import { PUBLIC_CORS, withCors } from "./http.ts";
import type { UpstreamLogin } from "./identity.ts";
import { loadSigningKeys } from "./keys.ts";
import { createLoginLimiter } from "./login-limiter.ts";
import { authorizationServerMetadata } from "./metadata.ts";
import { createPageRenderer, CSS_COLOR } from "./pages.ts";
import { pendingSignIns, type PendingSignIns } from "./pending.ts";
import { resourceMatcher } from "./redirect.ts";
import { createRegistrationEndpoint } from "./register.ts";
import { createTokenEndpoint } from "./token.ts";
import { createBuiltinUsers, loadCredentialKey } from "./users.ts";
import { readConfiguredFile } from "../server/preflight.ts";
import { throttledLog } from "../log/throttle.ts";

/** Lines saying the state store is full: a burst per window (its answers' Retry-After), then a count. */
const STORE_FULL_LOG = { burst: 3, windowMs: 60_000 };

type ConnectionEnv = { Bindings: ConnectionInfo };

/**
 * Store keys anyone can have made without signing in. They get half the store at most, so a flood
 * of them from many addresses (an IPv6 /48 holds 65536 /64s) cannot refuse the codes and refresh
 * tokens of people who signed in. Within it, pending sign-ins (ours and upstream) take at most an
 * eighth of the store, their ring's (pending.ts; its slot keys are bounded by the ring itself),
 * and per-address counters and cached metadata documents at most a quarter, the least recently
 * written giving way (MemoryStoreOptions): neither kind can crowd out the other.
 */
const FORGETTABLE_KEYS = ["authorize:", "upstream:", "login:", "register:", "cimd:", "cimd-fetch:"];
const STORE_KEYS: KeyClasses = { unauthenticatedPrefixes: ["authz:", "federated:state:", ...FORGETTABLE_KEYS], evictablePrefixes: FORGETTABLE_KEYS };

export interface AuthorizationServerOptions {
  config: OAuthServerConfig;
  storage: Config["storage"];
  /** Canonical URL of the MCP endpoint (RFC 8707 resource). */
  resource: string;
  platform: Platform;
  logger: Logger;
  /** Federated mode's sign-in at the upstream provider (src/oauth-server/federated), loaded only in that mode. */
  createUpstreamLogin: (context: { store: AuthorizationServerContext["store"]; pending: PendingSignIns; issuer: string; logger: Logger }) => Promise<UpstreamLogin>;
}

export interface AuthorizationServer {
  readonly issuer: string;
  /** The `auth:` settings that validate this server's tokens at /mcp, merged with the operator's scope rules. */
  authConfig(operator: AuthConfig | undefined): AuthConfig;
  /** `authenticator`, whose 401s name this server's scopes_supported when the operator requires none (MCP authorization: the client then knows what to ask for). */
  withChallengeScopes(authenticator: Authenticator): Authenticator;
  /** Answers the JWKS URL in-process, so the JWT authenticator reads the local keys without a network round trip. */
  readonly fetch: typeof fetch;
  /**
   * Adds the routes to `app`, before its Origin guard: the login form legitimately posts with
   * Origin "null" (Referrer-Policy: no-referrer) and the JSON endpoints serve any origin. The Host
   * check (DNS rebinding) still applies through `hostRefusal`.
   */
  mount(
    app: Hono<ConnectionEnv>,
    options: {
      metrics: Metrics;
      hostRefusal: (host: string | null) => string | undefined;
      /** The client's address (behind trusted proxies, from their headers); the peer's address when absent. */
      clientAddress?: (peer: string, headers: Headers) => string;
    },
  ): void;
  close(): Promise<void>;
}

/** Branding colours go into the page's stylesheet: only plain CSS colours; a ConfigError naming the key otherwise. */
export function checkBranding(config: OAuthServerConfig): void {
  const issues = (["primary_color", "secondary_color"] as const)
    .filter((key) => config.builtin.branding[key] !== undefined && !CSS_COLOR.test(config.builtin.branding[key]!))
    .map((key) => ({ path: `server.oauth_server.builtin.branding.${key}`, message: 'must be a CSS colour such as "#1f4fd1", "teal" or "rgb(31, 79, 209)"' }));
  if (issues.length > 0) throw new ConfigError("CONFIG_INVALID", issues);
}

/** The login_template's text, checked for the fields the sign-in needs; a ConfigError naming the key otherwise. */
export async function readLoginTemplate(platform: Platform, path: string | undefined): Promise<string | undefined> {
  if (path === undefined) return undefined;
  const text = await readConfiguredFile(platform, "server.oauth_server.builtin.login_template", path);
  if (!/\{\{\s*hidden_fields\s*\}\}/.test(text) || !/name="?username/.test(text) || !/name="?password/.test(text)) {
    throw new ConfigError("CONFIG_INVALID", [
      { path: "server.oauth_server.builtin.login_template", message: `"${path}" needs a <form method="post" action="/oauth/authorize"> with {{hidden_fields}}, inputs named username and password, and a button name="action" value="allow"` },
    ]);
  }
  return text;
}

/** Builds the authorization server. Misconfiguration (unreadable key, bad template) is a ConfigError naming the key. */
export async function createAuthorizationServer(options: AuthorizationServerOptions): Promise<AuthorizationServer> {
  const { config, platform } = options;
  const logger = options.logger.child({ component: "oauth-server" });
  // Anyone's request may meet a full store: said a few times a minute (the Retry-After), then counted.
  const storeFull = throttledLog(logger, "full state store", STORE_FULL_LOG);
  const auditLog = options.logger.child({ component: "audit" });
  const issuer = (config.issuer ?? new URL(options.resource).origin).replace(/\/$/, "");
  if (!config.issuer && !/^https:|^http:\/\/(127\.|localhost[:/]|\[::1\])/.test(`${issuer}/`)) {
    throw new ConfigError("CONFIG_INVALID", [
      { path: "server.oauth_server.issuer", message: `is not set, and the default (${issuer}, from the listening address) is plain http on a non-loopback address; set issuer (or server.public_url) to the https URL clients use` },
    ]);
  }
  checkBranding(config);
  const template = await readLoginTemplate(platform, config.builtin.login_template);

  const { store, directory } = await openStore(options.storage, platform, logger, STORE_KEYS);
  let metrics: Metrics | undefined;
  const audit = (event: string, fields: Record<string, unknown>) => {
    auditLog.info(event, fields);
    metrics?.count("mcp_bridge_oauth_events_total", "Authorization server events (logins, tokens, registrations), by event", { event });
  };
  try {
    const keys = await loadSigningKeys(config.signing, { platform, logger, stateDirectory: directory });
    const users = config.mode === "builtin" ? await createBuiltinUsers(config.builtin, platform.env, await loadCredentialKey(platform, directory), logger) : undefined;
    const scopesSupported = config.scopes_supported.length > 0 ? [...config.scopes_supported] : [...(users?.allScopes ?? []), ...config.federated.default_scopes, ...config.federated.admin_scopes].filter((scope, index, all) => all.indexOf(scope) === index);
    const grants = new Grants({
      store,
      sha256: platform.sha256,
      keys,
      issuer,
      accessTokenLifetime: config.token_lifetime,
      refreshTokenLifetime: config.refresh_token_lifetime,
      codeLifetime: config.auth_code_lifetime,
      // `upstream` is made below (it needs the store); refreshes come only after start-up.
      heldScopes: (grant) => (users ? users.holder(grant.sub, grant.credential)?.scopes : upstream!.heldScopes({ subject: grant.sub, ...(grant.email !== undefined && { email: grant.email }), ...(grant.credential !== undefined && { credential: grant.credential }) })),
      audit,
    });
    const cimdEnabled = config.client_metadata_documents.enabled && platform.publicFetch !== undefined;
    if (config.client_metadata_documents.enabled && !cimdEnabled) {
      logger.warn("client metadata documents are off: this runtime cannot check addresses at connect time; clients must register (DCR)");
    }
    const clients = new ClientRegistry({
      store,
      sha256: platform.sha256,
      allowedRedirectUris: config.allowed_redirect_uris,
      registrationLifetime: config.registration_lifetime,
      // A tenth of the store (three tenths with each one's slot and metadata key): unauthenticated registrations can never crowd out grants and codes.
      maxUnusedRegistrations: Math.max(10, Math.floor(options.storage.max_entries / 10)),
      cimd: cimdEnabled
        ? createMetadataDocumentResolver({ config: config.client_metadata_documents, fetch: platform.publicFetch!, store, allowedRedirectUris: config.allowed_redirect_uris, logger })
        : undefined,
    });
    // An eighth of the store (their slots another eighth, outside the share): beside the counters' quarter, within the share of entries anyone can make.
    const pending = pendingSignIns(store, Math.max(10, Math.floor(options.storage.max_entries / 8)));
    const upstream = config.mode === "federated" ? await options.createUpstreamLogin({ store, pending, issuer, logger }) : undefined;
    const context: AuthorizationServerContext = {
      config,
      issuer,
      resource: options.resource,
      acceptsResource: resourceMatcher(options.resource),
      scopesSupported,
      store,
      pending,
      sha256: platform.sha256,
      clients,
      grants,
      users,
      upstream,
      pages: createPageRenderer(config.builtin.branding, template),
      limiter: createLoginLimiter(store),
      logger,
      audit,
      secureCookies: issuer.startsWith("https:"),
    };
    const metadata = JSON.stringify(authorizationServerMetadata(context, cimdEnabled));
    const jwks = JSON.stringify(keys.jwks);
    const jwksUrl = `${issuer}/oauth/jwks`;
    const authorize = createAuthorizeEndpoint(context);
    const token = createTokenEndpoint(context);
    const register = createRegistrationEndpoint(context);
    logger.info("authorization server enabled", { issuer, mode: config.mode, alg: keys.algorithm, kid: keys.kid, storage: options.storage.type, ...(directory && { directory }) });

    return {
      issuer,
      authConfig(operator) {
        const base = operator?.type === "oauth" && operator.oauth ? operator : AuthSchema.parse({ type: "oauth", oauth: {} });
        const oauth = base.oauth!;
        return {
          ...base,
          type: "oauth",
          oauth: { ...oauth, issuer, jwks_url: jwksUrl, validation: { ...oauth.validation, allowed_algorithms: keys.algorithms as typeof oauth.validation.allowed_algorithms, require_at_jwt: true } },
        };
      },
      withChallengeScopes(authenticator) {
        // A prototype link keeps the authenticator's getters (protectedResource, ready) live.
        return Object.assign(Object.create(authenticator) as Authenticator, { challengeScopes: [...scopesSupported] });
      },
      fetch: async (input, init) => {
        const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
        if (url !== jwksUrl) return globalThis.fetch(input, init);
        return new Response(jwks, { headers: { "content-type": "application/jwk-set+json" } });
      },
      mount(app, { metrics: appMetrics, hostRefusal, clientAddress }) {
        metrics = appMetrics;
        const address = (c: Context<ConnectionEnv>) => (clientAddress ? clientAddress(c.env.remoteAddress, c.req.raw.headers) : c.env.remoteAddress);
        const paths = ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration", "/oauth/*", "/authorize", "/token", "/register"];
        for (const path of paths) {
          app.use(path, async function authorizationServerGuard(c, next) {
            const refusal = hostRefusal(c.req.header("host") ?? null);
            if (refusal) return jsonError(403, "forbidden", refusal);
            await next();
            // A full store is an outage to the client, not its fault: 503 rather than the app's 500, and loudly in the log.
            if ((c.error as { code?: string } | undefined)?.code === "STORE_FULL") {
              storeFull.write("error", "the state store is full: sign-ins and token requests fail until entries expire (raise storage.max_entries)");
              c.res = jsonError(503, "temporarily_unavailable", "the authorization server cannot keep more state right now; try again later", { "retry-after": "60" });
            }
          });
        }
        const serveMetadata = () => withCors(new Response(metadata, { headers: { "content-type": "application/json", "cache-control": "max-age=300" } }));
        app.get("/.well-known/oauth-authorization-server", serveMetadata);
        app.get("/.well-known/openid-configuration", serveMetadata);
        app.get("/oauth/jwks", () => withCors(new Response(jwks, { headers: { "content-type": "application/jwk-set+json", "cache-control": "max-age=300" } })));
        // Hono answers HEAD with the GET handler. These two change state (a pending request, a
        // sign-in taken and redeemed), and HEAD must not (RFC 9110 §9.2.1): a link checker's HEAD of a
        // callback URL would use up the sign-in it carries.
        for (const path of ["/oauth/authorize", "/authorize"]) {
          app.get(path, (c) => (c.req.method === "HEAD" ? methodNotAllowed("HEAD", path, "GET, POST") : authorize.get(c.req.raw, address(c))));
          app.post(path, (c) => authorize.post(c.req.raw, address(c)));
        }
        app.get("/oauth/callback", (c) => (c.req.method === "HEAD" ? methodNotAllowed("HEAD", "/oauth/callback", "GET") : authorize.callback(c.req.raw)));
        for (const path of ["/oauth/token", "/token"]) app.post(path, async (c) => withCors(await token.token(c.req.raw, address(c))));
        app.post("/oauth/revoke", async (c) => withCors(await token.revoke(c.req.raw, address(c))));
        if (config.allow_dynamic_registration) {
          for (const path of ["/oauth/register", "/register"]) app.post(path, async (c) => withCors(await register(c.req.raw, address(c))));
        }
        const preflight = () => new Response(null, { status: 204, headers: PUBLIC_CORS });
        for (const path of ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration", "/oauth/jwks", "/oauth/token", "/token", "/oauth/revoke", "/oauth/register", "/register"]) {
          app.options(path, preflight);
        }
        // Other methods learn which ones a path serves (405, RFC 9110 §15.5.6), not that nothing is there.
        const served: [string[], string][] = [
          [["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration", "/oauth/jwks"], "GET, HEAD, OPTIONS"],
          [["/oauth/authorize", "/authorize"], "GET, POST"],
          [["/oauth/callback"], "GET"],
          [["/oauth/token", "/token", "/oauth/revoke", ...(config.allow_dynamic_registration ? ["/oauth/register", "/register"] : [])], "POST, OPTIONS"],
        ];
        for (const [routes, allow] of served) for (const path of routes) app.all(path, (c) => methodNotAllowed(c.req.method, path, allow));
      },
      async close() {
        await store.close();
      },
    };
  } catch (error) {
    // The first error is the one to report: on a full disk, closing fails too (the lock's release).
    await store.close().catch(() => {});
    throw error;
  }
}
