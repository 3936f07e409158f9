/** @module Client mode against a 2026-07-28 server (SDK v2): a legacy local client (SDK v1) served by translation, a modern local client (SDK v2) served modern. */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { CreateMessageRequestSchema, ElicitRequestSchema, ResourceUpdatedNotificationSchema, ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { Client as ModernClient } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { CLI } from "../support/bridge.ts";
import { connectLocalClient, waitFor, type LocalClient } from "./support.ts";
import { startModernServer, type ModernServer } from "./modern-server.ts";

let server: ModernServer;

before(async () => {
  server = await startModernServer();
});

after(async () => {
  await server?.close();
});

function connect(): Promise<LocalClient> {
  return connectLocalClient(["connect", server.url, "--log-level", "info"], {
    capabilities: { sampling: {}, elicitation: {} },
    setup: (client) => {
      let asked = 0;
      client.setRequestHandler(ElicitRequestSchema, async () => ({ action: "accept", content: { name: `ada${++asked}` } }));
      client.setRequestHandler(CreateMessageRequestSchema, async () => ({ role: "assistant", model: "m", content: { type: "text", text: "sampled" } }));
    },
  });
}

test("a legacy local client is served by a modern server: initialize from server/discover, tools, progress", async () => {
  const local = await connect();
  try {
    assert.equal(local.client.getServerVersion()?.name, "sdk-v2-modern-server");
    assert.match(local.stderr(), /speaks MCP 2026-07-28/);
    const { tools } = await local.client.listTools();
    const echoed = await local.client.callTool({ name: "echo", arguments: { text: "modern" } });
    assert.deepEqual(echoed, { content: [{ type: "text", text: "modern" }] }, "resultType is stripped for the legacy client");
    assert.ok(tools.some((tool) => tool.name === "echo"));
    const progress: number[] = [];
    await local.client.callTool({ name: "progress", arguments: {} }, undefined, { onprogress: (event) => progress.push(event.progress) });
    assert.deepEqual(progress, [1, 2, 3]);
    const call = server.headers.find((headers) => headers["mcp-method"] === "tools/call" && headers["mcp-name"] === "echo");
    assert.equal(call?.["mcp-protocol-version"], "2026-07-28");
    assert.ok(!server.methods.includes("initialize"), "no initialize goes to a modern server");
  } finally {
    await local.close();
  }
});

test("input_required rounds become elicitation and sampling requests to the local client, with requestState echoed", async () => {
  const local = await connect();
  try {
    const result = await local.client.callTool({ name: "ask", arguments: {} });
    assert.deepEqual(result.content, [{ type: "text", text: "ada2/sampled/round-2" }]);
  } finally {
    await local.close();
  }
});

test("x-mcp-header parameters are mirrored into Mcp-Param-* and tools with invalid annotations are not listed", async () => {
  const local = await connect();
  try {
    const { tools } = await local.client.listTools();
    assert.ok(!tools.some((tool) => tool.name === "bad_headers"), "a number-typed x-mcp-header is invalid");
    const result = await local.client.callTool({ name: "headers", arguments: { region: "Zürich", note: "n" } });
    assert.deepEqual(result.content, [{ type: "text", text: "region Zürich" }]);
    const call = server.headers.find((headers) => headers["mcp-name"] === "headers");
    assert.equal(call?.["mcp-param-region"], `=?base64?${Buffer.from("Zürich").toString("base64")}?=`);
    assert.equal(call?.["mcp-param-note"], undefined);
  } finally {
    await local.close();
  }
});

test("list changes reach the legacy local client through subscriptions/listen", async () => {
  const local = await connect();
  try {
    let changed = 0;
    local.client.setNotificationHandler(ToolListChangedNotificationSchema, async () => void changed++);
    await waitFor(() => server.methods.includes("subscriptions/listen"), "the bridge to open subscriptions/listen");
    await local.client.callTool({ name: "change", arguments: {} });
    await waitFor(() => changed > 0, "notifications/tools/list_changed on stdio");
  } finally {
    await local.close();
  }
});

test("resources/subscribe from the legacy client rides subscriptions/listen; updates arrive as notifications/resources/updated", async () => {
  const local = await connect();
  try {
    const updated: string[] = [];
    local.client.setNotificationHandler(ResourceUpdatedNotificationSchema, async (notification) => void updated.push(notification.params.uri));
    const listens = server.methods.filter((method) => method === "subscriptions/listen").length;
    // Answered once the server acknowledged the new listen filter.
    await local.client.subscribeResource({ uri: "test://note" });
    assert.ok(server.methods.filter((method) => method === "subscriptions/listen").length > listens, "a listen stream with the subscription");
    const read = await local.client.readResource({ uri: "test://note" });
    assert.deepEqual(read.contents, [{ uri: "test://note", text: "a note" }]);
    await local.client.callTool({ name: "touch", arguments: {} });
    await waitFor(() => updated.includes("test://note"), "notifications/resources/updated on stdio");
  } finally {
    await local.close();
  }
});

test("a cancelled call closes its reply stream, which cancels it at a modern server", async () => {
  const local = await connect();
  try {
    const controller = new AbortController();
    let started = false;
    const slow = local.client.callTool({ name: "slow", arguments: {} }, undefined, { signal: controller.signal, onprogress: () => void (started = true) });
    await waitFor(() => started, "the reply stream to start");
    controller.abort("no longer needed");
    await assert.rejects(slow);
    await waitFor(() => server.cancelled.includes("slow"), "the server to see the request cancelled");
  } finally {
    await local.close();
  }
});

test("a modern local client (SDK v2, probing server/discover on stdio) is served modern end to end", async () => {
  const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, "connect", server.url], env: { PATH: process.env.PATH ?? "" }, stderr: "pipe" });
  const client = new ModernClient({ name: "modern-local", version: "1.0.0" }, { capabilities: { elicitation: {} }, versionNegotiation: { mode: "auto" } });
  client.setRequestHandler("elicitation/create", async () => ({ action: "accept", content: { name: "grace" } }));
  await client.connect(transport);
  try {
    const before = server.methods.length;
    const result = await client.callTool({ name: "echo", arguments: { text: "end to end" } });
    assert.deepEqual(result.content, [{ type: "text", text: "end to end" }]);
    assert.ok(server.methods.slice(before).includes("tools/call"));
    assert.ok(server.methods.filter((method) => method === "server/discover").length >= 1);
    const ask = await client.callTool({ name: "ask", arguments: {} }).catch((error: unknown) => error);
    assert.ok(ask && typeof ask === "object", "a modern client handles input_required itself");
  } finally {
    await client.close();
  }
});
