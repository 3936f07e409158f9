/**
 * @module Server mode `auth.type: oauth`: validates OAuth 2.0 / OIDC access tokens meant for this
 * resource (MCP authorization, RFC 9068 JWTs, RFC 7662 introspection, RFC 8707 audience).
 */
import type { OAuthConfig } from "../../config/schema.ts";
import type { Logger } from "../../log/logger.ts";
import { AuthError, AuthSettingError, B64TOKEN, MAX_TOKEN_LENGTH, type Authenticator, type Principal } from "../types.ts";
import { discoverAuthorizationServer, discoveryPlan, type AuthorizationServerMetadata } from "./discovery.ts";
import { backgroundTimeout, backoffDelay, isTrustedEndpoint, UpstreamError } from "./http.ts";
import { introspectionRequest, introspectionWanted, processIntrospectionResponse, validateIntrospection, type IntrospectionClient } from "./introspection.ts";
import { JwksCache } from "./jwks-cache.ts";
import { decodeJwtHeader, verifyJwtAccessToken, type JwtPolicy } from "./jwt.ts";
import { createScopePolicy, principalFromClaims } from "./principal.ts";
import { REFUSED_TOKEN_CACHE_ENTRIES, TokenCache, tokenCacheKey } from "./token-cache.ts";
import type { Sha256 } from "../../util/digest.ts";

/** A validated token is re-verified at least this often, so a key withdrawn by the IdP stops working soon. */
const MAX_CACHE_TTL_MS = 5 * 60_000;
/** Inactive answers are reused briefly, so replaying a dead token does not cost an IdP round trip each time. */
const MAX_NEGATIVE_CACHE_TTL_MS = 10_000;
const DEFAULT_RETRY = { initialDelay: 1_000, maxDelay: 60_000 };

export interface OAuthAuthenticatorContext {
  /** Canonical URL of the MCP endpoint: the default audience (RFC 8707 / MCP authorization). */
  resource: string;
  logger: Logger;
  fetch?: typeof fetch;
  /** Milliseconds since the epoch; defaults to Date.now. */
  now?: () => number;
  /** The runtime's SHA-256 for cache keys; Web Crypto's when absent. */
  sha256?: Sha256;
  /** Backoff for discovery and the first JWKS fetch (ms); tests shorten it. */
  retry?: { initialDelay: number; maxDelay: number };
}

/** The Authenticator, plus what an operator or a test may want to look at. */
export interface OAuthAuthenticator extends Authenticator {
  readonly protectedResource: { authorizationServers: string[]; scopesSupported: string[] };
  start(): Promise<void>;
  close(): void;
  /** True once discovery (if configured) succeeded and a validation method is usable. */
  readonly ready: boolean;
}

function checkEndpoint(name: string, value: string | undefined): void {
  if (value !== undefined && !isTrustedEndpoint(value)) {
    throw new AuthSettingError(`oauth.${name}`, "must be an https URL (plain http is accepted only for loopback addresses)");
  }
}

/**
 * Builds the authenticator. Misconfiguration throws TypeError here; an unreachable IdP never does:
 * `start()` retries discovery with backoff and `verify()` answers 503 until it succeeds.
 */
