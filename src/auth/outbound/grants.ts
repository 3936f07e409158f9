/**
 * @module Token endpoint requests through oauth4webapi: client credentials, refresh, and the two
 * steps of enterprise-managed authorization (RFC 8693 token exchange for an ID-JAG, then the
 * RFC 7523 JWT bearer grant). `resource` (RFC 8707) goes with every one of them.
 */
import * as oauth from "oauth4webapi";
import { escapeControls, quotedValue, redactValues } from "../../log/sanitize.ts";
import { oauthErrorCode } from "../oauth/http.ts";
import { OutboundAuthError } from "./errors.ts";
import { withNonceRetry } from "./dpop.ts";
import { requestOptions, type HttpContext } from "./http.ts";
import { tokenSetFrom, type TokenSet } from "./tokens.ts";

/** Who the bridge is at a token endpoint. */
export interface ClientIdentity {
  client: oauth.Client;
  auth: oauth.ClientAuth;
  /** The credentials `auth` sent (client secret, client_assertion): never repeated from the server's answer into an error. */
  sent(): ReadonlyArray<string | undefined>;
}

const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token";
const ID_JAG_TYPE = "urn:ietf:params:oauth:token-type:id-jag";

/**
 * An authorization server's refusal as it may go into an error message, which reaches the local
 * client (a terminal, perhaps): `code` only when it is an error code, `description` cut to 200
 * characters with the credentials `sent` redacted and control characters escaped.
 */
export function refusalText(code: unknown, description: unknown, sent: ReadonlyArray<string | undefined>): string {
  const text = typeof description === "string" ? `: ${escapeControls(redactValues(description, sent).slice(0, 200))}` : "";
  return `${oauthErrorCode(code) ?? "no valid error code"}${text}`;
}

/**
 * A refusal or a malformed answer, as an OutboundAuthError whose message carries the AS's error
 * code, never a token: the credentials the request carried (`sent`) are redacted from the
 * server's error_description, which a hostile or careless server may fill with them.
 */
export function grantError(what: string, error: unknown, sent: ReadonlyArray<string | undefined> = []): OutboundAuthError {
  if (error instanceof OutboundAuthError) return error;
  if (error instanceof oauth.ResponseBodyError) {
    return new OutboundAuthError("grant", `${what} refused (HTTP ${error.status}, ${refusalText(error.error, error.error_description, sent)})`, { cause: error, oauthError: error.error });
  }
  if (error instanceof oauth.WWWAuthenticateChallengeError) {
    const code = error.cause.map((challenge) => challenge.parameters.error).find(Boolean);
    return new OutboundAuthError("grant", `${what} refused (HTTP ${error.status}, ${code === undefined ? "client authentication failed" : refusalText(code, undefined, sent)})`, { cause: error, oauthError: code ?? "invalid_client" });
  }
  const name = (error as Error)?.name;
  if (name === "TimeoutError" || name === "AbortError") return new OutboundAuthError("grant", `${what} timed out`, { cause: error });
  if (error instanceof TypeError) return new OutboundAuthError("grant", `${what} failed: authorization server unreachable`, { cause: error });
  return new OutboundAuthError("grant", `${what} failed: ${(error as Error)?.message ?? "invalid answer"}`, { cause: error });
}

function scopeParameter(scopes: readonly string[]): Record<string, string> {
  return scopes.length > 0 ? { scope: scopes.join(" ") } : {};
}

/** RFC 6749 §4.4 client credentials grant; DPoP-bound when `dpop` is given. */
export async function clientCredentialsGrant(http: HttpContext, as: oauth.AuthorizationServer, identity: ClientIdentity, resource: string, scopes: string[], dpop?: oauth.DPoPHandle): Promise<TokenSet> {
  try {
    const result = await withNonceRetry(async () => {
      const options = { ...requestOptions(http, as.token_endpoint!), ...(dpop && { DPoP: dpop }) };
      const response = await oauth.clientCredentialsGrantRequest(as, identity.client, identity.auth, { ...scopeParameter(scopes), resource }, options);
      return oauth.processClientCredentialsResponse(as, identity.client, response);
    });
    return tokenSetFrom(result, Date.now(), scopes);
  } catch (error) {
    throw grantError("client credentials grant", error, identity.sent());
  }
}

