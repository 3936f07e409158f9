/** @module Server mode: wires config, authenticator, sessions and the HTTP app onto the platform's listener. */
import { createAuthenticator } from "../auth/index.ts";
import { protectedResourceMetadata } from "../auth/prm.ts";
import { ConfigError } from "../config/errors.ts";
import type { Config } from "../config/schema.ts";
import type { Logger } from "../log/logger.ts";
import type { Platform, TlsServeOptions } from "../runtime/types.ts";
import { createApp } from "./app.ts";
import { isLoopbackHost } from "../util/host.ts";
import { jsonError } from "./http-errors.ts";
import { ModernServer } from "./modern.ts";
import { Metrics } from "./metrics.ts";
import { createOpsApp } from "./ops.ts";
import { authSettingIssue, commandWarning, ownUrlHost, reachWarnings, readConfiguredFile } from "./preflight.ts";
import { SessionManager } from "./sessions.ts";
import type { AuthorizationServer } from "../oauth-server/index.ts";
import { throttledLog } from "../log/throttle.ts";
import { CidrSet } from "../util/cidr.ts";
import { loggedCommand } from "./child.ts";

/** Loaded only when enabled: the authorization server brings jose, bcryptjs and the state store. */
async function startAuthorizationServer(config: Config, platform: Platform, logger: Logger, resource: string): Promise<AuthorizationServer> {
  const { createAuthorizationServer } = await import("../oauth-server/index.ts");
  const federated = config.server!.oauth_server.federated;
  return createAuthorizationServer({
    config: config.server!.oauth_server,
    storage: config.storage,
    resource,
    platform,
    logger,
    createUpstreamLogin: async (context) => (await import("../oauth-server/federated/index.ts")).startFederatedLogin(federated, { ...context, env: platform.env }),
  });
}

