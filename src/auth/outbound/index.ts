/**
 * @module Outbound authentication for client mode: `createTokenSource` turns the `client.auth`
 * section into the TokenSource the client transport asks for an Authorization header.
 */
import type { AuthConfig } from "../../config/schema.ts";
import { Secret } from "../../config/secret.ts";
import type { Logger } from "../../log/logger.ts";
import { variableNamed } from "../../log/sanitize.ts";
import type { Platform } from "../../runtime/types.ts";
import { bearerTokenProblem } from "../types.ts";
import { MAX_CONFIGURED_FILE_BYTES } from "../../util/bounded-read.ts";
import { staticBearer } from "./bearer.ts";
import { openTokenCache, type PrivateFiles } from "./cache.ts";
import { OutboundAuthError } from "./errors.ts";
import type { HttpContext } from "./http.ts";
import { grantKind, type TokenSource } from "./types.ts";

export type { AuthChallenge, TokenSource } from "./types.ts";
export { OutboundAuthError, type OutboundAuthErrorCode } from "./errors.ts";
export type { PrivateFiles } from "./cache.ts";

/** What a token source needs from the running bridge. */
export interface TokenSourceDeps {
  /** The remote MCP endpoint (`client.url`): the protected resource tokens are asked for (RFC 8707). */
  serverUrl: string;
  /** Environment (token_env), loopback listener for the authorization callback, spawn (browser_command), stderr. */
  platform: Platform;
  logger: Logger;
  /** fetch with the client's TLS and proxy settings; used for every request to authorization servers. */
  fetch: typeof fetch;
  /** The SSRF guard's runtime half (HttpContext.publicOnly); without it only address literals are checked. */
  publicOnly?: HttpContext["publicOnly"];
  /** Directory for the token and client-registration cache (created with mode 0700); `auth.oauth.token_cache` overrides it. */
  dataDir: string;
  /** Owner-only file access for the cache (src/runtime/private-files.ts); without it tokens live in memory only. */
  files?: PrivateFiles;
  /** Opens a URL in the system browser with environment `env` (src/runtime/browser.ts); without it the URL is only printed. */
  openBrowser?: (url: string, env: Record<string, string>) => Promise<boolean>;
  /** The variables a ${VAR} put into `client.headers` values (API keys): the browser and token helpers are not given them. */
  headerVariables?: readonly string[];
}

/**
 * `bearer.token`, or the value of the variable `bearer.token_env` names. A value that is no RFC
 * 6750 §2.1 b64token (a trailing newline, a space) is refused at start, naming the key, rather than
 * at the first request as an invalid header.
 */
function bearerToken(bearer: AuthConfig["bearer"], env: Platform["env"]): Secret {
  const name = bearer?.token_env;
  if (!bearer?.token && !name) throw new OutboundAuthError("config", "client.auth.bearer.token is required (or token_env): the token to send");
  const value = bearer?.token?.reveal() ?? env[name!];
  if (!value) throw new OutboundAuthError("config", `client.auth.bearer.token_env: the ${variableNamed(name!)} is not set or empty`);
  const problem = bearerTokenProblem(value);
  if (problem) throw new OutboundAuthError("config", `${bearer?.token ? "client.auth.bearer.token: the token" : `client.auth.bearer.token_env: the value of ${name}`} ${problem}`);
  return bearer?.token ?? new Secret(value);
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
  if (!auth || auth.type === "none") return NO_AUTH;
  if (auth.type === "bearer") return staticBearer(bearerToken(auth.bearer, deps.platform.env));
  const config = auth.oauth;
  if (!config) throw new OutboundAuthError("config", "client.auth.oauth is required when client.auth.type is oauth");
  const { OAuthTokenSource } = await import("./oauth-source.ts");
  const { loadAssertionKey } = await import("./client-auth.ts");
  const grant = grantKind(config);
  const key = await loadAssertionKey(config, (path) => deps.platform.readTextFile(path, MAX_CONFIGURED_FILE_BYTES));
  const cache = await openTokenCache(deps.serverUrl, config.token_cache ?? deps.dataDir, grant === "authorization_code" ? deps.files : undefined, deps.logger);
  const source = new OAuthTokenSource({
    grant,
    config,
    serverUrl: deps.serverUrl,
    http: { fetch: deps.fetch, timeout: config.http_timeout, ...(deps.publicOnly && { publicOnly: deps.publicOnly }) },
    platform: deps.platform,
    logger: deps.logger.child({ component: "client-auth" }),
    cache,
    ...(key && { key }),
    ...(deps.openBrowser && { openBrowser: deps.openBrowser }),
    ...(deps.headerVariables && { headerVariables: deps.headerVariables }),
  });
  await source.start();
  return source;
}
