/**
 * @module How a person is identified by the authorization server: built-in users or an upstream
 * identity provider (federated mode). The authorize flow only sees this shape.
 */

/** Who signed in, and the scopes they may be granted (granted = requested ∩ these). */
export interface SignedInUser {
  /** Stable subject for the `sub` claim of issued tokens. */
  subject: string;
  /** Verified email, when known (federated: only with `email_verified: true`). */
  email?: string;
  /** Display name, when known. */
  name?: string;
  /** Scopes this user may be granted. */
  scopes: string[];
  /**
   * What the sign-in rests on, kept by what it leads to (login session, code, refresh family),
   * which ends when it changes. Built-in users: the fingerprint of their credential as configured
   * (users.ts); federated: the identity provider and the bridge's client there, whose subjects these are.
   */
  credential?: string;
}

/** What a client asked of the sign-in itself, passed on to the upstream provider. */
export interface UpstreamSignInRequest {
  prompt?: string[];
  /** Seconds. */
  maxAge?: number;
}

/**
 * Federated sign-in at an upstream OpenID Provider (authorization code + PKCE, `state`, `nonce`).
 * The authorization server calls `begin` after the user consented on the bridge's own page, and
 * `complete` from its `/oauth/callback` route (the user then confirms who signed in).
 */
export interface UpstreamLogin {
  /**
   * Starts sign-in for the pending authorization request `pendingId` (the bridge's own record of
   * the client's /authorize request). Resolves the upstream authorization URL to redirect to.
   * `asked` carries what the client asked of the sign-in (OIDC Core §3.1.2.1): `prompt` values
   * (`login`, `select_account`) and `maxAge` (seconds; the ID token's `auth_time` is then checked).
   */
  begin(pendingId: string, asked?: UpstreamSignInRequest): Promise<URL>;
  /**
   * Finishes sign-in from the upstream's redirect to `/oauth/callback` (its full URL). Resolves the
   * pending request it belongs to and the signed-in user; rejects with an `UpstreamLoginError`
   * whose message is safe to show (never the upstream's raw error text).
   */
  complete(callbackUrl: URL): Promise<{ pendingId: string; user: SignedInUser }>;
  /** Ends the sign-in of `state` unfinished, if still pending: its callback came to another browser. */
  abandon(state: string): Promise<void>;
  /**
   * The scopes a user who signed in earlier holds under the configuration now (at a refresh), from
   * what the grant kept of them; undefined when the account policy no longer lets them sign in, or
   * they signed in elsewhere (`credential`: built-in, another provider or client).
   */
  heldScopes(user: Pick<SignedInUser, "subject" | "email" | "credential">): string[] | undefined;
}
