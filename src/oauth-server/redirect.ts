/**
 * @module Redirect URI rules, as pure functions: what a client may register (RFC 7591 §2, OAuth
 * 2.1 §2.3.1, RFC 8252 §7.3) and how a request's redirect_uri is matched against a registered one
 * — exactly, except that for loopback redirect URIs only the port may vary (RFC 8252 §7.3).
 * Strings are compared after URL parsing only where the parse is unambiguous; anything the parser
 * would have to repair is refused first.
 */
import { readAlikeByUrlParsers } from "../util/url-text.ts";

/**
 * Loopback redirect URIs, whose port may vary: RFC 8252 §7.3's IP literals and "localhost", which
 * clients register (Claude Code, MCP Inspector). Narrower than util/host.ts isLoopbackHost on
 * purpose: a registered URI is compared as written, and 127.0.0.2 or app.localhost would be a
 * second spelling of the same callback.
 */
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "[::1]", "localhost"]);

/** Schemes that are never a redirect target, even when an operator lists them. */
const DANGEROUS_SCHEMES = new Set(["javascript:", "data:", "vbscript:", "file:", "blob:", "about:", "ftp:", "ws:", "wss:"]);

/** What an authorization response adds to the redirect URI's query (RFC 6749 §4.1.2, RFC 9207). */
const RESPONSE_PARAMETERS = ["code", "state", "iss", "error", "error_description", "error_uri"];

/** True for a private-use URI scheme (RFC 8252 §7.1): neither http(s) nor a dangerous one. */
export function isPrivateUseScheme(url: URL): boolean {
  return url.protocol !== "https:" && url.protocol !== "http:" && !DANGEROUS_SCHEMES.has(url.protocol);
}

/**
 * Why a redirect URI is refused, or undefined when it may be registered by a client of
 * `applicationType`. A private-use scheme (RFC 8252 §7.1) is for native clients only and must be
 * reverse-domain style (`com.example.app:/callback`), unless the operator lists the URI exactly
 * (`operatorListed`: some apps, such as Cursor, use a bare name like `cursor://`).
 */
export function redirectUriProblem(value: string, applicationType: "web" | "native", operatorListed = false): string | undefined {
  // Characters the WHATWG parser would silently drop or rewrite (tabs, newlines, backslashes, spaces).
  if (!readAlikeByUrlParsers(value)) return "contains whitespace, control or non-ASCII characters, or a backslash";
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return "is not an absolute URL";
  }
  if (url.hash || value.includes("#")) return "has a fragment (RFC 6749 §3.1.2)";
  if (url.username || url.password || value.slice(0, value.indexOf(url.host) + 1).includes("@")) return "has user information";
  // In the text as written: the parser has already resolved %2e segments in url.pathname, so the browser would go elsewhere than the text says.
  if (/%(?:2e|2f|5c)/i.test(value.split("?")[0]!) || /(^|\/)\.\.?(\/|$)/.test(value.slice(url.origin.length))) return "has an encoded or dot path segment";
  // RFC 6749 §3.1: response parameters MUST NOT be included more than once; the client would read either.
  const echoed = RESPONSE_PARAMETERS.find((name) => url.searchParams.has(name));
  if (echoed) return `has a "${echoed}" query parameter, which the authorization response sets`;
  const loopback = isLoopbackUrl(url);
  if (url.protocol === "https:") {
    if (applicationType === "web" && loopback) return "is a loopback address, which a web client cannot use (register as application_type native)";
    return undefined;
  }
  if (url.protocol === "http:") {
    if (!loopback) return "uses http on a host that is not loopback; only https, or http on 127.0.0.1, [::1] or localhost, is accepted";
    if (applicationType === "web") return "is a loopback address, which a web client cannot use (register as application_type native)";
    return undefined;
  }
  if (!isPrivateUseScheme(url)) return "uses a scheme that cannot be a redirect target";
  if (applicationType === "web") return "uses a private-use scheme, which only a native client can use (register as application_type native)";
  if (!url.protocol.slice(0, -1).includes(".") && !operatorListed) return "uses a private-use scheme that is not reverse-domain style (com.example.app:/callback, RFC 8252 §7.1) and is not listed in allowed_redirect_uris";
  return undefined;
}

/**
 * What a person is told redirect URI `uri` returns to: its host, but for a private-use scheme the
 * scheme — the browser hands the URI to the app that claims the scheme, whatever host its authority
 * names (`com.example.evil://claude.ai/cb` goes to com.example.evil, not claude.ai).
 */
export function redirectTargetName(uri: string): string {
  const url = new URL(uri);
  return isPrivateUseScheme(url) ? url.protocol.slice(0, -1) : url.host;
}

export function isLoopbackUrl(url: URL): boolean {
  return LOOPBACK_HOSTS.has(url.hostname);
}

/** True when a request's `requested` redirect URI matches the `registered` one (RFC 8252 §7.3 for loopback). */
export function redirectUriMatches(registered: string, requested: string): boolean {
  if (registered === requested) return true;
  let a: URL;
  let b: URL;
  try {
    a = new URL(registered);
    b = new URL(requested);
  } catch {
    return false;
  }
  if (!isLoopbackUrl(a) || a.protocol !== "http:" || b.protocol !== "http:") return false;
  // Only the port may differ, and the rest must be written exactly as registered.
  const withoutPort = (url: URL, text: string) => {
    const authority = url.port ? `${url.hostname}:${url.port}` : url.hostname;
    const at = text.indexOf(authority);
    return at < 0 ? undefined : text.slice(0, at) + url.hostname + text.slice(at + authority.length);
  };
  const left = withoutPort(a, registered);
  return left !== undefined && left === withoutPort(b, requested) && a.hostname === b.hostname;
}

/**
 * True when an error may be sent to the (registered, matched) redirect URI `uri` before the user
 * has seen the bridge's page (RFC 9700 §4.11.2: only to redirect URIs the server trusts): the
 * operator listed it in `allowed` (not merely through "*"), or it stays on the user's device
 * (loopback, private-use scheme). Otherwise anyone could register a site and use the bridge's URL
 * as a link that sends people there.
 */
export function redirectUriTrusted(allowed: readonly string[], uri: string): boolean {
  const url = new URL(uri);
  return isLoopbackUrl(url) || isPrivateUseScheme(url) || allowed.some((entry) => entry !== "*" && redirectUriMatches(entry, uri));
}

/** True when `uri` matches one entry of `allowed` (the operator's allowed_redirect_uris), by the same rules. */
export function redirectUriAllowed(allowed: readonly string[], uri: string): boolean {
  return allowed.some((entry) => entry === "*" || redirectUriMatches(entry, uri));
}

/** scheme://host[:port]/path?query with scheme and host lower-cased and no trailing slash; undefined for non-URLs and fragments. */
function canonicalResource(value: string): string | undefined {
  if (value.includes("#")) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.username || url.password) return undefined;
  return `${url.origin}${url.pathname.replace(/\/+$/, "")}${url.search}`;
}

/**
 * Matches RFC 8707 `resource` values against this server's canonical MCP URL `resource`: scheme
 * and host in any case, with or without a trailing slash (MCP authorization, "Canonical Server
 * URI"), or the bare origin, which serves MCP as well.
 */
export function resourceMatcher(resource: string): (value: string) => boolean {
  const own = canonicalResource(resource);
  const origin = new URL(resource).origin;
  return (value) => {
    const candidate = canonicalResource(value);
    return candidate !== undefined && (candidate === own || candidate === origin);
  };
}
