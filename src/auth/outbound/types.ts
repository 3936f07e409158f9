/**
 * @module Outbound authentication for client mode: what the client transport asks of a token source.
 * The transport never knows which grant stands behind it (static bearer, client credentials,
 * authorization code + PKCE, enterprise-managed authorization).
 */
import type { OAuthConfig } from "../../config/schema.ts";

/** How client mode's `auth.oauth` gets tokens. */
export type GrantKind = "client_credentials" | "authorization_code" | "enterprise" | "workload_identity";

/**
 * The grant `config` asks for: enterprise or workload_identity when set; else `use_pkce`, which
 * unset means a person signing in unless a client_secret or private_key_file is set.
 */
export function grantKind(config: Pick<OAuthConfig, "enterprise" | "workload_identity" | "use_pkce" | "client_secret" | "private_key_file">): GrantKind {
  if (config.enterprise) return "enterprise";
  if (config.workload_identity) return "workload_identity";
  return config.use_pkce ?? !(config.client_secret || config.private_key_file) ? "authorization_code" : "client_credentials";
}

/** What the MCP server said when it refused a request, as the transport saw it. */
export interface AuthChallenge {
  /** 401 (no or bad token) or 403 (e.g. `insufficient_scope`). */
  status: 401 | 403;
  /** The raw `WWW-Authenticate` header values, if any (RFC 6750 §3, RFC 9728 §5.1). */
  wwwAuthenticate: string | null;
  /** The MCP endpoint the request went to: the resource the token is for (RFC 8707). */
  resourceUrl: string;
  /**
   * The Authorization header value the refused request carried, if any. When the source has
   * replaced that token since, it answers `true` at once: many requests refused together cause one renewal.
   */
  sentAuthorization?: string;
  /** The response's `DPoP-Nonce` header (RFC 9449 §9), if any. */
  dpopNonce?: string;
}

/** The request a DPoP proof is made for (RFC 9449 §4.2: htm, htu). */
export interface ProofTarget {
  method: string;
  url: string;
}

/**
 * A source of access tokens for requests to one remote MCP server.
 *
 * The transport calls `authorization()` (and `proof()`) before each request. On a 401 or 403 it
 * calls `handleChallenge()`; when that resolves `true`, it retries the request with a fresh
 * `authorization()`, at most twice per request (a token, then a DPoP nonce), and gives up otherwise
 * (the local client gets a JSON-RPC error).
 */
export interface TokenSource {
  /** The `Authorization` header value to send (`"Bearer …"` or `"DPoP …"`), or `undefined` for none. Never logged. */
  authorization(): Promise<string | undefined>;
  /**
   * The `DPoP` header value for one request (RFC 9449 §7), when the token is DPoP-bound; called
   * after `authorization()` for every request, each proof fresh. Absent or `undefined`: no header.
   */
  proof?(target: ProofTarget): Promise<string | undefined>;
  /**
   * Reacts to a refusal: refresh, re-authorize, or step up scopes (MCP authorization §Scope Challenge
   * Handling). Resolves `true` when a retry may succeed, `false` when it cannot.
   */
  handleChallenge(challenge: AuthChallenge): Promise<boolean>;
  /**
   * Why the last `handleChallenge()` could not get a token (a reason safe to show: no token, secret
   * or code), until a later one gets one; undefined otherwise. The local client's error names it.
   */
  failure?(): string | undefined;
  /** Stops timers and releases ports and files. */
  close(): Promise<void>;
}
