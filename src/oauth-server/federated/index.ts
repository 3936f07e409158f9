/**
 * @module Federated sign-in: the bridge is an OpenID Connect relying party of one upstream
 * identity provider (Google, Okta, Keycloak…). Authorization code flow with PKCE S256, `state` and
 * `nonce` (OIDC Core §3.1, RFC 9700 §2.1.1), on oauth4webapi; the ID token's signature checked with
 * jose against the provider's keys.
 */
import * as oauth from "oauth4webapi";
import { jwtVerify } from "jose";
import type { OAuthServerConfig } from "../../config/schema.ts";
import { Secret } from "../../config/secret.ts";
import { ConfigError } from "../../config/errors.ts";
import type { Logger } from "../../log/logger.ts";
import { variableNamed } from "../../log/sanitize.ts";
import type { Store } from "../../store/types.ts";
import type { PendingSignIns } from "../pending.ts";
import { JwksCache } from "../../auth/oauth/jwks-cache.ts";
import { oauthErrorCode, UpstreamError } from "../../auth/oauth/http.ts";
import { AuthError } from "../../auth/types.ts";
import { readBodyLimited } from "../../util/body.ts";
import { sha256, toHex } from "../../util/digest.ts";
import type { SignedInUser, UpstreamLogin, UpstreamSignInRequest } from "../identity.ts";
import { accountPolicy, signedInUser, type AccountPolicy } from "./account.ts";
import { UpstreamLoginError } from "./errors.ts";
import { UpstreamMetadata, type UpstreamProvider } from "./metadata.ts";

export { UpstreamLoginError } from "./errors.ts";

/** How long the user may take at the provider (MFA, account pickers) before the callback is refused (ms). */
export const UPSTREAM_LOGIN_TTL_MS = 10 * 60_000;
/** Largest token or UserInfo answer read from the provider. */
const MAX_RESPONSE_BYTES = 256 * 1024;
/** Least time between two JWKS fetches caused by an ID token with an unknown kid (ms). */
export const JWKS_REFETCH_COOLDOWN_MS = 10_000;
const STATE_PREFIX = "federated:state:";
/** How far the provider's clock may be from ours in an ID token's times (s), as oauth4webapi's checks allow. */
const ID_TOKEN_CLOCK_TOLERANCE_S = 30;

/** What `begin` keeps until the provider redirects back. Stored under a hash of `state`. */
interface PendingUpstreamLogin {
  [key: string]: string;
  pendingId: string;
  nonce: string;
  codeVerifier: string;
  /** The client's max_age (seconds, as text; "" when none), to check the ID token's auth_time against. */
  maxAge: string;
  /**
   * With prompt=login: when the sign-in began (ms since the epoch, as text), which the provider's
   * sign-in must not predate; else "" (and absent in a record stored before it was kept).
   */
  loginAfter: string;
}

export interface FederatedLoginOptions {
  /** State shared with the rest of the authorization server (single-use `state` records). */
  store: Store;
  /** Where a sign-in's `state` record is kept until the provider redirects back. */
  pending: PendingSignIns;
  /** The bridge's `/oauth/callback` URL, registered at the provider. */
  redirectUri: string;
  /** The upstream client secret (from `client_secret` or the `client_secret_env` variable). */
  clientSecret: Secret;
  logger: Logger;
  fetch?: typeof fetch;
  /** Milliseconds since the epoch; defaults to Date.now. */
  now?: () => number;
}

type FederatedConfig = OAuthServerConfig["federated"];

/**
 * The upstream client secret the config names: `client_secret`, else the `client_secret_env`
 * variable. Throws a ConfigError naming the key when neither yields one (check-config and start).
 */
export function resolveClientSecret(config: FederatedConfig, env: Readonly<Record<string, string | undefined>>): Secret {
  if (config.client_secret) return config.client_secret;
  const name = config.client_secret_env;
  const value = name ? env[name] : undefined;
  if (!value) {
    const message = name ? `${variableNamed(name)} is not set or empty (it holds the client secret registered at the identity provider)` : "is required in federated mode (or client_secret)";
    throw new ConfigError("CONFIG_INVALID", [{ path: "server.oauth_server.federated.client_secret_env", message }]);
  }
  return new Secret(value);
}

