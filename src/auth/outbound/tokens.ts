/** @module Access tokens as the bridge holds them: when they expire, when to refresh them. */
import type * as oauth from "oauth4webapi";
import { bearerTokenProblem, MAX_TOKEN_LENGTH } from "../types.ts";
import { OutboundAuthError } from "./errors.ts";
import { jsonOfBase64Url } from "../../util/digest.ts";

/** A token endpoint's answer, kept in memory and in the cache. Times are ms since the epoch. */
export interface TokenSet {
  accessToken: string;
  refreshToken?: string;
  /** When the access token expires; undefined when neither expires_in nor a JWT exp says so. */
  expiresAt?: number;
  obtainedAt: number;
  /** The scopes granted (the response's `scope`), else those asked for. */
  scopes: string[];
  /**
   * The scopes asked for (of the first grant, for a refreshed token): another instance asking for
   * no more than these would get no more than `scopes` either (an authorization server grants what
   * it will). Absent in caches written before.
   */
  asked?: string[];
  /** "dpop" for a DPoP-bound token (RFC 9449 §5), sent with the DPoP scheme and a proof. */
  tokenType?: "dpop";
}

/** `exp` of a JWT access token in ms, read without verifying it: only to time the refresh. */
function jwtExpiry(token: string): number | undefined {
  const parts = token.split(".");
  if (parts.length !== 3 || parts[1]!.length > 8192) return undefined;
  try {
    const payload = jsonOfBase64Url(parts[1]!) as { exp?: unknown } | null;
    return typeof payload?.exp === "number" && Number.isFinite(payload.exp) ? payload.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The TokenSet for a token endpoint response. Without `expires_in` (RFC 6749 §5.1 makes it
 * optional) the token's own `exp` is used when it is a JWT; a refresh token the response does not
 * rotate is kept (RFC 6749 §6).
 *
 * @throws OutboundAuthError "grant" when the access token is nothing an Authorization header can
 *   carry (a newline, a space, a control character, over MAX_TOKEN_LENGTH): sent, every request
 *   would fail before reaching the server, never refused by it, so the token would never be replaced.
 */
export function tokenSetFrom(response: oauth.TokenEndpointResponse, now: number, requested: string[], previousRefreshToken?: string): TokenSet {
  if (bearerTokenProblem(response.access_token) !== undefined) {
    throw new OutboundAuthError("grant", `the token endpoint answered an access_token no Authorization header can carry (RFC 6750 §2.1: visible ASCII without spaces, at most ${MAX_TOKEN_LENGTH} characters); it is not used`);
  }
  // An expires_in too large to be a time (its ms overflow to Infinity, which JSON caches as null) says nothing.
  const expiresIn = typeof response.expires_in === "number" && response.expires_in > 0 && Number.isFinite(now + response.expires_in * 1000) ? response.expires_in * 1000 : undefined;
  const expiresAt = expiresIn !== undefined ? now + expiresIn : jwtExpiry(response.access_token);
  const refreshToken = response.refresh_token ?? previousRefreshToken;
  return {
    accessToken: response.access_token,
    ...(refreshToken && { refreshToken }),
    ...(expiresAt !== undefined && { expiresAt }),
    obtainedAt: now,
    scopes: typeof response.scope === "string" ? response.scope.split(" ").filter(Boolean) : requested,
    asked: requested,
    ...(response.token_type === "dpop" && { tokenType: "dpop" as const }),
  };
}

/**
 * Whether the token should be replaced before it is sent: within a tenth of its lifetime of
 * expiring (at least 5 s, at most 60 s), so a request never leaves with a token about to die.
 */
export function isStale(tokens: TokenSet, now: number): boolean {
  // Not a number: unknown (a cache written before expires_in was checked may hold null).
  if (typeof tokens.expiresAt !== "number") return false;
  const lifetime = Math.max(0, tokens.expiresAt - tokens.obtainedAt);
  const margin = Math.min(60_000, Math.max(5_000, lifetime / 10));
  return now >= tokens.expiresAt - margin;
}
