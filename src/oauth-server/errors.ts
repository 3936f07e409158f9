/**
 * @module OAuth errors on the wire (RFC 6749 §4.1.2.1, §5.2; RFC 7591 §3.2.2; RFC 7009 §2.2.1;
 * RFC 9101 §10.2; OIDC Core §3.1.2.6), one class with the registered codes.
 */

export type OAuthErrorCode =
  | "invalid_request"
  | "invalid_client"
  | "invalid_grant"
  | "unauthorized_client"
  | "unsupported_grant_type"
  | "unsupported_response_type"
  | "unsupported_token_type"
  | "invalid_scope"
  | "invalid_target"
  | "access_denied"
  | "server_error"
  | "temporarily_unavailable"
  | "invalid_redirect_uri"
  | "invalid_client_metadata"
  | "request_not_supported"
  | "request_uri_not_supported"
  | "login_required"
  | "consent_required";

/**
 * `text` as an error_description may carry it (RFC 6749 §4.1.2.1, §5.2: only %x20-21 / %x23-5B /
 * %x5D-7E): a double quote becomes a single one, any other character outside the set "?".
 */
function descriptionText(text: string): string {
  return text.replace(/"/g, "'").replace(/[^\x20\x21\x23-\x5B\x5D-\x7E]/g, "?");
}

/** An error answer. `description` is sent to the client: it never holds secrets or raw upstream text. */
export class OAuthError extends Error {
  readonly code: OAuthErrorCode;
  readonly status: number;
  readonly description: string;
  constructor(code: OAuthErrorCode, description: string, status = 400) {
    const text = descriptionText(description);
    super(`${code}: ${text}`);
    this.name = "OAuthError";
    this.code = code;
    this.status = status;
    this.description = text;
  }
}

/** RFC 6749 §5.2 JSON error body, never cached. */
export function oauthErrorResponse(error: OAuthError, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify({ error: error.code, error_description: error.description }), {
    status: error.status,
    headers: { "content-type": "application/json", "cache-control": "no-store", pragma: "no-cache", ...headers },
  });
}
