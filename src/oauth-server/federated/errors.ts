/** @module The one error federated sign-in throws: a stable code, a message safe to show, and a reason for the log. */

export type UpstreamLoginErrorCode =
  /** The callback's `state` is missing, unknown, expired or already used (replay, CSRF). */
  | "invalid_state"
  /** The user (or the provider's policy) declined at the identity provider. */
  | "access_denied"
  /** The signed-in account may not use this bridge (`allowed_domains`, unverified email). */
  | "account_not_allowed"
  /** The provider answered something unusable: an error, a bad ID token, an issuer mismatch. */
  | "upstream_error"
  /** The provider could not be reached in time. */
  | "upstream_unavailable";

/** RFC 6749 §4.1.2.1 error to send on to the client whose authorization request this was. */
export type ClientFacingError = "access_denied" | "server_error" | "temporarily_unavailable";

const MESSAGES: Record<UpstreamLoginErrorCode, string> = {
  invalid_state: "This sign-in link has expired or was already used. Start again from your application.",
  access_denied: "Sign-in was cancelled at the identity provider.",
  account_not_allowed: "This account is not allowed to use this server.",
  upstream_error: "The identity provider's answer could not be used. Try again, or ask the administrator to check the server log.",
  upstream_unavailable: "The identity provider could not be reached. Try again later.",
};

const CLIENT_ERRORS: Record<UpstreamLoginErrorCode, ClientFacingError> = {
  invalid_state: "access_denied",
  access_denied: "access_denied",
  account_not_allowed: "access_denied",
  upstream_error: "server_error",
  upstream_unavailable: "temporarily_unavailable",
};

/**
 * Federated sign-in failed. `message` is fixed per code and safe for a page; `reason` is for the
 * operator's log and never holds a token, a code or the provider's free text (which an attacker
 * who controls the redirect can choose). `pendingId` is set once the callback was matched to a
 * pending authorization request, so the client can be told (RFC 6749 §4.1.2.1).
 */
export class UpstreamLoginError extends Error {
  readonly code: UpstreamLoginErrorCode;
  readonly reason: string;
  readonly pendingId: string | undefined;
  constructor(code: UpstreamLoginErrorCode, reason: string, options: { pendingId?: string; cause?: unknown } = {}) {
    super(MESSAGES[code], { cause: options.cause });
    this.name = "UpstreamLoginError";
    this.code = code;
    this.reason = reason;
    this.pendingId = options.pendingId;
  }

  /** The `error` value for the client's redirect URI. */
  get clientError(): ClientFacingError {
    return CLIENT_ERRORS[this.code];
  }

  /** The same failure, now known to belong to `pendingId`. */
  withPendingId(pendingId: string): UpstreamLoginError {
    return new UpstreamLoginError(this.code, this.reason, { pendingId, cause: this.cause });
  }
}
