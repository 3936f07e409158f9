/** @module RFC 8414 authorization server metadata: exactly what is implemented, nothing more. */
import type { AuthorizationServerContext } from "./context.ts";
import { TOKEN_ENDPOINT_AUTH_METHODS } from "./clients.ts";
import { OFFLINE_ACCESS } from "./grants.ts";

/** The document served at /.well-known/oauth-authorization-server (and openid-configuration). */
export function authorizationServerMetadata(as: Pick<AuthorizationServerContext, "issuer" | "config" | "scopesSupported">, metadataDocuments: boolean): Record<string, unknown> {
  const { issuer, config } = as;
  return {
    issuer,
    authorization_endpoint: `${issuer}/oauth/authorize`,
    token_endpoint: `${issuer}/oauth/token`,
    jwks_uri: `${issuer}/oauth/jwks`,
    ...(config.allow_dynamic_registration && { registration_endpoint: `${issuer}/oauth/register` }),
    revocation_endpoint: `${issuer}/oauth/revoke`,
    scopes_supported: [...as.scopesSupported, OFFLINE_ACCESS],
    response_types_supported: ["code"],
    response_modes_supported: ["query"],
    grant_types_supported: ["authorization_code", "refresh_token"],
    code_challenge_methods_supported: ["S256"],
    token_endpoint_auth_methods_supported: [...TOKEN_ENDPOINT_AUTH_METHODS],
    revocation_endpoint_auth_methods_supported: [...TOKEN_ENDPOINT_AUTH_METHODS],
    authorization_response_iss_parameter_supported: true,
    client_id_metadata_document_supported: metadataDocuments,
  };
}
