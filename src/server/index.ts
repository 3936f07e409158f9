/** @module Server mode: wires config, authenticator, sessions and the HTTP app onto the platform's listener. */
import { createAuthenticator } from "../auth/index.ts";
import { protectedResourceMetadata } from "../auth/prm.ts";
import { ConfigError } from "../config/errors.ts";
import type { Config } from "../config/schema.ts";
import type { Logger } from "../log/logger.ts";
import type { Platform, TlsServeOptions } from "../runtime/types.ts";
import { createApp } from "./app.ts";
import { isLoopbackHost } from "./guards.ts";
import { jsonError } from "./http-errors.ts";
import { Metrics } from "./metrics.ts";
import { createOpsApp } from "./ops.ts";
import { readConfiguredFile } from "./preflight.ts";
import { SessionManager } from "./sessions.ts";

export interface BridgeServer {
  /** URL of the MCP endpoint as bound (the real port when 0 was configured). */
  readonly url: string;
  close(): Promise<void>;
}

async function tlsOptions(config: NonNullable<Config["server"]>, platform: Platform): Promise<TlsServeOptions | undefined> {
  const tls = config.tls;
  if (!tls.enabled) return undefined;
  const mode = tls.client_auth;
  return {
    cert: await readConfiguredFile(platform, "server.tls.cert_file", tls.cert_file!),
    key: await readConfiguredFile(platform, "server.tls.key_file", tls.key_file!),
    ca: tls.client_ca ? await readConfiguredFile(platform, "server.tls.client_ca", tls.client_ca) : undefined,
    requestCert: mode !== "none",
    requireCert: mode === "require" || mode === "require_and_verify",
    verifyCert: mode === "verify" || mode === "require_and_verify",
    minVersion: tls.min_version === "1.3" ? "TLSv1.3" : "TLSv1.2",
    maxVersion: tls.max_version === undefined ? undefined : tls.max_version === "1.3" ? "TLSv1.3" : "TLSv1.2",
  };
}

export async function startServer(config: Config, platform: Platform, logger: Logger): Promise<BridgeServer> {
  const server = config.server!;
  const tls = await tlsOptions(server, platform);
  const scheme = tls ? "https" : "http";
  const host = server.listen.host.includes(":") ? `[${server.listen.host}]` : server.listen.host;
  const displayHost = host === "0.0.0.0" || host === "[::]" ? "127.0.0.1" : host;

  let app: ReturnType<typeof createApp> | undefined;
  const starting = () => jsonError(503, "starting", "the bridge is starting", { "retry-after": "1" });
  const listener = await platform.serve((request, connection) => (app ? app.fetch(request, connection) : starting()), {
    host: server.listen.host,
    port: server.listen.port,
    tls,
    requestTimeout: server.read_timeout,
    idleTimeout: server.idle_timeout,
  });
  const url = `${scheme}://${displayHost}:${listener.port}${server.path}`;
  // The canonical resource (RFC 8707) needs the bound port, so auth is built once listening.
  const resource = server.public_url ?? url;
  let authenticator: Awaited<ReturnType<typeof createAuthenticator>>;
  try {
    authenticator = await createAuthenticator(server.auth, { resource, logger, sha256: platform.sha256 });
  } catch (error) {
    await listener.close();
    // The authenticators throw TypeError for settings they cannot work with (e.g. plain-http IdPs).
    if (error instanceof TypeError) throw new ConfigError("CONFIG_INVALID", [{ path: "server.auth", message: error.message }]);
    throw error;
  }
  const sessions = new SessionManager(server, platform, logger);
  const metrics = new Metrics();
  app = createApp({
    metrics,
    config: server,
    sessions,
    authenticator,
    resource,
    logger,
    // Read per request: the authorization server named is the one discovery found.
    protectedResourceMetadata: authenticator?.protectedResource ? () => protectedResourceMetadata({ resource, ...authenticator.protectedResource! }) : undefined,
  });
  await authenticator?.start?.();
  let ops: Awaited<ReturnType<Platform["serve"]>> | undefined;
  if (server.metrics_listen) {
    const opsApp = createOpsApp({ metrics, sessions, authenticator });
    const address = server.metrics_listen;
    ops = await platform.serve((request) => opsApp.fetch(request), { host: address.host, port: address.port, requestTimeout: server.read_timeout, idleTimeout: server.idle_timeout });
    const opsHost = address.host.includes(":") ? `[${address.host}]` : address.host;
    logger.info("metrics served", { url: `http://${opsHost === "0.0.0.0" || opsHost === "[::]" ? "127.0.0.1" : opsHost}:${ops.port}/metrics` });
    if (!isLoopbackHost(address.host)) logger.warn("server.metrics_listen is not a loopback address: anyone who can reach it can read the metrics and session counts", { listen: address.text });
  }

  const authType = server.auth?.type ?? "none";
  if (authType === "none" && !isLoopbackHost(server.listen.host)) {
    logger.warn("authentication is off on a non-loopback address: anyone who can reach it can use the MCP server", { listen: server.listen.text });
  }
  logger.info("listening", { url, auth: authType, sessions: server.session.mode, tls: Boolean(tls) });
  return {
    url,
    async close() {
      // Sessions end first so open streams close cleanly; then the listener; then wait for children.
      const ending = sessions.close();
      await listener.close();
      await ending;
      await ops?.close();
      authenticator?.close?.();
    },
  };
}