export interface BridgeServer {
  /** URL of the MCP endpoint as bound (the real port when 0 was configured). */
  readonly url: string;
  /** Ends sessions and waits (bounded by mcp_server.graceful_shutdown_timeout, twice) for every child's process group. */
  close(): Promise<void>;
  /** SIGKILL to every child's process group, now. */
  kill(): void;
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

/** OpenSSL's refusal of the certificate and key (the key of another certificate) as a config error naming server.tls (exit 2). */
function tlsStartError(error: unknown): unknown {
  const code = (error as { code?: unknown }).code;
  if (typeof code !== "string" || !code.startsWith("ERR_OSSL")) return error;
  return new ConfigError("CONFIG_INVALID", [{ path: "server.tls", message: `cert_file and key_file cannot be used together (${(error as Error).message}): the key must be the certificate's own` }]);
}

/**
 * A listener that cannot bind, said with the key to change (`server.listen` or
 * `server.metrics_listen`) and the fix; other errors are returned as they are. Node and Deno both
 * give the socket error's `code` (EADDRINUSE, EACCES, EADDRNOTAVAIL).
 */
function listenStartError(error: unknown, key: string, address: string): unknown {
  const code = (error as { code?: unknown }).code;
  const why =
    code === "EADDRINUSE"
      ? `the address is already in use (another mcp-bridge, or another program); stop it, or give ${key} another port`
      : code === "EACCES"
        ? `permission denied (ports below 1024 need privileges); give ${key} a port from 1024 up`
        : code === "EADDRNOTAVAIL"
          ? `no network interface of this machine has that address; give ${key} one it has, or ":port" for every interface`
          : undefined;
  return why ? new Error(`cannot listen on ${address} (${key}): ${why}`, { cause: error }) : error;
}

export async function startServer(config: Config, platform: Platform, logger: Logger): Promise<BridgeServer> {
  const server = config.server!;
  const tls = await tlsOptions(server, platform);
  const scheme = tls ? "https" : "http";
  const displayHost = ownUrlHost(server.listen.host);

  let app: ReturnType<typeof createApp> | undefined;
  // A flood of refused connections is one summary line, not a line each.
  const refusals = throttledLog(logger, "connection refused", { burst: 10, windowMs: 60_000 });
  // Likewise for connections closed by the write timeout (a client stalling many at once).
  const stalls = throttledLog(logger, "write timeout", { burst: 10, windowMs: 60_000 });
  const metrics = new Metrics();
  const onStalledConnection = (address: string) => {
    stalls.write("warn", "connection closed: the client stopped reading its response (server.write_timeout)", { remote: address });
    metrics.count("mcp_bridge_write_timeouts_total", "Connections closed because the client took no bytes of a response for server.write_timeout");
  };
  const trustedProxies = new CidrSet(server.trusted_proxies);
  const starting = () => jsonError(503, "starting", "the bridge is starting", { "retry-after": "1" });
  const listener = await platform.serve((request, connection) => (app ? app.fetch(request, connection) : starting()), {
    host: server.listen.host,
    port: server.listen.port,
    tls,
    requestTimeout: server.read_timeout,
    idleTimeout: server.idle_timeout,
    writeTimeout: server.write_timeout,
    onStalledConnection,
    headerTimeout: server.header_timeout,
    maxConnections: server.max_connections,
    maxConnectionsPerAddress: server.max_connections_per_address,
    // A trusted proxy carries many clients on its connections; they are told apart per request.
    exemptPeer: trustedProxies.size > 0 ? (address) => trustedProxies.contains(address) : undefined,
    onRefusedConnection: (reason, address) => refusals.write("warn", "connection refused", { reason, remote: address }),
  }).catch((error: unknown) => Promise.reject(listenStartError(tls ? tlsStartError(error) : error, "server.listen", server.listen.text)));
  const url = `${scheme}://${displayHost}:${listener.port}${server.path}`;
  // The canonical resource (RFC 8707) needs the bound port, so auth is built once listening.
  const resource = server.public_url ?? url;
  let authenticator: Awaited<ReturnType<typeof createAuthenticator>>;
  let authorizationServer: AuthorizationServer | undefined;
  try {
    // The authorization server's tokens are validated by the same JWT authenticator as any IdP's.
    const context = { resource, logger, sha256: platform.sha256 };
    if (server.oauth_server.enabled) {
      authorizationServer = await startAuthorizationServer(config, platform, logger, resource);
      const own = (await createAuthenticator(authorizationServer.authConfig(server.auth), { ...context, fetch: authorizationServer.fetch }))!;
      // Static bearer tokens (machines) may be accepted next to the server's own JWTs.
      authenticator = authorizationServer.withChallengeScopes(server.auth?.type === "bearer" ? (await import("../auth/either.ts")).eitherAuthenticator(own, (await createAuthenticator(server.auth, context))!) : own);
    } else {
      authenticator = await createAuthenticator(server.auth, context);
    }
  } catch (error) {
    await authorizationServer?.close();
    await listener.close();
    // The authenticators throw TypeError for settings they cannot work with (e.g. plain-http IdPs).
    if (error instanceof TypeError) throw new ConfigError("CONFIG_INVALID", [authSettingIssue(error)]);
    throw error;
  }
  const sessions = new SessionManager(server, platform, logger);
  const unrunnable = commandWarning(server, platform);
  if (unrunnable) logger.warn(unrunnable, { command: loggedCommand(server.mcp_server!.command) });
  const modern = new ModernServer(server, platform, logger, () => sessions.slots);
  sessions.otherChildren = () => modern.pool.size;
  sessions.makeRoom = () => modern.pool.makeRoom();
  sessions.otherChildrenOf = (owner) => modern.pool.childrenOf(owner);
  modern.pool.othersOf = (owner) => sessions.slotsOf(owner);
  modern.pool.starts = sessions.starts;
  app = createApp({
    metrics,
    config: server,
    sessions,
    authenticator,
    resource,
    logger,
    modern,
    // Read per request: the authorization server named is the one discovery found.
    protectedResourceMetadata: authenticator?.protectedResource ? () => protectedResourceMetadata({ resource, ...authenticator.protectedResource! }) : undefined,
    authorizationServer,
  });
  await authenticator?.start?.();
  let ops: Awaited<ReturnType<Platform["serve"]>> | undefined;
  if (server.metrics_listen) {
    const address = server.metrics_listen;
    const opsApp = createOpsApp({ metrics, sessions, authenticator, loopback: isLoopbackHost(address.host), modernChildren: () => modern.pool.size });
    ops = await platform.serve((request) => opsApp.fetch(request), {
      host: address.host,
      port: address.port,
      requestTimeout: server.read_timeout,
      idleTimeout: server.idle_timeout,
      writeTimeout: server.write_timeout,
      onStalledConnection,
      // Scrapers are few: the operators' listener gets the same socket bounds, never more.
      headerTimeout: server.header_timeout,
      maxConnections: server.max_connections,
      maxConnectionsPerAddress: server.max_connections_per_address,
    }).catch((error: unknown): never => {
      throw listenStartError(error, "server.metrics_listen", address.text);
    });
    const opsHost = address.host.includes(":") ? `[${address.host}]` : address.host;
    logger.info("metrics served", { url: `http://${opsHost === "0.0.0.0" || opsHost === "[::]" ? "127.0.0.1" : opsHost}:${ops.port}/metrics` });
  }
  for (const warning of reachWarnings(server)) logger.warn(warning.message, { listen: warning.listen });

  const authType = authorizationServer ? "oauth_server" : (server.auth?.type ?? "none");
  logger.info("listening", { url, auth: authType, sessions: server.session.mode, tls: Boolean(tls) });
  return {
    url,
    kill: () => {
      sessions.kill();
      modern.pool.kill();
    },
    async close() {
      // Sessions end first so open streams close cleanly; then the listener; then wait for children.
      const processes = sessions.liveChildren + modern.pool.size;
      if (processes > 0) {
        const grace = server.mcp_server!.graceful_shutdown_timeout;
        logger.info("waiting for MCP server processes to exit: stdin closed, then SIGTERM, then SIGKILL", { processes, sigterm_after_ms: grace, sigkill_after_ms: 2 * grace });
      }
      const ending = Promise.all([sessions.close(), modern.close()]);
      await listener.close();
      await ending;
      await ops?.close();
      authenticator?.close?.();
      await authorizationServer?.close();
    },
  };
}