export function createOAuthAuthenticator(config: OAuthConfig, context: OAuthAuthenticatorContext): OAuthAuthenticator {
  const logger = context.logger.child({ component: "oauth" });
  const fetchImpl = context.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const now = context.now ?? Date.now;
  const retry = context.retry ?? DEFAULT_RETRY;
  const audience = config.audience ?? context.resource;
  const scopes = createScopePolicy(config);
  const { validation } = config;
  const introspectionEndpoint = config.introspection.endpoint ?? config.introspection_url;
  const introspecting = introspectionWanted(config);
  const introspectionClientId = config.introspection.client_id ?? config.client_id;
  const introspectionSecret = config.introspection.client_secret ?? config.client_secret;

  if (!config.discovery_url && !config.jwks_url && !introspectionEndpoint) {
    throw new TypeError('auth.oauth needs "discovery_url", "jwks_url" or "introspection_url"');
  }
  for (const name of ["discovery_url", "issuer", "jwks_url", "introspection_url"] as const) checkEndpoint(name, config[name]);
  checkEndpoint("introspection.endpoint", config.introspection.endpoint);
  if (introspecting && (!introspectionClientId || !introspectionSecret)) {
    throw new TypeError('auth.oauth introspection needs "client_id" and "client_secret" (RFC 7662 §2.1: the caller must authenticate)');
  }
  if (config.introspection.enabled && !introspectionEndpoint && !config.discovery_url) {
    throw new TypeError('auth.oauth "introspection.enabled" needs "introspection.endpoint", "introspection_url" or "discovery_url"');
  }

  const plan = config.discovery_url ? discoveryPlan(config.discovery_url, config.issuer) : undefined;
  /** The iss tokens must carry: the discovered issuer, else the configured one. */
  let issuer: string | undefined = config.issuer;
  let metadata: AuthorizationServerMetadata | undefined;
  let jwks: JwksCache | undefined;
  let introspection: IntrospectionClient | undefined;
  let discoveryTimer: ReturnType<typeof setTimeout> | undefined;
  let discoveryFailures = 0;
  let starting: Promise<void> | undefined;
  let closed = false;

  if (!plan && !issuer && config.jwks_url) {
    logger.warn('no "issuer" configured: the "iss" claim is not checked, only signatures by the keys at jwks_url', { jwks_url: config.jwks_url });
  }

  const tokenCache = new TokenCache<Principal>({ maxTtl: MAX_CACHE_TTL_MS, now });
  const introspectionCache = new TokenCache<Principal>({ maxTtl: config.introspection.cache_ttl, now });
  const introspectionRefusals = new TokenCache<AuthError>({ maxEntries: REFUSED_TOKEN_CACHE_ENTRIES, maxTtl: Math.min(config.introspection.cache_ttl, MAX_NEGATIVE_CACHE_TTL_MS), now });
  const inFlight = new Map<string, Promise<Principal>>();

  function configureEndpoints(discovered: AuthorizationServerMetadata | undefined): void {
    const jwksUrl = config.jwks_url ?? discovered?.jwks_uri;
    if (jwksUrl) {
      jwks = new JwksCache({
        url: jwksUrl,
        fetch: fetchImpl,
        fetchTimeout: config.jwks.fetch_timeout,
        refreshInterval: config.jwks.refresh_interval,
        cooldown: config.jwks.cooldown,
        logger,
        retry,
      });
    }
    const endpoint = introspectionEndpoint ?? (config.introspection.enabled ? discovered?.introspection_endpoint : undefined);
    if (introspecting && endpoint) {
      introspection = { endpoint, clientId: introspectionClientId!, clientSecret: introspectionSecret!, authMethod: config.introspection.auth_method };
    } else if (introspecting) {
      logger.error("introspection is enabled but the authorization server metadata names no introspection_endpoint");
    }
    if (!jwks && !introspection) logger.error("neither a JWKS nor an introspection endpoint is known: every token will be refused");
  }

  if (!plan) configureEndpoints(undefined);

  async function discoverOnce(): Promise<boolean> {
    try {
      metadata = await discoverAuthorizationServer(plan!, { fetch: fetchImpl, timeout: config.http_timeout });
    } catch (error) {
      discoveryFailures++;
      const reason = error instanceof UpstreamError ? error.reason : (error as Error).message;
      const delay = backoffDelay(discoveryFailures - 1, retry.initialDelay, retry.maxDelay);
      const permanent = error instanceof UpstreamError && error.permanent;
      // A wrong issuer will not fix itself, but an operator may fix the IdP; keep trying, slowly and loudly.
      (permanent ? logger.error : logger.warn)("OAuth discovery failed; requests get 503 until it succeeds", { reason, retry_in_ms: Math.round(delay) });
      if (!closed) discoveryTimer = backgroundTimeout(() => void discoverAndStart(), delay);
      return false;
    }
    issuer = metadata.issuer;
    logger.info("OAuth authorization server discovered", { issuer, jwks_uri: metadata.jwks_uri, introspection: metadata.introspection_endpoint !== undefined });
    configureEndpoints(metadata);
    return true;
  }

  async function discoverAndStart(): Promise<void> {
    if (closed) return;
    if (plan && !metadata && !(await discoverOnce())) return;
    if (!closed) await jwks?.start();
  }

  function start(): Promise<void> {
    starting ??= discoverAndStart();
    return starting;
  }

  const jwtPolicy = (): JwtPolicy => ({
    issuer,
    audience,
    algorithms: validation.allowed_algorithms,
    clockSkew: validation.clock_skew / 1000,
    requireExpiration: validation.require_expiration,
    requireAtJwt: validation.require_at_jwt,
    maxTokenAge: validation.max_token_age === undefined ? undefined : validation.max_token_age / 1000,
    now,
  });

  /** The instant (ms) a validated JWT stops being reusable: exp, or iat + max_token_age. */
  function validUntil(claims: Record<string, unknown>): number | undefined {
    const ends: number[] = [];
    if (typeof claims.exp === "number") ends.push(claims.exp * 1000);
    if (typeof claims.iat === "number" && validation.max_token_age !== undefined) ends.push(claims.iat * 1000 + validation.max_token_age);
    return ends.length === 0 ? undefined : Math.min(...ends);
  }

  async function introspect(token: string, key: string): Promise<Principal> {
    const client = introspection!;
    let answer;
    try {
      answer = await processIntrospectionResponse(await introspectionRequest(token, client, { fetch: fetchImpl, timeout: config.http_timeout }));
    } catch (error) {
      if (error instanceof UpstreamError) throw new AuthError("temporarily_unavailable", `introspection failed: ${error.reason}`);
      throw error;
    }
    let principal: Principal;
    try {
      const claims = validateIntrospection(answer, { issuer, audience, audienceRequired: config.audience !== undefined, clockSkew: validation.clock_skew / 1000, now });
      principal = principalFromClaims(claims, config.claims, { subjectFallback: typeof claims.client_id === "string" ? claims.client_id : undefined });
    } catch (error) {
      if (error instanceof AuthError) introspectionRefusals.set(key, error, undefined);
      throw error;
    }
    introspectionCache.set(key, principal, principal.expiresAt === undefined ? undefined : principal.expiresAt * 1000);
    return principal;
  }

  async function validate(token: string, key: string): Promise<Principal> {
    if (plan && !metadata) {
      void start();
      throw new AuthError("temporarily_unavailable", "authorization server metadata not discovered yet");
    }
    const header = decodeJwtHeader(token);
    if (header && jwks) {
      if (!jwks.ready) {
        void start();
        throw new AuthError("temporarily_unavailable", "no signing keys fetched yet");
      }
      const claims = await verifyJwtAccessToken(token, header, jwks.getKey, jwtPolicy());
      const principal = principalFromClaims(claims, config.claims);
      tokenCache.set(key, principal, validUntil(claims));
      return principal;
    }
    // RFC 7662 for opaque tokens, and for JWTs when no JWKS is configured.
    if (introspection) {
      // An honest user's cached answer first: one lookup on the common path (a key is live in at most one of the two).
      const cached = introspectionCache.get(key);
      if (cached) return cached;
      const refusal = introspectionRefusals.get(key);
      if (refusal) throw refusal;
      return introspect(token, key);
    }
    throw new AuthError("invalid_token", header ? "JWT presented but no JWKS is configured" : "not a JWT, and introspection is not configured");
  }

  function requireScopes(principal: Principal): Principal {
    const missing = scopes.requiredScopes.filter((scope) => !principal.scopes.includes(scope));
    if (missing.length > 0) {
      throw new AuthError("insufficient_scope", `missing scopes: ${missing.join(" ")}`, { requiredScopes: [...scopes.requiredScopes] });
    }
    return principal;
  }

  return {
    requiredScopes: scopes.requiredScopes,
    scopesFor: scopes.scopesFor,
    get protectedResource() {
      const server = issuer ?? plan?.expected.issuer;
      return { authorizationServers: server ? [server] : [], scopesSupported: [...scopes.scopesSupported] };
    },
    get ready() {
      return (!plan || metadata !== undefined) && (jwks?.ready === true || introspection !== undefined);
    },
    start,
    async verify(token) {
      // Checked before anything else touches the token: no parsing, no hashing.
      if (token.length > MAX_TOKEN_LENGTH) throw new AuthError("invalid_token", `token longer than ${MAX_TOKEN_LENGTH} characters`);
      if (!B64TOKEN.test(token)) throw new AuthError("invalid_token", "token is not an RFC 6750 b64token");
      const key = await tokenCacheKey(token, context.sha256);
      const cached = tokenCache.get(key);
      if (cached) return requireScopes(cached);
      // Concurrent requests with one token (a session's burst) share one validation.
      let pending = inFlight.get(key);
      if (!pending) {
        pending = validate(token, key).finally(() => inFlight.delete(key));
        inFlight.set(key, pending);
      }
      return requireScopes(await pending);
    },
    close() {
      closed = true;
      if (discoveryTimer !== undefined) clearTimeout(discoveryTimer);
      jwks?.close();
    },
  };
}
