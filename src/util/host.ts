/** @module Host header values (RFC 9110 §7.2: uri-host [":" port]) in one comparable form. */
import { formatIp, parseIp } from "./cidr.ts";

const NAME = /^[a-z0-9._-]+$/;
const PORT = /^\d{1,5}$/;

export interface HostPort {
  /** Lower-case; an IPv6 literal in brackets and RFC 5952 form (as WHATWG URLs write it). */
  host: string;
  port?: string;
}

function bracketed(address: Uint8Array): string {
  const text = formatIp(address);
  return `[${text.includes(":") ? text : `::ffff:${text}`}]`;
}

/**
 * Splits "name", "name:port", "192.0.2.1:80", "[2001:db8::1]:443" (or, for configuration, an
 * unbracketed IPv6 literal, which cannot carry a port). Undefined for anything else: wildcards,
 * URLs, paths, user info, an unclosed bracket.
 */
export function parseHostPort(value: string): HostPort | undefined {
  const text = value.trim().toLowerCase();
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    const address = close > 0 ? parseIp(text.slice(1, close)) : undefined;
    const rest = text.slice(close + 1);
    if (!address || !text.slice(1, close).includes(":") || (rest !== "" && !(rest.startsWith(":") && PORT.test(rest.slice(1))))) return undefined;
    return rest === "" ? { host: bracketed(address) } : { host: bracketed(address), port: rest.slice(1) };
  }
  const unbracketed = text.indexOf(":") !== text.lastIndexOf(":") ? parseIp(text) : undefined;
  if (unbracketed) return { host: bracketed(unbracketed) };
  const colon = text.lastIndexOf(":");
  const host = colon < 0 ? text : text.slice(0, colon);
  const port = colon < 0 ? undefined : text.slice(colon + 1);
  if (!NAME.test(host) || (port !== undefined && !PORT.test(port))) return undefined;
  // Built plainly, not by spreading: this runs for every request's Host header (guards.ts).
  return port === undefined ? { host } : { host, port };
}

/** "localhost" and the names under it (RFC 6761 §6.3), a trailing dot allowed: always this host, whatever DNS says. */
export function isLocalhostName(host: string): boolean {
  const name = host.toLowerCase().replace(/\.$/, "");
  return name === "localhost" || name.endsWith(".localhost");
}

/**
 * Whether `host` (a URL's hostname or a listen/Host host: IPv6 bracketed or not) is this machine
 * whatever DNS says: 127.0.0.0/8, ::1, or a localhost name. What a loopback listener accepts in
 * Host, and where plain http may be trusted. Redirect URIs use a narrower set (oauth-server/redirect.ts).
 */
export function isLoopbackHost(host: string): boolean {
  return host === "[::1]" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || isLocalhostName(host);
}
