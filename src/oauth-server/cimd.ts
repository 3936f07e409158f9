/**
 * @module Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document; MCP
 * authorization 2025-11-25): a client_id that is an https URL names a JSON document describing
 * the client. Fetched with SSRF guards (the platform's publicFetch), only from allowed hosts,
 * never through redirects, size- and time-limited, cached in the Store per Cache-Control, capped
 * by max_cache_time. The document's client_id must equal its URL.
 */
import type { OAuthServerConfig } from "../config/schema.ts";
import type { Logger } from "../log/logger.ts";
import type { PublicFetch } from "../runtime/types.ts";
import type { Store } from "../store/types.ts";
import { validateClientMetadata, type Client, type MetadataDocumentResolver } from "./clients.ts";
import { OAuthError } from "./errors.ts";
import { addressBucket } from "../util/cidr.ts";
import { readAlikeByUrlParsers } from "../util/url-text.ts";

/** A client metadata document is a few hundred bytes; the draft suggests a 5 KB limit. */
export const MAX_DOCUMENT_BYTES = 5 * 1024;
/** Failures are remembered briefly, so a bad client_id cannot make the bridge fetch on every request. */
const NEGATIVE_CACHE_MS = 60_000;
/**
 * A document served no-store (or with a tiny max-age) is still kept this long (or max_cache_time,
 * if shorter): /token and /revoke look the client up on every request, and must not cost a fetch each.
 */
const MIN_CACHE_MS = 5 * 60_000;
/**
 * Fetches per client address (its /64 for IPv6) per window of documents whose client has not
 * been used for a token within KNOWN_GOOD_MS; past it they are refused without a fetch: made-up
 * client_id URLs cannot make the bridge fetch without end, nor an attacker's own valid documents
 * fill the store with cache entries. Counted before the fetch, successful or not, so requests
 * sent at once cannot all pass. A client used for a token is never refused, so a legitimate
 * client sharing the address (a hosted client's backend) is not locked out.
 */
const FETCHES_PER_ADDRESS = 20;
const FETCH_WINDOW_MS = 10 * 60_000;
const KNOWN_GOOD_MS = 86_400_000;
/** A client's mark of use is written again once it is this old, so it lasts KNOWN_GOOD_MS from the last use, not the first. */
const KNOWN_GOOD_RENEW_MS = 3_600_000;

type CimdConfig = OAuthServerConfig["client_metadata_documents"];

/** Why `clientId` cannot be a metadata document URL, or undefined when its shape is acceptable. */
export function metadataUrlProblem(clientId: string): string | undefined {
  if (!readAlikeByUrlParsers(clientId)) return "contains characters a URL cannot";
  let url: URL;
  try {
    url = new URL(clientId);
  } catch {
    return "is not a URL";
  }
  if (url.protocol !== "https:") return "is not https";
  if (url.username || url.password || clientId.includes("@")) return "has user information";
  if (url.hash || clientId.includes("#")) return "has a fragment";
  if (url.pathname === "/" || url.pathname === "") return "has no path";
  if (/(^|\/)\.\.?(\/|$)/.test(clientId.slice(url.origin.length)) || /%2e|%2f/i.test(url.pathname)) return "has dot or encoded path segments";
  if (url.href !== clientId) return "is not in normalised form";
  return undefined;
}

/** True when `host` is allowed by `patterns` ("example.com" exactly, "*.example.com" for subdomains); an empty list allows any. */
export function hostAllowed(patterns: readonly string[], host: string): boolean {
  if (patterns.length === 0) return true;
  const name = host.toLowerCase();
  return patterns.some((pattern) => {
    const p = pattern.toLowerCase();
    return p.startsWith("*.") ? name.endsWith(p.slice(1)) && name.length > p.length - 1 : name === p;
  });
}

/** max-age from Cache-Control (seconds → ms), 0 for no-store/no-cache, undefined when absent. */
function cacheLifetime(headers: Headers): number | undefined {
  const value = headers.get("cache-control");
  if (!value) return undefined;
  if (/(^|,)\s*(no-store|no-cache)\s*(,|$)/i.test(value)) return 0;
  const match = /(?:^|,)\s*max-age\s*=\s*(\d+)/i.exec(value);
  return match ? Number(match[1]) * 1000 : undefined;
}

