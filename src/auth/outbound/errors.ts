/** @module The one error type of outbound authentication: a stable code, a reason safe to log. */

export type OutboundAuthErrorCode =
  /** The configuration cannot yield a token (e.g. an unset environment variable); names the key. */
  | "config"
  /** Discovery found no usable authorization server, or one that failed a security check. */
  | "discovery"
  /** The authorization server refused a grant, or its answer failed validation. */
  | "grant"
  /** The user did not complete the authorization in the browser in time, or it was refused. */
  | "authorization"
  /** Reading or writing the token cache failed, or the cache is unsafe to use. */
  | "cache";

/** Raised by token sources; `message` never holds a token, a secret or a code. */
export class OutboundAuthError extends Error {
  readonly code: OutboundAuthErrorCode;
  /** The OAuth error code the authorization server answered with (RFC 6749 §5.2), when it did. */
  readonly oauthError: string | undefined;
  constructor(code: OutboundAuthErrorCode, message: string, options: { cause?: unknown; oauthError?: string } = {}) {
    super(message, { cause: options.cause });
    this.name = "OutboundAuthError";
    this.code = code;
    this.oauthError = options.oauthError;
  }
}
