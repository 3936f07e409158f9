/** @module Upstream HTTP plumbing shared by discovery, JWKS and introspection: URL policy, bounded JSON bodies, timers. */
import { readBodyLimited } from "../../util/body.ts";
import { isLoopbackHost } from "../../util/host.ts";

/** Thrown when an upstream answer cannot be used; `reason` is safe to log (never holds a token). */
export class UpstreamError extends Error {
  readonly reason: string;
  /** A misconfiguration or an attack (e.g. an issuer mismatch), not an outage: trying elsewhere will not help. */
  readonly permanent: boolean;
  constructor(reason: string, options: { cause?: unknown; permanent?: boolean } = {}) {
    super(reason, { cause: options.cause });
    this.name = "UpstreamError";
    this.reason = reason;
    this.permanent = options.permanent ?? false;
  }
}

/**
 * An OAuth error code from another party (RFC 6749 §4.1.2.1, §5.2), as it may be repeated in an
 * error message: the defined codes are short lower-case tokens, so anything else (markup, escape
 * sequences, pages of text) is undefined, for the caller's fixed words.
 */
export function oauthErrorCode(value: unknown): string | undefined {
  return typeof value === "string" && /^[a-z_]{1,64}$/.test(value) ? value : undefined;
}

/**
 * Whether keys, metadata or introspection answers may be fetched from `url`. Plain http lets anyone
 * on the path substitute signing keys, so it is allowed only on loopback (RFC 8414 §2 requires
 * https issuers; RFC 7662 §4 requires TLS for introspection).
 */
export function isTrustedEndpoint(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.username || url.password || url.hash) return false;
  return url.protocol === "https:" || (url.protocol === "http:" && isLoopbackHost(url.hostname));
}

/**
 * Whether an endpoint named in the metadata of issuer `issuer` may be used: isTrustedEndpoint, and
 * on loopback (plain http or not) only for an issuer on loopback itself. A remote provider must not
 * point the bridge (and the client credentials it sends) at services on the bridge's own machine.
 */
export function isTrustedEndpointOf(issuer: string, value: string): boolean {
  if (!isTrustedEndpoint(value)) return false;
  return !isLoopbackHost(new URL(value).hostname) || (URL.canParse(issuer) && isLoopbackHost(new URL(issuer).hostname));
}

/** Why isTrustedEndpointOf refused an endpoint, for the error that names it. */
export const UNTRUSTED_ENDPOINT = "must be an https URL (an address on this machine only for an issuer there too)";

/** Reads a JSON object from `response`, refusing bodies over `limit` bytes and non-2xx answers (UpstreamError, see readJsonBody). */
export async function readJsonObject(response: Response, limit: number, what: string): Promise<Record<string, unknown>> {
  if (!response.ok) {
    await response.body?.cancel().catch(() => {});
    throw new UpstreamError(`${what} answered HTTP ${response.status}`);
  }
  return readJsonBody(response, limit, what);
}

/**
 * Reads a JSON object from `response` whatever its status (an error answer's body), refusing bodies
 * over `limit` bytes. @throws UpstreamError when the body is too large, not a JSON object, or
 * does not arrive: the request's timeout covers the body too ("timed out"/"unreachable", as `send`).
 */
export async function readJsonBody(response: Response, limit: number, what: string): Promise<Record<string, unknown>> {
  let text: string | undefined;
  try {
    text = await readBodyLimited(response, limit);
  } catch (error) {
    // The request's timeout covers the body too: a peer that drips it is an outage like one that never answers.
    throw failedRequest(error, what);
  }
  if (text === undefined) throw new UpstreamError(`${what} answer is larger than ${limit} bytes`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UpstreamError(`${what} answer is not JSON`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new UpstreamError(`${what} answer is not a JSON object`);
  return parsed as Record<string, unknown>;
}

/** Runs `request` and converts network failures and timeouts into UpstreamError. */
export async function send(request: () => Promise<Response>, what: string): Promise<Response> {
  try {
    return await request();
  } catch (error) {
    throw failedRequest(error, what);
  }
}

function failedRequest(error: unknown, what: string): UpstreamError {
  const name = (error as Error)?.name;
  return new UpstreamError(name === "TimeoutError" ? `${what} timed out` : `${what} unreachable (${name ?? "error"})`, { cause: error });
}

/** A timer that does not keep the process alive (Node and Deno both expose unref, differently). */
export function backgroundTimeout(callback: () => void, ms: number): ReturnType<typeof setTimeout> {
  const timer = setTimeout(callback, ms);
  const handle = timer as unknown as { unref?: () => void };
  if (typeof handle.unref === "function") handle.unref();
  else {
    const deno = (globalThis as { Deno?: { unrefTimer?: (id: number) => void } }).Deno;
    deno?.unrefTimer?.(timer as unknown as number);
  }
  return timer;
}

/** Exponential backoff with full jitter (AWS architecture blog's "full jitter"), capped. */
export function backoffDelay(attempt: number, initial: number, max: number): number {
  const ceiling = Math.min(max, initial * 2 ** Math.min(attempt, 30));
  return Math.max(initial / 2, Math.random() * ceiling);
}
