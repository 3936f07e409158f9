/**
 * @module Every YAML example of the seed's authentication guide (../shared/seed), copied as data.
 * The seed's text lost its indentation; it is restored here and nothing else is changed.
 */

export interface SeedExample {
  /** The heading the example sits under in the seed. */
  name: string;
  /** How the test wraps it: a top-level auth: block for server or client mode, a whole server: block, or a fragment. */
  use: "server-auth" | "client-auth" | "server-block" | "signing-fragment" | "logging";
  yaml: string;
}

export const SEED_EXAMPLES: readonly SeedExample[] = [
  {
    name: "No Authentication",
    use: "server-auth",
    yaml: `auth:
  type: none
`,
  },
  {
    name: "Bearer: Server Mode (Validating Tokens)",
    use: "server-auth",
    yaml: `auth:
  type: bearer
  bearer:
    valid_tokens:
      - "token-abc123"
      - "token-def456"
`,
  },
  {
    name: "Bearer: Using Environment Variables",
    use: "server-auth",
    yaml: `auth:
  type: bearer
  bearer:
    valid_tokens:
      - "\${API_TOKEN_1}"
      - "\${API_TOKEN_2}"
`,
  },
  {
    name: "Bearer: Remote Token Validation",
    use: "server-auth",
    yaml: `auth:
  type: bearer
  bearer:
    validation_endpoint: "https://auth.example.com/validate"
`,
  },
  {
    name: "Bearer: Client Mode (Sending Tokens)",
    use: "client-auth",
    yaml: `auth:
  type: bearer
  bearer:
    token: "\${MCP_AUTH_TOKEN}"
`,
  },
  {
    name: "Bearer: Static Token",
    use: "client-auth",
    yaml: `auth:
  type: bearer
  bearer:
    token: "my-secret-token"
`,
  },
  {
    name: "Bearer: From Environment Variable",
    use: "client-auth",
    yaml: `auth:
  type: bearer
  bearer:
    token: "\${MCP_AUTH_TOKEN}"
`,
  },
  {
    name: "OAuth server mode: Using OIDC Discovery",
    use: "server-auth",
    yaml: `auth:
  type: oauth
  oauth:
    discovery_url: "https://auth.example.com"
    audience: "mcp-bridge-api"
    required_scopes:
      - "mcp:read"
`,
  },
  {
    name: "OAuth server mode: Using JWKS Directly",
    use: "server-auth",
    yaml: `auth:
  type: oauth
  oauth:
    jwks_url: "https://auth.example.com/.well-known/jwks.json"
    audience: "mcp-bridge-api"
`,
  },
  {
    name: "OAuth server mode: Token Introspection",
    use: "server-auth",
    yaml: `auth:
  type: oauth
  oauth:
    introspection_url: "https://auth.example.com/oauth/introspect"
    client_id: "mcp-bridge"
    client_secret: "\${OAUTH_CLIENT_SECRET}"
`,
  },
  {
    name: "Complete OAuth Server Configuration",
    use: "server-auth",
    yaml: `auth:
  type: oauth
  oauth:
    # OIDC discovery (recommended)
    discovery_url: "https://auth.example.com"
    # Token validation
    audience: "mcp-bridge-api"
    required_scopes:
      - "mcp:read"
      - "mcp:write"
    # Claim mappings
    claims:
      subject_claim: "sub"
      email_claim: "email"
      roles_claim: "roles"
    # Validation options
    validation:
      allowed_algorithms:
        - "RS256"
        - "ES256"
      clock_skew: 30s
      require_expiration: true
      max_token_age: 1h
    # JWKS caching
    jwks:
      refresh_interval: 1h
      fetch_timeout: 10s
    # Fallback to introspection
    introspection:
      enabled: true
      endpoint: "https://auth.example.com/oauth/introspect"
      client_id: "mcp-bridge"
      client_secret: "\${OAUTH_CLIENT_SECRET}"
`,
  },
  {
    name: "OAuth client mode: Basic Client Credentials",
    use: "client-auth",
    yaml: `auth:
  type: oauth
  oauth:
    token_url: "https://auth.example.com/oauth/token"
    client_id: "my-client"
    client_secret: "\${OAUTH_CLIENT_SECRET}"
    scopes:
      - "mcp:read"
      - "mcp:write"
`,
  },
  {
    name: "OAuth client mode: Using OIDC Discovery",
    use: "client-auth",
    yaml: `auth:
  type: oauth
  oauth:
    discovery_url: "https://auth.example.com"
    client_id: "my-client"
    client_secret: "\${OAUTH_CLIENT_SECRET}"
    scopes:
      - "mcp:read"
`,
  },
  {
    name: "OAuth client mode: With PKCE (Recommended)",
    use: "client-auth",
    yaml: `auth:
  type: oauth
  oauth:
    discovery_url: "https://auth.example.com"
    client_id: "my-client"
    client_secret: "\${OAUTH_CLIENT_SECRET}"
    use_pkce: true
`,
  },
  {
    name: "OAuth client mode: Resource Indicators (RFC 8707)",
    use: "client-auth",
    yaml: `auth:
  type: oauth
  oauth:
    token_url: "https://auth.example.com/oauth/token"
    client_id: "my-client"
    client_secret: "\${OAUTH_CLIENT_SECRET}"
    resource: "urn:mcp-server:production"
`,
  },
  {
    name: "OAuth Authorization Server: Built-in Mode",
    use: "server-block",
    yaml: `server:
  oauth_server:
    enabled: true
    issuer: "https://mcp.example.com"
    mode: builtin
    token_lifetime: 1h
    refresh_token_lifetime: 24h
    signing:
      algorithm: RS256
      key_file: "/etc/pgedge/jwt-private.pem"
    builtin:
      users:
        - username: admin
          password_hash: "$2a$10$..." # bcrypt hash
          scopes: ["mcp:read", "mcp:write"]
        - username: reader
          password_env: "READER_PASSWORD" # hashed at runtime
          scopes: ["mcp:read"]
    allowed_redirect_uris:
      - "https://claude.ai/api/mcp/auth_callback"
    scopes_supported:
      - "mcp:read"
      - "mcp:write"
`,
  },
  {
    name: "OAuth Authorization Server: Federated Mode",
    use: "server-block",
    yaml: `server:
  oauth_server:
    enabled: true
    issuer: "https://mcp.example.com"
    mode: federated
    token_lifetime: 1h
    signing:
      algorithm: RS256
      key_file: "/etc/pgedge/jwt-private.pem"
    federated:
      upstream_issuer: "https://accounts.google.com"
      client_id: "\${GOOGLE_CLIENT_ID}"
      client_secret_env: "GOOGLE_CLIENT_SECRET"
      scopes: ["openid", "email", "profile"]
      allowed_domains:
        - "example.com"
      default_scopes: ["mcp:read"]
      admin_users:
        - "[email protected]"
      admin_scopes: ["mcp:read", "mcp:write", "mcp:admin"]
    allowed_redirect_uris:
      - "https://claude.ai/api/mcp/auth_callback"
`,
  },
  {
    name: "JWT Signing Keys: generate_key for development",
    use: "signing-fragment",
    yaml: `signing:
  algorithm: RS256
  generate_key: true # WARNING: Keys lost on restart
`,
  },
  {
    name: "Common OAuth Providers: Auth0",
    use: "server-auth",
    yaml: `auth:
  type: oauth
  oauth:
    discovery_url: "https://your-tenant.auth0.com"
    audience: "https://api.example.com"
    required_scopes:
      - "read:mcp"
`,
  },
  {
    name: "Common OAuth Providers: Okta",
    use: "server-auth",
    yaml: `auth:
  type: oauth
  oauth:
    discovery_url: "https://your-org.okta.com/oauth2/default"
    audience: "api://mcp-bridge"
`,
  },
  {
    name: "Common OAuth Providers: Keycloak",
    use: "server-auth",
    yaml: `auth:
  type: oauth
  oauth:
    discovery_url: "https://keycloak.example.com/realms/myrealm"
    audience: "mcp-bridge"
`,
  },
  {
    name: "Common OAuth Providers: Google Cloud Identity",
    use: "server-auth",
    yaml: `auth:
  type: oauth
  oauth:
    discovery_url: "https://accounts.google.com"
    audience: "your-project-id.apps.googleusercontent.com"
`,
  },
  {
    name: "Troubleshooting: debug logging",
    use: "logging",
    yaml: `logging:
  level: debug
`,
  },
];

/** The variables the examples reference, as a user would export them. */
export const SEED_ENV: Readonly<Record<string, string>> = {
  API_TOKEN_1: "token-from-env-1",
  API_TOKEN_2: "token-from-env-2",
  MCP_AUTH_TOKEN: "my-secret-token",
  OAUTH_CLIENT_SECRET: "client-secret-from-env",
  GOOGLE_CLIENT_ID: "1234.apps.googleusercontent.com",
};
