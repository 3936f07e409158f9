/**
 * @module Keys that nothing reads under the settings they are written with are config errors
 * naming the key and the fix, in check-config and run alike (exit 2), through the built CLI.
 */
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ECHO_SERVER, runCli, selfSignedTls, writeConfig } from "../support/bridge.ts";
import { ALICE_HASH } from "../oauth-server/support.ts";
import { concurrently } from "../support/concurrently.ts";

const stdio = { command: process.execPath, args: [ECHO_SERVER] };
/** Server mode on a free loopback port: a config the rules accept before a case adds to it. */
const server = (extra: Record<string, unknown>) => ({ mode: "server", server: { listen: "127.0.0.1:0", mcp_server: stdio, ...extra } });
const builtin = { enabled: true, builtin: { users: [{ username: "alice", password_hash: ALICE_HASH }] } };
const federated = { enabled: true, mode: "federated", federated: { upstream_issuer: "https://idp.example.com", client_id: "app", client_secret_env: "APP_SECRET" } };
const jwks = { jwks_url: "https://idp.example.com/jwks" };
const bearer = { type: "bearer", bearer: { valid_tokens: ["tok-0123456789abcdef"] } };
/** Client mode with this `auth.oauth`. */
const client = (oauth: Record<string, unknown>) => ({ mode: "client", client: { url: "http://127.0.0.1:1/mcp", auth: { type: "oauth", oauth } } });
/** Enterprise-managed authorization with the identity provider's token endpoint given. */
const enterprise = { client_id: "c", client_secret: "s", enterprise: { idp_token_endpoint: "https://idp.example.com/token", idp_client_id: "idp-app", id_token: "eyJ.e30.sig" } };
/** A home of its own: the authorization server's checks look at its state directory. */
const env = () => ({ HOME: mkdtempSync(join(tmpdir(), "mcp-bridge-unread-")), APP_SECRET: "s" });
/** CLI runs at once: each case is its own process with its own config file and home. */
const AT_ONCE = 4;

