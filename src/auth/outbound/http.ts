/** @module The options every request to an authorization server carries: our fetch, a timeout, http only on loopback. */
import * as oauth from "oauth4webapi";
import { isTrustedEndpoint, isTrustedEndpointOf } from "../oauth/http.ts";
import { readBodyLimited } from "../../util/body.ts";
import { OutboundAuthError } from "./errors.ts";
import { quotedValue } from "../../log/sanitize.ts";

/** Largest answer read from an authorization server (token, registration): they are a few KiB. */
const MAX_ANSWER_BYTES = 1024 * 1024;

export interface HttpContext {
  fetch: typeof fetch;
  /** Per-request time limit (ms). */
  timeout: number;
  /**
   * The runtime's half of the SSRF guard (discovery.ts): `fetch` that connects only to public
   * addresses, checked in the connection's own DNS lookup (HttpRequestInit.publicOnly), and whether
   * a host is on the public Internet (HttpClient.isPublicHost). Absent (a test standing in for the
   * network with a fetch of its own): only address literals and localhost names are checked.
   */
  publicOnly?: { fetch: typeof fetch; isPublicHost(hostname: string): Promise<boolean> };
}

/** `http` whose requests connect only to public addresses, where the runtime can tell (HttpContext.publicOnly). */
export function publicHttp(http: HttpContext): HttpContext {
  return http.publicOnly ? { ...http, fetch: http.publicOnly.fetch } : http;
}

/** Refuses endpoints that could be spoofed: plain http beyond loopback, credentials or fragments in the URL. */
export function requireTrusted(url: string, what: string): URL {
  if (!isTrustedEndpoint(url)) throw new OutboundAuthError("discovery", `${what} ${quotedValue(url)} is not an https URL (plain http is allowed on loopback only)`);
  return new URL(url);
}

/** requireTrusted for an endpoint that the metadata of `issuer` names: on loopback only for an issuer there too (isTrustedEndpointOf). */
export function requireTrustedOf(issuer: string, url: string, what: string): URL {
  const trusted = requireTrusted(url, what);
  if (!isTrustedEndpointOf(issuer, url)) throw new OutboundAuthError("discovery", `${what} ${quotedValue(url)} is on this machine, and the authorization server ${quotedValue(issuer)} is not`);
  return trusted;
}

/**
 * oauth4webapi request options for `url`. Its http refusal is lifted only for loopback URLs, which
 * requireTrusted has already checked (tests and local authorization servers).
 */
export function requestOptions(http: HttpContext, url: string | URL): { signal: AbortSignal; [oauth.customFetch]: (url: string, init: RequestInit) => Promise<Response>; [oauth.allowInsecureRequests]?: boolean } {
  const insecure = new URL(url).protocol === "http:";
  return {
    [oauth.customFetch]: (target, init) => boundedFetch(http.fetch, target, init),
    signal: AbortSignal.timeout(http.timeout),
    ...(insecure && { [oauth.allowInsecureRequests]: true }),
  };
}

/** fetch whose answer is read in full up to MAX_ANSWER_BYTES, so a hostile server cannot make the bridge buffer without bound. */
async function boundedFetch(fetchFn: typeof fetch, url: string, init: RequestInit): Promise<Response> {
  const response = await fetchFn(url, init);
  const text = await readBodyLimited(response, MAX_ANSWER_BYTES);
  if (text === undefined) throw new OutboundAuthError("grant", `the answer of ${new URL(url).host} is larger than ${MAX_ANSWER_BYTES} bytes`);
  const bodyless = response.status === 204 || response.status === 304 || (response.status >= 300 && response.status < 400 && !text);
  return new Response(bodyless ? null : text, { status: response.status, statusText: response.statusText, headers: response.headers });
}
