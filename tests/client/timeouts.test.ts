/**
 * @module client.timeout in client mode: it bounds connecting, sending and idle reads, never how
 * long a tool may run — a request's answer is waited for as long as the request is alive.
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { writeConfig } from "../support/bridge.ts";
import { connectLocalClient, waitFor } from "./support.ts";
import { startRawServer, startStreamableServer, type TestServer } from "./sdk-servers.ts";

const servers: TestServer[] = [];
after(async () => {
  await Promise.all(servers.map((server) => server.close()));
});

function clientConfig(url: string): string {
  return writeConfig({ mode: "client", log: { level: "info" }, client: { url, transport: "streamable_http", timeout: "1s", retry: { max_retries: 0 } } });
}

const INITIALIZE_RESULT = { protocolVersion: "2025-03-26", capabilities: { tools: {} }, serverInfo: { name: "raw", version: "1.0.0" } };

test("a tool call answered as one JSON body may run longer than client.timeout", async () => {
  const server = await startStreamableServer(undefined, true);
  servers.push(server);
  const local = await connectLocalClient(["-c", clientConfig(server.url)]);
  try {
    const result = await local.client.callTool({ name: "sleep", arguments: { ms: 3_000 } }, undefined, { timeout: 60_000 });
    assert.deepEqual(result.content, [{ type: "text", text: "slept 3000 ms" }], local.stderr());
  } finally {
    await local.close();
  }
});

test("a notification POST the server never answers is cut at client.timeout", async () => {
  const server = await startRawServer((_req, res, body) => {
    const message = body as { id?: number | string; method?: string };
    // Accepts the POST of a notification and never answers it.
    if (message.id === undefined) return;
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: message.id, result: message.method === "initialize" ? INITIALIZE_RESULT : {} }));
  });
  servers.push(server);
  const local = await connectLocalClient(["-c", clientConfig(server.url)]);
  try {
    await waitFor(() => /message not delivered to the remote server[\s\S]*client\.timeout/.test(local.stderr()), "the notification's timeout in the log");
    // The session goes on.
    assert.deepEqual(await local.client.ping(), {});
  } finally {
    await local.close();
  }
});

test("cancelling a long-running call still aborts its HTTP request", async () => {
  let closedEarly = false;
  let callSeen = false;
  const server = await startRawServer((req, res, body) => {
    const message = body as { id?: number | string; method?: string };
    if (message.method === "tools/call") {
      callSeen = true;
      // Never answered: only the client's cancellation ends it.
      res.on("close", () => (closedEarly = !res.writableEnded));
      return;
    }
    if (message.id === undefined) return void res.writeHead(202).end();
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: message.id, result: message.method === "initialize" ? INITIALIZE_RESULT : {} }));
  });
  servers.push(server);
  const local = await connectLocalClient(["-c", clientConfig(server.url)]);
  try {
    const controller = new AbortController();
    const call = local.client.callTool({ name: "forever", arguments: {} }, undefined, { signal: controller.signal, timeout: 60_000 });
    await waitFor(() => callSeen, "the call at the server");
    controller.abort("changed my mind");
    await assert.rejects(call);
    await waitFor(() => closedEarly, "the HTTP request aborted");
  } finally {
    await local.close();
  }
});
