/**
 * @module Outgoing HTTP for client mode on Node: node:http(s) with a keep-alive pool, the TLS
 * options of `client.tls`, and HTTPS_PROXY / HTTP_PROXY / NO_PROXY (CONNECT tunnels for https).
 * Answers are web Responses whose bodies stream, so SSE is read as it arrives. Requests marked
 * publicOnly check addresses in the connection's DNS lookup (node-lookup.ts), on sockets of their
 * own pool: a kept-alive socket another request connected unchecked is never theirs.
 */
import http from "node:http";
import https from "node:https";
import tls from "node:tls";
import { isIP } from "node:net";
import { Readable, type Duplex } from "node:stream";
import { bypassesProxy, HttpRequestError, type HttpRequestErrorCode } from "./http-error.ts";
import { connectLookup, isPublicAddress, systemResolve } from "./node-lookup.ts";
import type { HttpClient, HttpClientOptions, HttpRequestInit } from "./types.ts";

const TLS_ERROR = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_MISMATCH|ERR_OSSL)/;

function classify(error: NodeJS.ErrnoException): HttpRequestErrorCode {
  const code = error.code ?? "";
  if (code === "ECONNREFUSED") return "refused";
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return "dns";
  if (TLS_ERROR.test(code)) return "tls";
  return "reset";
}

