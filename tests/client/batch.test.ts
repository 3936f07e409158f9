/**
 * @module JSON-RPC batches from a legacy local client (MCP 2025-03-26 allows them): written as raw
 * NDJSON to the bridge's stdin, answered per JSON-RPC 2.0 §6 on stdout.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { createInterface } from "node:readline";
import { after, before, test } from "node:test";
import { CLI } from "../support/bridge.ts";
import { startStreamableServer, type TestServer } from "./sdk-servers.ts";

let server: TestServer;
let bridge: ChildProcessWithoutNullStreams;
let stderr = "";
const lines: unknown[] = [];
const waiters: Array<() => void> = [];

before(async () => {
  server = await startStreamableServer();
  bridge = spawn(process.execPath, [CLI, "connect", server.url, "--transport", "streamable_http"], { env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp" } });
  bridge.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  createInterface({ input: bridge.stdout }).on("line", (line) => {
    lines.push(JSON.parse(line));
    waiters.splice(0).forEach((wake) => wake());
  });
  send({ jsonrpc: "2.0", id: "init", method: "initialize", params: { protocolVersion: "2025-03-26", capabilities: {}, clientInfo: { name: "raw", version: "1" } } });
  const initialized = (await next()) as { id: string; result: unknown };
  assert.equal(initialized.id, "init", stderr);
  send({ jsonrpc: "2.0", method: "notifications/initialized" });
});

after(async () => {
  bridge.stdin.end();
  await new Promise((resolve) => bridge.once("exit", resolve));
  await server.close();
});

function send(value: unknown): void {
  bridge.stdin.write(JSON.stringify(value) + "\n");
}

/** The next line the bridge writes to stdout, parsed. */
async function next(): Promise<unknown> {
  const deadline = Date.now() + 30_000;
  while (lines.length === 0) {
    if (Date.now() > deadline) throw new Error(`no line on stdout; stderr: ${stderr}`);
    await new Promise<void>((resolve) => {
      waiters.push(resolve);
      setTimeout(resolve, 1_000);
    });
  }
  return lines.shift();
}

const byId = (answers: Array<{ id: unknown }>) => [...answers].sort((a, b) => String(a.id).localeCompare(String(b.id)));

test("a batch is answered with one array of its requests' responses", async () => {
  send([
    { jsonrpc: "2.0", id: "b1", method: "ping" },
    { jsonrpc: "2.0", method: "notifications/roots/list_changed" },
    { jsonrpc: "2.0", id: "b2", method: "tools/call", params: { name: "echo", arguments: { text: "batched" } } },
  ]);
  const answer = (await next()) as Array<{ id: unknown; result?: unknown }>;
  assert.ok(Array.isArray(answer), `one array, got ${JSON.stringify(answer)}`);
  assert.deepEqual(byId(answer), [
    { jsonrpc: "2.0", id: "b1", result: {} },
    { jsonrpc: "2.0", id: "b2", result: { content: [{ type: "text", text: "batched" }] } },
  ]);
});

test("a batch of notifications only gets no answer", async () => {
  send([{ jsonrpc: "2.0", method: "notifications/roots/list_changed" }]);
  send({ jsonrpc: "2.0", id: "after", method: "ping" });
  // The very next line is the ping's answer: nothing was written for the batch.
  assert.deepEqual(await next(), { jsonrpc: "2.0", id: "after", result: {} });
});

test("an empty batch gets one Invalid Request error, not an array", async () => {
  send([]);
  const answer = (await next()) as { id: unknown; error?: { code: number } };
  assert.ok(!Array.isArray(answer), JSON.stringify(answer));
  assert.equal(answer.id, null);
  assert.equal(answer.error?.code, -32600);
});

test("an invalid item in a batch is answered inside the batch's array", async () => {
  send([{ jsonrpc: "2.0", id: "b3", method: "ping" }, { not: "json-rpc" }]);
  const answer = (await next()) as Array<{ id: unknown; error?: { code: number } }>;
  assert.ok(Array.isArray(answer), JSON.stringify(answer));
  assert.equal(answer.length, 2);
  assert.deepEqual(answer.find((item) => item.id === "b3"), { jsonrpc: "2.0", id: "b3", result: {} });
  assert.equal(answer.find((item) => item.id === null)?.error?.code, -32600);
});

test("a request of a batch the local client cancels leaves the batch to the others' answers", async () => {
  send([
    { jsonrpc: "2.0", id: "c1", method: "tools/call", params: { name: "sleep", arguments: { ms: 20_000 } } },
    { jsonrpc: "2.0", id: "c2", method: "ping" },
  ]);
  await new Promise((resolve) => setTimeout(resolve, 300));
  send({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: "c1", reason: "test" } });
  assert.deepEqual(await next(), [{ jsonrpc: "2.0", id: "c2", result: {} }]);
});