export function createMetadataDocumentResolver(options: { config: CimdConfig; fetch: PublicFetch; store: Store; allowedRedirectUris: readonly string[]; logger: Logger }): MetadataDocumentResolver {
  const { config, store, logger } = options;
  const inFlight = new Map<string, Promise<Client>>();

  async function fetchDocument(clientId: string): Promise<Client> {
    const url = new URL(clientId);
    let result;
    try {
      result = await options.fetch(clientId, { timeout: config.fetch_timeout, maxBytes: MAX_DOCUMENT_BYTES, allowPrivate: config.allow_private_addresses });
    } catch (error) {
      // Why (a name that does not resolve, an address that is not public, a refused connection) is
      // for the log only: told to whoever asked, it would map the bridge's network for them.
      logger.warn("client metadata document not fetched", { client_id: clientId, reason: `${url.host} ${(error as Error).message}` });
      throw new OAuthError("invalid_client", "the client metadata document could not be fetched");
    }
    if (result.status !== 200) throw new OAuthError("invalid_client", `the client metadata document answered HTTP ${result.status}`);
    let body: unknown;
    try {
      body = JSON.parse(result.body);
    } catch {
      throw new OAuthError("invalid_client", "the client metadata document is not JSON");
    }
    if (typeof body !== "object" || body === null || Array.isArray(body)) throw new OAuthError("invalid_client", "the client metadata document is not a JSON object");
    const document = body as Record<string, unknown>;
    if (document.client_id !== clientId) throw new OAuthError("invalid_client", "the client metadata document's client_id differs from its URL");
    if (typeof document.client_name !== "string" || document.client_name.trim() === "") throw new OAuthError("invalid_client", "the client metadata document has no client_name");
    if ("client_secret" in document || "client_secret_expires_at" in document) throw new OAuthError("invalid_client", "a client metadata document cannot carry a client secret");
    const method = document.token_endpoint_auth_method ?? "none";
    if (method !== "none") throw new OAuthError("invalid_client", 'only token_endpoint_auth_method "none" is supported for metadata documents');
    const metadata = validateClientMetadata({ ...document, token_endpoint_auth_method: "none" }, options.allowedRedirectUris);
    const client: Client = { ...metadata, client_id: clientId, client_id_issued_at: Math.floor(Date.now() / 1000), source: "cimd" };
    const lifetime = Math.min(config.max_cache_time, Math.max(MIN_CACHE_MS, cacheLifetime(result.headers) ?? config.max_cache_time));
    if (lifetime > 0) await store.put(`cimd:${clientId}`, { client } as never, lifetime);
    return client;
  }

  return {
    async resolve(clientId, address) {
      const problem = metadataUrlProblem(clientId);
      if (problem) throw new OAuthError("invalid_client", `the client_id URL ${problem}`);
      const host = new URL(clientId).hostname;
      if (!hostAllowed(config.allowed_hosts, host)) throw new OAuthError("invalid_client", `clients from ${host} are not allowed on this server`);
      const cached = await store.get<{ client?: Client; error?: string } & Record<string, never>>(`cimd:${clientId}`);
      if (cached?.client) return cached.client as Client;
      if (cached?.error) throw new OAuthError("invalid_client", cached.error);
      let pending = inFlight.get(clientId);
      if (!pending && address !== undefined && !(await store.get(`cimd-ok:${clientId}`)) && (await store.increment(`cimd-fetch:${addressBucket(address)}`, 1, FETCH_WINDOW_MS)) > FETCHES_PER_ADDRESS) {
        logger.warn("client metadata document not fetched: too many documents of clients not yet used fetched for this address", { client_id: clientId, remote: address });
        throw new OAuthError("invalid_client", "too many client metadata documents were requested from this address; try again later", 429);
      }
      if (!pending) {
        pending = fetchDocument(clientId).finally(() => inFlight.delete(clientId));
        inFlight.set(clientId, pending);
      }
      try {
        return await pending;
      } catch (error) {
        if (error instanceof OAuthError) {
          logger.warn("client metadata document refused", { client_id: clientId, reason: error.description });
          await store.put(`cimd:${clientId}`, { error: error.description }, NEGATIVE_CACHE_MS).catch(() => {});
        }
        throw error;
      }
    },

    async used(clientId, adopt) {
      const key = `cimd-ok:${clientId}`;
      const marked = await store.get(key);
      if (typeof marked === "number" ? Date.now() - marked < KNOWN_GOOD_RENEW_MS : !(await adopt())) return;
      // Called once the tokens are issued: a full store must not turn them into an error now.
      await store.put(key, Date.now(), KNOWN_GOOD_MS).catch(() => {});
    },
  };
}
