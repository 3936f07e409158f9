/**
 * @module The HTTP edges of federated sign-in, called by the authorize endpoint: the redirect to the
 * identity provider once the user consented on the bridge's page, and `/oauth/callback`. The
 * `state` also goes into a cookie, so only the browser that consented can finish (RFC 9700 §4.7.1:
 * CSRF protection bound to the user agent): a victim lured straight to the provider's URL by an
 * attacker, whose pending request names the attacker's client, gets nowhere.
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
  /** Issues the code for pending request `pendingId` to `user`: the redirect to the client (code, state, iss). */
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
 * Starts sign-in at the provider for `pendingId` (the consent form's Allow), with what the client
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
 * GET /oauth/callback: checks the state cookie, lets the UpstreamLogin finish, then approves or
 * denies the pending request. Without a pending request to name (unknown or replayed state, another
 * browser) the user gets a page with a fixed message; nothing the provider sent is ever shown.
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
