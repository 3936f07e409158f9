/**
 * @module The upstream identity provider's metadata (OIDC Discovery §4 / RFC 8414), fetched when
 * first needed and kept for a while. The discovery code is the resource server's own: same issuer
 * check ("MUST be identical"), same size and time limits.
 */
import type { AuthorizationServer } from "oauth4webapi";
import { discoverAuthorizationServer, discoveryPlan } from "../../auth/oauth/discovery.ts";
import { isTrustedEndpointOf, UNTRUSTED_ENDPOINT, UpstreamError } from "../../auth/oauth/http.ts";
import { UpstreamLoginError } from "./errors.ts";

/** Metadata is refetched after this long (ms), so a provider's new endpoints or algorithms are picked up. */
const METADATA_TTL_MS = 60 * 60_000;
/** After a failed fetch, sign-ins fail at once for this long (ms) instead of each waiting on a dead provider. */
const FAILURE_COOLDOWN_MS = 5_000;
/**
 * Asymmetric JWS algorithms an ID token may be signed with (RFC 7518 §3.1, RFC 8037). HS* (signed
 * with the client secret) and "none" are never accepted, whatever the provider advertises.
 */
const ASYMMETRIC_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"];
/** OIDC Core §15.1: RS256 is what every provider supports when it does not say. */
const DEFAULT_ID_TOKEN_ALGORITHMS = ["RS256"];

/** What sign-in needs from the provider's metadata, checked. */
export interface UpstreamProvider {
  metadata: AuthorizationServer & { issuer: string; authorization_endpoint: string; token_endpoint: string; jwks_uri: string };
  /** Algorithms ID tokens may carry: advertised ∩ asymmetric. */
  idTokenAlgorithms: string[];
}

/** The provider's metadata, or a permanent UpstreamError naming what is missing or unsafe. */
function checkProviderMetadata(metadata: Record<string, unknown> & { issuer: string }): UpstreamProvider {
  for (const key of ["authorization_endpoint", "token_endpoint", "jwks_uri"] as const) {
    if (typeof metadata[key] !== "string") throw new UpstreamError(`provider metadata has no "${key}"`, { permanent: true });
  }
  for (const key of ["authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint"] as const) {
    const value = metadata[key];
    if (value !== undefined && (typeof value !== "string" || !isTrustedEndpointOf(metadata.issuer, value))) {
      throw new UpstreamError(`provider metadata "${key}" ${UNTRUSTED_ENDPOINT}`, { permanent: true });
    }
  }
  const methods = metadata.code_challenge_methods_supported;
  // Absent is common (PKCE predates the member) and S256 is sent regardless; present without it is a refusal.
  if (Array.isArray(methods) && !methods.includes("S256")) throw new UpstreamError("provider does not support PKCE with S256", { permanent: true });
  const advertised = Array.isArray(metadata.id_token_signing_alg_values_supported)
    ? metadata.id_token_signing_alg_values_supported.filter((alg): alg is string => typeof alg === "string")
    : DEFAULT_ID_TOKEN_ALGORITHMS;
  const idTokenAlgorithms = advertised.filter((alg) => ASYMMETRIC_ALGORITHMS.includes(alg));
  if (idTokenAlgorithms.length === 0) throw new UpstreamError("provider signs ID tokens with no asymmetric algorithm the bridge accepts", { permanent: true });
  return { metadata: metadata as UpstreamProvider["metadata"], idTokenAlgorithms };
}

/** Fetches and caches one provider's metadata; concurrent sign-ins share one fetch. */
export class UpstreamMetadata {
  readonly #plan: ReturnType<typeof discoveryPlan>;
  readonly #options: { fetch: typeof fetch; timeout: number };
  // Ages on the monotonic clock (performance.now()): a step of the wall clock must neither keep a
  // failed discovery from being retried for as long as the step (sign-ins refused meanwhile) nor
  // keep metadata that long.
  #current: { provider: UpstreamProvider; fetchedAt: number } | undefined;
  #inFlight: Promise<UpstreamProvider> | undefined;
  #failedAt = Number.NEGATIVE_INFINITY;
  #lastFailure: UpstreamLoginError | undefined;

  /**
   * `issuer` is compared byte for byte with the metadata's; `discoveryUrl` (optional) is where to
   * look when it is not the issuer's well-known location.
   */
  constructor(where: { issuer?: string; discoveryUrl?: string }, options: { fetch: typeof fetch; timeout: number }) {
    const url = where.discoveryUrl ?? where.issuer;
    if (!url) throw new TypeError("federated sign-in needs upstream_issuer or upstream_discovery_url");
    this.#plan = discoveryPlan(url, where.issuer);
    this.#options = options;
  }

  /** The issuer the metadata must name: upstream_issuer, else the one upstream_discovery_url implies. */
  get issuer(): string {
    return this.#plan.expected.issuer;
  }

  /**
   * The provider, fetched when absent or older than an hour. A refresh that fails keeps the known
   * metadata; with none known, it rejects with UpstreamLoginError (reason says why, for the log).
   */
  get(): Promise<UpstreamProvider> {
    const now = performance.now();
    const current = this.#current;
    if (current && now - current.fetchedAt < METADATA_TTL_MS) return Promise.resolve(current.provider);
    if (this.#inFlight) return this.#inFlight;
    if (now - this.#failedAt < FAILURE_COOLDOWN_MS) return current ? Promise.resolve(current.provider) : Promise.reject(this.#lastFailure);
    this.#inFlight = this.#fetch(current).finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  async #fetch(known: { provider: UpstreamProvider } | undefined): Promise<UpstreamProvider> {
    try {
      const metadata = await discoverAuthorizationServer(this.#plan, this.#options);
      const provider = checkProviderMetadata(metadata);
      this.#current = { provider, fetchedAt: performance.now() };
      return provider;
    } catch (error) {
      if (!(error instanceof UpstreamError)) throw error;
      this.#failedAt = performance.now();
      this.#lastFailure = new UpstreamLoginError(error.permanent ? "upstream_error" : "upstream_unavailable", `identity provider discovery: ${error.reason}`, { cause: error });
      if (known) return known.provider;
      throw this.#lastFailure;
    }
  }
}
