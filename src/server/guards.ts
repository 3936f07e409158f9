/**
 * @module DNS-rebinding protection: the Host and Origin a request carries must name this server.
 * A loopback listener accepts only loopback names unless told otherwise (MCP transport spec:
 * "Servers MUST validate the Origin header").
 */
import type { ServerConfig } from "../config/schema.ts";

const LOOPBACK_NAMES = new Set(["localhost", "127.0.0.1", "[::1]", "::1"]);

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_NAMES.has(host) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** The host name of a Host header value, without the port; lower-cased. */
function hostName(hostHeader: string): string {
  const value = hostHeader.trim().toLowerCase();
  if (value.startsWith("[")) return value.slice(0, value.indexOf("]") + 1);
  const colon = value.indexOf(":");
  return colon < 0 ? value : value.slice(0, colon);
}

export interface RequestGuard {
  /** A reason to refuse the request with 403, or undefined when it may proceed. */
  check(hostHeader: string | null, originHeader: string | null): string | undefined;
}

export function createRequestGuard(config: ServerConfig): RequestGuard {
  const loopbackListener = isLoopbackHost(config.listen.host);
  const allowedHosts = new Set(config.allowed_hosts.map((host) => host.toLowerCase()));
  const exactHosts = new Set([...allowedHosts].filter((host) => host.includes(":") && !host.startsWith("[")));
  const allowedOrigins = new Set([...config.allowed_origins, ...(config.cors.enabled ? config.cors.allowed_origins : [])].map((origin) => origin.toLowerCase().replace(/\/$/, "")));
  const publicOrigin = config.public_url ? new URL(config.public_url).origin.toLowerCase() : undefined;
  if (publicOrigin) allowedOrigins.add(publicOrigin);
  const anyOrigin = allowedOrigins.has("*");

  function hostAllowed(hostHeader: string): boolean {
    const name = hostName(hostHeader);
    if (allowedHosts.size > 0) return allowedHosts.has(name) || exactHosts.has(hostHeader.trim().toLowerCase());
    return loopbackListener ? isLoopbackHost(name) : true;
  }

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
      if (loopbackListener && allowedHosts.size === 0 && isLoopbackHost(url.hostname)) return undefined;
      // Same-origin requests (the page was served by this host) are fine on any listener.
      if (hostHeader !== null && url.host === hostHeader.trim().toLowerCase() && !loopbackListener) return undefined;
      return "Origin header not allowed";
    },
  };
}
