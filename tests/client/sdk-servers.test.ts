/** @module Client mode against SDK v1 servers (Streamable HTTP, legacy HTTP+SSE) and against servers that misbehave. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { CreateMessageRequestSchema, ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { connectLocalClient, waitFor, type LocalClient } from "./support.ts";
import { startRawServer, startSseServer, startStreamableServer, type TestServer } from "./sdk-servers.ts";

function connect(server: TestServer, extraArgs: string[] = []): Promise<LocalClient> {
  return connectLocalClient(["connect", server.url, "--log-level", "info", ...extraArgs], {
    capabilities: { sampling: {}, elicitation: {} },
    setup: (client) => {
      client.setRequestHandler(ElicitRequestSchema, async () => ({ action: "accept", content: { name: "ada" } }));
      client.setRequestHandler(CreateMessageRequestSchema, async () => ({ role: "assistant", model: "m", content: { type: "text", text: "sampled" } }));
    },
  });
}

async function exercise(local: LocalClient): Promise<void> {
  const echoed = await local.client.callTool({ name: "echo", arguments: { text: "hi" } });
  assert.deepEqual(echoed.content, [{ type: "text", text: "hi" }]);
  const progress: number[] = [];
  await local.client.callTool({ name: "progress", arguments: {} }, undefined, { onprogress: (event) => progress.push(event.progress) });
  assert.deepEqual(progress, [1, 2, 3]);
  const asked = await local.client.callTool({ name: "ask", arguments: {} });
  assert.deepEqual(asked.content, [{ type: "text", text: "ada/sampled" }]);
}

test("SDK v1 Streamable HTTP server: tools, progress, elicitation and sampling", async () => {
  const server = await startStreamableServer();
  const local = await connect(server);
  try {
    await exercise(local);
  } finally {
    await local.close();
    await server.close();
  }
});

test("SDK v1 legacy HTTP+SSE server with --transport sse", async () => {
  const server = await startSseServer();
  const local = await connect(server, ["--transport", "sse"]);
  try {
    await exercise(local);
  } finally {
    await local.close();
    await server.close();
  }
});

test("auto falls back to HTTP+SSE when the initialize POST is refused", async () => {
  const server = await startSseServer();
  const local = await connect(server);
  try {
    await exercise(local);
    assert.ok(server.requests.includes("POST /sse"), "Streamable HTTP was tried first");
    assert.match(local.stderr(), /legacy HTTP\+SSE/);
  } finally {
    await local.close();
    await server.close();
  }
});

test("stdin EOF ends the remote session with DELETE", async () => {
  const server = await startStreamableServer();
  const local = await connect(server);
  await local.client.callTool({ name: "echo", arguments: { text: "x" } });
  await local.close();
  await waitFor(() => server.requests.includes("DELETE /mcp"), "DELETE /mcp");
  await server.close();
});

test("a network cut during a reply stream is resumed with Last-Event-ID and the call completes", async () => {
  const server = await startStreamableServer();
  const local = await connect(server);
  try {
    const progress: number[] = [];
    const result = await local.client.callTool({ name: "cut", arguments: {} }, undefined, { onprogress: (event) => progress.push(event.progress) });
    assert.deepEqual(result.content, [{ type: "text", text: "survived the cut" }]);
    assert.deepEqual(progress, [1], "the event before the cut is delivered once");
    assert.ok(server.requests.filter((line) => line === "GET /mcp").length >= 1, "the stream was resumed with a GET");
  } finally {
    await local.close();
    await server.close();
  }
});

test("a server answering HTML gets the local client a JSON-RPC error naming the content type", async () => {
  const server = await startRawServer((_req, res) => res.writeHead(200, { "content-type": "text/html" }).end("<html>hello</html>"));
  const local = await connectLocalClient(["connect", server.url], { connect: false });
  try {
    await assert.rejects(local.client.connect(local.transport), /content type "text\/html"/);
  } finally {
    await local.close();
    await server.close();
  }
});

test("a server answering broken JSON gets a JSON-RPC error saying so", async () => {
  const server = await startRawServer((_req, res) => res.writeHead(200, { "content-type": "application/json" }).end("{ not json"));
  const local = await connectLocalClient(["connect", server.url], { connect: false });
  try {
    await assert.rejects(local.client.connect(local.transport), /is not JSON/);
  } finally {
    await local.close();
    await server.close();
  }
});

test("a server that never answers gets a timeout error, not a hang", async () => {
  const server = await startRawServer(() => {});
  const local = await connectLocalClient(["connect", server.url, "--timeout", "1s"], { connect: false });
  try {
    await assert.rejects(local.client.connect(local.transport), /did not answer within 1000 ms/);
  } finally {
    await local.close();
    await server.close();
  }
});

test("a server that is not there gets an error naming the connection failure", async () => {
  const server = await startRawServer(() => {});
  await server.close();
  const local = await connectLocalClient(["connect", server.url], { connect: false });
  try {
    await assert.rejects(local.client.connect(local.transport), /cannot reach 127\.0\.0\.1:\d+: .*ECONNREFUSED/);
  } finally {
    await local.close();
  }
});

test("stdout carries only JSON-RPC, even with debug logging", async () => {
  const server = await startStreamableServer();
  const local = await connect(server, ["--log-level", "debug"]);
  try {
    // The SDK's stdio transport fails on any stdout line that is not JSON-RPC; a clean call proves none was.
    let stray: unknown;
    local.transport.onerror = (error) => (stray = error);
    await local.client.callTool({ name: "echo", arguments: { text: "clean" } });
    assert.equal(stray, undefined);
    assert.match(local.stderr(), /DEBUG local → remote method=tools\/call/);
  } finally {
    await local.close();
    await server.close();
  }
});

test("a dual-era local client (SDK v2, version negotiation auto) falls back to initialize when the remote is legacy", async () => {
  const { Client: ModernClient } = await import("@modelcontextprotocol/client");
  const { StdioClientTransport: ModernStdio } = await import("@modelcontextprotocol/client/stdio");
  const { CLI } = await import("../support/bridge.ts");
  const server = await startStreamableServer();
  const client = new ModernClient({ name: "dual-era-local", version: "1.0.0" }, { versionNegotiation: { mode: "auto" } });
  await client.connect(new ModernStdio({ command: process.execPath, args: [CLI, "connect", server.url], env: { PATH: process.env.PATH ?? "" }, stderr: "ignore" }));
  try {
    const result = await client.callTool({ name: "echo", arguments: { text: "legacy underneath" } });
    assert.deepEqual(result.content, [{ type: "text", text: "legacy underneath" }]);
  } finally {
    await client.close();
    await server.close();
  }
});
