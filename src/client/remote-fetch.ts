/**
 * @module One function for every HTTP request to the remote server: configured headers, the
 * token source's Authorization, the response-header timeout (none for a JSON-RPC request's answer,
 * which takes as long as the tool runs), and the only retry loop there is
 * (so retries never nest). Retried only where the server cannot have acted on the request: a
 * connection that was never made, 429 and 503 (honouring Retry-After), and one retry after the
 * token source has answered a 401/403 challenge.
 */
import type { TokenSource } from "../auth/outbound/types.ts";
import type { Logger } from "../log/logger.ts";
import { isCredentialHeader, redactValues, urlCredentials } from "../log/sanitize.ts";
import { HttpRequestError } from "../runtime/http-error.ts";
import type { HttpClient, HttpRequestInit } from "../runtime/types.ts";
import { anySignal } from "../util/any-signal.ts";
import { sleep as defaultSleep } from "../util/sleep.ts";
import { ClientTransportError } from "./errors.ts";

export interface RetryPolicy {
  enabled: boolean;
  /** Retries after the first attempt. */
  max_retries: number;
  /** ms */
  initial_delay: number;
  /** ms */
  max_delay: number;
  multiplier: number;
}

export interface RemoteFetchOptions {
  http: HttpClient;
  tokenSource: TokenSource;
  /** Added to every request (client.headers). */
  headers: Readonly<Record<string, string>>;
  /** Time allowed until the response headers arrive (ms), unless the request awaits an answer. */
  timeout: number;
  retry: RetryPolicy;
  logger: Logger;
  /** The MCP endpoint: the resource tokens are for. */
  resourceUrl: string;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export interface RemoteFetchExtra {
  /**
   * The body is a JSON-RPC request whose response head may come only once the server has the
   * answer (a JSON reply to a long tool call): no header timeout, so it waits as long as
   * `init.signal` lives (the local client's cancellation, the bridge's shutdown). Connecting is
   * still bounded by the HTTP client's connect timeout, and reading the body by the caller's idle timeout.
   */
  awaitsAnswer?: boolean;
}

export type RemoteFetch = (url: string, init: HttpRequestInit, extra?: RemoteFetchExtra) => Promise<Response>;

/** A Retry-After longer than this (client.timeout for what is not a JSON-RPC request) is not waited for: the request fails and says when to come back. */
const LONGEST_RETRY_AFTER_MS = 60_000;

const RETRYABLE_BEFORE_SEND = new Set(["refused", "connect_timeout", "dns"]);

/** The credential values each answer's request carried (its token, the configured headers whose names suggest a credential, its URL's), for redactSent. */
const sentCredentials = new WeakMap<Response, string[]>();

/**
 * `text`, read from `response`, with the credentials its request carried replaced by
 * "[redacted]": a server that repeats them (a 401 naming the token it refuses, a debug page
 * dumping the request's headers) must not put them in the bridge's logs or its errors.
 */
export function redactSent(response: Response, text: string): string {
  return redactValues(text, sentCredentials.get(response) ?? []);
}

/** Retry-After as milliseconds from now (RFC 9110 §10.2.3: delay-seconds or an HTTP-date). */
export function retryAfterMs(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

export function createRemoteFetch(options: RemoteFetchOptions): RemoteFetch {
  const sleep = options.sleep ?? defaultSleep;
  const { retry, logger } = options;
  // Lower case, so a configured "Authorization" and the token source's never go out as two headers.
  const configured = Object.fromEntries(Object.entries(options.headers).map(([name, value]) => [name.toLowerCase(), value]));
  // "Scheme credential" values by their credential: a server may name just the token.
  const credentialOf = (value: string) => value.replace(/^\S+\s+(?=\S+$)/, "");
  // Only what may be a credential: an X-Tenant's value in an error is what the user needs to read.
  const configuredCredentials = Object.entries(configured)
    .map(([name, value]) => [name, credentialOf(value)] as const)
    .filter(([name, value]) => isCredentialHeader(name, value))
    .map(([, value]) => value);

  /** One request; `sent` records the Authorization it carried, for the token source's challenge handling. */
  async function attempt(url: string, init: HttpRequestInit, sent: { authorization?: string }, awaitsAnswer: boolean): Promise<Response> {
    const authorization = await options.tokenSource.authorization();
    sent.authorization = authorization;
    const headers: Record<string, string> = { ...configured, ...init.headers };
    if (authorization !== undefined) headers.authorization = authorization;
    const proof = await options.tokenSource.proof?.({ method: init.method ?? "GET", url });
    if (proof !== undefined) headers.dpop = proof;
    const controller = new AbortController();
    // For the life of the response: aborting the caller's signal must also close a streaming body
    // (on a 2026-07-28 server, closing the reply stream is how a request is cancelled). Combined
    // rather than listened to: the caller's signal may outlive thousands of requests (the shutdown signal).
    const signal = anySignal(init.signal ?? undefined, controller.signal)!;
    let timedOut = false;
    const timer = awaitsAnswer
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          controller.abort();
        }, options.timeout);
    try {
      const response = await options.http.fetch(url, { ...init, headers, signal });
      // The URL's own credentials too (a key in client.url's path): a 404 page repeats the path.
      sentCredentials.set(response, [...configuredCredentials, ...urlCredentials(url), ...(authorization === undefined ? [] : [credentialOf(authorization)])]);
      return response;
    } catch (error) {
      if (timedOut) throw new ClientTransportError("timeout", `${new URL(url).host} did not answer within ${options.timeout} ms (client.timeout)`, { cause: error });
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  return async function remoteFetch(url, init, extra) {
    let retries = 0;
    // A token, then (DPoP) a nonce: two challenges per request at most.
    let challenges = 0;
    let delay = retry.initial_delay;
    const backoff = async (wait: number, why: string) => {
      logger.debug("retrying request to the remote server", { method: init.method, reason: why, delay_ms: wait, retry: retries + 1 });
      retries++;
      await sleep(wait, init.signal);
      delay = Math.min(retry.max_delay, delay * retry.multiplier);
      if (init.signal?.aborted) throw new ClientTransportError("closed", "the request was cancelled");
    };
    for (;;) {
      let response: Response;
      const sent: { authorization?: string } = {};
      try {
        response = await attempt(url, init, sent, extra?.awaitsAnswer === true);
      } catch (error) {
        if (error instanceof ClientTransportError) throw error;
        if (!(error instanceof HttpRequestError)) throw new ClientTransportError("network", `request to ${new URL(url).host} failed: ${String(error)}`, { cause: error });
        if (error.code === "aborted") throw new ClientTransportError("closed", "the request was cancelled", { cause: error });
        if (!error.sent && RETRYABLE_BEFORE_SEND.has(error.code) && retry.enabled && retries < retry.max_retries) {
          await backoff(delay, error.code);
          continue;
        }
        const host = new URL(url).host;
        // The runtime's message may already start with the host ("127.0.0.1:8080: connect ECONNREFUSED …"): named once.
        const reason = (error.message.startsWith(`${host}: `) ? error.message.slice(host.length + 2) : error.message).trimEnd();
        // https:// to a plain port, or a certificate refused for want of its CA or for another name: the fix is named.
        const fix = /wrong version number/i.test(reason)
          ? " (no TLS at that port: is the server's URL http://?)"
          : error.code !== "tls"
            ? ""
            : /altnames|does not match/i.test(reason)
              ? " (the certificate names another host: client.tls.server_name gives the name it holds)"
              : /self.signed|unable to (?:verify|get)|issuer/i.test(reason)
                ? " (signed by a CA this machine does not trust: give its certificate with connect --ca-cert FILE, or client.tls.ca_cert)"
                : "";
        throw new ClientTransportError(error.sent ? "network" : "unreachable", `cannot reach ${host}: ${reason}${fix}`, { cause: error });
      }
      if ((response.status === 429 || response.status === 503) && retry.enabled && retries < retry.max_retries) {
        const after = retryAfterMs(response.headers.get("retry-after"));
        // What must answer within client.timeout (a notification's 202, server/discover) is not held longer by one wait.
        if (after === undefined || after <= (extra?.awaitsAnswer ? LONGEST_RETRY_AFTER_MS : Math.min(LONGEST_RETRY_AFTER_MS, options.timeout))) {
          await response.body?.cancel().catch(() => {});
          await backoff(Math.max(after ?? 0, delay), `HTTP ${response.status}`);
          continue;
        }
      }
      if ((response.status === 401 || response.status === 403) && challenges < 2) {
        challenges++;
        const dpopNonce = response.headers.get("dpop-nonce");
        const retryable = await options.tokenSource.handleChallenge({
          status: response.status,
          wwwAuthenticate: response.headers.get("www-authenticate"),
          resourceUrl: options.resourceUrl,
          ...(sent.authorization !== undefined && { sentAuthorization: sent.authorization }),
          ...(dpopNonce !== null && { dpopNonce }),
        });
        if (retryable) {
          await response.body?.cancel().catch(() => {});
          continue;
        }
        // The refusal's own body says only "unauthorized": the local client learns why no token came.
        const failure = options.tokenSource.failure?.();
        if (failure) {
          await response.body?.cancel().catch(() => {});
          // A 401 naming no Protected Resource Metadata is often a server that takes a static token, not OAuth: the failure of the guessed sign-in alone misleads.
          const staticToken = response.status === 401 && !/resource_metadata\s*=/i.test(response.headers.get("www-authenticate") ?? "") ? "; its challenge names no authorization server (no resource_metadata): if it takes a static token, give it (connect --token-env VAR, or client.auth.type: bearer)" : "";
          throw new ClientTransportError("http", `${new URL(url).host} answered HTTP ${response.status}, and signing in failed: ${failure}${staticToken}`, { status: response.status });
        }
      }
      return response;
    }
  };
}
