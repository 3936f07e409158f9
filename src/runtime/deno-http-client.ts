/**
 * @module Outgoing HTTP for client mode on Deno: fetch with a Deno.HttpClient for CA and client
 * certificates. Deno reads HTTPS_PROXY / HTTP_PROXY / NO_PROXY itself. It cannot check a
 * certificate against another name or skip verification per client, so `server_name` and
 * `insecure_skip_verify` fail at start-up rather than being ignored. Deno's fetch resolves names
 * itself, with no hook to check the address it connects to: a publicOnly request refuses address
 * literals off the public Internet, but not a name that resolves to one (docs/client-auth.md).
 *
 * Deno's fetch does not say when it is connected, so `connectTimeout` is not applied here: callers
 * bound what they do not wait for with their signal (remote-fetch), and the system's connect timeout
 * bounds connecting. No connection is reused: on a reused one that breaks after the request went out,
 * Deno's fetch sends the request again on a new one, and a tools/call must never run twice.
 */
/// <reference path="./deno.d.ts" />
import { isNonPublicAddress } from "../util/cidr.ts";
import { HttpRequestError } from "./http-error.ts";
import type { HttpClient, HttpClientOptions, HttpRequestInit } from "./types.ts";

export function createDenoHttpClient(options: HttpClientOptions): HttpClient {
  if (options.serverName !== undefined) throw new Error("client.tls.server_name is not supported under Deno; use the release binary or Node");
  if (options.insecureSkipVerify) throw new Error("client.tls.insecure_skip_verify is not supported under Deno; use the release binary or Node");
  const client = Deno.createHttpClient({
    poolMaxIdlePerHost: 0,
    ...(options.ca !== undefined && { caCerts: [options.ca] }),
    ...(options.cert !== undefined && options.key !== undefined && { cert: options.cert, key: options.key }),
  });
  return {
    async fetch(url: string, init: HttpRequestInit): Promise<Response> {
      const host = new URL(url).hostname;
      if (init.publicOnly && isNonPublicAddress(host)) throw new HttpRequestError("not_public", `${host} is a private, loopback or link-local address`, { sent: false });
      try {
        // Redirects are answers, as on Node: followed, one would carry the message and the configured headers to wherever it points.
        return await fetch(url, { method: init.method, headers: init.headers, body: init.body, signal: init.signal, client, redirect: "manual" } as RequestInit);
      } catch (error) {
        if (init.signal?.aborted) throw new HttpRequestError("aborted", "the request was aborted", { sent: true, cause: error });
        const message = reasonOf(error);
        if (/refused/i.test(message)) throw new HttpRequestError("refused", message, { sent: false, cause: error });
        if (/dns|lookup|resolve/i.test(message)) throw new HttpRequestError("dns", message, { sent: false, cause: error });
        if (/certificate|tls|ssl/i.test(message)) throw new HttpRequestError("tls", message, { sent: false, cause: error });
        if (/\(Connect\)[^]*timed out/i.test(message)) throw new HttpRequestError("connect_timeout", message, { sent: false, cause: error });
        throw new HttpRequestError("reset", message, { sent: true, cause: error });
      }
    },
    // Names cannot be checked where they are connected to (see above): only literals are told apart.
    isPublicHost: async (hostname) => !isNonPublicAddress(hostname),
    close: () => client.close(),
  };
}

/**
 * Why a fetch failed, without the URL: Deno 2.9 throws "fetch failed" and puts the reason in `cause`
 * ("error sending request for url (…): client error (Connect): tcp connect error: Connection refused (os error 111)").
 */
function reasonOf(error: unknown): string {
  const cause = (error as { cause?: unknown })?.cause;
  const text = cause instanceof Error ? cause.message : error instanceof Error ? error.message : String(error);
  return text.replace(/^error sending request .*?\): /, "");
}
