/**
 * @module Client mode never sends a credential in clear beyond loopback: a bearer token or a
 * credential header for a plain http client.url on another host is a config error (RFC 6750 §5.3),
 * in a config file and on connect's command line alike, through the built CLI.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { runCli, writeConfig } from "../support/bridge.ts";

const TOKEN = "tok-0123456789abcdef";
const REMOTE = "http://192.0.2.10/mcp";
const IN_CLEAR = /would send its credential over plain http to a host beyond loopback, .*: use the server's https:\/\/ URL/;

test("a bearer token or a credential header for a plain http URL beyond loopback is refused, naming each key, the credential not shown", async () => {
  const path = writeConfig({ mode: "client", client: { url: REMOTE, auth: { type: "bearer", bearer: { token: TOKEN } }, headers: { "X-Api-Key": "key-4242", "X-Tenant": "acme" } } });
  for (const command of ["check-config", "run"]) {
    const result = await runCli([command, "-c", path]);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, new RegExp(`\\n {2}client\\.auth\\.bearer: ${IN_CLEAR.source}`));
    assert.match(result.stderr, new RegExp(`\\n {2}client\\.headers\\.X-Api-Key: ${IN_CLEAR.source}`));
    assert.doesNotMatch(result.stderr, /X-Tenant|key-4242|tok-0123/, "a header that carries no credential is fine; no value is repeated");
  }
});

test("connect names the flags: --token-env and --header NAME", async () => {
  const result = await runCli(["connect", REMOTE, "--token-env", "MCP_IN_CLEAR_TOKEN", "--header", "X-Api-Key: dXNlcjpwYXNz"], { env: { MCP_IN_CLEAR_TOKEN: TOKEN } });
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, new RegExp(`\\n {2}--token-env: ${IN_CLEAR.source}`));
  assert.match(result.stderr, new RegExp(`\\n {2}--header X-Api-Key: ${IN_CLEAR.source}`));
  assert.doesNotMatch(result.stderr, /client\.|dXNlcjpwYXNz|tok-0123/);
});

test("accepted: https beyond loopback, plain http on loopback, a header without a credential, OAuth (which sends no token in clear, and says so at run time)", async () => {
  const accepted = [
    { url: "https://mcp.example.com/mcp", auth: { type: "bearer", bearer: { token: TOKEN } }, headers: { "X-Api-Key": "key-4242" } },
    { url: "http://127.0.0.1:9/mcp", auth: { type: "bearer", bearer: { token: TOKEN } } },
    { url: "http://localhost:9/mcp", headers: { Authorization: `Bearer ${TOKEN}` } },
    { url: REMOTE, headers: { "X-Tenant": "acme" } },
    { url: REMOTE, auth: { type: "oauth", oauth: { client_id: "c", client_secret: "s", token_url: "https://idp.example.com/token" } } },
  ];
  for (const client of accepted) {
    const result = await runCli(["check-config", "-c", writeConfig({ mode: "client", client })]);
    assert.equal(result.code, 0, `${JSON.stringify(client)}: ${result.stderr}`);
  }
});
