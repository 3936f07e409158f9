/**
 * @module The HTTP edges of federated sign-in, called by the authorize endpoint: the redirect to the
 * identity provider for a checked authorization request, and `/oauth/callback`. The `state` also
 * goes into a cookie, so a callback comes through only in the browser that started it (RFC 9700
 * §4.7.1: CSRF protection bound to the user agent). Cookies ignore ports, though: a page of another
 * program on the same host can plant one, and send a victim with a session at the provider to a
 * sign-in the attacker started for its own client. So the callback ends in a page of the bridge
 * naming that client and the account, whose form only this origin can send.
 */
import { sha256, timingSafeEqual, toHex } from "../../util/digest.ts";
import { cookie, readCookie, seeOther } from "../http.ts";
import type { SignedInUser, UpstreamLogin, UpstreamSignInRequest } from "../identity.ts";
import { UpstreamLoginError, type ClientFacingError } from "./errors.ts";
import { UPSTREAM_LOGIN_TTL_MS } from "./index.ts";

const encoder = new TextEncoder();

/** What the authorize endpoint provides to end a pending authorization request either way. */
export interface PendingRequestOutcome {
  /** Cookies are Secure and `__Host-` prefixed (https issuer). */
  secureCookies: boolean;
  /** Asks `user`, back from the provider, to confirm pending request `pendingId`: a page whose form issues the code. */
  approve(pendingId: string, user: SignedInUser): Promise<Response>;
  /** Ends pending request `pendingId` with an RFC 6749 §4.1.2.1 error: the redirect to the client (error, state, iss). */
  deny(pendingId: string, error: ClientFacingError, description: string): Promise<Response>;
  /** A page for the user when no client can be told; `message` is plain text. */
  errorPage(status: number, message: string): Response;
  audit(event: string, fields: Record<string, unknown>): void;
}

/** One cookie per sign-in in progress (two tabs may sign in at once), named after a hash of its state. */
async function stateCookieName(state: string, secure: boolean): Promise<string> {
  return `${secure ? "__Host-" : ""}mcp-bridge-upstream-${toHex(await sha256(state)).slice(0, 16)}`;
}

/**
 * Starts sign-in at the provider for `pendingId` (a checked authorization request), with what the client
 * asked of the sign-in (`asked`: prompt, max_age): a 303 to the provider's authorization URL that
 * also sets the state cookie. When the provider cannot be used, the client is told
 * (temporarily_unavailable / server_error) instead.
 */
export async function redirectUpstream(upstream: UpstreamLogin, pendingId: string, asked: UpstreamSignInRequest, outcome: PendingRequestOutcome): Promise<Response> {
  let url: URL;
  try {
    url = await upstream.begin(pendingId, asked);
  } catch (error) {
    if (!(error instanceof UpstreamLoginError)) throw error;
    outcome.audit("login_failed", { upstream: true, code: error.code, reason: error.reason });
    return outcome.deny(pendingId, error.clientError, error.message);
  }
  const state = url.searchParams.get("state")!;
  const name = await stateCookieName(state, outcome.secureCookies);
  return seeOther(url.href, [["set-cookie", cookie(name, state, { secure: outcome.secureCookies, sameSite: "Lax", maxAgeSeconds: UPSTREAM_LOGIN_TTL_MS / 1000 })]]);
}

/**
 * GET /oauth/callback: checks the state cookie, lets the UpstreamLogin finish, then asks the user
 * to confirm the pending request as who they signed in as, or denies it. Without a pending request
 * to name (unknown or replayed state, another browser) the user gets a page with a fixed message;
 * nothing the provider sent is ever shown.
 */
export async function finishUpstream(request: Request, upstream: UpstreamLogin, outcome: PendingRequestOutcome): Promise<Response> {
  const url = new URL(request.url);
  const states = url.searchParams.getAll("state");
  const state = states.length === 1 ? states[0]! : "";
  const name = await stateCookieName(state, outcome.secureCookies);
  const bound = readCookie(request, name);
  if (state === "" || bound === undefined || !timingSafeEqual(encoder.encode(bound), encoder.encode(state))) {
    // The sign-in ends here: the cookie's value is in the URL, so whoever later reads this callback
    // URL (history, a proxy's log) could send both, and finish as this person for the client that
    // started it (someone who sent them the provider's link). The one who started it starts again.
    if (state !== "") await upstream.abandon(state);
    outcome.audit("login_failed", { upstream: true, code: "invalid_state", reason: "callback without the state cookie of this browser" });
    return outcome.errorPage(400, "This sign-in was not started in this browser, or it has expired. Start again from your application.");
  }
  let response: Response;
  try {
    const { pendingId, user } = await upstream.complete(url);
    outcome.audit("login_succeeded", { upstream: true, sub: user.subject, ...(user.email && { email: user.email }) });
    response = await outcome.approve(pendingId, user);
  } catch (error) {
    if (!(error instanceof UpstreamLoginError)) throw error;
    outcome.audit("login_failed", { upstream: true, code: error.code, reason: error.reason });
    response = error.pendingId
      ? await outcome.deny(error.pendingId, error.clientError, error.message)
      : outcome.errorPage(error.code === "upstream_unavailable" ? 503 : 400, error.message);
  }
  response.headers.append("set-cookie", cookie(name, "", { secure: outcome.secureCookies, sameSite: "Lax", maxAgeSeconds: 0 }));
  return response;
}