/** RFC 6749 §6 refresh; a refresh token the answer does not rotate is kept. */
export async function refreshGrant(http: HttpContext, as: oauth.AuthorizationServer, identity: ClientIdentity, resource: string, tokens: TokenSet, dpop?: oauth.DPoPHandle): Promise<TokenSet> {
  try {
    const result = await withNonceRetry(async () => {
      const response = await oauth.refreshTokenGrantRequest(as, identity.client, identity.auth, tokens.refreshToken!, {
        ...requestOptions(http, as.token_endpoint!),
        additionalParameters: { resource },
        ...(dpop && { DPoP: dpop }),
      });
      return oauth.processRefreshTokenResponse(as, identity.client, response);
    });
    // Without `scope` the answer keeps the scopes granted (RFC 6749 §6); what was asked stays the first grant's.
    return { ...tokenSetFrom(result, Date.now(), tokens.scopes, tokens.refreshToken), asked: tokens.asked ?? tokens.scopes };
  } catch (error) {
    throw grantError("refresh", error, [...identity.sent(), tokens.refreshToken, tokens.accessToken]);
  }
}

/**
 * SEP-990 step 1: the person's ID token exchanged at the enterprise IdP for an Identity Assertion
 * JWT Authorization Grant (ID-JAG) whose audience is the MCP server's authorization server.
 */
export async function exchangeIdToken(
  http: HttpContext,
  idp: oauth.AuthorizationServer,
  identity: ClientIdentity,
  input: { idToken: string; audience: string; resource: string; scopes: string[] },
): Promise<string> {
  try {
    const response = await oauth.genericTokenEndpointRequest(
      idp,
      identity.client,
      identity.auth,
      TOKEN_EXCHANGE,
      { subject_token: input.idToken, subject_token_type: ID_TOKEN_TYPE, requested_token_type: ID_JAG_TYPE, audience: input.audience, resource: input.resource, ...scopeParameter(input.scopes) },
      requestOptions(http, idp.token_endpoint!),
    );
    // RFC 8693 §2.2.1: an ID-JAG is not an access token, so its token_type is "N_A".
    const result = await oauth.processGenericTokenEndpointResponse(idp, identity.client, response, { recognizedTokenTypes: { n_a: () => {} } });
    const issued = (result as { issued_token_type?: unknown }).issued_token_type;
    if (issued !== undefined && issued !== ID_JAG_TYPE) throw new OutboundAuthError("grant", `token exchange returned a ${quotedValue(issued)}, not an identity assertion grant`);
    return result.access_token;
  } catch (error) {
    throw grantError("token exchange at the enterprise identity provider", error, [...identity.sent(), input.idToken]);
  }
}

/** SEP-990 step 2: the ID-JAG presented as an RFC 7523 JWT bearer grant at the MCP server's authorization server. */
export async function jwtBearerGrant(http: HttpContext, as: oauth.AuthorizationServer, identity: ClientIdentity, assertion: string, resource: string, scopes: string[]): Promise<TokenSet> {
  try {
    const response = await oauth.genericTokenEndpointRequest(as, identity.client, identity.auth, JWT_BEARER, { assertion, resource, ...scopeParameter(scopes) }, requestOptions(http, as.token_endpoint!));
    const result = await oauth.processGenericTokenEndpointResponse(as, identity.client, response);
    return tokenSetFrom(result, Date.now(), scopes);
  } catch (error) {
    throw grantError("JWT bearer grant", error, [...identity.sent(), assertion]);
  }
}
