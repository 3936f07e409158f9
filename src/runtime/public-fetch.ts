/**
 * @module Node: GET of a public https URL with SSRF guards, for documents named by outside input
 * (Client ID Metadata Documents). The address check runs inside the connection's own DNS lookup,
 * so the address checked is the address connected to (no re-resolution in between); redirects are
 * never followed; size and time are bounded.
 */
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { request } from "node:https";
import { BlockList, isIP } from "node:net";
import type { PublicFetch, PublicFetchResult } from "./types.ts";

/**
 * Addresses no public document lives at: loopback, private, link-local, CGNAT, multicast, reserved,
 * documentation — and the IPv6 forms that carry an IPv4 address to a translator (NAT64 incl. the
 * local-use 64:ff9b:1::/48, 6to4, Teredo), which could lead to a private IPv4 address.
 * IPv4-mapped IPv6 (::ffff:a.b.c.d) is checked by BlockList against the IPv4 ranges; a
 * ::ffff:0:0/96 range here would make it refuse every IPv4 address.
 */
const NON_PUBLIC = new BlockList();
for (const [network, prefix] of [
  ["0.0.0.0", 8], ["10.0.0.0", 8], ["100.64.0.0", 10], ["127.0.0.0", 8], ["169.254.0.0", 16], ["172.16.0.0", 12],
  ["192.0.0.0", 24], ["192.0.2.0", 24], ["192.168.0.0", 16], ["198.18.0.0", 15], ["198.51.100.0", 24], ["203.0.113.0", 24], ["224.0.0.0", 3],
] as const) NON_PUBLIC.addSubnet(network, prefix, "ipv4");
for (const [network, prefix] of [
  ["::", 127], ["64:ff9b::", 96], ["64:ff9b:1::", 48], ["100::", 64], ["2001::", 32], ["2001:db8::", 32], ["2002::", 16],
  ["fc00::", 7], ["fe80::", 10], ["fec0::", 10], ["ff00::", 8],
] as const) NON_PUBLIC.addSubnet(network, prefix, "ipv6");

export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  return !NON_PUBLIC.check(address, family === 4 ? "ipv4" : "ipv6");
}

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
        lookup(hostname, lookupOptions, callback) {
          dnsLookup(hostname, { ...lookupOptions, all: true }, (error, addresses) => {
            if (error) return callback(error, "", 0);
            const list = addresses as LookupAddress[];
            const usable = options.allowPrivate ? list : list.filter((entry) => isPublicAddress(entry.address));
            if (usable.length === 0) return callback(new PublicFetchError("the host resolves to an address that is not public"), "", 0);
            if ((lookupOptions as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, usable);
            callback(null, usable[0]!.address, usable[0]!.family);
          });
        },
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
