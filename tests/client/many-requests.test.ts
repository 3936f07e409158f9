/**
 * @module Client mode over a long session: what each request needs is let go once it is answered.
 * Node 20's `AbortSignal.any` kept every signal made from the transport's shutdown signal, about
 * 20 KB of each request's state with it, so a bridge with a small heap died after a few thousand
 * calls (src/util/any-signal.ts replaces it).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { startRawServer } from "./sdk-servers.ts";
import { endWithEachTest, legacyServer, servers, startLocal } from "./raw-local.ts";
import { waitFor } from "./support.ts";

endWithEachTest();

const CALLS = 8_000;
/** Requests sent before their answers are waited for (the bridge takes 1,000 in flight). */
const CHUNK = 400;
/** Far below what the calls' state would take if kept; the bridge itself needs about 30 MB. */
const HEAP_MB = 64;

async function modernServer() {
  const server = await startRawServer((_req, res, body) => {
    const message = body as { id?: number | string; method: string };
    if (message.id === undefined) return void res.writeHead(202).end();
    const result = message.method === "server/discover" ? { supportedVersions: ["2026-07-28"], capabilities: { tools: {} }, resultType: "complete", ttlMs: 0, cacheScope: "public" } : { resultType: "complete", content: [] };
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: message.id, result }));
  });
  servers.push(server);
  return server;
}

for (const era of ["legacy", "modern"] as const) {
  test(`${CALLS.toLocaleString("en")} tool calls to a ${era} server through a bridge with a ${HEAP_MB} MB heap: every one answered, the bridge still running`, { timeout: 600_000 }, async () => {
    const server = era === "legacy" ? await legacyServer((res, message) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: message.id, result: { content: [] } }))) : await modernServer();
    const local = startLocal(["connect", server.url], { NODE_OPTIONS: `--max-old-space-size=${HEAP_MB}` });
    await local.handshake();
    const answers = new Map<unknown, unknown>();
    let read = 0;
    /** Whether calls first..last are all answered (the answers of a chunk come in any order). */
    const answeredUpTo = (first: number, last: number) => {
      const lines = local.lines();
      for (; read < lines.length; read++) {
        const message = JSON.parse(lines[read]!) as { id?: unknown };
        answers.set(message.id, message);
      }
      for (let id = first; id <= last; id++) if (!answers.has(id)) return false;
      return true;
    };
    for (let first = 1; first <= CALLS; first += CHUNK) {
      const last = Math.min(first + CHUNK - 1, CALLS);
      for (let id = first; id <= last; id++) local.send({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "t", arguments: {} } });
      await waitFor(() => answeredUpTo(first, last), `the answers to calls ${first} to ${last}\n${local.stderr().slice(-2000)}`, 180_000);
    }
    for (let id = 1; id <= CALLS; id++) assert.deepEqual((answers.get(id) as { result?: unknown }).result, { content: [] }, `call ${id}: ${JSON.stringify(answers.get(id))}`);
    local.send({ jsonrpc: "2.0", id: "after", method: "tools/call", params: { name: "t", arguments: {} } });
    assert.deepEqual((await local.answer("after", 60_000)).result, { content: [] });
    assert.doesNotMatch(local.stderr(), /heap|MaxListeners/i);
  });
}
