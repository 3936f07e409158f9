/** @module Builds the inbound Authenticator for server mode from the `auth:` section. */
import type { AuthConfig, ServerConfig } from "../config/schema.ts";
import type { Logger } from "../log/logger.ts";
import { createStaticTokenSet } from "./bearer.ts";
import type { Sha256 } from "../util/digest.ts";
import { createRemoteValidator } from "./remote.ts";
import { AuthError, type Authenticator } from "./types.ts";

export interface AuthContext {
  /** Canonical URL of the MCP endpoint (RFC 8707 resource; the default audience). */
  resource: string;
  logger: Logger;
  fetch?: typeof fetch;
  /** The runtime's SHA-256 (token comparison and cache keys); Web Crypto's when absent. */
  sha256?: Sha256;
}

/** Whether server mode authenticates requests: an `auth` type other than none, or the built-in authorization server's own tokens. */
export function authenticates(server: Pick<ServerConfig, "auth" | "oauth_server">): boolean {
  return (server.auth?.type ?? "none") !== "none" || server.oauth_server.enabled;
}

/** The authenticator for `auth`, or undefined when requests are not authenticated (type none). */
export async function createAuthenticator(auth: AuthConfig | undefined, context: AuthContext): Promise<Authenticator | undefined> {
  if (!auth || auth.type === "none") return undefined;
  if (auth.type === "bearer") {
    const bearer = auth.bearer!;
    const staticTokens = bearer.valid_tokens?.length ? createStaticTokenSet(bearer.valid_tokens, context.sha256) : undefined;
    const endpoint = bearer.validation_endpoint;
    const remote = endpoint ? createRemoteValidator({ ...bearer, validation_endpoint: endpoint }, context.fetch, context.sha256) : undefined;
    return {
      requiredScopes: [],
      get ready() {
        return remote?.ready ?? true;
      },
      async verify(token) {
        const known = await staticTokens?.lookup(token);
        if (known) return known;
        if (remote) return remote.validate(token);
        throw new AuthError("invalid_token", "not one of the configured tokens");
      },
    };
  }
  // Loaded only when configured: the OAuth stack (jose among it) is most of the bridge's start-up memory.
  const { createOAuthAuthenticator } = await import("./oauth/index.ts");
  return createOAuthAuthenticator(auth.oauth!, context);
}
