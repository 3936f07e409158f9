/**
 * @module DNS-rebinding protection: the Host and Origin a request carries must name this server.
 * A loopback listener accepts only loopback names unless told otherwise (MCP transport spec:
 * "Servers MUST validate the Origin header"). Any listener accepts the host of `public_url`, and
 * `allowed_hosts`. Without allowed_hosts, a non-loopback listener accepts IP literals and
 * loopback names only: a rebinding page reaches the bridge under a name of the attacker's.
 */
import type { ServerConfig } from "../config/schema.ts";
import { isIp } from "../util/cidr.ts";
import { isLoopbackHost, parseHostPort } from "../util/host.ts";
import { memoized } from "../util/memo.ts";

/** Whether a Host header value names loopback: all a loopback-only listener accepts (DNS-rebinding protection). */
export function isLoopbackHostHeader(hostHeader: string): boolean {
  const parsed = parseHostPort(hostHeader);
  return parsed !== undefined && isLoopbackHost(parsed.host);
}

export interface RequestGuard {
  /** A reason to refuse the request with 403, or undefined when it may proceed. */
  check(hostHeader: string | null, originHeader: string | null): string | undefined;
}

export function createRequestGuard(config: ServerConfig): RequestGuard {
  const loopbackListener = isLoopbackHost(config.listen.host);
  // Entries are checked by the config schema; one with a port accepts that port only.
  const entries = config.allowed_hosts.map((entry) => parseHostPort(entry)!);
  const anyPort = new Set(entries.filter((entry) => entry.port === undefined).map((entry) => entry.host));
  const withPort = new Set(entries.filter((entry) => entry.port !== undefined).map((entry) => `${entry.host}:${entry.port}`));
  const allowedOrigins = new Set([...config.allowed_origins, ...(config.cors.enabled ? config.cors.allowed_origins : [])].map((origin) => origin.toLowerCase().replace(/\/$/, "")));
  const publicUrl = config.public_url ? new URL(config.public_url) : undefined;
  if (publicUrl) allowedOrigins.add(publicUrl.origin.toLowerCase());
  const publicHost = publicUrl && parseHostPort(publicUrl.host)?.host;
  // With auth off, "*" is refused by the config rules; with auth on, a page still needs a token.
  const anyOrigin = allowedOrigins.has("*");

  // Remembered (bounded): every request carries one, nearly always the same few.
  const hostAllowed = memoized((hostHeader: string): boolean => {
    const parsed = parseHostPort(hostHeader);
    if (!parsed) return false;
    const name = parsed.host;
    // The proxy in front may forward the public host with or without its port.
    if (name === publicHost) return true;
    if (entries.length > 0) return anyPort.has(name) || (parsed.port !== undefined && withPort.has(`${name}:${parsed.port}`));
    return loopbackListener ? isLoopbackHost(name) : isLoopbackHost(name) || isIp(name);
  });

  return {
    check(hostHeader, originHeader) {
      if (hostHeader !== null && !hostAllowed(hostHeader)) return "Host header not allowed";
      if (originHeader === null || anyOrigin) return undefined;
      const origin = originHeader.toLowerCase();
      if (allowedOrigins.has(origin)) return undefined;
      let url: URL;
      try {
        url = new URL(origin);
      } catch {
        return "Origin header not allowed";
      }
      if (loopbackListener && entries.length === 0 && isLoopbackHost(url.hostname)) return undefined;
      // Same-origin requests (the page was served by this host) are fine on any listener.
      if (hostHeader !== null && url.host === hostHeader.trim().toLowerCase() && !loopbackListener) return undefined;
      return "Origin header not allowed";
    },
  };
}
