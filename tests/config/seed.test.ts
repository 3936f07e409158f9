/** @module Configs written for the seed's guide and for the Go original load unchanged, with the same meaning. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseConfig } from "../../src/config/load.ts";
import type { Config } from "../../src/config/schema.ts";
import { ConfigError } from "../../src/config/errors.ts";
import { SEED_ENV, SEED_EXAMPLES, type SeedExample } from "./seed-examples.ts";

const SERVER_HEAD = "mode: server\nserver:\n  mcp_server:\n    command: node\n";
const CLIENT_HEAD = 'mode: client\nclient:\n  url: "https://mcp.example.com/mcp"\n';
/** The seed's "$2a$10$..." is a placeholder, not a hash; a real one of the same kind stands in for it. */
const PLACEHOLDER_HASH = "$2a$10$...";
const REAL_HASH = "$2b$10$7YR8UZ42R3/Qf2fIgM5L0uP6bdl.uadZ101A7rnrDEGC3b71xR4B.";

function indent(text: string, spaces: number): string {
  return text.replace(/^(?=.)/gm, " ".repeat(spaces));
}

/** The example as a whole file: the seed shows fragments, a user adds mode and the MCP server or URL around them. */
function wrap(example: SeedExample): string {
  switch (example.use) {
    case "server-auth":
    case "logging":
      return SERVER_HEAD + example.yaml;
    case "client-auth":
      return CLIENT_HEAD + example.yaml;
    case "server-block":
      return "mode: server\n" + example.yaml.replace(PLACEHOLDER_HASH, REAL_HASH) + "  mcp_server:\n    command: node\n";
    case "signing-fragment":
      return (
        SERVER_HEAD +
        "  oauth_server:\n    enabled: true\n    issuer: https://mcp.example.com\n    builtin:\n      users:\n        - username: dev\n          password_env: DEV_PASSWORD\n" +
        indent(example.yaml, 4)
      );
  }
}

/** What each example must mean once loaded, beyond loading at all. */
const MEANING: Record<string, (config: Config) => void> = {
  "No Authentication": (config) => assert.equal(config.server?.auth?.type, "none"),
  "Bearer: Server Mode (Validating Tokens)": (config) =>
    assert.deepEqual(config.server?.auth?.bearer?.valid_tokens?.map((token) => token.reveal()), ["token-abc123", "token-def456"]),
  "Bearer: Using Environment Variables": (config) =>
    assert.deepEqual(config.server?.auth?.bearer?.valid_tokens?.map((token) => token.reveal()), ["token-from-env-1", "token-from-env-2"]),
  "Bearer: Remote Token Validation": (config) => assert.equal(config.server?.auth?.bearer?.validation_endpoint, "https://auth.example.com/validate"),
  "Bearer: Client Mode (Sending Tokens)": (config) => assert.equal(config.client?.auth?.bearer?.token?.reveal(), "my-secret-token"),
  "Bearer: Static Token": (config) => assert.equal(config.client?.auth?.bearer?.token?.reveal(), "my-secret-token"),
  "Complete OAuth Server Configuration": (config) => {
    const oauth = config.server?.auth?.oauth;
    assert.equal(oauth?.validation.clock_skew, 30_000);
    assert.equal(oauth?.validation.max_token_age, 3_600_000);
    assert.equal(oauth?.jwks.fetch_timeout, 10_000);
    assert.deepEqual(oauth?.validation.allowed_algorithms, ["RS256", "ES256"]);
    assert.equal(oauth?.introspection.client_secret?.reveal(), "client-secret-from-env");
  },
  "OAuth client mode: With PKCE (Recommended)": (config) => assert.equal(config.client?.auth?.oauth?.use_pkce, true),
  "OAuth client mode: Resource Indicators (RFC 8707)": (config) => assert.equal(config.client?.auth?.oauth?.resource, "urn:mcp-server:production"),
  "OAuth Authorization Server: Built-in Mode": (config) => {
    const as = config.server?.oauth_server;
    assert.equal(as?.refresh_token_lifetime, 24 * 3_600_000);
    assert.equal(as?.builtin.users[0]?.password_hash?.reveal(), REAL_HASH);
    assert.equal(as?.builtin.users[1]?.password_env, "READER_PASSWORD");
  },
  "OAuth Authorization Server: Federated Mode": (config) => {
    assert.equal(config.server?.oauth_server.federated.client_id, "1234.apps.googleusercontent.com");
    assert.equal(config.server?.oauth_server.federated.client_secret_env, "GOOGLE_CLIENT_SECRET");
  },
  "JWT Signing Keys: generate_key for development": (config) => assert.equal(config.server?.oauth_server.signing.generate_key, true),
  "Troubleshooting: debug logging": (config) => assert.equal(config.log.level, "debug"),
};

