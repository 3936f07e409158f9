/** @module The options every request to an authorization server carries: our fetch, a timeout, http only on loopback. */
import * as oauth from "oauth4webapi";
import { isTrustedEndpoint } from "../oauth/http.ts";
import { OutboundAuthError } from "./errors.ts";

export interface HttpContext {
  fetch: typeof fetch;
  /** Per-request time limit (ms). */
  timeout: number;
}

/** Refuses endpoints that could be spoofed: plain http beyond loopback, credentials or fragments in the URL. */
export function requireTrusted(url: string, what: string): URL {
  if (!isTrustedEndpoint(url)) throw new OutboundAuthError("discovery", `${what} ${JSON.stringify(url)} is not an https URL (plain http is allowed on loopback only)`);
  return new URL(url);
}

/**
 * oauth4webapi request options for `url`. Its http refusal is lifted only for loopback URLs, which
 * requireTrusted has already checked (tests and local authorization servers).
 */
export function requestOptions(http: HttpContext, url: string | URL): { signal: AbortSignal; [oauth.customFetch]: typeof fetch; [oauth.allowInsecureRequests]?: boolean } {
  const insecure = new URL(url).protocol === "http:";
  return {
    [oauth.customFetch]: http.fetch,
    signal: AbortSignal.timeout(http.timeout),
    ...(insecure && { [oauth.allowInsecureRequests]: true }),
  };
}
