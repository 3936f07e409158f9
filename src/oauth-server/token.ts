/**
 * @module The token endpoint (RFC 6749 §3.2, §4.1.3, §6; OAuth 2.1 §4.1.3) and the revocation
 * endpoint (RFC 7009), with client authentication (none, client_secret_post, client_secret_basic).
 */
import type { Client } from "./clients.ts";
import type { AuthorizationServerContext } from "./context.ts";
import { OAuthError, oauthErrorResponse } from "./errors.ts";
import { OFFLINE_ACCESS, subjectKey } from "./grants.ts";
import { json, readForm, readFormBody, uniqueParams } from "./http.ts";
import { timingSafeEqual, toBase64Url } from "../util/digest.ts";
import { SCOPE_TOKEN } from "../auth/oauth/principal.ts";

/** A JWS compact serialization (RFC 7515 §7.1): three base64url parts. */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
/** RFC 7636 §4.1: 43 to 128 unreserved characters. */
const CODE_VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;

/** The authenticated client of a token or revocation request (RFC 6749 §2.3); invalid_client (401) otherwise. */
async function authenticateClient(as: AuthorizationServerContext, request: Request, form: Map<string, string>, address: string): Promise<Client> {
  const header = request.headers.get("authorization");
  let clientId = form.get("client_id");
  let secret = form.get("client_secret");
  if (header !== null) {
    const match = /^Basic ([A-Za-z0-9+/]+=*)$/i.exec(header.trim());
    let decoded: string | undefined;
    try {
      decoded = match ? atob(match[1]!) : undefined;
    } catch {
      decoded = undefined;
    }
    const colon = decoded?.indexOf(":") ?? -1;
    if (!decoded || colon < 0) throw new OAuthError("invalid_client", "malformed Basic credentials", 401);
    let basicId: string;
    try {
      // RFC 6749 §2.3.1: both parts are form-urlencoded before being joined.
      basicId = decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, " "));
      secret = decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, " "));
    } catch {
      throw new OAuthError("invalid_client", "malformed Basic credentials", 401);
    }
    if (clientId !== undefined && clientId !== basicId) throw new OAuthError("invalid_request", "client_id differs from the Basic credentials");
    if (form.has("client_secret")) throw new OAuthError("invalid_request", "use one client authentication method, not two");
    clientId = basicId;
  }
  if (!clientId) throw new OAuthError("invalid_client", "client_id is required", 401);
  const client = await as.clients.lookup(clientId, address).catch((error: unknown) => {
    // Throttled metadata document fetches say so (429); any other failure is an unknown client.
    if (error instanceof OAuthError && error.status === 429) throw error;
    return undefined;
  });
  if (!client) {
    // 401 invalid_client makes clients such as Claude register again.
    throw new OAuthError("invalid_client", "unknown client; register again", 401);
  }
  if (client.token_endpoint_auth_method === "none") {
    // Some public clients send Basic with an empty password; an actual secret means a confused client.
    if (secret !== undefined && secret !== "") throw new OAuthError("invalid_client", "this client is public and has no secret", 401);
    return client;
  }
  if (secret === undefined || !(await as.clients.secretMatches(client, secret))) throw new OAuthError("invalid_client", "client authentication failed", 401);
  // A client registered for one secret method may use the other: the secret is what counts.
  return client;
}

async function s256(as: AuthorizationServerContext, verifier: string): Promise<string> {
  return toBase64Url(await as.sha256(verifier));
}