describe("the seed's examples load unchanged", () => {
  for (const example of SEED_EXAMPLES) {
    test(example.name, () => {
      const config = parseConfig(wrap(example), SEED_ENV, example.name);
      MEANING[example.name]?.(config);
    });
  }

  test("every example with an expected meaning exists", () => {
    const names = new Set(SEED_EXAMPLES.map((example) => example.name));
    for (const name of Object.keys(MEANING)) assert.ok(names.has(name), name);
  });

  test("the seed's bcrypt placeholder itself is refused, naming the key", () => {
    const builtin = SEED_EXAMPLES.find((example) => example.name === "OAuth Authorization Server: Built-in Mode")!;
    const text = "mode: server\n" + builtin.yaml + "  mcp_server:\n    command: node\n";
    assert.throws(
      () => parseConfig(text, SEED_ENV),
      (error: ConfigError) =>
        error.code === "CONFIG_INVALID" && error.issues.some((issue) => issue.path === "server.oauth_server.builtin.users[0].password_hash" && /not a bcrypt hash/.test(issue.message)),
    );
  });
});

describe("the Go original's reference keys load unchanged", () => {
  test("server mode, every key", () => {
    const config = parseConfig(
      `mode: server
log:
  level: debug
  format: json
  output: /tmp/mcp-bridge.log
server:
  listen: ":8080"
  read_timeout: 30s
  write_timeout: 60s
  idle_timeout: 120s
  sse_keepalive_interval: 30s
  tls:
    enabled: true
    cert_file: /etc/pgedge/cert.pem
    key_file: /etc/pgedge/key.pem
    client_ca: /etc/pgedge/ca.pem
    client_auth: verify
    min_version: "1.2"
    max_version: "1.3"
  cors:
    enabled: true
    allowed_origins: ["https://app.example.com"]
    allowed_methods: [GET, POST, DELETE, OPTIONS]
    allowed_headers: [Authorization, Content-Type, Mcp-Session-Id]
    exposed_headers: [Mcp-Session-Id]
    allow_credentials: true
    max_age: 3600
  mcp_server:
    command: npx
    args: ["-y", "@modelcontextprotocol/server-filesystem", "/srv/data"]
    env:
      LOG_LEVEL: debug
    dir: /srv
    read_timeout: 30s
    graceful_shutdown_timeout: 30s
    restart_on_failure: true
    max_restarts: 5
    restart_delay: 5s
  session:
    enabled: true
    timeout: 30m
    max_sessions: 100
    cleanup_interval: 5m
  auth:
    type: bearer
    bearer:
      valid_tokens: ["\${API_TOKEN_1}"]
  oauth_server:
    enabled: true
    issuer: "https://mcp.example.com"
    mode: builtin
    token_lifetime: 1h
    refresh_token_lifetime: 24h
    auth_code_lifetime: 10m
    allow_dynamic_registration: false
    signing:
      algorithm: ES256
      key_file: /etc/pgedge/jwt-private.pem
      key_id: key-1
    builtin:
      users:
        - username: admin
          password_hash: "${REAL_HASH}"
          scopes: ["mcp:read"]
      login_template: /etc/pgedge/login.html
      branding:
        page_title: Sign in
        heading: MCP
        subtitle: Please sign in
        username_label: User
        password_label: Password
        button_text: Go
        footer_text: Example Corp
        primary_color: "#123456"
        secondary_color: "#abcdef"
    allowed_redirect_uris: ["https://claude.ai/api/mcp/auth_callback"]
    scopes_supported: ["mcp:read"]
`,
      SEED_ENV,
    );
    // Federated keys in a federated configuration: in builtin mode nothing reads them (refused).
    const federated = parseConfig(
      `mode: server
server:
  mcp_server: {command: node}
  oauth_server:
    enabled: true
    mode: federated
    federated:
      upstream_discovery_url: "https://accounts.google.com/.well-known/openid-configuration"
      client_id: app
      client_secret_env: APP_SECRET
      http_timeout: 10s
`,
      SEED_ENV,
    );
    assert.equal(federated.server!.oauth_server.federated.upstream_discovery_url, "https://accounts.google.com/.well-known/openid-configuration");
    const server = config.server!;
    assert.deepEqual({ host: server.listen.host, port: server.listen.port }, { host: "0.0.0.0", port: 8080 });
    assert.equal(server.idle_timeout, 120_000);
    assert.equal(server.session.cleanup_interval, 300_000);
    assert.equal(server.tls.client_auth, "verify");
    assert.equal(server.oauth_server.signing.key_id, "key-1");
    assert.equal(server.oauth_server.builtin.branding.primary_color, "#123456");
  });

  test("client mode, every key", () => {
    const config = parseConfig(
      `mode: client
client:
  url: "https://mcp.example.com/mcp"
  timeout: 30s
  max_idle_conns: 10
  idle_conn_timeout: 90s
  tls:
    ca_cert: /etc/pgedge/ca.pem
    cert_file: /etc/pgedge/client.pem
    key_file: /etc/pgedge/client-key.pem
    insecure_skip_verify: false
    server_name: mcp.internal
  auth:
    type: bearer
    bearer:
      token: "\${MCP_AUTH_TOKEN}"
  retry:
    enabled: true
    max_retries: 3
    initial_delay: 100ms
    max_delay: 5s
    multiplier: 2
`,
      SEED_ENV,
    );
    const client = config.client!;
    assert.equal(client.retry.initial_delay, 100);
    assert.equal(client.idle_conn_timeout, 90_000);
    assert.equal(client.tls.server_name, "mcp.internal");
    assert.equal(client.auth?.bearer?.token?.reveal(), "my-secret-token");
  });
});
