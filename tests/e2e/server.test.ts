/** @module Server mode end to end: the built CLI, driven over HTTP by the official SDK client and by raw requests. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CreateMessageRequestSchema, LoggingMessageNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { startBridge, type RunningBridge } from "../support/bridge.ts";
import { waitFor } from "../support/poll.ts";

const SCRIPTED = fileURLToPath(new URL("../support/scripted-server.mjs", import.meta.url));
const TOKEN = "test-token-0123456789";
const OTHER_TOKEN = "other-token-9876543210";
const HASHED_TOKEN = "hashed-token-abcdef";

const INIT = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } } };
const JSON_AND_SSE = { "content-type": "application/json", accept: "application/json, text/event-stream" };

function scriptedConfig(extra: Record<string, unknown> = {}) {
  return {
    server: {
      mcp_server: { command: process.execPath, args: [SCRIPTED], graceful_shutdown_timeout: "2s", read_timeout: "2s" },
      auth: { type: "bearer", bearer: { valid_tokens: ["${TOKEN_A}", OTHER_TOKEN, `sha256:${createHash("sha256").update(HASHED_TOKEN).digest("hex")}`] } },
      session: { resume_window: "300ms" },
      ...extra,
    },
  };
}

async function connect(bridge: RunningBridge, token = TOKEN, setup?: (client: Client) => void): Promise<Client> {
  const client = new Client({ name: "e2e", version: "1.0.0" }, { capabilities: { sampling: {} } });
  setup?.(client);
  await client.connect(new StreamableHTTPClientTransport(new URL(bridge.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  return client;
}

async function rawInitialize(bridge: RunningBridge, token = TOKEN): Promise<string> {
  const response = await fetch(bridge.url, { method: "POST", headers: { ...JSON_AND_SSE, authorization: `Bearer ${token}` }, body: JSON.stringify(INIT) });
  assert.equal(response.status, 200);
  await response.text();
  return response.headers.get("mcp-session-id")!;
}

function post(bridge: RunningBridge, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(bridge.url, { method: "POST", headers: { ...JSON_AND_SSE, authorization: `Bearer ${TOKEN}`, "mcp-protocol-version": "2025-06-18", ...headers }, body: typeof body === "string" ? body : JSON.stringify(body) });
}

function textOf(result: unknown): string {
  return ((result as { content: Array<{ text: string }> }).content[0]!).text;
}

describe("server mode with bearer auth (per-session children)", () => {
  let bridge: RunningBridge;
  before(async () => {
    bridge = await startBridge(scriptedConfig(), { env: { TOKEN_A: TOKEN, SECRET_OF_THE_BRIDGE: "must-not-leak" } });
  });
  after(async () => {
    assert.equal(await bridge.stop(), 0);
  });

  test("the SDK client lists and calls tools", async () => {
    const client = await connect(bridge);
    const { tools } = await client.listTools();
    assert.ok(tools.some((tool) => tool.name === "echo"));
    assert.equal(textOf(await client.callTool({ name: "echo", arguments: { text: "hello" } })), "hello");
    await client.close();
  });

  test("a token given as sha256:<hex> in the config is accepted", async () => {
    const client = await connect(bridge, HASHED_TOKEN);
    assert.equal(textOf(await client.callTool({ name: "echo", arguments: { text: "hashed" } })), "hashed");
    await client.close();
  });

  test("no token → 401 with a Bearer challenge; a wrong token → 401 invalid_token; neither is logged", async () => {
    const missing = await fetch(bridge.url, { method: "POST", headers: JSON_AND_SSE, body: JSON.stringify(INIT) });
    assert.equal(missing.status, 401);
    assert.match(missing.headers.get("www-authenticate")!, /^Bearer /);
    assert.equal(missing.headers.get("content-type"), "application/json");
    const wrong = await fetch(bridge.url, { method: "POST", headers: { ...JSON_AND_SSE, authorization: "Bearer not-a-valid-token" }, body: JSON.stringify(INIT) });
    assert.equal(wrong.status, 401);
    assert.match(wrong.headers.get("www-authenticate")!, /error="invalid_token"/);
    assert.equal((await wrong.json()).error, "invalid_token");
    assert.doesNotMatch(bridge.logs(), /not-a-valid-token/);
    assert.doesNotMatch(bridge.logs(), new RegExp(TOKEN));
  });

  test("a token in the query string is refused", async () => {
    const response = await fetch(`${bridge.url}?access_token=${TOKEN}`, { method: "POST", headers: JSON_AND_SSE, body: JSON.stringify(INIT) });
    assert.equal(response.status, 400);
  });

  test("the child gets neither the client's token nor the bridge's environment", async () => {
    const client = await connect(bridge);
    const reported = JSON.parse(textOf(await client.callTool({ name: "whoami", arguments: {} })));
    assert.ok(!reported.envKeys.includes("SECRET_OF_THE_BRIDGE"));
    assert.ok(!reported.envKeys.includes("TOKEN_A"));
    assert.ok(reported.envKeys.includes("PATH"));
    await client.close();
    assert.doesNotMatch(bridge.logs(), /recv .*test-token-0123456789/);
  });

  test("two sessions using the same request ids at once each get their own answers", async () => {
    const [a, b] = await Promise.all([rawInitialize(bridge), rawInitialize(bridge)]);
    const call = (session: string, id: number, text: string) =>
      post(bridge, { jsonrpc: "2.0", id, method: "tools/call", params: { name: "echo", arguments: { text } } }, { "mcp-session-id": session }).then(async (response) => {
        assert.equal(response.status, 200);
        return (await response.json()) as { id: number; result: unknown };
      });
    const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => [call(a, i + 10, `a${i}`), call(b, i + 10, `b${i}`)]).flat());
    replies.forEach((reply, index) => {
      const i = Math.floor(index / 2);
      assert.equal(reply.id, i + 10);
      assert.equal(textOf(reply.result), `${index % 2 === 0 ? "a" : "b"}${i}`);
    });
  });

  test("another subject presenting a session id gets 404", async () => {
    const session = await rawInitialize(bridge);
    const response = await post(bridge, { jsonrpc: "2.0", id: 2, method: "tools/list" }, { "mcp-session-id": session, authorization: `Bearer ${OTHER_TOKEN}` });
    assert.equal(response.status, 404);
  });

  test("protocol errors get the status the spec names, with JSON bodies", async () => {
    const session = await rawInitialize(bridge);
    const cases: Array<[string, Promise<Response>, number]> = [
      ["no session id", post(bridge, { jsonrpc: "2.0", id: 2, method: "tools/list" }), 400],
      ["unknown session id", post(bridge, { jsonrpc: "2.0", id: 2, method: "tools/list" }, { "mcp-session-id": "no-such-session" }), 404],
      ["bad protocol version", post(bridge, { jsonrpc: "2.0", id: 2, method: "tools/list" }, { "mcp-session-id": session, "mcp-protocol-version": "1999-01-01" }), 400],
      ["malformed JSON", post(bridge, "{not json", { "mcp-session-id": session }), 400],
      ["not JSON-RPC", post(bridge, { hello: "world" }, { "mcp-session-id": session }), 400],
      ["wrong content type", post(bridge, "x", { "mcp-session-id": session, "content-type": "text/plain" }), 415],
      ["nothing acceptable", post(bridge, { jsonrpc: "2.0", id: 2, method: "tools/list" }, { "mcp-session-id": session, accept: "text/html" }), 406],
      ["initialize in a batch", post(bridge, [INIT, { jsonrpc: "2.0", method: "notifications/initialized" }]), 400],
    ];
    for (const [name, pending, status] of cases) {
      const response = await pending;
      assert.equal(response.status, status, name);
      assert.match(response.headers.get("content-type") ?? "", /application\/json/, name);
      const body = await response.json();
      assert.ok(body.error, name);
    }
    const parse = await post(bridge, "{not json", { "mcp-session-id": session });
    assert.equal((await parse.json()).error.code, -32700);
  });

  test("notifications and responses are accepted with 202 and no body", async () => {
    const session = await rawInitialize(bridge);
    const response = await post(bridge, { jsonrpc: "2.0", method: "notifications/initialized" }, { "mcp-session-id": session });
    assert.equal(response.status, 202);
    assert.equal(await response.text(), "");
  });

  test("a batch of requests is answered with a batch", async () => {
    const session = await rawInitialize(bridge);
    const response = await post(
      bridge,
      [1, 2, 3].map((id) => ({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "echo", arguments: { text: `t${id}` } } })),
      { "mcp-session-id": session, accept: "application/json" },
    );
    const replies = (await response.json()) as Array<{ id: number; result: unknown }>;
    assert.deepEqual(replies.map((reply) => reply.id).sort(), [1, 2, 3]);
    for (const reply of replies) assert.equal(textOf(reply.result), `t${reply.id}`);
  });

  test("hostile Host and Origin headers get 403", async () => {
    const { request } = await import("node:http");
    const status = (headers: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        const target = new URL(bridge.url);
        const req = request({ host: target.hostname, port: target.port, path: target.pathname, method: "POST", headers: { ...JSON_AND_SSE, authorization: `Bearer ${TOKEN}`, ...headers } }, (res) => {
          res.resume();
          resolve(res.statusCode!);
        });
        req.on("error", reject);
        req.end(JSON.stringify(INIT));
      });
    assert.equal(await status({ host: "evil.example.com" }), 403);
    assert.equal(await status({ origin: "http://evil.example.com" }), 403);
    assert.equal(await status({ origin: bridge.origin }), 200);
  });

  test("progress and log notifications reach the stream of the request they belong to", async () => {
    const logs: string[] = [];
    const progress: number[] = [];
    const client = await connect(bridge, TOKEN, (c) => c.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(String(n.params.data))));
    const result = await client.callTool({ name: "chatty", arguments: { count: 3 } }, undefined, { onprogress: (p) => void progress.push(p.progress) });
    assert.equal(textOf(result), "chatted");
    assert.deepEqual(progress, [1, 2, 3]);
    assert.deepEqual(logs, ["step 1", "step 2", "step 3"]);
    await client.close();
  });

  test("a request from the server (sampling) reaches the client and its answer reaches the server", async () => {
    const client = await connect(bridge, TOKEN, (c) =>
      c.setRequestHandler(CreateMessageRequestSchema, async () => ({ role: "assistant", model: "test", content: { type: "text", text: "sampled!" } })),
    );
    const result = await client.callTool({ name: "ask", arguments: {} });
    assert.match(textOf(result), /sampled!/);
    await client.close();
  });

  test("the child's non-JSON stdout is logged, not forwarded", async () => {
    const client = await connect(bridge);
    assert.equal(textOf(await client.callTool({ name: "pretty", arguments: {} })), "pretty");
    await waitFor(() => bridge.logs().includes("this line is not JSON"), "the log line");
    await client.close();
  });

  test("a client that disconnects mid-request makes the bridge cancel it at the child", async () => {
    const session = await rawInitialize(bridge);
    const pending = post(bridge, { jsonrpc: "2.0", id: 77, method: "tools/call", params: { name: "wait", arguments: {} } }, { "mcp-session-id": session, accept: "application/json" });
    // The client gives up on request 78 and closes its connection.
    const aborting = fetch(bridge.url, {
      method: "POST",
      signal: AbortSignal.timeout(300),
      headers: { ...JSON_AND_SSE, authorization: `Bearer ${TOKEN}`, "mcp-session-id": session },
      body: JSON.stringify({ jsonrpc: "2.0", id: 78, method: "tools/call", params: { name: "wait", arguments: {} } }),
    }).catch((error: Error) => error);
    assert.ok((await aborting) instanceof Error);
    await waitFor(() => bridge.logs().includes("cancelled 78"), "notifications/cancelled for request 78");
    const reply = await fetch(bridge.url, { method: "DELETE", headers: { authorization: `Bearer ${TOKEN}`, "mcp-session-id": session } });
    assert.equal(reply.status, 200);
    const ended = await pending;
    const body = await ended.json();
    assert.equal(body.id, 77);
    assert.ok(body.error, "the request still pending when the session ended gets an error");
  });

  test("a request the child never answers gets a JSON-RPC timeout error after read_timeout", async () => {
    const session = await rawInitialize(bridge);
    const response = await post(bridge, { jsonrpc: "2.0", id: 5, method: "tools/call", params: { name: "wait", arguments: { ms: 60_000 } } }, { "mcp-session-id": session, accept: "application/json" });
    const body = await response.json();
    assert.equal(body.id, 5);
    assert.equal(body.error.code, -32001);
    await waitFor(() => bridge.logs().includes("cancelled 5"), "the child told to stop");
  });

  test("when the child dies, its pending request fails at once and the session is gone (404)", async () => {
    const session = await rawInitialize(bridge);
    const response = await post(bridge, { jsonrpc: "2.0", id: 9, method: "tools/call", params: { name: "crash", arguments: {} } }, { "mcp-session-id": session, accept: "application/json" });
    const body = await response.json();
    assert.equal(body.id, 9);
    // -32000 "connection closed", not -32001 "timed out": the bridge noticed the exit, it did not wait.
    assert.equal(body.error.code, -32000);
    assert.match(body.error.message, /exited/);
    const after = await post(bridge, { jsonrpc: "2.0", id: 10, method: "tools/list" }, { "mcp-session-id": session });
    assert.equal(after.status, 404);
    const client = await connect(bridge);
    assert.equal(textOf(await client.callTool({ name: "echo", arguments: { text: "fresh child" } })), "fresh child");
    await client.close();
  });

  test("DELETE ends a session; it is 404 afterwards", async () => {
    const session = await rawInitialize(bridge);
    const deleted = await fetch(bridge.url, { method: "DELETE", headers: { authorization: `Bearer ${TOKEN}`, "mcp-session-id": session } });
    assert.equal(deleted.status, 200);
    const after = await post(bridge, { jsonrpc: "2.0", id: 2, method: "tools/list" }, { "mcp-session-id": session });
    assert.equal(after.status, 404);
  });

  test("an oversized body gets 413", async () => {
    const session = await rawInitialize(bridge);
    const response = await post(bridge, JSON.stringify({ jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "echo", arguments: { text: "x".repeat(17 * 1024 * 1024) } } }), { "mcp-session-id": session });
    assert.equal(response.status, 413);
  });

  test("SSE replies carry event ids and can be resumed with Last-Event-ID", async () => {
    const session = await rawInitialize(bridge);
    const response = await post(bridge, { jsonrpc: "2.0", id: 40, method: "tools/call", params: { name: "chatty", arguments: { count: 2 } } }, { "mcp-session-id": session, accept: "text/event-stream" });
    assert.equal(response.headers.get("content-type"), "text/event-stream");
    const text = await response.text();
    const ids = [...text.matchAll(/^id: (\S+)$/gm)].map((match) => match[1]!);
    assert.equal(ids.length, 3);
    const resumed = await fetch(bridge.url, { headers: { accept: "text/event-stream", authorization: `Bearer ${TOKEN}`, "mcp-session-id": session, "last-event-id": ids[0]! } });
    assert.equal(resumed.status, 200);
    const replay = await resumed.text();
    assert.match(replay, /step 2/);
    assert.match(replay, /"id":40/);
    assert.doesNotMatch(replay, /step 1/);
  });

  test("an SSE-only POST gets a resumable stream: whole when answered at once, opened before a slow answer", async () => {
    const version = "2025-11-25";
    const init = await post(bridge, { ...INIT, params: { ...INIT.params, protocolVersion: version } });
    const session = init.headers.get("mcp-session-id")!;
    await init.text();
    const headers = { "mcp-session-id": session, "mcp-protocol-version": version, accept: "text/event-stream" };

    const quick = await post(bridge, { jsonrpc: "2.0", id: 41, method: "tools/call", params: { name: "echo", arguments: { text: "at once" } } }, headers);
    assert.equal(quick.headers.get("content-type"), "text/event-stream");
    const events = (await quick.text()).split("\n\n").filter(Boolean);
    assert.equal(events.length, 2, "a priming event, then the answer");
    assert.match(events[0]!, /^event: message\nid: (\S+)\nretry: \d+\ndata: $/);
    assert.match(events[1]!, /^event: message\nid: \S+\ndata: .*"at once"/);
    const primingId = /id: (\S+)/.exec(events[0]!)![1]!;
    const replay = await fetch(bridge.url, { headers: { ...headers, authorization: `Bearer ${TOKEN}`, "last-event-id": primingId } });
    assert.match(await replay.text(), /"id":41.*at once/, "the answer is replayed after the priming event's id");

    // A call that never answers: the response (headers and priming event) still arrives.
    const slow = await post(bridge, { jsonrpc: "2.0", id: 42, method: "tools/call", params: { name: "wait", arguments: {} } }, headers);
    assert.equal(slow.status, 200);
    const reader = slow.body!.getReader();
    assert.match(new TextDecoder().decode((await reader.read()).value), /^event: message\nid: \S+\nretry: \d+\ndata: \n\n$/);
    await reader.cancel();
  });

  test("the legacy HTTP+SSE transport works with the SDK's SSE client", async () => {
    const client = new Client({ name: "legacy", version: "1.0.0" });
    const headers = { authorization: `Bearer ${TOKEN}` };
    await client.connect(new SSEClientTransport(new URL("/sse", bridge.origin), { requestInit: { headers }, eventSourceInit: { fetch: (url, init) => fetch(url, { ...init, headers: { ...(init?.headers as Record<string, string>), ...headers } }) } }));
    assert.equal(textOf(await client.callTool({ name: "echo", arguments: { text: "legacy" } })), "legacy");
    await client.close();
  });

  test("health and readiness", async () => {
    const health = await fetch(new URL("/health", bridge.origin));
    assert.equal(health.status, 200);
    assert.equal((await health.json()).status, "ok");
    const ready = await fetch(new URL("/ready", bridge.origin));
    assert.equal(ready.status, 200);
  });
});