/**
 * The UpstreamLogin of `oauth_server.federated`, for createAuthorizationServer. A missing client
 * secret is a ConfigError naming the key; an unreachable provider is not (a warning; sign-ins retry).
 * `redirect_uri` is `<issuer>/oauth/callback`, to be registered at the provider.
 */
export async function startFederatedLogin(
  config: FederatedConfig,
  context: { store: Store; pending: PendingSignIns; issuer: string; logger: Logger; env: Readonly<Record<string, string | undefined>> },
): Promise<FederatedLogin> {
  const clientSecret = resolveClientSecret(config, context.env);
  // The constructor's TypeErrors (no client_id, no openid scope) are already refused by the config rules.
  const login = new FederatedLogin(config, { store: context.store, pending: context.pending, redirectUri: `${context.issuer}/oauth/callback`, clientSecret, logger: context.logger });
  // Not awaited: a provider that does not answer must not hold the bridge's start for http_timeout.
  void login.warmUp();
  return login;
}

/** The `UpstreamLogin` of federated mode. */
export class FederatedLogin implements UpstreamLogin {
  readonly #config: FederatedConfig;
  readonly #options: FederatedLoginOptions;
  readonly #client: oauth.Client;
  readonly #policy: AccountPolicy;
  readonly #metadata: UpstreamMetadata;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #fetch: typeof fetch;
  #jwks: { uri: string; cache: JwksCache } | undefined;
  /**
   * Where this sign-in's subjects come from, kept by what a sign-in leads to (SignedInUser.credential):
   * subjects are the provider's and, with pairwise identifiers (OIDC Core §8), per client too.
   */
  readonly #source: string;

  constructor(config: FederatedConfig, options: FederatedLoginOptions) {
    if (!config.client_id) throw new TypeError("federated sign-in needs client_id");
    if (!config.scopes.includes("openid")) throw new TypeError('federated scopes must include "openid": sign-in needs an ID token');
    this.#config = config;
    this.#options = options;
    this.#client = { client_id: config.client_id };
    this.#policy = accountPolicy(config);
    this.#logger = options.logger.child({ component: "federated" });
    this.#now = options.now ?? Date.now;
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.#metadata = new UpstreamMetadata(
      { issuer: config.upstream_issuer, discoveryUrl: config.upstream_discovery_url },
      { fetch: this.#fetch, timeout: config.http_timeout },
    );
    // The provider by its issuer, however the configuration names it (a trailing "/" aside).
    this.#source = `upstream ${JSON.stringify([this.#metadata.issuer.replace(/\/+$/, ""), config.client_id])}`;
  }

  /** Fetches the provider's metadata now, so a misconfiguration shows in the log at start; never rejects. */
  async warmUp(): Promise<void> {
    try {
      await this.#metadata.get();
    } catch (error) {
      this.#logger.warn("identity provider not usable yet; sign-ins will retry", { reason: error instanceof UpstreamLoginError ? error.reason : String(error) });
    }
  }

