/**
 * @module Node: GET of a public https URL with SSRF guards, for documents named by outside input
 * (Client ID Metadata Documents). The address check runs inside the connection's own DNS lookup,
 * so the address checked is the address connected to (no re-resolution in between); redirects are
 * never followed; size and time are bounded.
 */
import { request } from "node:https";
import { isIP } from "node:net";
import { connectLookup, isPublicAddress, systemResolve } from "./node-lookup.ts";
import type { PublicFetch, PublicFetchResult } from "./types.ts";

export class PublicFetchError extends Error {
  readonly code = "PUBLIC_FETCH_REFUSED";
  constructor(message: string) {
    super(message);
    this.name = "PublicFetchError";
  }
}

export const publicFetch: PublicFetch = (url, options) =>
  new Promise<PublicFetchResult>((resolve, reject) => {
    const target = new URL(url);
    if (target.protocol !== "https:") return reject(new PublicFetchError("only https URLs are fetched"));
    const literal = target.hostname.replace(/^\[|\]$/g, "");
    if (isIP(literal) && !options.allowPrivate && !isPublicAddress(literal)) return reject(new PublicFetchError("the address is not public"));
    const req = request(
      target,
      {
        method: "GET",
        headers: { accept: "application/json" },
        timeout: options.timeout,
        lookup: connectLookup(systemResolve, options.allowPrivate ? undefined : () => new PublicFetchError("the host resolves to an address that is not public")),
      },
      (response) => {
        const status = response.statusCode ?? 0;
        const headers = new Headers();
        for (const [name, value] of Object.entries(response.headers)) if (typeof value === "string") headers.set(name, value);
        if (status >= 300 && status < 400) {
          response.destroy();
          return reject(new PublicFetchError(`answered a redirect (HTTP ${status}), which is not followed`));
        }
        const chunks: Buffer[] = [];
        let size = 0;
        response.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > options.maxBytes) {
            response.destroy();
            reject(new PublicFetchError(`is larger than ${options.maxBytes} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        response.on("end", () => resolve({ status, headers, body: Buffer.concat(chunks).toString("utf8") }));
        response.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new PublicFetchError("timed out")));
    // The socket timeout only notices idleness: a body sent a byte at a time needs a deadline for the whole exchange.
    const deadline = setTimeout(() => req.destroy(new PublicFetchError("timed out")), options.timeout);
    req.on("close", () => clearTimeout(deadline));
    req.on("error", (error) => reject(error instanceof PublicFetchError ? error : new PublicFetchError(`cannot be fetched (${(error as { code?: string }).code ?? error.name})`)));
    req.end();
  });
