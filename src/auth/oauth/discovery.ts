/**
 * @module Authorization server discovery: OpenID Connect Discovery 1.0, then RFC 8414 metadata
 * (path-aware), each as a request function paired with a processor of the Response it gets.
 */
import * as z from "../../util/zod.ts";
import { isTrustedEndpointOf, readJsonObject, send, UNTRUSTED_ENDPOINT, UpstreamError } from "./http.ts";

const MAX_METADATA_BYTES = 256 * 1024;
const OIDC_SUFFIX = "/.well-known/openid-configuration";
const RFC8414_SEGMENT = "/.well-known/oauth-authorization-server";

/**
 * The members of OIDC Discovery §3 / RFC 8414 §2 metadata the bridge uses. Loose: providers add
 * many members, and RFC 8414 §2 says unknown ones are ignored.
 */
const AuthorizationServerMetadataSchema = z.looseObject({
  issuer: z.string().min(1),
  jwks_uri: z.string().optional(),
  introspection_endpoint: z.string().optional(),
  scopes_supported: z.array(z.string()).optional().catch(undefined),
});
export type AuthorizationServerMetadata = z.infer<typeof AuthorizationServerMetadataSchema>;

/** The issuer the metadata must name, and whether a trailing "/" difference is tolerated. */
export interface ExpectedIssuer {
  issuer: string;
  /**
   * True when the operator wrote `issuer:` (compared byte for byte). False when it was derived from
   * `discovery_url`, a location rather than an identifier: "https://x.auth0.com" and
   * "https://x.auth0.com/" build the same discovery URL, and Auth0's issuer has the slash.
   */
  exact: boolean;
}

/** Where to look, in order, and which issuer to expect, for a configured discovery_url / issuer. */
export function discoveryPlan(discoveryUrl: string, configuredIssuer: string | undefined): { urls: string[]; expected: ExpectedIssuer } {
  // Operators often paste the full well-known URL; take it as given and derive the issuer from it.
  if (discoveryUrl.endsWith(OIDC_SUFFIX)) {
    const base = discoveryUrl.slice(0, -OIDC_SUFFIX.length);
    return { urls: [discoveryUrl], expected: configuredIssuer ? { issuer: configuredIssuer, exact: true } : { issuer: base, exact: false } };
  }
  const url = new URL(discoveryUrl);
  if (url.pathname.startsWith(RFC8414_SEGMENT)) {
    const base = url.origin + url.pathname.slice(RFC8414_SEGMENT.length);
    return { urls: [discoveryUrl], expected: configuredIssuer ? { issuer: configuredIssuer, exact: true } : { issuer: base, exact: false } };
  }
  const trimmed = discoveryUrl.replace(/\/+$/, "");
  const path = url.pathname.replace(/\/+$/, "");
  return {
    urls: [
      // OIDC Discovery §4: the suffix is appended to the issuer, path included.
      `${trimmed}${OIDC_SUFFIX}`,
      // RFC 8414 §3.1: the well-known segment goes between the host and the issuer's path.
      `${url.origin}${RFC8414_SEGMENT}${path}`,
    ],
    expected: configuredIssuer ? { issuer: configuredIssuer, exact: true } : { issuer: discoveryUrl, exact: false },
  };
}

/** GETs one metadata document. */
export function discoveryRequest(url: string, options: { fetch: typeof fetch; timeout: number }): Promise<Response> {
  return send(
    () => options.fetch(url, { headers: { accept: "application/json" }, redirect: "error", signal: AbortSignal.timeout(options.timeout) }),
    "authorization server metadata",
  );
}

/**
 * Checks a metadata Response. RFC 8414 §3.3 / OIDC Discovery §4.3: the issuer "MUST be identical"
 * to the one the document was looked up for, or an attacker who controls one document could
 * impersonate another issuer. The endpoints it names must be https, and on loopback only for an
 * issuer there itself (isTrustedEndpointOf).
 */
export async function processDiscoveryResponse(expected: ExpectedIssuer, response: Response): Promise<AuthorizationServerMetadata> {
  const body = await readJsonObject(response, MAX_METADATA_BYTES, "authorization server metadata");
  const parsed = AuthorizationServerMetadataSchema.safeParse(body);
  if (!parsed.success) throw new UpstreamError('authorization server metadata has no string "issuer"');
  const metadata = parsed.data;
  if (!issuerMatches(expected, metadata.issuer)) {
    throw new UpstreamError(`metadata "issuer" ${JSON.stringify(metadata.issuer)} does not match the expected ${JSON.stringify(expected.issuer)}`, { permanent: true });
  }
  for (const key of ["jwks_uri", "introspection_endpoint"] as const) {
    const value = metadata[key];
    if (value !== undefined && !isTrustedEndpointOf(metadata.issuer, value)) throw new UpstreamError(`metadata "${key}" ${UNTRUSTED_ENDPOINT}`, { permanent: true });
  }
  return metadata;
}

function issuerMatches(expected: ExpectedIssuer, actual: string): boolean {
  if (expected.exact) return actual === expected.issuer;
  const strip = (value: string) => (value.endsWith("/") ? value.slice(0, -1) : value);
  return strip(actual) === strip(expected.issuer);
}

/**
 * Tries each discovery URL in order; a 404 (or any failure) at the OIDC location falls through to
 * RFC 8414. An issuer mismatch is not retried elsewhere: it is a misconfiguration or an attack.
 */
export async function discoverAuthorizationServer(
  plan: { urls: string[]; expected: ExpectedIssuer },
  options: { fetch: typeof fetch; timeout: number },
): Promise<AuthorizationServerMetadata> {
  const failures: string[] = [];
  for (const url of plan.urls) {
    try {
      return await processDiscoveryResponse(plan.expected, await discoveryRequest(url, options));
    } catch (error) {
      if (!(error instanceof UpstreamError)) throw error;
      if (error.permanent) throw error;
      failures.push(`${url}: ${error.reason}`);
    }
  }
  throw new UpstreamError(`discovery failed: ${failures.join("; ")}`);
}
