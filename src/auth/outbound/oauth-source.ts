/**
 * @module The OAuth token source of client mode: one object per remote MCP server that holds the
 * current authorization server, registration and tokens, obtains them with the configured grant,
 * refreshes them before they expire, and reacts to the server's 401 / 403 challenges (re-discovery,
 * re-registration when the authorization server moved, refresh, step-up with the union of scopes,
 * at most three authorizations per scope set in ten minutes).
 */
import type { OAuthConfig } from "../../config/schema.ts";
import type { Logger } from "../../log/logger.ts";
import { quotedValue, redactUrl } from "../../log/sanitize.ts";
import type { Platform } from "../../runtime/types.ts";
import { authorizeInteractively, identityFor, type InteractiveContext } from "./authorization-code.ts";
import type { IssuerState, Registration, TokenCache } from "./cache.ts";
import { parseBearerChallenge } from "./challenge.ts";
import { chooseAuthMethod, clientIdentity, type AssertionKey } from "./client-auth.ts";
import { discover, fetchAuthorizationServer, guardFor, staticAuthorizationServer } from "./discovery.ts";
import { commandEnv, readCredential } from "./credential-source.ts";
import { createDpopKey, DPOP_ALGORITHM, resourceProof, type DpopKey } from "./dpop.ts";
import { OutboundAuthError } from "./errors.ts";
import { clientCredentialsGrant, exchangeIdToken, jwtBearerGrant, refreshGrant, type ClientIdentity } from "./grants.ts";
import { publicHttp, type HttpContext } from "./http.ts";
import { isStale, type TokenSet } from "./tokens.ts";
import type { AuthChallenge, GrantKind, ProofTarget, TokenSource } from "./types.ts";
import * as oauth from "oauth4webapi";
import { backoffDelay, isTrustedEndpoint } from "../oauth/http.ts";

/** Authorizations allowed per scope set within AUTHORIZATION_WINDOW_MS (MCP §Step-Up: retry limits). */
const MAX_AUTHORIZATIONS = 3;
/**
 * Authorizations (and, apart, refreshes) allowed within AUTHORIZATION_WINDOW_MS whatever the scopes:
 * a server naming a new scope in each challenge must not open a browser, or ask the authorization
 * server, without end.
 */
const MAX_AUTHORIZATIONS_ALL_SCOPES = 6;
const AUTHORIZATION_WINDOW_MS = 10 * 60_000;
/**
 * After a renewal ahead of expiry fails, the token in hand is sent for this long before the next
 * attempt (ms): an authorization server that is down must not get one request per MCP request. A
 * 401 from the MCP server still asks for a new token at once.
 */
const RENEWAL_BACKOFF_MS = 30_000;
/**
 * After getting a token failed (discovery, registration, the grant, or the attempts allowed spent),
 * challenges are answered with that failure for this long (ms), with no request and no log line,
 * doubling (jittered) with each failure in a row up to MAX_FAILURE_PAUSE_MS: a server that refuses
 * every request must not make the bridge ask its authorization server, and log, once per request.
 * A person's sign-in that did not complete is not paused after (each one is theirs to start).
 */
const FAILURE_PAUSE_MS = 10_000;
const MAX_FAILURE_PAUSE_MS = 300_000;
/** How long a refresh waits for another instance holding the login lock (ms) before refreshing anyway. */
const REFRESH_LOCK_WAIT_MS = 30_000;

export interface OAuthSourceOptions {
  grant: GrantKind;
  config: OAuthConfig;
  serverUrl: string;
  http: HttpContext;
  platform: Platform;
  logger: Logger;
  cache: TokenCache;
  key?: AssertionKey;
  openBrowser?: (url: string, env: Record<string, string>) => Promise<boolean>;
  /** The variables a ${VAR} put into `client.headers` values, which the commands the source starts (browser, token helpers) are not given (commandEnv). */
  headerVariables?: readonly string[];
}

interface Current extends IssuerState {
  issuer: string;
  scopesSupported?: string[];
  /** The MCP server takes DPoP-bound tokens: its challenge used the DPoP scheme, or its PRM says so. */
  dpop?: boolean;
}

const union = (a: readonly string[], b: readonly string[]) => [...new Set([...a, ...b])];

/** The Authorization header for `tokens`: the DPoP scheme for a DPoP-bound token (RFC 9449 §7.1). */
const header = (tokens: TokenSet) => `${tokens.tokenType === "dpop" ? "DPoP" : "Bearer"} ${tokens.accessToken}`;

