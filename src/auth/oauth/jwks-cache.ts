/**
 * @module The JWKS cache: keys fetched in the background every refresh_interval and kept when the
 * IdP is unreachable; an unknown kid refetches at most once per cooldown, so a flood of made-up
 * kids cannot turn the bridge into a load generator against the IdP.
 *
 * jose's createRemoteJWKSet is not used: once its cacheMaxAge passes it refetches in the request
 * path and fails verification when that fetch fails (keys are not kept through an outage), and
 * its cooldown counts from the last *successful* fetch, so during an outage every unknown kid
 * triggers a new request. Selection of the key (kid, alg ↔ kty/crv, use, key_ops) is still
 * jose's, through createLocalJWKSet.
 */
import { createLocalJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from "jose";
import type { Logger } from "../../log/logger.ts";
import { AuthError } from "../types.ts";
import { backgroundTimeout, backoffDelay, readJsonObject, send, UpstreamError } from "./http.ts";

const MAX_JWKS_BYTES = 512 * 1024;
const MAX_KEYS = 100;
/**
 * Key types of asymmetric JWS algorithms and the public members each needs (RFC 7518 §6.2.1,
 * §6.3.1, RFC 8037 §2); symmetric "oct" keys are dropped.
 */
const PUBLIC_MEMBERS: Record<string, readonly string[]> = { RSA: ["n", "e"], EC: ["crv", "x", "y"], OKP: ["crv", "x"] };

/** A public signing key a token could be verified with: a known asymmetric type with its members, not for encryption. */
function isSigningKey(key: unknown): key is JSONWebKeySet["keys"][number] {
  if (typeof key !== "object" || key === null) return false;
  const jwk = key as Record<string, unknown>;
  const members = typeof jwk.kty === "string" && Object.hasOwn(PUBLIC_MEMBERS, jwk.kty) ? PUBLIC_MEMBERS[jwk.kty]! : [];
  return members.length > 0 && members.every((member) => typeof jwk[member] === "string") && jwk.use !== "enc";
}

export interface JwksCacheOptions {
  url: string;
  fetch: typeof fetch;
  fetchTimeout: number;
  refreshInterval: number;
  /** Least time between two fetches caused by an unknown kid (ms). */
  cooldown: number;
  logger: Logger;
  /** Backoff while no keys could be fetched yet (ms). */
  retry: { initialDelay: number; maxDelay: number };
}

/** GETs the JWK Set (RFC 7517 §5). */
export function jwksRequest(url: string, options: { fetch: typeof fetch; timeout: number }): Promise<Response> {
  return send(() => options.fetch(url, { headers: { accept: "application/jwk-set+json, application/json" }, redirect: "error", signal: AbortSignal.timeout(options.timeout) }), "JWKS endpoint");
}

/**
 * Checks a JWKS Response and keeps only public asymmetric signing keys. A set with none is refused
 * like an error answer, so the keys fetched before stay in use: replacing them with nothing would
 * refuse every token until the next refresh.
 */
export async function processJwksResponse(response: Response): Promise<JSONWebKeySet> {
  const body = await readJsonObject(response, MAX_JWKS_BYTES, "JWKS endpoint");
  if (!Array.isArray(body.keys)) throw new UpstreamError('JWKS answer has no "keys" array');
  const keys = body.keys.filter(isSigningKey);
  if (keys.length === 0) throw new UpstreamError(`JWKS has no usable signing key (of ${body.keys.length} keys)`);
  if (keys.length > MAX_KEYS) throw new UpstreamError(`JWKS has ${keys.length} signing keys; at most ${MAX_KEYS} are accepted`);
  return { keys };
}

export class JwksCache {
  readonly #options: JwksCacheOptions;
  #local: JWTVerifyGetKey | undefined;
  #inFlight: Promise<void> | undefined;
  /** Start of the latest fetch (performance.now()), successful or not: the cooldown counts from here. */
  #lastFetchStart = Number.NEGATIVE_INFINITY;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #failures = 0;
  /** The latest fetch failed: the IdP may have rotated to a key we cannot see. */
  #stale = false;
  #closed = false;
  /** How many fetches were started (for logs and tests). */
  fetchCount = 0;

  constructor(options: JwksCacheOptions) {
    this.#options = options;
  }

  /** True once a key set has been fetched. */
  get ready(): boolean {
    return this.#local !== undefined;
  }


  /** Fetches once (awaited, never throws), then keeps the set fresh in the background. */
  async start(): Promise<void> {
    await this.#refreshAndSchedule();
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Fetches the set now, sharing a fetch already in flight. Keeps the old keys on failure. */
  refresh(): Promise<void> {
    this.#inFlight ??= this.#fetch().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  /**
   * Fetches the set again unless a fetch, successful or not, started less than `cooldown` ms ago;
   * joins a fetch in flight. Rejects as refresh does.
   */
  refreshUnlessWithin(cooldown: number): Promise<void> {
    return this.#inFlight !== undefined || this.#cooledDown(cooldown) ? this.refresh() : Promise.resolve();
  }

  /** No fetch started within the last `cooldown` ms. */
  #cooledDown(cooldown: number): boolean {
    return performance.now() - this.#lastFetchStart >= cooldown;
  }

  async #fetch(): Promise<void> {
    const { url, fetch, fetchTimeout } = this.#options;
    this.#lastFetchStart = performance.now();
    this.fetchCount++;
    try {
      const set = await processJwksResponse(await jwksRequest(url, { fetch, timeout: fetchTimeout }));
      try {
        this.#local = createLocalJWKSet(set);
      } catch (error) {
        throw new UpstreamError("JWKS is malformed", { cause: error });
      }
    } catch (error) {
      this.#stale = true;
      throw error;
    }
    this.#stale = false;
  }

  async #refreshAndSchedule(): Promise<void> {
    if (this.#closed) return;
    const { refreshInterval, retry, logger } = this.#options;
    let delay = refreshInterval;
    try {
      await this.refresh();
      if (this.#failures > 0) logger.info("JWKS fetched again", { url: this.#options.url });
      this.#failures = 0;
    } catch (error) {
      this.#failures++;
      // Without keys nothing verifies: retry soon. With keys, verification goes on; retry within the interval.
      delay = backoffDelay(this.#failures - 1, retry.initialDelay, this.ready ? Math.min(retry.maxDelay, refreshInterval) : retry.maxDelay);
      logger.warn(this.ready ? "JWKS refresh failed; keeping the keys already fetched" : "JWKS fetch failed; tokens cannot be verified until it succeeds", {
        url: this.#options.url,
        reason: error instanceof UpstreamError ? error.reason : (error as Error).message,
        retry_in_ms: Math.round(delay),
      });
    }
    if (this.#closed) return;
    this.#timer = backgroundTimeout(() => void this.#refreshAndSchedule(), delay);
  }

  /**
   * The key function jose's jwtVerify calls with the protected header. An unknown kid may mean the
   * IdP rotated its keys, so the set is refetched — unless a fetch started within the cooldown.
   */
  readonly getKey: JWTVerifyGetKey = async (header, token) => {
    const local = this.#local;
    if (!local) throw new AuthError("temporarily_unavailable", "no signing keys fetched yet");
    try {
      return await local(header, token);
    } catch (error) {
      if ((error as { code?: string }).code !== "ERR_JWKS_NO_MATCHING_KEY") throw error;
    }
    if (this.#inFlight) {
      await this.#inFlight.catch(() => {});
    } else if (this.#cooledDown(this.#options.cooldown)) {
      try {
        await this.refresh();
      } catch (error) {
        throw new AuthError("temporarily_unavailable", `unknown kid and the JWKS refetch failed: ${error instanceof UpstreamError ? error.reason : (error as Error).name}`);
      }
    } else {
      throw this.#unknownKid(header, " (refetch cooling down)");
    }
    try {
      return await this.#local!(header, token);
    } catch (error) {
      if ((error as { code?: string }).code === "ERR_JWKS_NO_MATCHING_KEY") throw this.#unknownKid(header, "");
      throw error;
    }
  };

  /** Fails closed either way; 503 rather than 401 when the set could not be refreshed, since the key may be new. */
  #unknownKid(header: { kid?: unknown; alg?: unknown }, note: string): AuthError {
    const what = `no key for kid ${describeKid(header.kid)} and alg ${describeKid(header.alg)}${note}`;
    return this.#stale ? new AuthError("temporarily_unavailable", `${what}; the JWKS could not be refetched`) : new AuthError("invalid_token", what);
  }
}

/** kid and alg come from the attacker: quoted and shortened before they reach a log line. */
export function describeKid(value: unknown): string {
  if (value === undefined) return "(none)";
  const text = typeof value === "string" ? value : String(JSON.stringify(value));
  return JSON.stringify(text.length > 64 ? `${text.slice(0, 64)}…` : text);
}
