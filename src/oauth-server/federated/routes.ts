/**
 * @module The HTTP edges of federated sign-in: the redirect to the identity provider once the user
 * consented on the bridge's page, and `/oauth/callback`. The `state` also goes into a `__Host-`
 * cookie, so only the browser that consented can finish (RFC 9700 §4.7.1: CSRF protection bound
 * to the user agent) — a victim lured straight to the provider's URL by an attacker gets nowhere.
 */
import { sha256, timingSafeEqual, toHex } from "../../util/digest.ts";
import type { SignedInUser, UpstreamLogin } from "../identity.ts";
import { UPSTREAM_LOGIN_TTL_MS } from "./index.ts";
import { UpstreamLoginError, type ClientFacingError } from "./errors.ts";

const COOKIE_PREFIX = "__Host-mcp-bridge-upstream-";
const encoder = new TextEncoder();

/** What the authorize flow provides to finish a pending authorization request either way. */
export interface PendingAuthorization {
  /** Issues the authorization code for `pendingId` to `user`: the redirect to the client (code, state, iss). */
  approve(pendingId: string, user: SignedInUser): Promise<Response>;
  /** Ends `pendingId` with an RFC 6749 §4.1.2.1 error: the redirect to the client (error, state, iss). */
  deny(pendingId: string, error: ClientFacingError, description: string): Promise<Response>;
  /** A page for the user when there is no client to send them back to; `message` is plain text. */
  errorPage(status: number, message: string): Response;
}

/** One cookie per sign-in in progress (two tabs may sign in at once), named after a hash of its state. */
async function cookieName(state: string): Promise<string> {
  return COOKIE_PREFIX + toHex(await sha256(state)).slice(0, 16);
}

function readCookie(header: string | null, name: string): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const at = part.indexOf("=");
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}

/**
 * Starts sign-in at the provider for `pendingId` (after the consent POST): a 303 to its
 * authorization URL, setting the state cookie. Provider failures become the client's error redirect.
 */
export async function redirectUpstream(upstream: UpstreamLogin, pendingId: string, pending: PendingAuthorization): Promise<Response> {
  let url: URL;
  try {
    url = await upstream.begin(pendingId);
  } catch (error) {
    if (!(error instanceof UpstreamLoginError)) throw error;
    return pending.deny(pendingId, error.clientError, error.message);
  }
  const state = url.searchParams.get("state")!;
  const cookie = `${await cookieName(state)}=${state}; Path=/; Max-Age=${UPSTREAM_LOGIN_TTL_MS / 1000}; HttpOnly; Secure; SameSite=Lax`;
  return new Response(null, { status: 303, headers: { location: url.href, "set-cookie": cookie, "cache-control": "no-store" } });
}

/**
 * GET /oauth/callback: checks the state cookie, lets the UpstreamLogin finish, then approves or
 * denies the pending request. Without a pending request to name (unknown state, another browser),
 * the user gets a page with a fixed message; nothing the provider sent is shown.
 */
export async function handleUpstreamCallback(request: Request, upstream: UpstreamLogin, pending: PendingAuthorization): Promise<Response> {
  const url = new URL(request.url);
  const states = url.searchParams.getAll("state");
  const state = states.length === 1 ? states[0]! : "";
  const name = await cookieName(state);
  const cookie = readCookie(request.headers.get("cookie"), name);
  // Not taken from the store yet: the browser that did start this sign-in can still finish it.
  if (state === "" || cookie === undefined || !timingSafeEqual(encoder.encode(cookie), encoder.encode(state))) {
    return pending.errorPage(400, "This sign-in was not started in this browser, or it has expired. Start again from your application.");
  }
  const clear = `${name}=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax`;
  let response: Response;
  try {
    const { pendingId, user } = await upstream.complete(url);
    response = await pending.approve(pendingId, user);
  } catch (error) {
    if (!(error instanceof UpstreamLoginError)) throw error;
    response = error.pendingId
      ? await pending.deny(error.pendingId, error.clientError, error.message)
      : pending.errorPage(error.code === "upstream_unavailable" ? 503 : 400, error.message);
  }
  const headers = new Headers(response.headers);
  headers.append("set-cookie", clear);
  return new Response(response.body, { status: response.status, headers });
}
