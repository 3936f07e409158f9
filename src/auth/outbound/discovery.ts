/**
 * @module Finding the authorization server of an MCP server (MCP authorization §Authorization
 * Server Discovery): Protected Resource Metadata (RFC 9728) from the 401's `resource_metadata`,
 * else path-inserted, else at the root; then the authorization server's metadata (RFC 8414 /
 * OIDC Discovery) in the spec's order. A 2025-03-26 server without PRM gets that revision's
 * fallback: metadata at the server's root, else `/authorize`, `/token`, `/register` there.
 */
import * as oauth from "oauth4webapi";
import { isNonPublicAddress } from "../../util/cidr.ts";
import { isLocalhostName } from "../../util/host.ts";
import { readAlikeByUrlParsers } from "../../util/url-text.ts";
import { isStringList } from "../../util/object.ts";
import { quotedValue, redactUrl } from "../../log/sanitize.ts";
import { readJsonObject, send, UpstreamError } from "../oauth/http.ts";
import { OutboundAuthError } from "./errors.ts";
import { publicHttp, requireTrusted, requireTrustedOf, type HttpContext } from "./http.ts";

const MAX_METADATA_BYTES = 256 * 1024;

/** What discovery settles for one MCP server. */
export interface Discovered {
  /** The resource indicator to send (RFC 8707): the PRM's `resource`, else the server URL. */
  resource: string;
  /** The authorization server, its issuer checked against where its metadata was fetched. */
  as: oauth.AuthorizationServer;
  /** PRM `scopes_supported`: the scopes to ask for when the challenge names none. */
  scopesSupported?: string[];
  /** The PRM says the server takes DPoP-bound tokens (RFC 9728 §2 dpop_signing_alg_values_supported, dpop_bound_access_tokens_required). */
  dpop?: boolean;
  /** The public MCP server's answers chose this authorization server (guardFor applied): its endpoints are for guarded requests only. */
  guarded: boolean;
}

/**
 * Whether PRM `resource` may stand for `serverUrl`: the same URL, or (as deployed servers publish
 * at the root) the same origin with a path that is a prefix of the server's on a segment boundary.
 * Anything else is another resource, and a token for it must not be asked for (RFC 9728 §3.3).
 * So is a `resource` another URL parser could read with another host than the one checked here
 * (`https://h\\@evil/`): it goes to the authorization server as written.
 */
export function resourceCovers(resource: string, serverUrl: string): boolean {
  if (!readAlikeByUrlParsers(resource)) return false;
  let published: URL;
  let server: URL;
  try {
    published = new URL(resource);
    server = new URL(serverUrl);
  } catch {
    return false;
  }
  if (published.origin !== server.origin || published.search || published.hash) return false;
  const prefix = published.pathname.replace(/\/$/, "");
  const path = server.pathname.replace(/\/$/, "");
  return path === prefix || path.startsWith(`${prefix}/`);
}

/** Whether `url` names a host off the public Internet: such an address, or a localhost name (RFC 6761 §6.3). Names are not resolved. */
function isNonPublic(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    return false; // Not a URL: requireTrusted refuses it.
  }
  return isLocalhostName(host) || isNonPublicAddress(host);
}

/** Throws OutboundAuthError "discovery" when `url` (described as `what`) may not be fetched. */
type Reachable = (url: string, what: string) => void;

/** The SSRF guard's two halves: `reachable` refuses address literals and localhost names; `http` refuses, at connect time, names that resolve off the public Internet. */
export interface Guard {
  reachable: Reachable;
  http: HttpContext;
}

const REFUSED = "but the MCP server is not: refusing it (configure client.auth.oauth.issuer to use an authorization server there)";

/**
 * The guard for URLs the MCP server's answers lead to (its `resource_metadata`, its PRM's
 * authorization server, that server's endpoints, and the token requests sent there): off the
 * public Internet they are refused while the MCP server is on it — a server must not make the
 * bridge reach into the network it runs in (MCP security best practices §SSRF, RFC 9728 §7.7).
 * Undefined when the MCP server is itself off it (an address literal, a localhost name, or a name
 * whose addresses all are and that never answered from a public one, HttpClient.isPublicHost): its
 * own network is then where its authorization server is expected.
 * A configured issuer is the operator's choice and is not checked (callers pass `http` for it).
 */
export async function guardFor(http: HttpContext, serverUrl: string): Promise<Guard | undefined> {
  if (isNonPublic(serverUrl) || (http.publicOnly && !(await http.publicOnly.isPublicHost(new URL(serverUrl).hostname)))) return undefined;
  return {
    http: publicHttp(http),
    reachable: (url, what) => {
      if (isNonPublic(url)) throw new OutboundAuthError("discovery", `${what} ${quotedValue(redactUrl(url))} is a private, loopback or link-local address, ${REFUSED}`);
    },
  };
}

