/** @module Small HTTP helpers of the authorization server: bounded form bodies, cookies, redirects, CORS for its public endpoints. */
import { readBodyLimited } from "../util/body.ts";
import { OAuthError } from "./errors.ts";

/** Form bodies (token, revoke, login) are a few hundred bytes; this is generous. */
export const MAX_FORM_BYTES = 16 * 1024;

/**
 * Parses an application/x-www-form-urlencoded body of at most MAX_FORM_BYTES. A parameter sent
 * twice is an error (RFC 6749 §3.1: "Request and response parameters MUST NOT be included more than once").
 */
export async function readForm(request: Request): Promise<Map<string, string>> {
  return uniqueParams(await readFormBody(request));
}

/** The application/x-www-form-urlencoded body of at most MAX_FORM_BYTES, every value kept (for parameters that may repeat). */
export async function readFormBody(request: Request): Promise<URLSearchParams> {
  const type = request.headers.get("content-type") ?? "";
  if (!/^application\/x-www-form-urlencoded\s*(;|$)/i.test(type)) throw new OAuthError("invalid_request", "the body must be application/x-www-form-urlencoded");
  const text = await readBodyLimited(request, MAX_FORM_BYTES);
  if (text === undefined) throw new OAuthError("invalid_request", `the body is larger than ${MAX_FORM_BYTES} bytes`, 413);
  return new URLSearchParams(text);
}

/** The parameters as a map; a repeated one (other than those in `repeatable`) is invalid_request. */
export function uniqueParams(params: URLSearchParams, repeatable: readonly string[] = []): Map<string, string> {
  const { first, repeated } = firstParams(params, repeatable);
  const [name] = repeated;
  if (name !== undefined) throw new OAuthError("invalid_request", `parameter "${name}" is repeated`);
  return first;
}

/**
 * Each parameter's first value, and the names of all those repeated, in the order they first
 * repeat (other than those in `repeatable`; RFC 6749 §3.1 forbids repeats) — all of them, for the
 * authorization endpoint, which must know whether the client or redirect URI is among them to
 * know where such an error may go (RFC 6749 §4.1.2.1), and whether the state is.
 */
export function firstParams(params: URLSearchParams, repeatable: readonly string[] = []): { first: Map<string, string>; repeated: Set<string> } {
  const first = new Map<string, string>();
  const repeated = new Set<string>();
  for (const [key, value] of params) {
    if (!first.has(key)) first.set(key, value);
    else if (!repeatable.includes(key)) repeated.add(key);
  }
  return { first, repeated };
}

/** The value of cookie `name` in the request, if any. */
export function readCookie(request: Request, name: string): string | undefined {
  const header = request.headers.get("cookie");
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** A Set-Cookie value: HttpOnly, Path=/, SameSite, Secure when served over https. */
export function cookie(name: string, value: string, options: { secure: boolean; maxAgeSeconds?: number; sameSite: "Strict" | "Lax" }): string {
  return [
    `${name}=${value}`,
    "Path=/",
    "HttpOnly",
    `SameSite=${options.sameSite}`,
    ...(options.secure ? ["Secure"] : []),
    ...(options.maxAgeSeconds !== undefined ? [`Max-Age=${options.maxAgeSeconds}`] : []),
  ].join("; ");
}

/** 303 to `location` (after a form POST the browser must GET the redirect URI), never cached. */
export function seeOther(location: string, headers: [string, string][] = []): Response {
  const response = new Response(null, { status: 303, headers: { location, "cache-control": "no-store", "referrer-policy": "no-referrer" } });
  for (const [name, value] of headers) response.headers.append(name, value);
  return response;
}

/** `uri` with `params` added to its query (RFC 6749 §4.1.2: existing query components are kept). */
export function withQuery(uri: string, params: Record<string, string | undefined>): string {
  const url = new URL(uri);
  for (const [key, value] of Object.entries(params)) if (value !== undefined) url.searchParams.append(key, value);
  return url.href;
}

/** CORS headers for the endpoints browser-based clients call (metadata, JWKS, token, register, revoke): any origin, no credentials. */
export const PUBLIC_CORS: Record<string, string> = {
  "access-control-allow-origin": "*",
  "access-control-allow-methods": "GET, POST, OPTIONS",
  "access-control-allow-headers": "Authorization, Content-Type, MCP-Protocol-Version",
  "access-control-max-age": "86400",
};

export function withCors(response: Response): Response {
  for (const [name, value] of Object.entries(PUBLIC_CORS)) response.headers.set(name, value);
  return response;
}

/** JSON answer, never cached. */
export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", "cache-control": "no-store", pragma: "no-cache", ...headers } });
}
