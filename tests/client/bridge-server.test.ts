/** @module Client mode against the bridge's own server mode (bearer): the SDK v1 client over stdio, the bridge in between twice. */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { CreateMessageRequestSchema, ElicitRequestSchema, type ClientCapabilities } from "@modelcontextprotocol/sdk/types.js";
import { startBridge, type RunningBridge } from "../support/bridge.ts";
import { buildFixtures } from "../support/fixtures.ts";
import { connectLocalClient } from "./support.ts";

const TOKEN = "client-mode-test-token-0123456789";
let fixture: string;
let server: RunningBridge;

function serverConfig(listen = "127.0.0.1:0") {
  return {
    server: {
      listen,
      mcp_server: { command: process.execPath, args: [fixture] },
      auth: { type: "bearer", bearer: { valid_tokens: [TOKEN] } },
    },
  };
}

before(async () => {
  ({ everythingServer: fixture } = await buildFixtures());
  server = await startBridge(serverConfig());
});

after(async () => {
  await server?.stop();
});

const CAPABILITIES: ClientCapabilities = { sampling: {}, elicitation: {} };

function connect(extraArgs: string[] = []) {
  return connectLocalClient(["connect", server.url, "--token-env", "REMOTE_TOKEN", ...extraArgs], {
    env: { REMOTE_TOKEN: TOKEN },
    capabilities: CAPABILITIES,
    setup: (client) => {
      client.setRequestHandler(CreateMessageRequestSchema, async (request) => ({
        role: "assistant",
        model: "test-model",
        content: { type: "text", text: `sampled: ${(request.params.messages[0]!.content as { text: string }).text}` },
      }));
      client.setRequestHandler(ElicitRequestSchema, async () => ({ action: "accept", content: { username: "ada", email: "ada@example.com" } }));
    },
  });
}

test("tools are listed and called through client mode with a bearer token", async () => {
  const local = await connect();
  try {
    assert.equal(local.client.getServerVersion()?.name, "mcp-bridge-everything-fixture");
    const { tools } = await local.client.listTools();
    assert.ok(tools.some((tool) => tool.name === "echo"));
    const result = await local.client.callTool({ name: "echo", arguments: { text: "hello through two bridges" } });
    assert.deepEqual(result.content, [{ type: "text", text: "hello through two bridges" }]);
  } finally {
    await local.close();
  }
});

test("progress notifications reach the local client", async () => {
  const local = await connect();
  try {
    const progress: number[] = [];
    await local.client.callTool({ name: "test_tool_with_progress", arguments: {} }, undefined, { onprogress: (event) => progress.push(event.progress) });
    // SDK v1 clients drop a progress notification read in the same stdout chunk as the response
    // (notification handlers run a microtask late, the response at once); the fixture answers right
    // after its last one, so under load only the first two are certain to be seen.
    assert.deepEqual(progress.slice(0, 2), [0, 50]);
    assert.ok(progress.every((value, i) => value === [0, 50, 100][i]), `in order, none invented: ${progress.join(", ")}`);
  } finally {
    await local.close();
  }
});

test("sampling and elicitation requests of the server are answered by the local client", async () => {
  const local = await connect();
  try {
    const sampled = await local.client.callTool({ name: "test_sampling", arguments: { prompt: "2+2?" } });
    assert.deepEqual(sampled.content, [{ type: "text", text: "LLM response: sampled: 2+2?" }]);
    const elicited = await local.client.callTool({ name: "test_elicitation", arguments: { message: "who?" } });
    assert.deepEqual(elicited.content, [{ type: "text", text: 'User response: action=accept, content={"username":"ada","email":"ada@example.com"}' }]);
  } finally {
    await local.close();
  }
});

test("100 requests in flight at once all get their own answer", async () => {
  const local = await connect();
  try {
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => local.client.callTool({ name: "echo", arguments: { text: `n${i}` } })));
    results.forEach((result, i) => assert.deepEqual(result.content, [{ type: "text", text: `n${i}` }]));
  } finally {
    await local.close();
  }
});

test("a wrong token gives the local client a JSON-RPC error naming the status, not a hang", async () => {
  const local = await connectLocalClient(["connect", server.url, "--token-env", "REMOTE_TOKEN"], { env: { REMOTE_TOKEN: "wrong" }, connect: false });
  await assert.rejects(local.client.connect(local.transport), (error: Error) => /HTTP 401/.test(error.message));
  await local.close();
});

test("a cancelled request is cancelled at the server and the session goes on", async () => {
  const local = await connect();
  try {
    const controller = new AbortController();
    const slow = local.client.callTool({ name: "slow", arguments: { ms: 60_000 } }, undefined, { signal: controller.signal });
    setTimeout(() => controller.abort("changed my mind"), 200);
    await assert.rejects(slow);
    const result = await local.client.callTool({ name: "echo", arguments: { text: "still here" } });
    assert.deepEqual(result.content, [{ type: "text", text: "still here" }]);
  } finally {
    await local.close();
  }
});

test("a restarted remote server gets a new session without the local client noticing", async () => {
  const port = new URL(server.url).port;
  const local = await connect(["--log-level", "info"]);
  try {
    await local.client.callTool({ name: "echo", arguments: { text: "before" } });
    await server.stop();
    server = await startBridge(serverConfig(`127.0.0.1:${port}`));
    const result = await local.client.callTool({ name: "echo", arguments: { text: "after restart" } });
    assert.deepEqual(result.content, [{ type: "text", text: "after restart" }]);
    // A legacy server forgot the session (a new one is opened); a modern one never had one.
    assert.match(local.stderr(), /no longer knows the session|speaks MCP 2026-07-28/);
  } finally {
    await local.close();
  }
});
