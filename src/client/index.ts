/**
 * @module Client mode: a local stdio MCP client connected to a remote HTTP MCP server. Wires
 * stdin/stdout, the HTTP client (TLS, proxy), the token source and the transport, and ends the
 * remote session when stdin closes or a signal arrives.
 */
import { createTokenSource, type TokenSourceDeps } from "../auth/outbound/index.ts";
import { openSystemBrowser } from "../runtime/browser.ts";
import { privateFiles } from "../runtime/private-files.ts";
import { ConfigError } from "../config/errors.ts";
import type { ClientConfig } from "../config/schema.ts";
import type { Logger } from "../log/logger.ts";
import { throttledLog } from "../log/throttle.ts";
import { redactUrl } from "../log/sanitize.ts";
import type { HttpClient, Platform } from "../runtime/types.ts";
import { createAnswerBudget } from "./answer-budget.ts";
import { createStdioBridge } from "./bridge.ts";
import { sleep } from "../util/sleep.ts";
import { createRemoteFetch } from "./remote-fetch.ts";
import { selectTransport } from "./select.ts";
import { SHUTDOWN_WAIT_MS } from "./transport.ts";
import { MAX_CONFIGURED_FILE_BYTES } from "../util/bounded-read.ts";

/**
 * The token source's network (TokenSourceDeps `fetch` and `publicOnly`): `fetch` over the client's
 * HTTP client (TLS, proxy) for requests to authorization servers, and its public-only twin for the
 * SSRF guard.
 */
export function authorizationServerFetch(http: HttpClient): Pick<TokenSourceDeps, "fetch" | "publicOnly"> {
  return { fetch: asFetch(http, false), publicOnly: { fetch: asFetch(http, true), isPublicHost: (hostname) => http.isPublicHost(hostname) } };
}

function asFetch(http: HttpClient, publicOnly: boolean): typeof fetch {
  return async (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    const method = (init?.method ?? (input instanceof Request ? input.method : "GET")).toUpperCase();
    if (method !== "GET" && method !== "POST" && method !== "DELETE") throw new TypeError(`unsupported method ${method}`);
    const headers = Object.fromEntries(new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined)).entries());
    const body = init?.body === undefined || init.body === null ? undefined : typeof init.body === "string" ? init.body : await new Response(init.body).text();
    return http.fetch(url, { method, headers, body, signal: init?.signal ?? undefined, ...(publicOnly && { publicOnly }) });
  };
}

/** Where tokens and registrations are cached: $XDG_STATE_HOME/mcp-bridge or ~/.local/state/mcp-bridge. */
function dataDir(env: Platform["env"]): string {
  const home = env.HOME ?? env.USERPROFILE ?? ".";
  return `${env.XDG_STATE_HOME ?? `${home}/.local/state`}/mcp-bridge`;
}

/**
 * The PEM texts `client.tls` names (ca_cert, cert_file, key_file), read as `run` reads them and
 * `check-config` checks them; a ConfigError naming each key whose file cannot be read.
 */
export async function readClientTlsFiles(tls: ClientConfig["tls"], platform: Platform): Promise<{ ca?: string; cert?: string; key?: string }> {
  const keys = ["ca_cert", "cert_file", "key_file"] as const;
  const read = await Promise.allSettled(keys.map((key) => (tls[key] === undefined ? undefined : platform.readTextFile(tls[key], MAX_CONFIGURED_FILE_BYTES))));
  const issues = keys.flatMap((key, i) => {
    const outcome = read[i]!;
    if (outcome.status === "fulfilled") return [];
    const error = outcome.reason as { code?: string; message?: string };
    return [{ path: `client.tls.${key}`, message: `${tls[key]}: ${error.code === "ENOENT" ? "no such file" : error.message}` }];
  });
  if (issues.length > 0) throw new ConfigError("CONFIG_INVALID", issues);
  const [ca, cert, key] = read.map((outcome) => (outcome.status === "fulfilled" ? outcome.value : undefined));
  return { ca, cert, key };
}