  /**
   * The provider's authorization URL for the pending request `pendingId` (OIDC Core §3.1.2.1),
   * with fresh `state`, `nonce` and PKCE S256 challenge (RFC 7636 §4), and the client's `prompt`
   * and `max_age` passed on (`asked`). What the callback needs is kept in the store under a hash of
   * `state`, single-use, for UPSTREAM_LOGIN_TTL_MS.
   */
  async begin(pendingId: string, asked: UpstreamSignInRequest = {}): Promise<URL> {
    const provider = await this.#provider();
    const state = oauth.generateRandomState();
    const nonce = oauth.generateRandomNonce();
    const codeVerifier = oauth.generateRandomCodeVerifier();
    const record: PendingUpstreamLogin = {
      pendingId,
      nonce,
      codeVerifier,
      maxAge: asked.maxAge === undefined ? "" : String(asked.maxAge),
      loginAfter: asked.prompt?.includes("login") ? String(this.#now()) : "",
    };
    await this.#options.pending.put(await stateKey(state), record, UPSTREAM_LOGIN_TTL_MS);
    const url = new URL(provider.metadata.authorization_endpoint);
    const parameters = {
      response_type: "code",
      client_id: this.#client.client_id,
      redirect_uri: this.#options.redirectUri,
      scope: this.#config.scopes.join(" "),
      state,
      nonce,
      code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: "S256",
      ...(asked.prompt && asked.prompt.length > 0 && { prompt: asked.prompt.join(" ") }),
      // With prompt=login, max_age=0 at least: a provider then MUST say when the person signed in
      // (auth_time, OIDC Core §3.1.2.1), which #finish requires; prompt alone can be dropped from the URL.
      ...((asked.maxAge !== undefined || record.loginAfter) && { max_age: String(asked.maxAge ?? 0) }),
    };
    for (const [name, value] of Object.entries(parameters)) url.searchParams.set(name, value);
    return url;
  }

  /**
   * Finishes sign-in from the provider's redirect to the callback (its full URL). The `state`
   * record is taken (deleted) first, so a replayed callback finds nothing, whatever happens next.
   * Rejects with UpstreamLoginError; once `state` matched, the error carries the pending id.
   */
  async complete(callbackUrl: URL): Promise<{ pendingId: string; user: SignedInUser }> {
    const states = callbackUrl.searchParams.getAll("state");
    if (states.length !== 1 || states[0] === "") throw new UpstreamLoginError("invalid_state", "callback without exactly one state parameter");
    const state = states[0]!;
    const record = await this.#options.store.take<PendingUpstreamLogin>(await stateKey(state));
    if (!record) throw new UpstreamLoginError("invalid_state", "callback state is unknown, expired or already used");
    try {
      const user = await this.#finish(callbackUrl, state, record);
      this.#logger.info("federated sign-in", { subject: user.subject, ...(user.email && { email: user.email }), scopes: user.scopes.join(" ") });
      return { pendingId: record.pendingId, user };
    } catch (error) {
      const failure = toUpstreamLoginError(error).withPendingId(record.pendingId);
      this.#logger.warn("federated sign-in failed", { code: failure.code, reason: failure.reason });
      throw failure;
    }
  }

  async abandon(state: string): Promise<void> {
    await this.#options.store.delete(await stateKey(state));
  }

  async #finish(callbackUrl: URL, state: string, record: PendingUpstreamLogin): Promise<SignedInUser> {
    const provider = await this.#provider();
    const as = provider.metadata;
    let parameters: URLSearchParams;
    try {
      // RFC 9207 iss (when the provider advertises it), state, and the error response.
      parameters = oauth.validateAuthResponse(as, this.#client, callbackUrl, state);
    } catch (error) {
      if (error instanceof oauth.AuthorizationResponseError) {
        const code = oauthErrorCode(error.error) ?? "(not an error code)";
        throw new UpstreamLoginError(code === "access_denied" ? "access_denied" : "upstream_error", `identity provider answered error ${code}`);
      }
      throw error;
    }
    const http = this.#http();
    const response = await oauth.authorizationCodeGrantRequest(as, this.#client, this.#clientAuthentication(as), parameters, this.#options.redirectUri, record.codeVerifier, http);
    // Checks iss, aud, azp, exp, iat and nonce of the ID token (OIDC Core §3.1.3.7), and auth_time
    // when the client asked for max_age (step 13).
    // A record stored before max_age was passed on has no maxAge.
    const maxAge = record.maxAge ? Number(record.maxAge) : undefined;
    const tokens = await oauth.processAuthorizationCodeResponse(as, this.#client, response, { expectedNonce: record.nonce, requireIdToken: true, ...(maxAge !== undefined && { maxAge }) });
    const claims: Record<string, unknown> = { ...oauth.getValidatedIdTokenClaims(tokens)! };
    // prompt=login asks the provider to sign the person in again (OIDC Core §3.1.2.1); an auth_time
    // from before this sign-in began says it did not. None at all (asked for with max_age, see
    // begin) proves nothing, as the person at the browser may have dropped prompt from the URL: it
    // is refused from a provider that lists auth_time among its claims. Others (Google without its
    // "session age claims") never send one, and prompt=login is then as good as the provider.
    const loginAfter = record.loginAfter ? Number(record.loginAfter) / 1000 : undefined;
    if (loginAfter !== undefined && typeof claims.auth_time !== "number" && as.claims_supported?.includes("auth_time")) {
      throw new UpstreamLoginError("upstream_error", "ID token has no auth_time, though the provider lists it and this sign-in asked it to sign the person in again (prompt=login, max_age)");
    }
    if (loginAfter !== undefined && typeof claims.auth_time === "number" && claims.auth_time < loginAfter - ID_TOKEN_CLOCK_TOLERANCE_S) {
      throw new UpstreamLoginError("upstream_error", "ID token auth_time predates this sign-in, which asked the provider to sign the person in again (prompt=login)");
    }
    // oauth4webapi compares azp only when there are several audiences; OIDC Core §3.1.3.7 step 5
    // has a present azp name this client in any case.
    if (claims.azp !== undefined && claims.azp !== this.#client.client_id) throw new UpstreamLoginError("upstream_error", 'ID token "azp" names another client');
    await this.#verifySignature(tokens.id_token!, provider);
    // Many providers (Okta, oidc-provider) keep profile claims out of the ID token in the code flow.
    if (claims.email === undefined && as.userinfo_endpoint) {
      const info = await oauth.processUserInfoResponse(as, this.#client, claims.sub as string, await oauth.userInfoRequest(as, this.#client, tokens.access_token, http));
      // email_verified speaks of the email beside it: both come from UserInfo, never a flag from the
      // ID token (about no email) joined to UserInfo's address.
      claims.email = info.email;
      claims.email_verified = info.email_verified;
      if (claims.name === undefined && info.name !== undefined) claims.name = info.name;
    }
    return { ...signedInUser(claims, this.#policy), credential: this.#source };
  }

  heldScopes(user: Pick<SignedInUser, "subject" | "email" | "credential">): string[] | undefined {
    // Signed in elsewhere (a built-in user, another provider or client): the subject names someone else here.
    if (user.credential !== this.#source) return undefined;
    try {
      // A grant keeps only an email the provider verified (account.ts), so it counts as at sign-in.
      return signedInUser({ sub: user.subject, ...(user.email !== undefined && { email: user.email, email_verified: true }) }, this.#policy).scopes;
    } catch (error) {
      if (error instanceof UpstreamLoginError) return undefined;
      throw error;
    }
  }

  /**
   * OIDC Core §3.1.3.7 step 6 lets a client skip the signature of an ID token received over TLS
   * from the token endpoint; it is checked anyway (jose, the provider's advertised asymmetric
   * algorithms only), so a compromised or misrouted token endpoint cannot name any user.
   */
  async #verifySignature(idToken: string, provider: UpstreamProvider): Promise<void> {
    const uri = provider.metadata.jwks_uri;
    if (this.#jwks?.uri !== uri) {
      // Never started (no background refresh), so the old cache holds no timer to release.
      this.#jwks = {
        uri,
        cache: new JwksCache({
          url: uri,
          fetch: this.#fetch,
          fetchTimeout: this.#config.http_timeout,
          refreshInterval: 60 * 60_000,
          cooldown: JWKS_REFETCH_COOLDOWN_MS,
          logger: this.#logger,
          retry: { initialDelay: 1_000, maxDelay: 60_000 },
        }),
      };
    }
    const cache = this.#jwks.cache;
    // Fetched at sign-in rather than kept fresh in the background, as sign-ins are rare: at most once
    // per cooldown, failed fetches included, so that a key the provider withdrew (compromised) stops
    // counting within it and a provider that is down is not asked at every sign-in. An unknown kid
    // (the provider rotated) refetches through the cache's cooldown too.
    if (!cache.ready) await cache.refreshUnlessWithin(JWKS_REFETCH_COOLDOWN_MS);
    else {
      await cache.refreshUnlessWithin(JWKS_REFETCH_COOLDOWN_MS).catch((error: unknown) => {
        this.#logger.warn("the identity provider's keys could not be fetched again; the keys fetched before are used", { error });
      });
    }
    try {
      await jwtVerify(idToken, cache.getKey, {
        algorithms: provider.idTokenAlgorithms,
        issuer: provider.metadata.issuer,
        audience: this.#client.client_id,
        // The provider's clock may differ a little from ours; oauth4webapi's claim checks allow the same.
        clockTolerance: ID_TOKEN_CLOCK_TOLERANCE_S,
        // iat (OIDC Core §3.1.3.7 step 10): oauth4webapi refuses one older than an hour but not one
        // in the future — a provider with a broken clock, or a token minted ahead of use.
        maxTokenAge: 3600,
        currentDate: new Date(this.#now()),
      });
    } catch (error) {
      if (error instanceof AuthError) {
        // From the key cache: no key for the kid (after a refetch), or the refetch failed.
        throw new UpstreamLoginError(error.code === "temporarily_unavailable" ? "upstream_unavailable" : "upstream_error", `ID token key: ${error.reason}`, { cause: error });
      }
      // jose's messages are fixed texts ('unexpected "iss" claim value'); they never quote the token.
      const code = (error as { code?: unknown }).code;
      throw new UpstreamLoginError("upstream_error", `ID token rejected: ${(error as Error).message} (${typeof code === "string" ? code : "no code"})`, { cause: error });
    }
  }

  async #provider(): Promise<UpstreamProvider> {
    try {
      return await this.#metadata.get();
    } catch (error) {
      throw toUpstreamLoginError(error);
    }
  }

  /** Client authentication at the token endpoint (RFC 6749 §2.3.1): Basic unless the provider only takes the form. */
  #clientAuthentication(as: oauth.AuthorizationServer): oauth.ClientAuth {
    const methods = as.token_endpoint_auth_methods_supported;
    const secret = this.#options.clientSecret.reveal();
    if (!methods || methods.includes("client_secret_basic")) return oauth.ClientSecretBasic(secret);
    if (methods.includes("client_secret_post")) return oauth.ClientSecretPost(secret);
    throw new UpstreamLoginError("upstream_error", "provider takes neither client_secret_basic nor client_secret_post at its token endpoint");
  }

  /** Per-request options: a timeout, a bounded body, and http allowed only where metadata.ts allowed it (loopback). */
  #http() {
    const fetchImpl = this.#fetch;
    return {
      signal: () => AbortSignal.timeout(this.#config.http_timeout),
      // metadata.ts accepted only https endpoints, or http on loopback (tests, local providers).
      [oauth.allowInsecureRequests]: true,
      [oauth.customFetch]: async (url: string, init: RequestInit) => {
        const response = await fetchImpl(url, init);
        const text = await readBodyLimited(response, MAX_RESPONSE_BYTES);
        if (text === undefined) throw new UpstreamError(`identity provider answer is larger than ${MAX_RESPONSE_BYTES} bytes`, { permanent: true });
        const headers = new Headers(response.headers);
        headers.delete("content-encoding");
        headers.delete("content-length");
        return new Response(text, { status: response.status, statusText: response.statusText, headers });
      },
    };
  }
}

/** Store key of a `state` value: its hash, so the store (a file, by default) never holds the value itself. */
async function stateKey(state: string): Promise<string> {
  return STATE_PREFIX + toHex(await sha256(state));
}

/**
 * Any failure as an UpstreamLoginError whose reason names the failed check, never the provider's
 * text (error_description, bodies): oauth4webapi's own messages are fixed strings.
 */
function toUpstreamLoginError(error: unknown): UpstreamLoginError {
  if (error instanceof UpstreamLoginError) return error;
  if (error instanceof UpstreamError) return new UpstreamLoginError(error.permanent ? "upstream_error" : "upstream_unavailable", error.reason, { cause: error });
  if (error instanceof oauth.ResponseBodyError) {
    const code = oauthErrorCode(error.error) ?? "(not an error code)";
    return new UpstreamLoginError("upstream_error", `token endpoint answered HTTP ${error.status} error ${code}`, { cause: error });
  }
  if (error instanceof oauth.OperationProcessingError) {
    return new UpstreamLoginError("upstream_error", `identity provider answer rejected: ${error.message} (${error.code ?? "no code"})`, { cause: error });
  }
  if (error instanceof oauth.UnsupportedOperationError || error instanceof oauth.WWWAuthenticateChallengeError) {
    return new UpstreamLoginError("upstream_error", `identity provider answer rejected: ${error.message}`, { cause: error });
  }
  const name = (error as Error)?.name;
  if (name === "TimeoutError" || name === "AbortError") return new UpstreamLoginError("upstream_unavailable", "identity provider timed out", { cause: error });
  if (error instanceof TypeError) return new UpstreamLoginError("upstream_unavailable", `identity provider unreachable (${error.message})`, { cause: error });
  return new UpstreamLoginError("upstream_error", `unexpected failure (${name ?? typeof error})`, { cause: error });
}
