/**
 * @module The operators' listener (`server.metrics_listen`): Prometheus metrics and the detailed
 * health answer, with counts. Kept off the public listener, where counts tell an outsider how busy,
 * and so how attackable, the bridge is; bind it to loopback or a private network.
 */
import { Hono } from "hono";
import type { Authenticator } from "../auth/types.ts";
import { isLoopbackHostHeader } from "./guards.ts";
import { jsonError, methodNotAllowed } from "./http-errors.ts";
import type { Metrics } from "./metrics.ts";
import type { SessionManager } from "./sessions.ts";

export interface OpsAppOptions {
  metrics: Metrics;
  sessions: SessionManager;
  authenticator: Authenticator | undefined;
  /** The listener is bound to loopback: only loopback names are accepted in Host, as on a loopback public listener. */
  loopback: boolean;
  /** Children serving 2026-07-28 clients now (they hold no session, so `sessions` leaves them out). */
  modernChildren: () => number;
}

export function createOpsApp({ metrics, sessions, authenticator, loopback, modernChildren }: OpsAppOptions): Hono {
  const app = new Hono();
  if (loopback) {
    // A DNS-rebinding page in an operator's browser would otherwise read the counts under its own name.
    app.use(async (c, next) => {
      const host = c.req.header("host");
      if (host !== undefined && !isLoopbackHostHeader(host)) return jsonError(403, "forbidden", "Host header not allowed");
      await next();
    });
  }
  app.notFound((c) => jsonError(404, "not_found", `no route for ${c.req.method} ${c.req.path} (this listener serves /metrics and /health)`));
  app.get("/metrics", () => new Response(metrics.render(), { headers: { "content-type": "text/plain; version=0.0.4" } }));
  app.get("/health", (c) => {
    const status = sessions.health;
    const authReady = authenticator?.ready !== false;
    return c.json(
      {
        status,
        ready: sessions.ready && authReady,
        mcp_server: sessions.childState,
        ...sessions.startFailure,
        retry_in_s: sessions.retryInSeconds,
        auth: authenticator ? (authReady ? "ready" : "unavailable") : "none",
        sessions: sessions.size,
        modern_children: modernChildren(),
      },
      status === "failing" ? 503 : 200,
    );
  });
  for (const path of ["/metrics", "/health"]) app.all(path, (c) => methodNotAllowed(c.req.method, path, "GET, HEAD"));
  return app;
}