/** Runs client mode until stdin ends or SIGINT/SIGTERM; returns the exit code. */
export async function runClient(config: ClientConfig, platform: Platform, logger: Logger): Promise<number> {
  const tls = config.tls;
  if (tls.insecure_skip_verify) {
    logger.warn("client.tls.insecure_skip_verify is on: the remote server's certificate is NOT checked, so anyone on the network path can read and change this traffic, tokens included");
  }
  const { ca, cert, key } = await readClientTlsFiles(tls, platform);
  const env = platform.env;
  const http = platform.createHttpClient({
    ca,
    cert,
    key,
    serverName: tls.server_name,
    insecureSkipVerify: tls.insecure_skip_verify,
    maxIdleConnections: config.max_idle_conns,
    idleConnectionTimeout: config.idle_conn_timeout,
    connectTimeout: config.timeout,
    proxy: {
      https: env.HTTPS_PROXY ?? env.https_proxy,
      http: env.HTTP_PROXY ?? env.http_proxy,
      noProxy: env.NO_PROXY ?? env.no_proxy,
    },
  });
  const tokenSource = await createTokenSource(config.auth, {
    serverUrl: config.url,
    platform,
    logger,
    ...authorizationServerFetch(http),
    dataDir: dataDir(env),
    files: privateFiles,
    openBrowser: openSystemBrowser,
    ...(config.headerVariables && { headerVariables: config.headerVariables }),
  });
  const remoteFetch = createRemoteFetch({
    http,
    tokenSource,
    headers: config.headers,
    timeout: config.timeout,
    retry: config.retry,
    logger,
    resourceUrl: config.url,
  });
  // One budget for the answers being read, those batches keep, and those stdout has not taken yet.
  const answers = createAnswerBudget(config.max_answer_bytes_in_flight);
  const maxMessageChars = config.max_message_size;
  const bridge = createStdioBridge({ transport: () => transport, write: (line) => platform.writeStdout(line), logger, answers, maxMessageChars, drained: () => platform.stdoutDrained() });
  const remoteWarnings = throttledLog(logger, "the remote server's invalid messages", { burst: 10, windowMs: 60_000 });
  const transport = selectTransport(config.transport, {
    url: config.url,
    fetch: remoteFetch,
    logger,
    remoteWarnings,
    deliver: (message, source) => bridge.deliver(message, source),
    refuse: (id, error) => bridge.refuse(id, error),
    ask: (request, signal) => bridge.ask(request, signal),
    timeout: config.timeout,
    maxDelay: config.retry.max_delay,
    sleep,
    drained: () => platform.stdoutDrained(),
    answers,
    maxMessageChars,
  });
  logger.info("client mode started", { url: redactUrl(config.url), transport: config.transport });
  // Someone trying it by hand: stdin is the MCP client's side, which nothing types into.
  if (platform.stdinIsTerminal) {
    platform.writeStderr(`mcp-bridge: client mode for ${redactUrl(config.url)}: it waits for an MCP client's JSON-RPC messages, one per line, on stdin. Start it from your MCP client as a stdio server (docs/client-mode.md); Ctrl-D or Ctrl-C ends it.\n`);
  }

  let stopping = false;
  const reason = await new Promise<string>((resolve) => {
    platform.streamStdin(
      (chunk) => {
        bridge.push(chunk);
        // Read on only once the local client has read the answers: an unread stdout holds the rest back.
        return platform.stdoutDrained();
      },
      (why) => {
        bridge.end();
        stopping = true;
        resolve(why);
      },
    );
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      platform.onSignal(signal, () => {
        // A signal while stopping (after stdin closed, or a second one): the local client will not
        // wait for the cancellations, the session's end or a slow reader of stdout, as server mode's second signal.
        if (stopping) {
          logger.warn("signal while shutting down: exiting now", { signal });
          bridge.failInFlight(signal);
          platform.exit(1);
        }
        stopping = true;
        resolve(signal);
      });
    }
  });
  // MCP's stdio shutdown: the local client closing stdin stops the bridge now (the SDK's clients
  // send SIGTERM 2 s later), so what it left in flight is cancelled, and answered with an error.
  logger.info("shutting down", { reason, in_flight: bridge.inFlight });
  await bridge.cancelInFlight(reason, AbortSignal.timeout(SHUTDOWN_WAIT_MS));
  await transport.close();
  bridge.failInFlight(reason);
  await tokenSource.close();
  http.close();
  // What the rate limit held back is counted at the end of its minute: the exit may come sooner.
  remoteWarnings.flush();
  // The last answers (errors for requests still in flight) must reach a local client slow to read:
  // exiting drops what stdout has not taken. Waited for as long as a read may take.
  await Promise.race([platform.stdoutDrained(true), sleep(config.timeout)]);
  return 0;
}