/** RFC 9728 §3.1 locations for `serverUrl`: path-inserted first, then the root. */
function prmLocations(serverUrl: string): string[] {
  const url = new URL(serverUrl);
  const path = url.pathname.replace(/\/$/, "");
  const root = `${url.origin}/.well-known/oauth-protected-resource`;
  return path ? [`${root}${path}`, root] : [root];
}

/**
 * Where an issuer's metadata may be, in the MCP spec's order: RFC 8414 path-inserted, OIDC
 * path-inserted, OIDC path-appended; without a path, RFC 8414 then OIDC at the root.
 */
export function asMetadataLocations(issuer: string): string[] {
  const url = new URL(issuer);
  const path = url.pathname.replace(/\/$/, "");
  if (!path) return [`${url.origin}/.well-known/oauth-authorization-server`, `${url.origin}/.well-known/openid-configuration`];
  return [
    `${url.origin}/.well-known/oauth-authorization-server${path}`,
    `${url.origin}/.well-known/openid-configuration${path}`,
    `${url.origin}${path}/.well-known/openid-configuration`,
  ];
}

interface ProtectedResource {
  resource: string;
  authorizationServers: string[];
  scopesSupported?: string[];
  dpop: boolean;
}

/** GET a metadata document: the parsed object, or undefined when it is not there (any non-200). */
async function getMetadata(http: HttpContext, url: string, what: string): Promise<Record<string, unknown> | undefined> {
  requireTrusted(url, what);
  let response: Response;
  try {
    response = await send(() => http.fetch(url, { headers: { accept: "application/json" }, signal: AbortSignal.timeout(http.timeout), redirect: "error" }), what);
  } catch (error) {
    // The guard's connect-time half (HttpRequestInit.publicOnly) refused the address the name resolved to.
    if (((error as Error).cause as { code?: string } | undefined)?.code === "not_public") {
      throw new OutboundAuthError("discovery", `${what} ${quotedValue(redactUrl(url))} resolves to a private, loopback or link-local address, ${REFUSED}`, { cause: error });
    }
    throw new OutboundAuthError("discovery", (error as UpstreamError).reason ?? `${what} unreachable`, { cause: error });
  }
  if (response.status !== 200) {
    await response.body?.cancel().catch(() => {});
    return undefined;
  }
  try {
    return await readJsonObject(response, MAX_METADATA_BYTES, what);
  } catch (error) {
    throw new OutboundAuthError("discovery", (error as UpstreamError).reason, { cause: error });
  }
}

/** The first few of a server's `values`, each quotedValue, and how many more there are. */
function quotedList(values: readonly string[]): string {
  const shown = values.slice(0, 3).map(quotedValue).join(", ");
  return values.length > 3 ? `${shown} and ${values.length - 3} more` : shown;
}

/** Fetches PRM from the challenge's URL, else the RFC 9728 locations; undefined when the server has none. */
async function fetchProtectedResource(http: HttpContext, serverUrl: string, resourceMetadataUrl: string | undefined, reachable: Reachable | undefined): Promise<ProtectedResource | undefined> {
  if (resourceMetadataUrl) reachable?.(resourceMetadataUrl, "the challenge's resource_metadata");
  for (const url of resourceMetadataUrl ? [resourceMetadataUrl] : prmLocations(serverUrl)) {
    const document = await getMetadata(http, url, "protected resource metadata");
    if (!document) continue;
    const resource = document.resource;
    if (typeof resource !== "string" || !resourceCovers(resource, serverUrl)) {
      throw new OutboundAuthError(
        "discovery",
        `protected resource metadata at ${quotedValue(redactUrl(url))} is for ${quotedValue(typeof resource === "string" ? redactUrl(resource) : resource)}, not for ${redactUrl(serverUrl)}: refusing to ask for a token for another resource`,
      );
    }
    const authorizationServers = isStringList(document.authorization_servers) ? document.authorization_servers : [];
    if (authorizationServers.length === 0) throw new OutboundAuthError("discovery", `protected resource metadata at ${quotedValue(redactUrl(url))} names no authorization_servers`);
    const scopesSupported = isStringList(document.scopes_supported) ? document.scopes_supported : undefined;
    const dpop = document.dpop_bound_access_tokens_required === true || (isStringList(document.dpop_signing_alg_values_supported) && document.dpop_signing_alg_values_supported.length > 0);
    return { resource, authorizationServers, ...(scopesSupported && { scopesSupported }), dpop };
  }
  return undefined;
}

/**
 * The metadata of `issuer`, from the first location that has it. Its `issuer` must equal the one
 * the URL was built from, byte for byte (RFC 8414 §3.3): a mismatch is a mix-up attempt and ends
 * discovery (`sameOriginIssuer` relaxes this to the same origin, for 2025-03-26 servers only).
 * `reachable` checks the issuer and the endpoints the metadata names (see guardFor).
 * Undefined when no location answers.
 */
