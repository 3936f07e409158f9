/**
 * @module The client's address behind reverse proxies (`server.trusted_proxies`): taken from
 * X-Forwarded-For or Forwarded (RFC 7239) only when the peer is a trusted proxy, walking the hops
 * from the nearest and stopping at the first untrusted one, so a client cannot spoof its address
 * by sending the header itself. Used by failure limits, connection caps and logs.
 */
import { canonicalAddress, CidrSet, formatIp, parseIp } from "../util/cidr.ts";

/** Hops looked at, nearest first: a longer header is an attack, not a proxy chain. */
const MAX_HOPS = 32;

/**
 * Splits a Forwarded header on commas outside double quotes (RFC 7239 §4 quoted-string). Quotes that
 * do not pair up are a client's own text with the proxy's element appended after it: split on
 * every comma then, or a client's lone `"` would swallow the element its proxy appended.
 */
function splitElements(header: string): string[] {
  const parts: string[] = [];
  let current = "";
  let quoted = false;
  for (const char of header) {
    if (char === '"') quoted = !quoted;
    if (char === "," && !quoted) {
      parts.push(current);
      current = "";
    } else current += char;
  }
  parts.push(current);
  return quoted ? header.split(",") : parts;
}

/** The address of one hop ("1.2.3.4", "1.2.3.4:80", "[2001:db8::1]:443", "2001:db8::1"), or undefined. */
function hopAddress(value: string): Uint8Array | undefined {
  let text = value.trim().replace(/^"(.*)"$/, "$1");
  if (text.startsWith("[")) text = text.slice(0, text.indexOf("]") + 1);
  else if (/^[\d.]+:\d+$/.test(text)) text = text.slice(0, text.indexOf(":"));
  return parseIp(text);
}

/** The for= values of a Forwarded header, in order (farthest first). */
function forwardedFor(header: string): string[] {
  return splitElements(header).map((element) => {
    for (const pair of element.split(";")) {
      const eq = pair.indexOf("=");
      if (eq > 0 && pair.slice(0, eq).trim().toLowerCase() === "for") return pair.slice(eq + 1);
    }
    return "";
  });
}

export type ClientAddressResolver = (peer: string, headers: Headers) => string;

/**
 * A resolver for the given trusted ranges (CIDR texts, already validated by the config schema).
 * The answer is the canonical text of an address (IPv4-mapped IPv6 as dotted IPv4); with no
 * trusted ranges it is always the peer's. X-Forwarded-For is read when present, else Forwarded:
 * a proxy that writes only Forwarded must drop X-Forwarded-For sent by clients.
 */
export function clientAddressResolver(trustedProxies: readonly string[]): ClientAddressResolver {
  const trusted = new CidrSet(trustedProxies);
  if (trusted.size === 0) return (peer) => canonicalAddress(peer);
  return (peer, headers) => {
    let current = canonicalAddress(peer);
    if (!trusted.contains(current)) return current;
    const xff = headers.get("x-forwarded-for");
    const forwarded = xff === null ? headers.get("forwarded") : null;
    // X-Forwarded-For has no quoting: proxies append ", address" to whatever the client sent.
    const hops = xff !== null ? xff.split(",") : forwarded !== null ? forwardedFor(forwarded) : [];
    for (let i = hops.length - 1, seen = 0; i >= 0 && seen < MAX_HOPS; i--, seen++) {
      const address = hopAddress(hops[i]!);
      // "unknown", an obfuscated name or garbage: the nearest trusted hop is all that is known.
      if (!address) return current;
      current = formatIp(address);
      if (!trusted.contains(address)) return current;
    }
    return current;
  };
}