/** A CONNECT tunnel through an HTTP proxy, then TLS to the server inside it (RFC 9110 §9.3.6). */
class TunnelingAgent extends https.Agent {
  readonly #proxy: URL;
  constructor(proxy: URL, options: https.AgentOptions) {
    super(options);
    this.#proxy = proxy;
  }
  override createConnection(options: http.ClientRequestArgs, callback?: (error: Error | null, socket: Duplex) => void): Duplex | undefined {
    const proxy = this.#proxy;
    const target = `${options.host}:${options.port}`;
    const headers: Record<string, string> = { host: target };
    if (proxy.username) headers["proxy-authorization"] = `Basic ${Buffer.from(`${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`).toString("base64")}`;
    const connect = (proxy.protocol === "https:" ? https : http).request({ host: proxy.hostname, port: proxy.port || (proxy.protocol === "https:" ? 443 : 80), method: "CONNECT", path: target, headers });
    connect.once("connect", (response, socket) => {
      if (response.statusCode !== 200) {
        socket.destroy();
        callback?.(new HttpRequestError("proxy", `the proxy refused the tunnel to ${target} (HTTP ${response.statusCode})`, { sent: false }), socket);
        return;
      }
      callback?.(null, tls.connect({ ...(options as tls.ConnectionOptions), socket }));
    });
    connect.once("error", (error) => callback?.(new HttpRequestError("proxy", `the proxy ${proxy.host} failed: ${error.message}`, { sent: false, cause: error }), connect.socket!));
    connect.end();
    return undefined;
  }
}

/** Names an HttpClient remembers as having answered from the public Internet (see answeredPublicly). */
const MAX_ANSWERED_NAMES = 64;

export function createNodeHttpClient(options: HttpClientOptions): HttpClient {
  const tlsOptions: https.AgentOptions = {
    ca: options.ca,
    cert: options.cert,
    key: options.key,
    servername: options.serverName,
    rejectUnauthorized: !options.insecureSkipVerify,
    ...(options.serverName !== undefined && {
      // The certificate is checked against server_name rather than the URL's host.
      checkServerIdentity: (_host: string, cert: tls.PeerCertificate) => tls.checkServerIdentity(options.serverName!, cert),
    }),
  };
  const pool = { keepAlive: true, maxFreeSockets: options.maxIdleConnections, timeout: options.idleConnectionTimeout, scheduling: "lifo" as const };
  const httpAgent = new http.Agent(pool);
  const httpsAgent = new https.Agent({ ...pool, ...tlsOptions });
  const httpsProxy = options.proxy.https ? new URL(options.proxy.https) : undefined;
  const httpProxy = options.proxy.http ? new URL(options.proxy.http) : undefined;
  const tunnelAgent = httpsProxy && new TunnelingAgent(httpsProxy, { ...pool, ...tlsOptions });
  const publicHttpAgent = new http.Agent(pool);
  const publicHttpsAgent = new https.Agent({ ...pool, ...tlsOptions });
  const resolveName = options.resolve ?? systemResolve;
  const notPublic = (host: string) => new HttpRequestError("not_public", `${host} is, or resolves only to, a private, loopback or link-local address`, { sent: false });
  // The system's own lookup unless a resolver was given: the same as an unchecked connection always had.
  const plainLookup = options.resolve && connectLookup(options.resolve);
  /**
   * Names that answered this client from a public address, or through a proxy (which reaches the
   * Internet): public for good to isPublicHost, whatever their DNS says later — else a public MCP
   * server's DNS could answer with a private address just when the SSRF guard asks, and unlock the
   * bridge's own network for what its answers lead to. Full (MAX_ANSWERED_NAMES), later names are
   * judged by resolution alone; none is ever dropped, so the first (the MCP server's) stays.
   */
  const answeredPublicly = new Set<string>();

  function fetch(url: string, init: HttpRequestInit): Promise<Response> {
    const target = new URL(url);
    const secure = target.protocol === "https:";
    const direct = bypassesProxy(target.hostname, options.proxy.noProxy);
    const viaHttpProxy = !secure && httpProxy && !direct;
    const host = target.hostname.replace(/^\[|\]$/g, "");
    const publicOnly = init.publicOnly === true;
    const proxied = viaHttpProxy || (secure && tunnelAgent !== undefined && !direct);
    if (publicOnly && isIP(host) && !isPublicAddress(host)) return Promise.reject(notPublic(target.host));
    const lookup = publicOnly ? connectLookup(resolveName, () => notPublic(target.host)) : plainLookup;
    const request: http.RequestOptions = viaHttpProxy
      ? { host: httpProxy.hostname, port: httpProxy.port || 80, path: target.href, agent: httpAgent }
      : {
          host,
          port: target.port || (secure ? 443 : 80),
          path: target.pathname + target.search,
          agent: secure ? (tunnelAgent && !direct ? tunnelAgent : publicOnly ? publicHttpsAgent : httpsAgent) : publicOnly ? publicHttpAgent : httpAgent,
          ...(lookup && { lookup }),
        };
    return new Promise<Response>((resolve, reject) => {
      let connected = false;
      let settled = false;
      const fail = (error: HttpRequestError) => {
        if (settled) return;
        settled = true;
        clearTimeout(connectTimer);
        req.destroy();
        reject(error);
      };
      const req = (secure && !viaHttpProxy ? https : http).request({ ...request, method: init.method, headers: init.headers });
      const connectTimer = setTimeout(
        () => fail(new HttpRequestError("connect_timeout", `no connection to ${target.host} within ${options.connectTimeout} ms`, { sent: false })),
        options.connectTimeout,
      );
      req.once("socket", (socket) => {
        const ready = () => {
          connected = true;
          clearTimeout(connectTimer);
        };
        // A pooled socket is already connected; a new one reports connect (or secureConnect for TLS).
        if (!(socket as { connecting?: boolean }).connecting && (!secure || (socket as tls.TLSSocket).encrypted)) ready();
        else socket.once(secure && !viaHttpProxy ? "secureConnect" : "connect", ready);
      });
      req.once("error", (error: NodeJS.ErrnoException) => {
        if (error instanceof HttpRequestError) return fail(error);
        if (init.signal?.aborted) return fail(new HttpRequestError("aborted", "the request was aborted", { sent: connected }));
        const code = classify(error);
        const sent = connected && code !== "tls";
        fail(new HttpRequestError(sent ? "reset" : code, `${target.host}: ${error.message}`, { sent, cause: error }));
      });
      req.once("response", (res) => {
        if (settled) return void res.destroy();
        settled = true;
        clearTimeout(connectTimer);
        if (!isIP(host) && answeredPublicly.size < MAX_ANSWERED_NAMES && (proxied || isPublicAddress(res.socket?.remoteAddress ?? ""))) answeredPublicly.add(host);
        const status = res.statusCode ?? 0;
        if (status < 200 || status > 599) {
          res.destroy();
          return reject(new HttpRequestError("reset", `${target.host} answered with an invalid status ${status}`, { sent: true }));
        }
        const headers = new Headers();
        for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
          try {
            headers.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
          } catch {
            // A header value the Fetch API refuses is dropped, not fatal.
          }
        }
        const empty = status === 204 || status === 205 || status === 304 || init.method === "DELETE";
        if (empty) res.resume();
        const body = empty ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>);
        init.signal?.addEventListener("abort", () => res.destroy(), { once: true });
        resolve(new Response(body, { status, headers }));
      });
      init.signal?.addEventListener("abort", () => fail(new HttpRequestError("aborted", "the request was aborted", { sent: connected })), { once: true });
      if (init.signal?.aborted) return fail(new HttpRequestError("aborted", "the request was aborted", { sent: false }));
      req.end(init.body);
    });
  }

  return {
    fetch,
    async isPublicHost(hostname) {
      const name = hostname.replace(/^\[|\]$/g, "");
      if (isIP(name)) return isPublicAddress(name);
      if (answeredPublicly.has(name)) return true;
      try {
        return (await resolveName(name)).every((entry) => isPublicAddress(entry.address));
      } catch {
        return true;
      }
    },
    close() {
      httpAgent.destroy();
      httpsAgent.destroy();
      publicHttpAgent.destroy();
      publicHttpsAgent.destroy();
      tunnelAgent?.destroy();
    },
  };
}
