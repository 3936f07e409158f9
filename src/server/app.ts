/**
 * @module The HTTP application of server mode, runtime-agnostic (Request in, Response out):
 * host/origin guard → CORS (preflights answered before auth) → health → metadata → auth → MCP.
 */
import { Hono, type MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import { protectedResourceMetadataUrl } from "../auth/prm.ts";
import type { Authenticator } from "../auth/types.ts";
import type { ServerConfig } from "../config/schema.ts";
import type { Logger } from "../log/logger.ts";
import type { AuthorizationServer } from "../oauth-server/index.ts";
import type { ConnectionInfo } from "../runtime/types.ts";
import { createAuthGate } from "./auth-gate.ts";
import { clientAddressResolver } from "./client-address.ts";
import { createRequestGuard } from "./guards.ts";
import { throttledLog } from "../log/throttle.ts";
import { BodyNotReceivedError } from "../util/body.ts";
import { jsonError, methodNotAllowed } from "./http-errors.ts";
import { ByteBudget, perClientLimit } from "./limits.ts";
import { Metrics } from "./metrics.ts";
import type { ModernServer } from "./modern.ts";
import type { SessionManager } from "./sessions.ts";
import { createMcpHandlers } from "./streamable-http.ts";

type AppEnv = { Bindings: ConnectionInfo };

/** Host/Origin refusals are attacker-driven: a few lines per window, then a count. */
const REFUSAL_LOG = { burst: 3, windowMs: 10_000 };
/**
 * Requests the bridge could not handle (500): a lasting cause, such as a state directory that can
 * no longer be written, fails every such request, anyone's: a burst of lines per window, then a count.
 */
const FAILURE_LOG = { burst: 10, windowMs: 60_000 };

export interface AppOptions {
  config: ServerConfig;
  sessions: SessionManager;
  authenticator: Authenticator | undefined;
  /** The built-in authorization server's routes (src/oauth-server), when enabled. */
  authorizationServer?: Pick<AuthorizationServer, "mount">;
  /** Canonical URL of the MCP endpoint. */
  resource: string;
  logger: Logger;
  /** RFC 9728 document, when the server publishes one. */
  protectedResourceMetadata?: () => Record<string, unknown>;
  /** Serves modern (2026-07-28) clients on the same endpoint. */
  modern?: ModernServer;
  /** Counters, served by the operators' listener (ops.ts), never by this app. */
  metrics?: Metrics;
}

/**
 * The path a reverse proxy puts in front of the bridge's own paths: public_url's path without the
 * trailing server.path ("https://host/team/mcp" with path "/mcp" → "/team"), else without its
 * last segment; "" without public_url.
 */
function publicPathPrefix(config: ServerConfig): string {
  if (!config.public_url) return "";
  const path = new URL(config.public_url).pathname.replace(/\/+$/, "");
  if (path.endsWith(config.path)) return path.slice(0, path.length - config.path.length);
  return path.slice(0, path.lastIndexOf("/"));
}

export function createApp(options: AppOptions): Hono<AppEnv> {
  const { config, sessions, logger } = options;
  const app = new Hono<AppEnv>();
  const guard = createRequestGuard(config);
  const clientAddress = clientAddressResolver(config.trusted_proxies);
  const resourcePath = new URL(options.resource).pathname;
  const metadataUrl = options.protectedResourceMetadata ? protectedResourceMetadataUrl(options.resource) : undefined;
  const metrics = options.metrics ?? new Metrics();
  metrics.gauge("mcp_bridge_sessions", "Live MCP sessions", () => sessions.size);
  if (options.modern) {
    const pool = options.modern.pool;
    metrics.gauge("mcp_bridge_modern_children", "Children serving modern (2026-07-28) clients", () => pool.size);
  }
  metrics.gauge("mcp_bridge_ready", "1 when a new session can get an MCP server", () => (sessions.ready ? 1 : 0));
  const gate = createAuthGate({ authenticator: options.authenticator, resourceMetadataUrl: metadataUrl, failureLimitPerMinute: config.auth_failure_limit, logger, metrics });
  const mcp = createMcpHandlers({ sessions, maxBodyBytes: config.max_body_size, bodyBudget: new ByteBudget(config.max_body_bytes_in_flight), authorize: gate.authorize, modern: options.modern });

  // Before the Origin guard: the login form posts with Origin "null"; the AS checks the Host itself.
  options.authorizationServer?.mount(app, { metrics, hostRefusal: (host) => guard.check(host, null), clientAddress });

  const failureLog = throttledLog(logger, "failed requests", FAILURE_LOG);
  app.onError((error, c) => {
    // Node has answered 408 itself when read_timeout cut the body; Deno has not (runtime/deno.ts).
    if (error instanceof BodyNotReceivedError) {
      logger.debug("request body broken off", { method: c.req.method, path: c.req.path, cause: (error.cause as Error | undefined)?.message });
      // The rest of the body may still come: the connection is not kept for another request.
      return jsonError(408, "request_timeout", "the request body did not arrive whole within server.read_timeout", { connection: "close" });
    }
    failureLog.write("error", "request failed", { method: c.req.method, path: c.req.path, error: error.message });
    return jsonError(500, "server_error", "the bridge could not handle this request");
  });

  const refusalLog = throttledLog(logger, "requests refused by the Host/Origin guard", REFUSAL_LOG);
  app.use(async function hostAndOriginGuard(c, next) {
    const refusal = guard.check(c.req.header("host") ?? null, c.req.header("origin") ?? null);
    if (refusal) {
      refusalLog.write("warn", "request refused", {
        reason: refusal,
        host: c.req.header("host"),
        origin: c.req.header("origin"),
        remote: clientAddress(c.env.remoteAddress, c.req.raw.headers),
        fix: refusal.startsWith("Host") ? "list the name in server.allowed_hosts or set server.public_url" : "list the origin in server.allowed_origins",
      });
      return jsonError(403, "forbidden", refusal);
    }
    await next();
  });

  // HEAD must be safe (RFC 9110 §9.2.1), but Hono answers it with the GET handler, which would open
  // a stream or a whole legacy session: the MCP endpoints refuse it instead.
  const headless = new Map<string, string>([[config.path, "GET, POST, DELETE"], ["/", "GET, POST, DELETE"]]);
  if (config.legacy_sse) headless.set("/sse", "GET").set("/messages", "POST");
  // Other methods on the MCP endpoints (PUT, PATCH, OPTIONS without CORS) learn which ones they
  // serve (405), not that nothing is there. Here rather than as routes: a POST matches no more handlers.
  // With CORS off, a browser client (MCP Inspector connected directly) sees only a CORS failure: the log and the answer name the setting.
  const preflightLog = throttledLog(logger, "CORS preflights refused", REFUSAL_LOG);
  const corsFix = "set server.cors.enabled: true and list the origin in server.cors.allowed_origins";
  app.notFound((c) => {
    const allow = headless.get(c.req.path);
    if (allow && c.req.method === "OPTIONS" && c.req.header("access-control-request-method") !== undefined) {
      preflightLog.write("warn", "browser's CORS preflight refused: CORS is off", { origin: c.req.header("origin"), path: c.req.path, fix: corsFix });
      return jsonError(405, "method_not_allowed", `OPTIONS is not served on ${c.req.path}: CORS is off (${corsFix}); use ${allow}`, { allow });
    }
    return allow ? methodNotAllowed(c.req.method, c.req.path, allow) : jsonError(404, "not_found", `no route for ${c.req.method} ${c.req.path}`);
  });
  app.use(async function headIsSafe(c, next) {
    const allow = c.req.method === "HEAD" ? headless.get(c.req.path) : undefined;
    if (allow) return new Response(null, { status: 405, headers: { allow } });
    await next();
  });

  const limitPerClient = perClientLimit({ trustedProxies: config.trusted_proxies, clientAddress, maxPerClient: config.max_connections_per_address, logger });
  if (limitPerClient) app.use(limitPerClient);

  if (config.cors.enabled) {
    const origins = config.cors.allowed_origins;
    app.use(unlistedPreflightWarnings(config.cors, logger));
    app.use(
      cors({
        origin: origins.includes("*") ? "*" : origins,
        allowMethods: config.cors.allowed_methods,
        allowHeaders: config.cors.allowed_headers,
        exposeHeaders: config.cors.exposed_headers,
        credentials: config.cors.allow_credentials,
        maxAge: config.cors.max_age,
      }),
    );
  }

  // Public: the state only, no counts (they tell an outsider how busy, and so how attackable, the bridge is).
  app.get("/health", (c) => {
    const status = sessions.health;
    const retry = sessions.retryInSeconds;
    return c.json({ status, mcp_server: sessions.childState, ...(retry > 0 && { retry_in_s: retry }) }, status === "failing" ? 503 : 200);
  });
  app.get("/ready", (c) => {
    const authReady = options.authenticator?.ready !== false;
    const ready = sessions.ready && authReady;
    return c.json({ status: ready ? "ready" : "not_ready", mcp_server: sessions.childState, ...sessions.startFailure, auth: authReady ? "ready" : "unavailable" }, ready ? 200 : 503);
  });

  // The probes are read-only: other methods learn what they are (405), not that nothing is there.
  for (const path of ["/health", "/ready"]) app.all(path, (c) => methodNotAllowed(c.req.method, path, "GET, HEAD"));

  if (options.protectedResourceMetadata) {
    const document = options.protectedResourceMetadata;
    const serve = () => new Response(JSON.stringify(document()), { headers: { "content-type": "application/json", "cache-control": "max-age=300" } });
    app.get("/.well-known/oauth-protected-resource", serve);
    if (resourcePath !== "/") app.get(`/.well-known/oauth-protected-resource${resourcePath}`, serve);
  }

  for (const path of new Set([config.path, "/"])) {
    app.on(["POST", "GET", "DELETE"], path, async (c) => {
      const address = clientAddress(c.env.remoteAddress, c.req.raw.headers);
      const principal = await gate.authenticate(c.req.raw, address);
      if (principal instanceof Response) return principal;
      if (c.req.method === "POST") return mcp.post(c.req.raw, principal, c.env, address);
      if (c.req.method === "GET") return mcp.get(c.req.raw, principal, c.env);
      return mcp.delete(c.req.raw, principal);
    });
  }

  if (config.legacy_sse) {
    app.get("/sse", async (c) => {
      const address = clientAddress(c.env.remoteAddress, c.req.raw.headers);
      const principal = await gate.authenticate(c.req.raw, address);
      if (principal instanceof Response) return principal;
      return mcp.openLegacy(principal, `${publicPathPrefix(config)}/messages`, address, c.env);
    });
    app.post("/messages", async (c) => {
      const address = clientAddress(c.env.remoteAddress, c.req.raw.headers);
      const principal = await gate.authenticate(c.req.raw, address);
      if (principal instanceof Response) return principal;
      return mcp.postLegacy(c.req.raw, principal, c.req.query("sessionId") ?? "", address);
    });
  }
  return app;
}

/**
 * A preflight the browser will refuse gets no error it can show (only "CORS failure"): the log
 * says what to list. An Origin the Host/Origin guard let through (a loopback page on a loopback
 * listener, one of server.allowed_origins) but not listed for CORS gets no
 * Access-Control-Allow-Origin; a request header or method not listed is refused by the browser
 * itself (a tool's Mcp-Param-* header, say). Compared as the cors middleware and browsers do;
 * throttled (REFUSAL_LOG). Other requests pass untouched.
 */
function unlistedPreflightWarnings(cors: ServerConfig["cors"], logger: Logger): MiddlewareHandler<AppEnv> {
  const unlistedLog = throttledLog(logger, "CORS preflights the browser will refuse", REFUSAL_LOG);
  const origins = cors.allowed_origins;
  const anyOrigin = origins.includes("*");
  const headers = new Set(cors.allowed_headers.map((name) => name.toLowerCase()));
  // Fetch §4.8 (CORS-preflight fetch): "*" matches any name but Authorization, and only for a
  // request without credentials. Fetch decides by the request's credentials mode, which the
  // preflight does not carry; server.cors.allow_credentials stands in for it — an approximation
  // that errs toward a warning too many (credentials allowed, a request without them: the browser
  // takes "*" as a wildcard), not toward silence (credentials not allowed, a request with them:
  // the browser refuses it anyway, for want of Access-Control-Allow-Credentials).
  const anyHeader = headers.has("*") && !cors.allow_credentials;
  const methods = new Set(cors.allowed_methods);
  const anyMethod = methods.has("*") && !cors.allow_credentials;
  return async function unlistedPreflight(c, next) {
    const origin = c.req.method === "OPTIONS" ? c.req.header("origin") : undefined;
    const method = origin === undefined ? undefined : c.req.header("access-control-request-method");
    if (origin !== undefined && method !== undefined) {
      const fields = { origin, path: c.req.path };
      if (!anyOrigin && !origins.includes(origin)) {
        unlistedLog.write("warn", "browser's CORS preflight refused: its origin is not allowed", { ...fields, fix: "list the origin in server.cors.allowed_origins" });
      } else {
        // An empty allowed_headers echoes what the browser asks for (the cors middleware).
        const asked = (c.req.header("access-control-request-headers") ?? "").split(",").map((name) => name.trim().toLowerCase()).filter((name) => name !== "");
        const unlisted = headers.size === 0 ? [] : asked.filter((name) => !headers.has(name) && !(anyHeader && name !== "authorization"));
        if (unlisted.length > 0) unlistedLog.write("warn", "browser's CORS preflight will be refused: request headers not allowed", { ...fields, headers: unlisted.join(", "), fix: "list them in server.cors.allowed_headers" });
        // GET, HEAD and POST are CORS-safelisted methods: a browser needs no Allow-Methods for them.
        if (!["GET", "HEAD", "POST"].includes(method) && !anyMethod && !methods.has(method)) {
          unlistedLog.write("warn", "browser's CORS preflight will be refused: method not allowed", { ...fields, method, fix: "list it in server.cors.allowed_methods" });
        }
      }
    }
    await next();
  };
}
