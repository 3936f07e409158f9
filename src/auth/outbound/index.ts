/**
 * @module Outbound authentication for client mode: `createTokenSource` turns the `client.auth`
 * section into the TokenSource the client transport asks for an Authorization header.
 */
import type { AuthConfig } from "../../config/schema.ts";
import type { Logger } from "../../log/logger.ts";
import type { Platform } from "../../runtime/types.ts";
import { staticBearer } from "./bearer.ts";
import { OutboundAuthError } from "./errors.ts";
import type { TokenSource } from "./types.ts";

export type { AuthChallenge, TokenSource } from "./types.ts";
export { OutboundAuthError, type OutboundAuthErrorCode } from "./errors.ts";

/** What a token source needs from the running bridge. */
export interface TokenSourceDeps {
  /** The remote MCP endpoint (`client.url`): the protected resource tokens are asked for (RFC 8707). */
  serverUrl: string;
  /** Environment (token_env), loopback listener for the authorization callback, spawn (browser_command), stderr. */
  platform: Platform;
  logger: Logger;
  /** fetch with the client's TLS and proxy settings; used for every request to authorization servers. */
  fetch: typeof fetch;
  /** Directory for the token and client-registration cache (created with mode 0700). */
  dataDir: string;
}

const NO_AUTH: TokenSource = {
  authorization: async () => undefined,
  handleChallenge: async () => false,
  close: async () => {},
};

/**
 * The token source for `auth` (the client's `auth` section; undefined or `type: none` sends no
 * Authorization header).
 *
 * @throws OutboundAuthError with code "config" when the section cannot yield a token; its message
 *   names the key to fix.
 */
export async function createTokenSource(auth: AuthConfig | undefined, deps: TokenSourceDeps): Promise<TokenSource> {
  void deps;
  if (!auth || auth.type === "none") return NO_AUTH;
  if (auth.type === "bearer") {
    const token = auth.bearer?.token;
    if (!token) throw new OutboundAuthError("config", "client.auth.bearer.token is required: the token to send");
    return staticBearer(token);
  }
  throw new OutboundAuthError("config", "client.auth.type oauth is not available in this version");
}