/** The issuer a `discovery_url` names: the URL itself, or what precedes a pasted well-known suffix. */
function issuerOfDiscoveryUrl(url: string | undefined): string | undefined {
  if (!url) return undefined;
  const oidc = url.replace(/\/\.well-known\/openid-configuration$/, "");
  if (oidc !== url) return oidc;
  const parsed = new URL(url);
  const rfc8414 = /^\/\.well-known\/oauth-authorization-server(\/.*)?$/.exec(parsed.pathname);
  return rfc8414 ? `${parsed.origin}${rfc8414[1] ?? ""}` : url;
}

export class OAuthTokenSource implements TokenSource {
  readonly #o: OAuthSourceOptions;
  #current: Current | undefined;
  #busy: Promise<boolean> | undefined;
  /** Why the last challenge found no token (see TokenSource.failure); cleared when one does. */
  #failure: string | undefined;
  #renewing: Promise<void> | undefined;
  #requested: string[];
  readonly #authorizations = new Map<string, number[]>();
  readonly #shutdown = new AbortController();
  /** The DPoP key, made when an authorization server first offers DPoP; lives as long as this source. */
  #dpop: DpopKey | undefined;
  /** When the last renewal ahead of expiry failed (ms since the epoch). */
  #renewalFailedAt = -Infinity;
  /** Until when (performance.now()) no token is asked for after failures (see FAILURE_PAUSE_MS), and how many in a row. */
  #pausedUntil = -Infinity;
  #failuresInRow = 0;
  /** client.url is plain http beyond loopback: a token would travel in clear (RFC 6750 §5.3), so none is obtained or sent. */
  readonly #inClear: boolean;
  #inClearLogged = false;
  /** The environment of the commands started for it (browser, token helpers): commandEnv, without the configuration's secrets. */
  readonly #commandEnv: Record<string, string>;

  constructor(options: OAuthSourceOptions) {
    this.#o = options;
    this.#commandEnv = commandEnv(options.platform, options.config, options.headerVariables ?? []);
    this.#requested = [...options.config.scopes];
    this.#inClear = !isTrustedEndpoint(options.serverUrl);
  }

  /** Says once why no token goes to this server. */
  #refuseInClear(): void {
    if (!this.#inClearLogged) this.#o.logger.error("client.url is plain http beyond loopback: no OAuth token is obtained or sent there, where it would travel in clear; use https", { server: redactUrl(this.#o.serverUrl) });
    this.#inClearLogged = true;
  }

  /** Loads cached tokens (authorization code) or the configured token endpoint (client credentials). */
  async start(): Promise<void> {
    const { config, grant } = this.#o;
    if (grant === "authorization_code") {
      const document = await this.#o.cache.load();
      const state = document.current ? document.issuers[document.current] : undefined;
      if (state?.tokens) {
        this.#current = { issuer: document.current!, ...state };
        this.#requested = union(this.#requested, state.tokens.scopes);
      }
    } else if (config.token_url) {
      this.#current = this.#configured();
    }
  }

