/** @module Client mode from the unbundled source under Deno (`deno run -A src/main.ts connect URL`): stdin streaming and Deno's fetch. */
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { writeConfig } from "../support/bridge.ts";
import { DENO, ROOT } from "../release/helpers.ts";
import { connectLocalClient } from "./support.ts";
import { startRawServer, startStreamableServer } from "./sdk-servers.ts";

const ENV = { HOME: process.env.HOME ?? "/root", PATH: process.env.PATH ?? "/usr/bin:/bin", DENO_NO_UPDATE_CHECK: "1" };
const UNDER_DENO = { command: [DENO, "run", "-A", join(ROOT, "src", "main.ts")], direct: true, env: ENV };

test("under Deno, client mode connects a stdio client to a Streamable HTTP server", { timeout: 120_000 }, async () => {
  const server = await startStreamableServer();
  const local = await connectLocalClient(["connect", server.url], UNDER_DENO);
  try {
    const result = await local.client.callTool({ name: "echo", arguments: { text: "from deno" } });
    assert.deepEqual(result.content, [{ type: "text", text: "from deno" }]);
  } finally {
    await local.close();
    await server.close();
  }
});

test("under Deno as under Node: a call longer than client.timeout is waited for, a call whose connection breaks is sent once, a refused connection says so", { timeout: 120_000 }, async () => {
  const calls: string[] = [];
  const server = await startRawServer((req, res, body) => {
    if (req.method !== "POST") return void res.writeHead(405).end();
    const message = body as { id?: number; method: string; params?: { name?: string } };
    const reply = (result: unknown) => res.writeHead(200, { "content-type": "application/json", "mcp-session-id": "s1" }).end(JSON.stringify({ jsonrpc: "2.0", id: message.id, result }));
    if (message.method === "initialize") return reply({ protocolVersion: "2025-06-18", capabilities: { tools: {} }, serverInfo: { name: "raw", version: "1" } });
    if (message.id === undefined) return void res.writeHead(202).end();
    if (message.method !== "tools/call") return reply({});
    calls.push(message.params!.name!);
    if (message.params!.name === "break") return void res.socket?.destroy();
    // Answered after client.timeout (1 s): the answer to a request is waited for as long as the request lives.
    setTimeout(() => reply({ content: [{ type: "text", text: "slow" }] }), 2_500);
  });
  const config = (url: string) => writeConfig({ mode: "client", client: { url, transport: "streamable_http", timeout: "1s", retry: { max_retries: 0 } } });
  const local = await connectLocalClient(["-c", config(server.url)], UNDER_DENO);
  try {
    // Before: "no response within 1000 ms": Deno's fetch cannot tell when it is connected, and the connect timeout covered the answer.
    assert.deepEqual((await local.client.callTool({ name: "slow", arguments: {} }, undefined, { timeout: 60_000 })).content, [{ type: "text", text: "slow" }], local.stderr());
    await assert.rejects(local.client.callTool({ name: "break", arguments: {} }), /cannot reach 127\.0\.0\.1:\d+: .*connection closed/);
    // Before: 2, Deno's fetch sent the POST again on a new connection when the pooled one broke after sending it.
    assert.deepEqual(calls, ["slow", "break"], "a call the server may have run is never repeated");
  } finally {
    await local.close();
    await server.close();
  }

  const closed = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
  const refused = await connectLocalClient(["-c", config(`http://127.0.0.1:${closed}/mcp`)], { ...UNDER_DENO, connect: false });
  try {
    // Before: "fetch failed" (Deno 2.9 puts the reason in the error's cause), and taken for a broken connection after sending, so never retried.
    await assert.rejects(refused.client.connect(refused.transport), /cannot reach 127\.0\.0\.1:\d+: .*refused/i);
  } finally {
    await refused.close();
  }
});
