/**
 * @module Outgoing HTTP for client mode on Deno: fetch with a Deno.HttpClient for CA and client
 * certificates. Deno reads HTTPS_PROXY / HTTP_PROXY / NO_PROXY itself. It cannot check a
 * certificate against another name or skip verification per client, so `server_name` and
 * `insecure_skip_verify` fail at start-up rather than being ignored. Deno's fetch resolves names
 * itself, with no hook to check the address it connects to: a publicOnly request refuses address
 * literals off the public Internet, but not a name that resolves to one (docs/client-auth.md).
 */
/// <reference path="./deno.d.ts" />
import { isNonPublicAddress } from "../util/cidr.ts";
import { HttpRequestError } from "./http-error.ts";
import type { HttpClient, HttpClientOptions, HttpRequestInit } from "./types.ts";

export function createDenoHttpClient(options: HttpClientOptions): HttpClient {
  if (options.serverName !== undefined) throw new Error("client.tls.server_name is not supported under Deno; use the release binary or Node");
  if (options.insecureSkipVerify) throw new Error("client.tls.insecure_skip_verify is not supported under Deno; use the release binary or Node");
  const client = Deno.createHttpClient({
    ...(options.ca !== undefined && { caCerts: [options.ca] }),
    ...(options.cert !== undefined && options.key !== undefined && { cert: options.cert, key: options.key }),
  });
  return {
    async fetch(url: string, init: HttpRequestInit): Promise<Response> {
      const host = new URL(url).hostname;
      if (init.publicOnly && isNonPublicAddress(host)) throw new HttpRequestError("not_public", `${host} is a private, loopback or link-local address`, { sent: false });
      const signals = [AbortSignal.timeout(options.connectTimeout), ...(init.signal ? [init.signal] : [])];
      try {
        // Deno's fetch does not say when the connection is up: the connect timeout covers the response headers.
        // Redirects are answers, as on Node: followed, one would carry the message and the configured headers to wherever it points.
        return await fetch(url, { method: init.method, headers: init.headers, body: init.body, signal: AbortSignal.any(signals), client, redirect: "manual" } as RequestInit);
      } catch (error) {
        if (init.signal?.aborted) throw new HttpRequestError("aborted", "the request was aborted", { sent: true, cause: error });
        const message = error instanceof Error ? error.message : String(error);
        if (/refused/i.test(message)) throw new HttpRequestError("refused", message, { sent: false, cause: error });
        if (/dns|lookup|resolve/i.test(message)) throw new HttpRequestError("dns", message, { sent: false, cause: error });
        if (/certificate|tls|ssl/i.test(message)) throw new HttpRequestError("tls", message, { sent: false, cause: error });
        if ((error as Error)?.name === "TimeoutError") throw new HttpRequestError("timeout", `no response within ${options.connectTimeout} ms`, { sent: true, cause: error });
        throw new HttpRequestError("reset", message, { sent: true, cause: error });
      }
    },
    // Names cannot be checked where they are connected to (see above): only literals are told apart.
    isPublicHost: async (hostname) => !isNonPublicAddress(hostname),
    close: () => client.close(),
  };
}