test("keys nothing reads under the chosen settings are refused by check-config and run, naming the key and the fix", { timeout: 120_000 }, async () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ ...server({}), client: { url: "http://127.0.0.1:1/mcp" } }, /\n {2}client: is read in client mode only, and mode is "server": remove it/],
    [{ mode: "client", client: { url: "http://127.0.0.1:1/mcp" }, server: { listen: "127.0.0.1:0" } }, /\n {2}server: is read in server mode only, and mode is "client": remove it/],
    [server({ oauth_server: { ...builtin, federated: { upstream_issuer: "https://idp.example.com" } } }), /server\.oauth_server\.federated: is read in federated mode only, and server\.oauth_server\.mode is builtin: set mode: federated, or remove it/],
    [server({ oauth_server: { ...federated, builtin: builtin.builtin } }), /server\.oauth_server\.builtin\.users: is read in builtin mode only, and server\.oauth_server\.mode is federated: set mode: builtin, or remove it/],
    [server({ cors: { allowed_origins: ["https://app.example.com"] } }), /server\.cors\.enabled: is not set, so allowed_origins would be ignored: set enabled: true/],
    [server({ auth: { type: "bearer", bearer: { valid_tokens: ["tok-0123456789abcdef"], cache_ttl: "5m" } } }), /server\.auth\.bearer\.cache_ttl: applies to validation_endpoint's answers, and none is set .*: set validation_endpoint, or remove it/],
    [server({ mcp_server: { ...stdio, max_restarts: 10 } }), /server\.mcp_server\.max_restarts: restarts the one child of session\.mode: shared; .*: set session\.mode: shared, or remove it/],
    [server({ session: { max_sessions_per_subject: 2 } }), /server\.session\.max_sessions_per_subject: caps the sessions of each authenticated subject, and authentication is off .*: remove it \(each client address gets half of max_sessions\), or turn authentication on/],
    [client({ client_id: "c", client_secret: "s", token_url: "https://idp.example.com/token", authorization_url: "https://idp.example.com/authorize" }), /client\.auth\.oauth\.authorization_url: is for a person signing in/],
    [server({ mcp_server: { ...stdio, pass_identity: true } }), /server\.mcp_server\.pass_identity: passes the authenticated user's identity to the child, and authentication is off .*: remove it, or turn authentication on/],
    [server({ mcp_server: { ...stdio, pass_identity: true }, auth: bearer, session: { mode: "shared", modern_child: "shared" } }), /server\.mcp_server\.pass_identity: .*every child serves all users, so none gets it: set session\.mode: per_session or modern_child: per_principal, or remove it/],
    [server({ auth: { type: "oauth", oauth: { ...jwks, introspection: { cache_ttl: "5m" } } } }), /server\.auth\.oauth\.introspection\.cache_ttl: configures token introspection, and none is asked for: set introspection\.enabled .*, or remove it/],
    [server({ auth: { type: "oauth", oauth: { introspection_url: "https://idp.example.com/introspect", client_id: "bridge", client_secret: "s", jwks: { refresh_interval: "5m" } } } }), /server\.auth\.oauth\.jwks\.refresh_interval: applies to JWTs checked with the issuer's keys, and no key source is configured .*: set jwks_url or discovery_url, or remove it/],
    [server({ auth: { type: "oauth", oauth: { ...jwks, client_id: "bridge" } } }), /server\.auth\.oauth\.client_id: authenticates the bridge for token introspection only, and none is configured .*: remove it/],
    [server({ auth: { type: "oauth", oauth: { ...jwks, http_timeout: "3s" } } }), /server\.auth\.oauth\.http_timeout: times discovery \(discovery_url\) and introspection requests, and this configuration makes neither .*: remove it/],
    [server({ oauth_server: builtin, auth: { type: "oauth", oauth: { validation: { allowed_algorithms: ["ES256"] } } } }), /server\.auth\.oauth\.validation\.allowed_algorithms: is set by the built-in authorization server .*signing\.algorithm\): remove it/],
    [server({ oauth_server: builtin, auth: { type: "oauth", oauth: { validation: { require_at_jwt: true } } } }), /server\.auth\.oauth\.validation\.require_at_jwt: is set by the built-in authorization server .*typ at\+jwt, and nothing else passes\): remove it/],
    [client({ client_id: "c", client_secret: "s", redirect_uri: "http://127.0.0.1:8765/callback" }), /client\.auth\.oauth\.redirect_uri: is for a person signing in \(authorization code\), and this configuration uses client credentials .*: remove it, or set use_pkce: true/],
    [client({ client_id: "c", workload_identity: { token_env: "WORKLOAD_TOKEN" }, authorization_timeout: "10m" }), /client\.auth\.oauth\.authorization_timeout: is for a person signing in \(authorization code\), and this configuration gets tokens with workload_identity: remove it/],
    [client({ client_id: "c", client_secret: "s", private_key_id: "k1" }), /client\.auth\.oauth\.private_key_id: applies to private_key_jwt assertions signed with private_key_file, which is not set: set private_key_file, or remove it/],
    // Rules run before any file is read: the paths need not exist.
    [server({ tls: { enabled: true, cert_file: "/nonexistent/server.pem", key_file: "/nonexistent/server.key", client_ca: "/nonexistent/ca.pem" } }), /server\.tls\.client_ca: holds the CAs that client certificates are checked against .*client_auth is none, so no client certificate is asked for: set client_auth .*, or remove it/],
    [{ mode: "client", client: { url: "http://127.0.0.1:1/mcp", tls: { ca_cert: "/nonexistent/ca.pem" } } }, /client\.tls\.ca_cert: configures TLS to the remote server, and client\.url is plain http:\/\/ .*so no TLS connection is made: use the server's https:\/\/ URL, or remove it/],
    [{ mode: "client", client: { url: "http://127.0.0.1:1/mcp", auth: { type: "bearer", bearer: { token: "t" } }, tls: { insecure_skip_verify: true } } }, /client\.tls\.insecure_skip_verify: configures TLS to the remote server, .*client\.auth\.bearer reaches no other server\), so no TLS/],
    [server({ mcp_server: { ...stdio, restart_on_failure: false, restart_delay: "1s" }, session: { mode: "shared" } }), /server\.mcp_server\.restart_delay: paces the restarts of the shared child, and restart_on_failure is false, .*: set restart_on_failure: true, or remove it/],
    [server({ auth_failure_limit: 5 }), /server\.auth_failure_limit: limits failed authentications per client address, and authentication is off .*: remove it, or turn authentication on/],
    [server({ auth: { type: "oauth", oauth: { introspection_url: "https://idp.example.com/introspect", client_id: "bridge", introspection: { client_id: "bridge-2", client_secret: "s" } } } }), /server\.auth\.oauth\.client_id: names the bridge's client_id for token introspection, and introspection\.client_id is set, which is used instead: remove one of the two/],
    [server({ auth: { type: "oauth", oauth: { introspection_url: "https://idp.example.com/introspect", client_id: "bridge", client_secret: "s", introspection: { endpoint: "https://idp.example.com/introspect-2" } } } }), /server\.auth\.oauth\.introspection_url: names the introspection endpoint, and introspection\.endpoint is set, which is used instead: remove one of the two/],
    [server({ oauth_server: { ...federated, login_session_lifetime: "1h" } }), /server\.oauth_server\.login_session_lifetime: keeps a browser signed in after a builtin sign-in .*server\.oauth_server\.mode is federated: set mode: builtin, or remove it/],
    [server({ oauth_server: { ...federated, builtin: { branding: { password_label: "Passphrase" } } } }), /server\.oauth_server\.builtin\.branding\.password_label: labels the username and password form, which is shown in builtin mode only .*: set mode: builtin, or remove it/],
    [server({ oauth_server: { ...federated, federated: { ...federated.federated, client_secret: "s" } } }), /server\.oauth_server\.federated\.client_secret_env: names the variable holding the upstream client secret, and federated\.client_secret is set, which is used instead: remove one of the two/],
    [client({ client_id: "c", client_secret: "s", token_cache: "/tmp/mcp-bridge-tokens" }), /client\.auth\.oauth\.token_cache: is where a person's sign-in \(authorization code\) is kept between runs .*uses client credentials .*: remove it, or set use_pkce: true/],
    [client({ client_id: "c", workload_identity: { token_env: "WORKLOAD_TOKEN" }, use_pkce: false }), /client\.auth\.oauth\.use_pkce: chooses between a person's sign-in and client credentials, and this configuration gets tokens with workload_identity: remove it/],
    [{ mode: "client", client: { url: "http://127.0.0.1:1/mcp", retry: { max_retries: 0, initial_delay: "1s" } } }, /client\.retry\.initial_delay: is the delay before the first retry, and max_retries is 0, so none is made: set max_retries, or remove it/],
    [{ mode: "client", client: { url: "http://127.0.0.1:1/mcp", retry: { max_retries: 1, multiplier: 3 } } }, /client\.retry\.multiplier: grows the delay after each retry, and max_retries is 1, .*: set max_retries to 2 or more, or remove it/],
    [client({ ...enterprise, enterprise: { ...enterprise.enterprise, idp_issuer: "https://idp.example.com" } }), /client\.auth\.oauth\.enterprise\.idp_issuer: is where the identity provider's token endpoint is discovered, and enterprise\.idp_token_endpoint is set, which is used instead: remove one of the two/],
  ];
  const runs = cases.flatMap(([config, expected]) => {
    const path = writeConfig(config);
    return ["check-config", "run"].map((command) => ({ command, path, expected }));
  });
  await concurrently(runs, AT_ONCE, async ({ command, path, expected }) => {
    const result = await runCli([command, "-c", path], { env: env() });
    assert.equal(result.code, 2, `${command}: ${result.stderr}`);
    assert.match(result.stderr, expected, command);
  });
});

test("the same keys are accepted where they are read, and at their default values anywhere (check-config's output loads back)", async () => {
  // check-config reads the files server.tls names.
  const tls = selfSignedTls();
  const accepted = [
    server({ auth: { type: "bearer", bearer: { valid_tokens: ["tok-0123456789abcdef"], validation_endpoint: "http://127.0.0.1:1/validate", cache_ttl: "5m" } } }),
    server({ mcp_server: { ...stdio, max_restarts: 10 }, session: { mode: "shared" } }),
    server({ auth: { type: "oauth", oauth: { ...jwks, introspection_url: "https://idp.example.com/introspect", client_id: "bridge", client_secret: "s", http_timeout: "3s" } } }),
    server({ auth: { type: "oauth", oauth: { discovery_url: "https://idp.example.com", http_timeout: "3s", jwks: { refresh_interval: "5m" }, validation: { max_token_age: "1h" } } } }),
    // clock_skew also bounds introspection answers' exp.
    server({ auth: { type: "oauth", oauth: { introspection_url: "https://idp.example.com/introspect", client_id: "bridge", client_secret: "s", validation: { clock_skew: "10s" } } } }),
    server({ cors: { enabled: false, allowed_origins: ["https://app.example.com"] } }),
    server({ auth: { type: "oauth", oauth: { ...jwks, introspection: { enabled: false, cache_ttl: "5m" } } } }),
    server({ mcp_server: { ...stdio, pass_identity: true }, auth: bearer, session: { mode: "shared" } }),
    server({ auth: bearer, session: { max_sessions_per_subject: 2 } }),
    // Defaults as check-config prints them: nothing asked for.
    server({ oauth_server: { ...builtin, federated: { scopes: ["openid", "email", "profile"], http_timeout: "10s" } }, mcp_server: { ...stdio, restart_on_failure: true, max_restarts: 5 } }),
    client({ client_id: "c", client_secret: "s", signing_algorithm: "RS256" }),
    client({ client_id: "c", client_secret: "s", use_pkce: true, redirect_uri: "http://127.0.0.1:8765/callback", authorization_timeout: "10m" }),
    server({ tls: { ...tls, client_ca: tls.cert_file, client_auth: "verify" } }),
    server({ tls: { enabled: false, client_ca: "/nonexistent/ca.pem" } }),
    { mode: "client", client: { url: "https://127.0.0.1:1/mcp", tls: { ca_cert: tls.cert_file, server_name: "mcp.test" } } },
    // The authorization server of a plain-http MCP server may be reached over https.
    { mode: "client", client: { url: "http://127.0.0.1:1/mcp", auth: { type: "oauth", oauth: { client_id: "c", client_secret: "s" } }, tls: { ca_cert: tls.cert_file } } },
    server({ mcp_server: { ...stdio, restart_on_failure: false }, session: { mode: "shared" } }),
    server({ auth: bearer, auth_failure_limit: 5 }),
    server({ oauth_server: builtin, auth_failure_limit: 5 }),
    server({ auth: { type: "oauth", oauth: { introspection: { endpoint: "https://idp.example.com/introspect", client_id: "bridge", client_secret: "s" } } } }),
    server({ oauth_server: { ...builtin, login_session_lifetime: "1h", builtin: { ...builtin.builtin, branding: { password_label: "Passphrase" } } } }),
    // The consent page of federated mode shows the heading.
    server({ oauth_server: { ...federated, builtin: { branding: { heading: "Example sign-in" } } } }),
    client({ token_cache: "/tmp/mcp-bridge-tokens" }),
    client({ client_id: "c", client_secret: "s", use_pkce: false }),
    { mode: "client", client: { url: "http://127.0.0.1:1/mcp", retry: { max_retries: 2, initial_delay: "1s", multiplier: 3 } } },
    { mode: "client", client: { url: "http://127.0.0.1:1/mcp", retry: { enabled: false, initial_delay: "1s" } } },
    client(enterprise),
    client({ ...enterprise, enterprise: { idp_issuer: "https://idp.example.com", idp_client_id: "idp-app", id_token: "eyJ.e30.sig" } }),
  ];
  await concurrently(accepted, AT_ONCE, async (config) => {
    const result = await runCli(["check-config", "-c", writeConfig(config)], { env: env() });
    assert.equal(result.code, 0, result.stderr);
  });
});

test("check-config's output of a client-mode file loads back (its storage section and server-mode bearer keys are defaults)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "mcp-bridge-round-trip-"));
  const configs = [
    { mode: "client", client: { url: "http://127.0.0.1:1/mcp" } },
    { mode: "client", client: { url: "http://127.0.0.1:1/mcp", auth: { type: "bearer", bearer: { token_env: "MCP_TOKEN" } } } },
    client({ client_id: "c", client_secret: "s" }),
  ];
  await concurrently(configs.map((config, index) => ({ config, index })), AT_ONCE, async ({ config, index }) => {
    const printed = await runCli(["check-config", "-c", writeConfig(config)], { env: { ...env(), MCP_TOKEN: "tok-0123456789abcdef" } });
    assert.equal(printed.code, 0, printed.stderr);
    const again = join(dir, `printed-${index}.yaml`);
    writeFileSync(again, printed.stdout);
    const loaded = await runCli(["check-config", "-q", "-c", again], { env: { ...env(), MCP_TOKEN: "tok-0123456789abcdef" } });
    assert.equal(loaded.code, 0, `${loaded.stderr}\n${printed.stdout}`);
  });
});
