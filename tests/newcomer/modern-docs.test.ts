/**
 * @module docs/modern.md's "Try it" (its curl command as written, the SDK v2 client's option) and
 * its first table, as a newcomer tries them with a plain HTTP client: a request
 * that claims 2026-07-28 only in its header is refused with 400 / -32602 naming the `_meta` keys
 * it lacks; a request without a session is told what to send instead; a browser page using a
 * 2026-07-28 client gets through the CORS preflight with the default `server.cors.allowed_headers`.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from "@modelcontextprotocol/client";
import { ECHO_SERVER, startBridge, useBridge } from "../support/bridge.ts";

const bridge = useBridge(() => startBridge({ server: { mcp_server: { command: process.execPath, args: [ECHO_SERVER] } } }));

test("docs/modern.md: 'no claim, but MCP-Protocol-Version: 2026-07-28' is 400, -32602 naming the missing _meta keys", async () => {
  const guide = readFileSync(new URL("../../docs/modern.md", import.meta.url), "utf8");
  assert.match(guide, /no claim, but `MCP-Protocol-Version: 2026-07-28` \| refused: 400, -32602 naming the missing `_meta` keys/);
  const response = await fetch(bridge.url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2026-07-28" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 7, method: "tools/list" }),
  });
  assert.equal(response.status, 400);
  const { id, error } = (await response.json()) as { id: number; error: { code: number; message: string } };
  assert.equal(id, 7);
  assert.equal(error.code, -32602);
  for (const key of ["io.modelcontextprotocol/protocolVersion", "io.modelcontextprotocol/clientCapabilities"]) assert.ok(error.message.includes(key), error.message);
  assert.doesNotMatch(error.message, /_meta _meta/);
});

test("no Mcp-Session-Id: a bare tools/list is told to initialize or send _meta; a GET with the 2026-07-28 header, to POST subscriptions/listen", async () => {
  const bare = await fetch(bridge.url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
  });
  assert.equal(bare.status, 400);
  const bareError = ((await bare.json()) as { error: { message: string } }).error.message;
  assert.match(bareError, /Mcp-Session-Id header is required \(start a session with initialize, or send a 2026-07-28 request \(params\._meta\)/);
  const get = await fetch(bridge.url, { headers: { accept: "text/event-stream", "mcp-protocol-version": "2026-07-28" } });
  assert.equal(get.status, 400);
  assert.match(((await get.json()) as { error: { message: string } }).error.message, /2026-07-28 clients POST subscriptions\/listen instead/);
});

test("server.cors with its default allowed_headers: the preflight of a 2026-07-28 browser client allows Mcp-Method and Mcp-Name", async () => {
  const origin = "https://app.example.com";
  const browserBridge = await startBridge({ server: { mcp_server: { command: process.execPath, args: [ECHO_SERVER] }, cors: { enabled: true, allowed_origins: [origin] } } });
  try {
    // What an SDK v2 client sends on a modern tools/call (besides Accept, a CORS-safelisted header).
    const requested = ["content-type", "mcp-protocol-version", "mcp-method", "mcp-name"];
    const preflight = await fetch(browserBridge.url, {
      method: "OPTIONS",
      headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": requested.join(", ") },
    });
    assert.equal(preflight.status, 204);
    const allowed = (preflight.headers.get("access-control-allow-headers") ?? "").toLowerCase().split(/\s*,\s*/);
    for (const header of requested) assert.ok(allowed.includes(header), `${header} is not in Access-Control-Allow-Headers: ${allowed.join(", ")}`);
  } finally {
    await browserBridge.stop();
  }
});

test("docs/modern.md 'Try it': the curl command, as written, answers as documented; the SDK v2 option it names speaks 2026-07-28", async () => {
  const guide = readFileSync(new URL("../../docs/modern.md", import.meta.url), "utf8");
  const command = /\*\*Try it\*\*[\s\S]*?```sh\n([\s\S]*?)```\n\nanswers `(.*?)`/.exec(guide);
  assert.ok(command, "the Try it section with its curl command and answer");
  const [, curl, answer] = command;
  const token = "try-it-token-0123456789";
  const tried = await startBridge({ server: { mcp_server: { command: process.execPath, args: [ECHO_SERVER] }, auth: { type: "bearer", bearer: { valid_tokens: [token] } } } });
  try {
    const url = /curl -s (\S+)/.exec(curl!)![1]!;
    assert.equal(url, "http://127.0.0.1:8080/mcp", "the URL npm start serves");
    const headers = Object.fromEntries([...curl!.matchAll(/-H "([^:]+): ([^"]*)"/g)].map(([, name, value]) => [name!, value!.replace("$TOKEN", token)]));
    const body = /-d '([^']*)'/.exec(curl!)![1]!;
    const response = await fetch(tried.url, { method: "POST", headers, body });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), JSON.parse(answer!));

    const option = /Pass `versionNegotiation: (\{ mode: "auto" \})`/.exec(guide);
    assert.ok(option, "the SDK v2 option");
    const client = new ModernClient({ name: "newcomer", version: "1" }, { versionNegotiation: { mode: "auto" } });
    const transport = new ModernTransport(new URL(tried.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } });
    await client.connect(transport);
    try {
      assert.equal(transport.protocolVersion, "2026-07-28");
    } finally {
      await client.close();
    }
  } finally {
    await tried.stop();
  }
});
