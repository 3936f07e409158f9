/** @module Client mode: a modern remote server's result that is not a JSON object is an error for a legacy local client, never an empty success. */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { connectLocalClient } from "./support.ts";

let server: Server;
let url: string;

/** A 2026-07-28 server that describes itself properly and answers every tools/call with `result: null`. */
before(async () => {
  server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
    request.on("end", () => {
      const message = JSON.parse(body) as { id?: unknown; method?: string };
      if (message.id === undefined) return void response.writeHead(202).end();
      const result =
        message.method === "server/discover"
          ? { supportedVersions: ["2026-07-28"], capabilities: { tools: {} }, resultType: "complete", ttlMs: 0, cacheScope: "user", _meta: { "io.modelcontextprotocol/serverInfo": { name: "null-answers", version: "1" } } }
          : null;
      response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: message.id, result }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
});

after(() => {
  server?.close();
});

test("a tools/call answered with a null result is an internal error for the legacy local client", async () => {
  const local = await connectLocalClient(["connect", url, "--log-level", "info"]);
  try {
    assert.match(local.stderr(), /speaks MCP 2026-07-28/);
    await assert.rejects(local.client.callTool({ name: "anything", arguments: {} }), (error: Error & { code?: number }) => {
      assert.equal(error.code, -32603);
      assert.match(error.message, /not an object \(null\)/);
      return true;
    });
  } finally {
    await local.close();
  }
});
