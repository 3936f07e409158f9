/**
 * @module RFC 9728 Protected Resource Metadata and the RFC 6750 / RFC 9728 `WWW-Authenticate`
 * challenge, as pure functions the HTTP server serves and sends.
 */
import type { AuthError } from "./types.ts";

export interface ProtectedResourceInput {
  /** Canonical URL of the MCP endpoint; RFC 9728 §3.3: must equal the URL the metadata was fetched for, minus the well-known part. */
  resource: string;
  authorizationServers: string[];
  scopesSupported: string[];
  /** Human-readable name (RFC 9728 §2 resource_name). */
  resourceName?: string;
}

/** The RFC 9728 §2 document served at /.well-known/oauth-protected-resource[/path]. */
export function protectedResourceMetadata(input: ProtectedResourceInput): Record<string, unknown> {
  return {
    resource: input.resource,
    // RFC 9728 §2: OPTIONAL; an empty array would tell clients there is no way to get a token.
    ...(input.authorizationServers.length > 0 && { authorization_servers: [...input.authorizationServers] }),
    ...(input.scopesSupported.length > 0 && { scopes_supported: [...new Set(input.scopesSupported)] }),
    // Only the Authorization header: MCP forbids tokens in the query string, and bodies are JSON-RPC.
    bearer_methods_supported: ["header"],
    ...(input.resourceName !== undefined && { resource_name: input.resourceName }),
  };
}

/** The path-inserted metadata URL of RFC 9728 §3.1 for `resource` (e.g. …/.well-known/oauth-protected-resource/mcp). */
export function protectedResourceMetadataUrl(resource: string): string {
  const url = new URL(resource);
  const path = url.pathname === "/" ? "" : url.pathname.replace(/\/$/, "");
  return `${url.origin}/.well-known/oauth-protected-resource${path}`;
}

/**
 * RFC 7235 §2.2 quoted-string: quotes and backslashes are escaped. Control characters cannot be
 * carried at all; config validation keeps them out, so meeting one is a bug.
 */
function quoted(value: string): string {
  if (/[\x00-\x1f\x7f]/.test(value)) throw new TypeError("a challenge parameter cannot contain control characters");
  return `"${value.replace(/["\\]/g, "\\$&")}"`;
}

/**
 * The `WWW-Authenticate` value for a 401 or 403 (RFC 6750 §3, RFC 9728 §5.1, MCP authorization).
 *
 * - No error (no token was sent): RFC 6750 §3.1 says the challenge SHOULD NOT carry an error code.
 * - invalid_token / invalid_request: that code; `scope` lists what every request needs.
 * - insufficient_scope (403): that code and, in `scope`, the scopes the request needed
 *   (RFC 6750 §3.1), so the client can step up.
 * - temporarily_unavailable is a 503 without a challenge; if asked anyway, no error code is sent,
 *   since RFC 6750 defines none for it.
 *
 * The reason is never included: it is for the log only.
 */
export function challengeHeader(error: AuthError | undefined, input: { resourceMetadataUrl?: string; scopes: readonly string[] }): string {
  // Without metadata to point at (static bearer tokens), a realm keeps the challenge well-formed.
  const parts = [input.resourceMetadataUrl ? `resource_metadata=${quoted(input.resourceMetadataUrl)}` : 'realm="mcp-bridge"'];
  const code = error?.code;
  if (code === "invalid_token" || code === "invalid_request" || code === "insufficient_scope") parts.push(`error=${quoted(code)}`);
  const scopes = code === "insufficient_scope" && error!.requiredScopes.length > 0 ? error!.requiredScopes : input.scopes;
  if (scopes.length > 0) parts.push(`scope=${quoted([...new Set(scopes)].join(" "))}`);
  return `Bearer ${parts.join(", ")}`;
}