export async function fetchAuthorizationServer(http: HttpContext, issuer: string, options: { sameOriginIssuer?: boolean; reachable?: Reachable } = {}): Promise<oauth.AuthorizationServer | undefined> {
  requireTrusted(issuer, "authorization server issuer");
  options.reachable?.(issuer, "authorization server issuer");
  for (const url of asMetadataLocations(issuer)) {
    const document = await getMetadata(http, url, "authorization server metadata");
    if (!document) continue;
    if (document.issuer !== issuer && !(options.sameOriginIssuer && typeof document.issuer === "string" && sameOrigin(document.issuer, issuer))) {
      throw new OutboundAuthError("discovery", `authorization server metadata at ${quotedValue(url)} names issuer ${quotedValue(document.issuer)}, not ${quotedValue(issuer)}: refusing it`);
    }
    return checkEndpoints(document as unknown as oauth.AuthorizationServer, options.reachable);
  }
  return undefined;
}

function sameOrigin(a: string, b: string): boolean {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
}

/** Every endpoint the bridge may send credentials to must be trustworthy (and, when `reachable` says so, public). */
function checkEndpoints(as: oauth.AuthorizationServer, reachable?: Reachable): oauth.AuthorizationServer {
  for (const key of ["token_endpoint", "authorization_endpoint", "registration_endpoint"] as const) {
    const value = as[key];
    if (value === undefined) continue;
    requireTrustedOf(as.issuer, String(value), `authorization server ${key}`);
    reachable?.(String(value), `authorization server ${key}`);
  }
  return as;
}

/**
 * Discovery for `serverUrl`.
 *
 * @param options.resourceMetadataUrl The 401's `resource_metadata`, when it had one.
 * @param options.pinnedIssuer The issuer the configuration names (`issuer` or `discovery_url`):
 *   PRM must list it, and it is used without PRM when the server publishes none.
 * @throws OutboundAuthError "discovery" naming what failed (guardFor's refusals included).
 */
export async function discover(http: HttpContext, serverUrl: string, options: { resourceMetadataUrl?: string; pinnedIssuer?: string } = {}): Promise<Discovered> {
  const guard = await guardFor(http, serverUrl);
  // What the server's answers lead to goes through the guard; a configured issuer does not.
  const led = guard?.http ?? http;
  const prm = await fetchProtectedResource(led, serverUrl, options.resourceMetadataUrl, guard?.reachable);
  if (prm) {
    const pinned = options.pinnedIssuer;
    if (pinned && !prm.authorizationServers.includes(pinned)) {
      throw new OutboundAuthError(
        "discovery",
        `the server's authorization server is ${quotedList(prm.authorizationServers)}, but client.auth.oauth names ${pinned}: credentials for one are never sent to another (update issuer / discovery_url)`,
      );
    }
    const issuer = pinned ?? prm.authorizationServers[0]!;
    const as = pinned ? await fetchAuthorizationServer(http, issuer) : await fetchAuthorizationServer(led, issuer, guard && { reachable: guard.reachable });
    if (!as) throw new OutboundAuthError("discovery", `no authorization server metadata found for ${quotedValue(issuer)}`);
    return { resource: prm.resource, as, guarded: !pinned && guard !== undefined, ...(prm.scopesSupported && { scopesSupported: prm.scopesSupported }), ...(prm.dpop && { dpop: true }) };
  }
  // No PRM: a configured issuer, else the 2025-03-26 rule (the server's origin is the issuer).
  const origin = new URL(serverUrl).origin;
  const issuer = options.pinnedIssuer ?? origin;
  // 2025-03-26 §2.3.2 derives the metadata URL from the server itself and names no issuer, so an
  // issuer on a path of the same origin (e.g. …/oauth) is that server's own; another origin is not.
  const as = await fetchAuthorizationServer(options.pinnedIssuer ? http : led, issuer, { sameOriginIssuer: !options.pinnedIssuer });
  const guarded = !options.pinnedIssuer && guard !== undefined;
  if (as) return { resource: serverUrl, as, guarded };
  if (options.pinnedIssuer) throw new OutboundAuthError("discovery", `no authorization server metadata found for ${issuer}`);
  // 2025-03-26 §2.3.3: default endpoints at the server's root. PKCE S256 is mandatory in that revision.
  return {
    resource: serverUrl,
    guarded,
    as: checkEndpoints({
      issuer: origin,
      authorization_endpoint: `${origin}/authorize`,
      token_endpoint: `${origin}/token`,
      registration_endpoint: `${origin}/register`,
      code_challenge_methods_supported: ["S256"],
    }),
  };
}

/** Metadata for a configured `token_url` without discovery (client credentials against a known endpoint). */
export function staticAuthorizationServer(tokenUrl: string, authorizationUrl?: string): oauth.AuthorizationServer {
  requireTrusted(tokenUrl, "client.auth.oauth.token_url");
  if (authorizationUrl) requireTrusted(authorizationUrl, "client.auth.oauth.authorization_url");
  return { issuer: new URL(tokenUrl).origin, token_endpoint: tokenUrl, ...(authorizationUrl && { authorization_endpoint: authorizationUrl, code_challenge_methods_supported: ["S256"] }) };
}

