/**
 * @module What every authenticator shares: the Principal it yields, the AuthError it throws, and
 * the Authenticator interface that server mode calls once per request.
 */

/** Who a request comes from, as established by an authenticator. Never holds the token itself. */
export interface Principal {
  /** Stable identity, as its source names it (what a child and the audit log are told). */
  subject: string;
  /**
   * What sessions, children and request states are bound to: the subject qualified by the source
   * that established it ("token:…" a configured token, "endpoint:…" the validation endpoint,
   * "sub:…" the authorization server's subject). A subject is unique only within its source
   * (RFC 7519 §4.1.2), and one bearer config has two sources.
   */
  owner: string;
  scopes: string[];
  email?: string;
  roles?: string[];
  clientId?: string;
  /** Seconds since the epoch; validation results are cached no longer than this. */
  expiresAt?: number;
  /** Extra claims or metadata for the audit log. */
  claims?: Record<string, unknown>;
}

/** Longer tokens are refused unread: no IdP issues them, and parsing or hashing them is work for an attacker. */
export const MAX_TOKEN_LENGTH = 16 * 1024;
/** RFC 6750 §2.1 b64token: the only characters a bearer token may have. */
export const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/** What an outgoing bearer token may hold: visible ASCII (RFC 9110 §5.5 field-vchar), no spaces. */
const SENDABLE_TOKEN = /^[\x21-\x7e]+$/;

/**
 * Why `value` cannot be sent as a bearer token, as the end of a sentence about it; undefined when
 * it can. Looser than B64TOKEN on purpose: servers issue tokens outside RFC 6750 §2.1's b64token
 * (Laravel Sanctum's "id|secret") and accept them; refused are only values no header can carry
 * as one token (whitespace, a newline from a file, control or non-ASCII characters) and ones
 * longer than MAX_TOKEN_LENGTH characters.
 */
export function bearerTokenProblem(value: string): string | undefined {
  if (value.length <= MAX_TOKEN_LENGTH && SENDABLE_TOKEN.test(value)) return undefined;
  return `is not a bearer token (RFC 6750: visible ASCII characters without spaces, at most ${MAX_TOKEN_LENGTH} characters); a trailing newline or space?`;
}

export type AuthErrorCode =
  /** No credentials, or malformed ones (RFC 6750 §3.1 invalid_request / no error). */
  | "missing_token"
  | "invalid_request"
  | "invalid_token"
  | "insufficient_scope"
  /** The authority that decides is unreachable: fail closed. */
  | "temporarily_unavailable";

const STATUS: Record<AuthErrorCode, number> = {
  missing_token: 401,
  invalid_request: 400,
  invalid_token: 401,
  insufficient_scope: 403,
  temporarily_unavailable: 503,
};

/**
 * A setting an authenticator cannot work with (a plain-http endpoint off loopback): a configuration
 * error at start. `key` is its path under `auth` ("oauth.discovery_url"), so the error names it.
 */
export class AuthSettingError extends TypeError {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(message);
    this.name = "AuthSettingError";
  }
}

/**
 * A rejected request. `reason` is for the log (debug) and metrics only: it is never sent to the
 * client, which gets only the RFC 6750 error code.
 */
export class AuthError extends Error {
  readonly code: AuthErrorCode;
  readonly status: number;
  readonly reason: string;
  /** Scopes the request needed, for the challenge's scope parameter. */
  readonly requiredScopes: string[];
  constructor(code: AuthErrorCode, reason: string, options: { requiredScopes?: string[]; cause?: unknown } = {}) {
    super(`${code}: ${reason}`, { cause: options.cause });
    this.name = "AuthError";
    this.code = code;
    this.status = STATUS[code];
    this.reason = reason;
    this.requiredScopes = options.requiredScopes ?? [];
  }
}

/** One inbound authentication method (bearer list, remote validation, OAuth). */
export interface Authenticator {
  /** Validates a bearer token; throws AuthError. */
  verify(token: string): Promise<Principal>;
  /** Scopes every request needs (advertised in challenges and PRM). */
  readonly requiredScopes: readonly string[];
  /**
   * Scopes a 401's challenge names when no scope is required (MCP authorization, scope selection):
   * what a client should ask for. The built-in authorization server's scopes_supported.
   */
  readonly challengeScopes?: readonly string[];
  /** Extra scopes a JSON-RPC method (and tool name, for tools/call) needs. */
  scopesFor?(method: string, toolName?: string): readonly string[];
  /** RFC 9728 fields this authenticator contributes (authorization_servers, scopes_supported). */
  readonly protectedResource?: { authorizationServers: string[]; scopesSupported: string[] };
  /** False while what decides about tokens (IdP metadata, keys, a validation endpoint) is known to be unreachable: /ready says so. */
  readonly ready?: boolean;
  /** Starts background work (discovery, JWKS refresh). Must not throw when the IdP is down. */
  start?(): Promise<void>;
  close?(): void;
}
