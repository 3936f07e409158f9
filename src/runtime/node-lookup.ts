/**
 * @module Node: name resolution for outgoing connections, with the SSRF address check run inside
 * the connection's own DNS lookup, so the address checked is the address connected to (no
 * re-resolution in between, no DNS rebinding gap). Shared by publicFetch (Client ID Metadata
 * Documents) and the client-mode HTTP client (OAuth discovery and token requests).
 */
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from "node:dns";
import { isIP } from "node:net";
import { isNonPublicAddress } from "../util/cidr.ts";
import type { Resolve } from "./types.ts";

/** True for an IP address on the public Internet (see isNonPublicAddress); false for any other text. */
export function isPublicAddress(address: string): boolean {
  return isIP(address) !== 0 && !isNonPublicAddress(address);
}

/** The system resolver (getaddrinfo, /etc/hosts included): every address of `hostname`. */
export const systemResolve: Resolve = (hostname) =>
  new Promise((resolve, reject) => dnsLookup(hostname, { all: true }, (error, addresses) => (error ? reject(error) : resolve(addresses as LookupAddress[]))));

type LookupCallback = (error: Error | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for net/tls/http(s) connection options: resolves with `resolve`; with `refusal`, keeps
 * only public addresses, and fails with `refusal()` when none remain. Address literals never reach
 * a lookup (Node connects to them directly): check them before connecting.
 */
export function connectLookup(resolve: Resolve, refusal?: () => Error) {
  const publicOnly = refusal !== undefined;
  return (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    resolve(hostname).then(
      (addresses) => {
        const family = options.family === 4 || options.family === 6 ? options.family : undefined;
        const usable = addresses.filter((entry) => (!family || entry.family === family) && (!publicOnly || isPublicAddress(entry.address)));
        if (usable.length === 0) return callback(refusal && addresses.length > 0 ? refusal() : Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" }), "", 0);
        if (options.all) return callback(null, usable);
        callback(null, usable[0]!.address, usable[0]!.family);
      },
      (error: Error) => callback(error, "", 0),
    );
  };
}