export function createTokenEndpoint(as: AuthorizationServerContext) {
  function fail(error: OAuthError): Response {
    as.audit("token_error", { error: error.code });
    // RFC 6749 §5.2: 401 with a challenge when the client tried Basic.
    return oauthErrorResponse(error, error.status === 401 ? { "www-authenticate": 'Basic realm="mcp-bridge"' } : {});
  }

  /**
   * RFC 8707 §2.2: every resource at /token (the parameter may repeat, §2) must be one the grant
   * covers — this server's MCP endpoint, every grant's audience; any other is invalid_target (§2),
   * since one token here never names several audiences.
   */
  function checkResource(resources: string[]): void {
    if (resources.some((resource) => !as.acceptsResource(resource))) throw new OAuthError("invalid_target", "the resource differs from the one this grant is for");
  }

  async function authorizationCode(client: Client, form: Map<string, string>, resources: string[]): Promise<Response> {
    const code = form.get("code");
    if (!code) throw new OAuthError("invalid_request", "code is required");
    const verifier = form.get("code_verifier");
    if (!verifier) throw new OAuthError("invalid_request", "code_verifier is required (PKCE)");
    if (!CODE_VERIFIER.test(verifier)) throw new OAuthError("invalid_request", "code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~");
    if (code.length > 256) throw new OAuthError("invalid_grant", "the authorization code is invalid or expired");
    checkResource(resources);
    const record = await as.grants.redeemCode(code, async (issued) => {
      if (issued.client_id !== client.client_id) {
        as.audit("code_client_mismatch", { client_id: client.client_id });
        throw new OAuthError("invalid_grant", "the authorization code was issued to another client");
      }
      const redirectUri = form.get("redirect_uri");
      // RFC 6749 §4.1.3: identical to the authorization request's (whose loopback port was already
      // chosen there); left out only when the code went to the client's one registered redirect URI,
      // as it does when the authorization request left it out.
      if (redirectUri === undefined ? client.redirect_uris.length !== 1 || issued.redirect_uri !== client.redirect_uris[0] : redirectUri !== issued.redirect_uri) {
        throw new OAuthError("invalid_grant", "redirect_uri differs from the authorization request's");
      }
      const expected = new TextEncoder().encode(issued.code_challenge);
      if (!timingSafeEqual(new TextEncoder().encode(await s256(as, verifier)), expected)) {
        as.audit("pkce_failed", { client_id: client.client_id });
        throw new OAuthError("invalid_grant", "code_verifier does not match the code_challenge");
      }
    });
    const tokens = await as.grants.issueForCode(code, record);
    await as.clients.touch(client, await subjectKey(as.sha256, record.sub, record.credential));
    return json(tokens);
  }

  async function refreshToken(client: Client, form: Map<string, string>, resources: string[]): Promise<Response> {
    const token = form.get("refresh_token");
    if (!token) throw new OAuthError("invalid_request", "refresh_token is required");
    if (token.length > 256) throw new OAuthError("invalid_grant", "the refresh token is invalid, expired or revoked");
    checkResource(resources);
    // As at /authorize: offline_access names no access (alone, it leaves the grant as it is), and
    // unknown names are ignored (they never widen, and never fail, the request).
    const named = form.get("scope")?.split(" ").filter((item) => item !== "" && item !== OFFLINE_ACCESS);
    // RFC 6749 §3.3, §5.2: a scope-token with characters outside its grammar is malformed, as at /authorize.
    if (named && !named.every((item) => SCOPE_TOKEN.test(item))) throw new OAuthError("invalid_scope", "scope is malformed");
    const scope = named && named.length > 0 ? named.filter((item) => as.scopesSupported.includes(item)) : undefined;
    const tokens = await as.grants.refresh(token, client.client_id, scope);
    await as.clients.touch(client);
    return json(tokens);
  }

  return {
    /** POST /oauth/token (and /token). `address` is the client's IP address. */
    async token(request: Request, address: string): Promise<Response> {
      try {
        const body = await readFormBody(request);
        const form = uniqueParams(body, ["resource"]);
        const client = await authenticateClient(as, request, form, address);
        const grantType = form.get("grant_type");
        const resources = body.getAll("resource");
        if (grantType === "authorization_code") return await authorizationCode(client, form, resources);
        if (grantType === "refresh_token") return await refreshToken(client, form, resources);
        throw new OAuthError(grantType ? "unsupported_grant_type" : "invalid_request", grantType ? "only authorization_code and refresh_token are supported" : "grant_type is required");
      } catch (error) {
        if (error instanceof OAuthError) return fail(error);
        throw error;
      }
    },

    /** POST /oauth/revoke (RFC 7009 §2). Access tokens are short-lived JWTs and are not revocable (unsupported_token_type); refresh tokens revoke their whole grant; another client's live refresh token is left valid: invalid_request (400) for a client that authenticated, 200 for a public one (GrantStore.revoke). */
    async revoke(request: Request, address: string): Promise<Response> {
      try {
        const form = await readForm(request);
        const client = await authenticateClient(as, request, form, address);
        const token = form.get("token");
        if (!token) throw new OAuthError("invalid_request", "token is required");
        // RFC 7009 §2.2.1: a server that cannot revoke access tokens says so, rather than 200 — the
        // client would take the token for dead. Refresh tokens are opaque: a JWT is an access token.
        if (JWT_SHAPE.test(token)) throw new OAuthError("unsupported_token_type", "access tokens cannot be revoked (they expire within token_lifetime); revoke the refresh token, which ends the grant");
        if (token.length <= 256) await as.grants.revoke(token, client.client_id, client.token_endpoint_auth_method !== "none");
        // RFC 7009 §2.2: 200 whether or not the token was valid; another client's token is refused to a client that authenticated (§2.1).
        return json({});
      } catch (error) {
        if (error instanceof OAuthError) return fail(error);
        throw error;
      }
    },
  };
}