  /** The authorization server as configured (token_url, authorization_url) for servers without metadata. */
  #configured(): Current {
    const { config, serverUrl } = this.#o;
    const as = staticAuthorizationServer(config.token_url!, config.authorization_url);
    const issuer = config.issuer ?? as.issuer;
    return { issuer, as: { ...as, issuer }, resource: config.resource ?? serverUrl };
  }

  async authorization(): Promise<string | undefined> {
    if (this.#inClear) {
      if (this.#current) this.#refuseInClear();
      return undefined;
    }
    if (this.#busy) await this.#busy.catch(() => false);
    let current = this.#current;
    if (!current) return undefined;
    if (!current.tokens && this.#o.grant !== "authorization_code") {
      // Failed lately: the request fails with that failure, asking nothing (see FAILURE_PAUSE_MS).
      if (performance.now() < this.#pausedUntil) throw new OutboundAuthError("grant", this.#failure!);
      try {
        await this.#singleRenewal(() => this.#obtain(current!, this.#requested));
      } catch (error) {
        this.#failed(error);
        throw error;
      }
      this.#succeeded();
      current = this.#current;
    } else if (current.tokens && isStale(current.tokens, Date.now()) && (current.tokens.refreshToken || this.#o.grant !== "authorization_code") && performance.now() - this.#renewalFailedAt >= RENEWAL_BACKOFF_MS) {
      await this.#singleRenewal(() => this.#renew(current!)).catch((error: unknown) => {
        this.#renewalFailedAt = performance.now();
        this.#o.logger.warn("token refresh failed; the current token is used until it is refused", { error: (error as Error).message, retry_in_ms: RENEWAL_BACKOFF_MS });
      });
      current = this.#current;
    }
    return current?.tokens ? header(current.tokens) : undefined;
  }

  async proof(target: ProofTarget): Promise<string | undefined> {
    const tokens = this.#current?.tokens;
    if (tokens?.tokenType !== "dpop" || !this.#dpop) return undefined;
    return resourceProof(this.#dpop, target, tokens.accessToken);
  }

  async handleChallenge(challenge: AuthChallenge): Promise<boolean> {
    if (this.#shutdown.signal.aborted) return false;
    if (this.#inClear) {
      this.#refuseInClear();
      return false;
    }
    // RFC 9449 §9: the MCP server wants its nonce in the proof; the same token is sent again with it.
    if (challenge.dpopNonce && this.#dpop && parseBearerChallenge(challenge.wwwAuthenticate)?.error === "use_dpop_nonce") {
      const fresh = this.#dpop.resourceNonce !== challenge.dpopNonce;
      this.#dpop.resourceNonce = challenge.dpopNonce;
      return fresh;
    }
    // Says when a refusal was taken up, and whether a renewal on its way will serve it (tests wait for it, not for a time).
    this.#o.logger.debug("the remote server refused the token", { status: challenge.status, renewal_on_its_way: this.#busy !== undefined || this.#renewing !== undefined });
    if (this.#busy) {
      // Requests in flight when the token was replaced all come back refused: one renewal serves them all.
      const ok = await this.#busy.catch(() => false);
      return ok && this.#current?.tokens !== undefined;
    }
    // A renewal ahead of expiry (authorization()) may be replacing the very token refused: it serves
    // this refusal too. A second refresh would present its refresh token again, which an
    // authorization server rotating them takes for reuse and answers by revoking the grant (RFC 9700 §4.14.2).
    if (this.#renewing) await this.#renewing.catch(() => {});
    const sent = challenge.sentAuthorization;
    if (sent !== undefined && this.#current?.tokens && sent !== header(this.#current.tokens)) return true;
    // Failed lately: failure() still says why.
    if (performance.now() < this.#pausedUntil) return false;
    const run = this.#handle(challenge).catch((error: unknown) => this.#failed(error));
    this.#busy = run;
    try {
      const ok = await run;
      if (ok) this.#succeeded();
      return ok;
    } finally {
      if (this.#busy === run) this.#busy = undefined;
    }
  }

  /** Getting a token failed with `error`: logged, kept for failure(), and (see FAILURE_PAUSE_MS) not tried again for a while. */
  #failed(error: unknown): false {
    const message = error instanceof OutboundAuthError ? error.message : `unexpected failure: ${(error as Error)?.message}`;
    this.#failure = message;
    // Quitting in the middle of a sign-in is the person's choice, not a failure.
    if (this.#shutdown.signal.aborted) {
      this.#o.logger.info("sign-in ended: the bridge is shutting down", { server: redactUrl(this.#o.serverUrl) });
      return false;
    }
    if (error instanceof OutboundAuthError && error.code === "authorization") {
      this.#o.logger.error("authorization failed", { server: redactUrl(this.#o.serverUrl), reason: message });
      return false;
    }
    const pauseMs = backoffDelay(this.#failuresInRow++, FAILURE_PAUSE_MS, MAX_FAILURE_PAUSE_MS);
    this.#pausedUntil = performance.now() + pauseMs;
    this.#o.logger.error("authorization failed", { server: redactUrl(this.#o.serverUrl), reason: message, retry_in_ms: Math.round(pauseMs) });
    return false;
  }

  #succeeded(): void {
    this.#failure = undefined;
    this.#failuresInRow = 0;
    this.#pausedUntil = -Infinity;
  }

  failure(): string | undefined {
    return this.#failure;
  }

  /**
   * Ends a sign-in in progress (its loopback listener closes) and refuses further challenges.
   * Resolves once that sign-in has unwound, so its login lock is removed before the process exits
   * (a lock left behind would make the next instance wait for it to expire), and, for a person's
   * tokens (cached), once a refresh on its way has its answer (within http_timeout) and cached it:
   * the authorization server may already have rotated the refresh token, and the next start
   * presenting the old one would be reuse, which revokes the grant (RFC 9700 §4.14.2). Other
   * grants keep nothing to lose, and are not waited for.
   */
  async close(): Promise<void> {
    this.#shutdown.abort();
    await Promise.all([this.#busy, this.#o.grant === "authorization_code" ? this.#renewing?.catch(() => {}) : undefined]);
  }

  async #singleRenewal(renew: () => Promise<void>): Promise<void> {
    this.#renewing ??= renew().finally(() => (this.#renewing = undefined));
    return this.#renewing;
  }

  async #handle(challenge: AuthChallenge): Promise<boolean> {
    const { config, logger, grant } = this.#o;
    const bearer = parseBearerChallenge(challenge.wwwAuthenticate);
    if (challenge.status === 403 && bearer?.error !== "insufficient_scope") return false;
    const next = await this.#locate(bearer?.resourceMetadata);
    if (bearer?.scheme === "dpop") next.dpop = true;
    const previous = this.#current;
    const sameServer = previous?.issuer === next.issuer;
    if (previous && !sameServer) logger.info("the server's authorization server changed; registering there anew", { from: previous.issuer, to: next.issuer });

    let scopes: string[];
    if (challenge.status === 403) scopes = union(this.#requested, bearer?.scopes ?? []);
    // Configured scopes are what the person chose (least privilege); a server that needs more says so with 403 insufficient_scope (above).
    else if (config.scopes.length > 0) scopes = [...config.scopes];
    // Re-authorizing at the same server keeps what was asked for before (MCP §Scope Selection Strategy).
    else scopes = union(sameServer ? this.#requested : [], bearer?.scopes ?? next.scopesSupported ?? []);
    if (grant === "authorization_code" && scopes.length > 0 && next.as.scopes_supported?.includes("offline_access")) scopes = union(scopes, ["offline_access"]);

    const key = [...scopes].sort().join(" ");
    // A plain 401 for a token that merely expired: a refresh, not a new authorization.
    if (challenge.status === 401 && sameServer && previous?.tokens?.refreshToken && this.#allow(key, true)) {
      try {
        await this.#renew({ ...next, tokens: previous.tokens });
        return true;
      } catch (error) {
        logger.info("refresh refused; authorizing again", { reason: (error as Error).message });
        // A client the server forgot cannot sign in either: register anew.
        if (error instanceof OutboundAuthError && error.oauthError === "invalid_client" && next.registration?.via === "dcr") next.registration = undefined;
      }
    }
    if (!this.#allow(key, false)) throw new OutboundAuthError("grant", `the server keeps refusing tokens for the scopes ${key ? quotedValue(key) : "(none)"} (HTTP ${challenge.status}); giving up for now`);
    await this.#obtain(next, scopes);
    return true;
  }

  /**
   * The DPoP key when `as` offers DPoP with our algorithm (RFC 9449 §5.1). Asked for only where the
   * MCP server takes DPoP too: a DPoP-bound token is refused by a server that wants Bearer.
   */
  async #dpopKeyFor(as: oauth.AuthorizationServer): Promise<DpopKey | undefined> {
    if (!as.dpop_signing_alg_values_supported?.includes(DPOP_ALGORITHM)) return undefined;
    this.#dpop ??= await createDpopKey();
    return this.#dpop;
  }

  async #dpopHandle(as: oauth.AuthorizationServer, client: oauth.Client): Promise<oauth.DPoPHandle | undefined> {
    const key = await this.#dpopKeyFor(as);
    return key && oauth.DPoP(client, key.keyPair);
  }

  /**
   * Counts an attempt for the scope set `scopes` (a refresh when `refresh`); false once
   * MAX_AUTHORIZATIONS were made for it, or MAX_AUTHORIZATIONS_ALL_SCOPES for any, within the window.
   */
  #allow(scopes: string, refresh: boolean): boolean {
    const now = performance.now();
    // Scope tokens hold no space (RFC 6749 §3.3): these keys cannot be a scope set's.
    const key = `${refresh ? "refresh " : ""}${scopes}`;
    const all = refresh ? " all refreshes" : " all authorizations";
    const recent = (of: string) => (this.#authorizations.get(of) ?? []).filter((at) => now - at < AUTHORIZATION_WINDOW_MS);
    const mine = recent(key);
    const every = recent(all);
    if (mine.length >= MAX_AUTHORIZATIONS || every.length >= MAX_AUTHORIZATIONS_ALL_SCOPES) return false;
    // Scope sets with no attempt in the window are forgotten, so the map stays small (a dozen keys at most).
    for (const [of, times] of this.#authorizations) if (times.every((at) => now - at >= AUTHORIZATION_WINDOW_MS)) this.#authorizations.delete(of);
    this.#authorizations.set(key, [...mine, now]);
    this.#authorizations.set(all, [...every, now]);
    return true;
  }

  /** Configured endpoints instead of discovery: token_url for machines, with authorization_url for a person. */
  #endpointsConfigured(): boolean {
    const { config, grant } = this.#o;
    return Boolean(config.token_url && (grant !== "authorization_code" || config.authorization_url));
  }

  #pinnedIssuer(): string | undefined {
    return this.#o.config.issuer ?? issuerOfDiscoveryUrl(this.#o.config.discovery_url);
  }

  /**
   * The HttpContext for requests to `target`'s endpoints (registration, token): through the SSRF
   * guard when the MCP server's answers chose that server (discovery.ts guardFor), as configured
   * otherwise. What discovery decided holds (IssuerState.guarded): DNS that answers otherwise later,
   * as after a restart before the MCP server has answered, must not lift it.
   */
  async #endpointHttp(target: Current): Promise<HttpContext> {
    const { http, serverUrl } = this.#o;
    if (this.#endpointsConfigured() || this.#pinnedIssuer()) return http;
    if (target.guarded !== undefined) return target.guarded ? publicHttp(http) : http;
    return (await guardFor(http, serverUrl))?.http ?? http;
  }

  /** Discovery (or the configured endpoint) and what is known of that authorization server. */
  async #locate(resourceMetadataUrl: string | undefined): Promise<Current> {
    const { config, http, serverUrl, grant } = this.#o;
    if (this.#endpointsConfigured()) {
      if (this.#current?.issuer === (config.issuer ?? new URL(config.token_url!).origin)) return this.#current;
      const configured = this.#configured();
      return grant === "authorization_code" ? { ...(await this.#cachedState(configured.issuer)), ...configured } : configured;
    }
    const pinnedIssuer = this.#pinnedIssuer();
    const found = await discover(http, serverUrl, { ...(resourceMetadataUrl && { resourceMetadataUrl }), ...(pinnedIssuer && { pinnedIssuer }) });
    const issuer = found.as.issuer;
    const known = this.#current?.issuer === issuer ? this.#current : grant === "authorization_code" ? await this.#cachedState(issuer) : undefined;
    return {
      ...known,
      issuer,
      as: found.as,
      resource: config.resource ?? found.resource,
      ...(found.scopesSupported && { scopesSupported: found.scopesSupported }),
      ...(found.dpop && { dpop: true }),
      guarded: found.guarded,
    };
  }

  /**
   * What the cache keeps for `issuer` (registration, metadata, guarded) without its tokens: tokens
   * another instance put there since this one started are not ones this one sent and saw refused,
   * and #signIn takes them rather than signing in again.
   */
  async #cachedState(issuer: string): Promise<Partial<IssuerState>> {
    const state: Partial<IssuerState> = { ...(await this.#o.cache.load()).issuers[issuer] };
    delete state.tokens;
    return state;
  }

  #identity(as: oauth.AuthorizationServer): ClientIdentity {
    const { config, key } = this.#o;
    if (!config.client_id) throw new OutboundAuthError("config", "client.auth.oauth.client_id is required for this grant");
    const secret = config.client_secret?.reveal();
    const method = chooseAuthMethod(config.token_endpoint_auth_method, { secret: Boolean(secret), key: Boolean(key) }, as.token_endpoint_auth_methods_supported);
    return clientIdentity(config.client_id, method, secret, key);
  }

  async #interactive(target: Current): Promise<InteractiveContext> {
    const { config, platform, logger, key, openBrowser } = this.#o;
    return { config, http: await this.#endpointHttp(target), platform, logger, key, commandEnv: this.#commandEnv, signal: this.#shutdown.signal, ...(openBrowser && { openBrowser }) };
  }

  /** A new token for `scopes` with the configured grant; becomes current. */
  async #obtain(target: Current, scopes: string[]): Promise<void> {
    const { grant } = this.#o;
    if (grant === "authorization_code") {
      await this.#signIn(target, scopes);
      this.#requested = union(this.#requested, scopes);
      return;
    }
    const identity = this.#identity(target.as);
    const http = await this.#endpointHttp(target);
    let tokens: TokenSet;
    if (grant === "client_credentials") {
      const dpop = target.dpop ? await this.#dpopHandle(target.as, identity.client) : undefined;
      tokens = await clientCredentialsGrant(http, target.as, identity, target.resource, scopes, dpop);
    } else {
      const assertion = grant === "enterprise" ? await this.#identityAssertion(target, scopes) : await this.#workloadToken();
      tokens = await jwtBearerGrant(http, target.as, identity, assertion, target.resource, scopes);
    }
    this.#requested = union(this.#requested, scopes);
    await this.#adopt({ ...target, tokens });
  }

  /** SEP-990: the person's ID token exchanged at the enterprise IdP for an ID-JAG meant for `target`'s AS. */
  async #identityAssertion(target: Current, scopes: string[]): Promise<string> {
    const { http, platform } = this.#o;
    const enterprise = this.#o.config.enterprise!;
    const idp = enterprise.idp_token_endpoint ? staticAuthorizationServer(enterprise.idp_token_endpoint) : await fetchAuthorizationServer(http, enterprise.idp_issuer!);
    if (!idp) throw new OutboundAuthError("discovery", `no metadata found for the enterprise identity provider ${enterprise.idp_issuer}`);
    const idpSecret = enterprise.idp_client_secret?.reveal();
    const idpIdentity = clientIdentity(enterprise.idp_client_id!, idpSecret ? "client_secret_basic" : "none", idpSecret, undefined);
    const idToken = await readCredential(
      { value: enterprise.id_token, env: enterprise.id_token_env, command: enterprise.id_token_command },
      platform,
      "client.auth.oauth.enterprise",
      { value: "id_token", env: "id_token_env", command: "id_token_command" },
      this.#commandEnv,
    );
    return exchangeIdToken(http, idp, idpIdentity, { idToken, audience: target.as.issuer, resource: target.resource, scopes });
  }

  /** SEP-1933: the JWT the platform gave this workload. */
  #workloadToken(): Promise<string> {
    const workload = this.#o.config.workload_identity!;
    return readCredential(
      { value: workload.token, env: workload.token_env, file: workload.token_file, command: workload.token_command },
      this.#o.platform,
      "client.auth.oauth.workload_identity",
      { value: "token", env: "token_env", file: "token_file", command: "token_command" },
      this.#commandEnv,
    );
  }

  /**
   * A person's sign-in, holding the login lock: when another instance signed in meanwhile, its
   * tokens are taken instead. Either way the tokens become current and are cached before the lock
   * is released.
   */
  async #signIn(target: Current, scopes: string[]): Promise<void> {
    // Tokens another instance obtained after ours, still valid, asked for the scopes asked here
    // (offline_access is a request for a refresh token, never a granted access-token scope), end
    // this sign-in: what the authorization server granted that instance is what it would grant this
    // one, fewer scopes than asked included (else each waiting instance would sign in once more).
    const held = target.tokens?.obtainedAt ?? -Infinity;
    const wanted = scopes.filter((scope) => scope !== "offline_access");
    await this.#o.cache.withLoginLock(
      async () => {
        if (this.#shutdown.signal.aborted) throw new OutboundAuthError("authorization", "sign-in cancelled: the bridge is shutting down");
        const shared = (await this.#o.cache.load()).issuers[target.issuer];
        const usable =
          shared?.tokens &&
          shared.registration &&
          shared.tokens.obtainedAt > held &&
          (shared.tokens.expiresAt === undefined || shared.tokens.expiresAt > Date.now()) &&
          wanted.every((scope) => (shared.tokens!.asked ?? shared.tokens!.scopes).includes(scope));
        if (!usable) return undefined;
        await this.#adopt({ ...target, tokens: shared.tokens!, registration: shared.registration! });
        return true;
      },
      async () => {
        const dpopKey = target.dpop ? await this.#dpopKeyFor(target.as) : undefined;
        try {
          const signedIn = await authorizeInteractively(await this.#interactive(target), target.as, {
            resource: target.resource,
            scopes,
            ...(target.registration && { cached: target.registration }),
            ...(dpopKey && { dpop: (client: oauth.Client) => oauth.DPoP(client, dpopKey.keyPair) }),
            registered: (registration) => this.#keepRegistration(target, registration),
          });
          // Cached while the lock is held: an instance waiting for it takes the lock next, and must
          // find these tokens there rather than sign in a second time.
          await this.#adopt({ ...target, ...signedIn });
          return true;
        } catch (error) {
          // The server forgot the client it registered (RFC 6749 §5.2 invalid_client): register anew next time.
          if (error instanceof OutboundAuthError && error.oauthError === "invalid_client" && target.registration?.via === "dcr") {
            this.#o.logger.info("the authorization server no longer knows this client; it will be registered again", { issuer: target.issuer });
            await this.#adopt({ ...target, registration: undefined, tokens: undefined });
          }
          throw error;
        }
      },
      this.#o.config.authorization_timeout + 30_000,
    );
  }

  /**
   * Keeps a dynamic registration made for a sign-in before the person completes it (the login lock
   * is held): a sign-in abandoned (the tab closed, consent refused) would otherwise be followed by a
   * new registration at each attempt, which authorization servers limit. Kept where no tokens are
   * cached for that server: those were issued to the registration they sit with.
   */
  async #keepRegistration(target: Current, registration: Registration): Promise<void> {
    const document = await this.#o.cache.load();
    const state = document.issuers[target.issuer];
    if (state?.tokens) return;
    const { as, resource, guarded } = target;
    document.issuers[target.issuer] = { ...state, as, resource, registration, ...(guarded !== undefined && { guarded }) };
    await this.#o.cache.save(document).catch((error: unknown) => this.#o.logger.warn("could not write the token cache", { error: (error as Error).message }));
  }

  /**
   * Refresh with the refresh token; without one, a new token by a non-interactive grant. Instances
   * sharing the token cache refresh one at a time (the login lock), and one whose refresh token
   * another instance already rotated takes that instance's tokens from the cache instead:
   * presenting a rotated-away refresh token is reuse, and revokes the grant (RFC 9700 §4.14.2).
   */
  async #renew(target: Current): Promise<void> {
    const tokens = target.tokens!;
    if (!tokens.refreshToken) return this.#obtain(target, tokens.scopes);
    const refresh = async () => {
      const identity = this.#o.grant === "authorization_code" ? identityFor(await this.#interactive(target), target.as, target.registration!) : this.#identity(target.as);
      const dpop = tokens.tokenType === "dpop" ? await this.#dpopHandle(target.as, identity.client) : undefined;
      const renewed = await refreshGrant(await this.#endpointHttp(target), target.as, identity, target.resource, tokens, dpop);
      await this.#adopt({ ...target, tokens: renewed });
      return true;
    };
    if (this.#o.grant !== "authorization_code") return void (await refresh());
    const refreshedElsewhere = async () => {
      // Waiting for another instance's lock ends at shutdown, as a sign-in's does: close() awaits it.
      if (this.#shutdown.signal.aborted) throw new OutboundAuthError("authorization", "refresh cancelled: the bridge is shutting down");
      const shared = (await this.#o.cache.load()).issuers[target.issuer];
      const fresh = shared?.tokens;
      if (!fresh || fresh.obtainedAt <= tokens.obtainedAt || isStale(fresh, Date.now())) return undefined;
      // With the registration they were issued to: the other instance may have registered anew.
      this.#current = { ...target, tokens: fresh, ...(shared.registration && { registration: shared.registration }) };
      return true;
    };
    await this.#o.cache.withLoginLock(refreshedElsewhere, refresh, REFRESH_LOCK_WAIT_MS);
  }

  async #adopt(next: Current): Promise<void> {
    this.#current = next;
    if (this.#o.grant !== "authorization_code") return;
    const document = await this.#o.cache.load();
    const { as, resource, registration, tokens, guarded } = next;
    // A DPoP-bound token is useless without its key, which never leaves memory: not kept on disk.
    const persistable = tokens && tokens.tokenType !== "dpop" ? tokens : undefined;
    document.issuers[next.issuer] = { as, resource, ...(registration && { registration }), ...(persistable && { tokens: persistable }), ...(guarded !== undefined && { guarded }) };
    document.current = next.issuer;
    try {
      await this.#o.cache.save(document);
    } catch (error) {
      this.#o.logger.warn("could not write the token cache; the next start will sign in again", { error: (error as Error).message });
    }
  }
}
