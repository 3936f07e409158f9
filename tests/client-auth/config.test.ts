/** @module Client-mode auth configuration: each grant's required keys are errors naming the key and the fix (exit 2), through the built CLI's check-config. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { runCli, writeConfig } from "../support/bridge.ts";

async function checkConfig(auth: Record<string, unknown>) {
  const path = writeConfig({ mode: "client", client: { url: "https://mcp.example.com/mcp", auth } });
  return runCli(["check-config", "-c", path]);
}

test("a person signing in needs nothing beyond type: oauth", async () => {
  const result = await checkConfig({ type: "oauth", oauth: {} });
  assert.equal(result.code, 0, result.stderr);
});

test("client credentials need client_id and a secret or key; use_pkce: false without one says how to fix it", async () => {
  const noId = await checkConfig({ type: "oauth", oauth: { client_secret: "s" } });
  assert.equal(noId.code, 2);
  assert.match(noId.stderr, /client\.auth\.oauth\.client_id: is required for the client credentials grant/);
  const noSecret = await checkConfig({ type: "oauth", oauth: { client_id: "c", use_pkce: false } });
  assert.equal(noSecret.code, 2);
  assert.match(noSecret.stderr, /client\.auth\.oauth\.client_secret: is required for the client credentials grant \(or private_key_file\)/);
});

test("token_endpoint_auth_method needs its credential", async () => {
  const result = await checkConfig({ type: "oauth", oauth: { client_id: "c", client_secret: "s", token_endpoint_auth_method: "private_key_jwt" } });
  assert.equal(result.code, 2);
  assert.match(result.stderr, /client\.auth\.oauth\.private_key_file: is required for token_endpoint_auth_method private_key_jwt/);
});

test("enterprise needs its IdP and exactly one ID token source", async () => {
  const result = await checkConfig({ type: "oauth", oauth: { enterprise: { id_token: "a", id_token_env: "B" } } });
  assert.equal(result.code, 2);
  assert.match(result.stderr, /client\.auth\.oauth\.client_id: is required for enterprise-managed authorization/);
  assert.match(result.stderr, /client\.auth\.oauth\.enterprise\.idp_client_id: is required/);
  assert.match(result.stderr, /client\.auth\.oauth\.enterprise\.idp_issuer: is required \(or idp_token_endpoint\)/);
  assert.match(result.stderr, /client\.auth\.oauth\.enterprise\.id_token: needs exactly one of id_token, id_token_env and id_token_command/);
  assert.ok(!result.stderr.includes('"a"'), "no secret value echoed");
});

test("a mistyped key is named with its nearest valid key", async () => {
  const result = await checkConfig({ type: "oauth", oauth: { browser_comand: "firefox" } });
  assert.equal(result.code, 2);
  assert.match(result.stderr, /unknown key "browser_comand" \(did you mean "browser_command"\?\)/);
});

test("redirect_uri must be loopback http, client_metadata_url https with a path", async () => {
  const result = await checkConfig({ type: "oauth", oauth: { redirect_uri: "https://example.com/callback", client_metadata_url: "http://example.com/" } });
  assert.equal(result.code, 2);
  assert.match(result.stderr, /client\.auth\.oauth\.redirect_uri: must be a loopback http URL/);
  assert.match(result.stderr, /client\.auth\.oauth\.client_metadata_url: must be an https URL with a path/);
});

test("workload identity needs client_id and exactly one token source", async () => {
  const result = await checkConfig({ type: "oauth", oauth: { workload_identity: {} } });
  assert.equal(result.code, 2);
  assert.match(result.stderr, /client\.auth\.oauth\.client_id: is required for workload identity federation/);
  assert.match(result.stderr, /client\.auth\.oauth\.workload_identity\.token_file: needs exactly one of token, token_env, token_file and token_command/);
});

test("authorization_url needs token_url; enterprise, workload_identity and use_pkce: true exclude each other", async () => {
  const result = await checkConfig({
    type: "oauth",
    oauth: {
      authorization_url: "https://as.example.com/authorize",
      use_pkce: true,
      client_id: "c",
      enterprise: { idp_issuer: "https://idp.example.com", idp_client_id: "i", id_token_env: "T" },
      workload_identity: { token_env: "W" },
    },
  });
  assert.equal(result.code, 2);
  assert.match(result.stderr, /client\.auth\.oauth\.token_url: is required with authorization_url/);
  assert.match(result.stderr, /client\.auth\.oauth\.workload_identity: cannot be combined with enterprise/);
  assert.match(result.stderr, /client\.auth\.oauth\.use_pkce: asks for a person's sign-in/);
});
