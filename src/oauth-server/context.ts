/** @module What the authorization server's endpoints share, built once by createAuthorizationServer. */
import type { OAuthServerConfig } from "../config/schema.ts";
import type { Logger } from "../log/logger.ts";
import type { Store } from "../store/types.ts";
import type { Sha256 } from "../util/digest.ts";
import type { ClientRegistry } from "./clients.ts";
import type { Grants } from "./grants.ts";
import type { SignedInUser, UpstreamLogin } from "./identity.ts";
import type { LoginLimiter } from "./login-limiter.ts";
import type { PageRenderer } from "./pages.ts";
import type { PendingSignIns } from "./pending.ts";
import type { BuiltinUsers } from "./users.ts";

export interface AuthorizationServerContext {
  config: OAuthServerConfig;
  /** The issuer identifier (RFC 8414 §2): an origin, no trailing slash. */
  issuer: string;
  /** Canonical URL of the MCP endpoint: the audience of every token. */
  resource: string;
  /** Whether a `resource` parameter names this MCP server (RFC 8707; see resourceMatcher). */
  acceptsResource(resource: string): boolean;
  /** Scopes advertised and grantable (offline_access aside). */
  scopesSupported: string[];
  store: Store;
  /** Where pending sign-ins are kept (authorization requests; federated: the upstream `state`). */
  pending: PendingSignIns;
  sha256: Sha256;
  clients: ClientRegistry;
  grants: Grants;
  /** Builtin mode. */
  users: BuiltinUsers | undefined;
  /** Federated mode. */
  upstream: UpstreamLogin | undefined;
  pages: PageRenderer;
  limiter: LoginLimiter;
  logger: Logger;
  /** An audit line (and a metrics count) for `event`; fields never hold secrets. */
  audit(event: string, fields: Record<string, unknown>): void;
  /** Cookies are Secure (and __Host- prefixed) when the issuer is https. */
  secureCookies: boolean;
}

/** A pending authorization request, between /authorize and the sign-in form or the upstream callback. */
export interface PendingAuthorization {
  client_id: string;
  client_name: string;
  redirect_uri: string;
  state: string | null;
  code_challenge: string;
  /** Requested scopes, already limited to those supported (null: none asked for; empty: only unknown ones). */
  scope: string[] | null;
  resource: string;
  csrf: string;
  /** Issue a refresh token (the client can use one, or asked with offline_access). */
  refresh: boolean;
  /** OIDC Core §3.1.2.1 `max_age` (seconds): a login session older than this does not count. */
  max_age?: number;
  /**
   * `prompt` values that need a sign-in made now (`login`, `select_account`): no login session
   * counts, and federated mode passes them on to the upstream provider.
   */
  prompt?: string[];
  /**
   * Federated mode: who signed in at the upstream provider, set by its callback; the user then
   * confirms in the browser that came back (a callback's only tie to the browser that consented is
   * a cookie, which a page of another program on the same host, at any port, can plant).
   */
  user?: SignedInUser;
}
