/**
 * @module Token introspection (RFC 7662): the request, the processing of its answer, and the same
 * issuer, audience and time rules a JWT gets. Any answer other than a clear "active" fails closed.
 */
import * as z from "../../util/zod.ts";
import { AuthError } from "../types.ts";
import { readJsonBody, readJsonObject, send, UpstreamError } from "./http.ts";
import type { OAuthConfig } from "../../config/schema.ts";

const MAX_ANSWER_BYTES = 64 * 1024;

export interface IntrospectionClient {
  endpoint: string;
  clientId: string;
  /** Revealed only when the request is built. */
  clientSecret: { reveal(): string };
  authMethod: "client_secret_basic" | "client_secret_post";
}

/** RFC 7662 §2.2 response; loose, since providers add members (RFC 7662 §2.2 "MAY"). */
export const IntrospectionResponseSchema = z.looseObject({
  active: z.boolean(),
});
export type IntrospectionResponse = z.infer<typeof IntrospectionResponseSchema>;

/** Whether server mode's `auth.oauth` asks for token introspection (RFC 7662): an endpoint, or `introspection.enabled` (the discovered one). */
export function introspectionWanted(config: Pick<OAuthConfig, "introspection" | "introspection_url">): boolean {
  return config.introspection.enabled || config.introspection.endpoint !== undefined || config.introspection_url !== undefined;
}

/** application/x-www-form-urlencoded, as RFC 6749 §2.3.1 requires for the Basic credentials too. */
function formEncode(value: string): string {
  return encodeURIComponent(value).replace(/%20/g, "+");
}

/** POSTs the token to the introspection endpoint (RFC 7662 §2.1), authenticated as the bridge's client. */
export function introspectionRequest(token: string, client: IntrospectionClient, options: { fetch: typeof fetch; timeout: number }): Promise<Response> {
  const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded", accept: "application/json" };
  let body = `token=${formEncode(token)}&token_type_hint=access_token`;
  if (client.authMethod === "client_secret_basic") {
    // RFC 6749 §2.3.1: id and secret are form-encoded before base64, so ":" in either survives.
    headers.authorization = `Basic ${btoa(`${formEncode(client.clientId)}:${formEncode(client.clientSecret.reveal())}`)}`;
  } else {
    body += `&client_id=${formEncode(client.clientId)}&client_secret=${formEncode(client.clientSecret.reveal())}`;
  }
  return send(
    // Credentials are in this request: never follow a redirect with them.
    () => options.fetch(client.endpoint, { method: "POST", headers, body, redirect: "error", signal: AbortSignal.timeout(options.timeout) }),
    "introspection endpoint",
  );
}

/** Parses an introspection Response; throws UpstreamError when it is not a usable answer. */
export async function processIntrospectionResponse(response: Response): Promise<IntrospectionResponse> {
  if (response.status === 400) {
    // Some servers (oidc-provider for its JWT access tokens) refuse to introspect certain tokens
    // with RFC 7009 §2.2.1's "unsupported_token_type": a clear no for this token, not an outage.
    const answer = await readJsonBody(response, MAX_ANSWER_BYTES, "introspection endpoint").catch(() => undefined);
    if (answer?.error === "unsupported_token_type") throw new AuthError("invalid_token", "introspection: the authorization server does not introspect this kind of token");
    throw new UpstreamError("introspection endpoint answered HTTP 400");
  }
  // A 401/403 here means the bridge's own client credentials are wrong: an outage, not the token's fault.
  const body = await readJsonObject(response, MAX_ANSWER_BYTES, "introspection endpoint");
  const parsed = IntrospectionResponseSchema.safeParse(body);
  if (!parsed.success) throw new UpstreamError('introspection answer has no boolean "active"');
  return parsed.data;
}

export interface IntrospectionPolicy {
  issuer: string | undefined;
  audience: string;
  /**
   * True when `audience` was configured: an answer without "aud" is then refused. Otherwise (the
   * default audience, this server's URL) an answer without "aud" is accepted, since RFC 7662 makes
   * it optional and many authorization servers omit it; an "aud" naming other resources never is.
   */
  audienceRequired: boolean;
  /** Seconds. */
  clockSkew: number;
  now: () => number;
}

/** Token types that are bearer access tokens (RFC 7662 §2.2 token_type; RFC 8693 §3 URI). */
const BEARER_TYPES = new Set(["bearer", "access_token", "urn:ietf:params:oauth:token-type:access_token"]);

/**
 * Applies the rules a JWT gets to an active answer and returns it as claims. RFC 7662 §4: the
 * resource server must still check that the token was meant for it (audience) — "active" alone
 * only says the IdP issued it to someone.
 */
export function validateIntrospection(answer: IntrospectionResponse, policy: IntrospectionPolicy): Record<string, unknown> {
  if (answer.active !== true) throw new AuthError("invalid_token", "introspection: token is not active");
  const claims = answer as Record<string, unknown>;
  const now = policy.now() / 1000;
  if (policy.issuer !== undefined && claims.iss !== undefined && claims.iss !== policy.issuer) throw new AuthError("invalid_token", 'introspection: unexpected "iss"');
  const aud = claims.aud;
  const audiences = typeof aud === "string" ? [aud] : Array.isArray(aud) ? aud : [];
  if (!audiences.includes(policy.audience) && (aud !== undefined || policy.audienceRequired)) throw new AuthError("invalid_token", `introspection: ${aud === undefined ? 'no "aud"' : 'unexpected "aud"'}`);
  // RFC 7662 §2.2 types them: a time that is not a number, or a type that is not a string, fails closed (as in a JWT).
  for (const claim of ["exp", "nbf", "iat"] as const) {
    if (claims[claim] !== undefined && (typeof claims[claim] !== "number" || !Number.isFinite(claims[claim]))) throw new AuthError("invalid_token", `introspection: "${claim}" is not a NumericDate`);
  }
  if (claims.token_type !== undefined && typeof claims.token_type !== "string") throw new AuthError("invalid_token", 'introspection: "token_type" is not a string');
  if (typeof claims.exp === "number" && claims.exp <= now - policy.clockSkew) throw new AuthError("invalid_token", "introspection: token expired");
  if (typeof claims.nbf === "number" && claims.nbf > now + policy.clockSkew) throw new AuthError("invalid_token", 'introspection: "nbf" is in the future');
  if (typeof claims.token_type === "string" && !BEARER_TYPES.has(claims.token_type.toLowerCase())) {
    throw new AuthError("invalid_token", "introspection: not a bearer access token");
  }
  if (claims.cnf !== undefined) throw new AuthError("invalid_token", 'introspection: sender-constrained token ("cnf") presented as a bearer token');
  return claims;
}
