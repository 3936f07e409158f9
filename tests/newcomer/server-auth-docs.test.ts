/**
 * @module docs/server-auth.md done as written: its examples pass check-config (and a token with a
 * line break from the environment is refused, saying so), and its validation endpoint contract
 * holds against a real endpoint (request shape, accepted, refused, outage → 503 with Retry-After
 * and /ready 503, then ready again), and a token sent in the wrong header is told the one to send,
 * through the built CLI.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { parse } from "yaml";
import { ECHO_SERVER, runCli, startBridge, writeConfig, type RunningBridge } from "../support/bridge.ts";

const text = readFileSync(new URL("../../docs/server-auth.md", import.meta.url), "utf8");
const examples = [...text.matchAll(/```yaml\n([\s\S]*?)```/g)].map((match) => match[1]!);

test("docs/server-auth.md: every example config passes check-config", async () => {
  assert.equal(examples.length, 2);
  for (const example of examples) {
    const result = await runCli(["check-config", "-q", "-c", writeConfig(example)], { env: { API_TOKEN: "a-token-from-the-environment" } });
    assert.equal(result.code, 0, `${example}\n${result.stderr}`);
  }
});

test("docs/server-auth.md static tokens: an API_TOKEN read from a file with its line break is refused, saying so, without the token", async () => {
  const result = await runCli(["check-config", "-q", "-c", writeConfig(examples[0]!)], { env: { API_TOKEN: "a-token-from-a-file\r\n" } });
  assert.equal(result.code, 2);
  assert.match(result.stderr, /server\.auth\.bearer\.valid_tokens\[0\]: is not a token a client can send in an Authorization header \(it holds a space or line break: trim the value\)/);
  assert.doesNotMatch(result.stderr, /a-token-from-a-file/);
});

const INITIALIZE = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "newcomer", version: "1" } } };

let endpoint: Server;
let bridge: RunningBridge;
const received: { contentType: string | undefined; accept: string | undefined; body: string }[] = [];
let outage = false;

before(async () => {
  endpoint = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      received.push({ contentType: request.headers["content-type"], accept: request.headers.accept, body });
      if (outage) {
        response.writeHead(500).end();
        return;
      }
      const { token } = JSON.parse(body) as { token: string };
      response.setHeader("content-type", "application/json");
      response.end(JSON.stringify(token === "alice-token" ? { valid: true, subject: "alice", scopes: ["mcp:read"] } : { valid: false }));
    });
  });
  await new Promise<void>((resolve) => endpoint.listen(0, "127.0.0.1", resolve));
  // The documented example, pointed at the loopback endpoint, with no caching so each step asks again.
  const example = parse(examples[1]!) as { server: { auth: { bearer: Record<string, unknown> } } };
  const bearer = { ...example.server.auth.bearer, validation_endpoint: `http://127.0.0.1:${(endpoint.address() as AddressInfo).port}/validate`, cache_ttl: "0s", negative_cache_ttl: "0s" };
  bridge = await startBridge({ server: { mcp_server: { command: process.execPath, args: [ECHO_SERVER] }, auth: { type: "bearer", bearer } } });
});

after(async () => {
  await bridge?.stop();
  endpoint?.close();
});

function initialize(token: string): Promise<Response> {
  return fetch(bridge.url, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
    body: JSON.stringify(INITIALIZE),
  });
}

test("docs/server-auth.md: the validation endpoint contract, as documented", async () => {
  const accepted = await initialize("alice-token");
  assert.equal(accepted.status, 200);
  assert.equal(((await accepted.json()) as { result?: unknown }).result !== undefined, true);
  assert.deepEqual(received.at(-1), { contentType: "application/json", accept: "application/json", body: JSON.stringify({ token: "alice-token" }) });
  assert.match(bridge.logs(), /session started .*subject=alice scopes=mcp:read/);

  const refused = await initialize("someone-else");
  assert.equal(refused.status, 401);
  assert.equal(((await refused.json()) as { error: string }).error, "invalid_token");

  outage = true;
  const down = await initialize("alice-token");
  assert.equal(down.status, 503);
  assert.ok(down.headers.get("retry-after"), "Retry-After");
  assert.equal(((await down.json()) as { error: string }).error, "temporarily_unavailable");
  assert.equal((await fetch(`${bridge.origin}/ready`)).status, 503);
  assert.match(bridge.logs(), /WARN .*validation endpoint answered HTTP 500/);

  outage = false;
  assert.equal((await initialize("alice-token")).status, 200);
  assert.equal((await fetch(`${bridge.origin}/ready`)).status, 200);
});

test("docs/server-auth.md: a token sent without 'Bearer ' (or in another header) is told the header to send", async () => {
  for (const headers of [{ authorization: "alice-token" }, { "x-api-key": "alice-token" }] as Record<string, string>[]) {
    const response = await fetch(bridge.url, {
      method: "POST",
      headers: { ...headers, "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify(INITIALIZE),
    });
    assert.equal(response.status, 401);
    assert.match(response.headers.get("www-authenticate") ?? "", /^Bearer /);
    const body = (await response.json()) as { error: string; error_description: string };
    assert.equal(body.error, "unauthorized");
    assert.match(body.error_description, /Authorization: Bearer <token>/);
    assert.doesNotMatch(body.error_description, /alice-token/);
  }
});
