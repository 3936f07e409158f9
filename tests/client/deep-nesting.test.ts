/**
 * @module Client mode: a remote server's message nested absurdly deep (JSON.stringify runs out of
 * stack re-serializing it for stdout: the answer was lost without a word and the request waited
 * for the local client's own timeout) is a protocol error for the request it answers; the bridge
 * keeps serving.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { connectLocalClient } from "./support.ts";

let server: Server;
let url: string;
const DEEP = 20_000;

/** A 2026-07-28 server that answers tools/call "deep" with a result nested DEEP levels, and any other tool plainly. */
before(async () => {
  server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
    request.on("end", () => {
      const message = JSON.parse(body) as { id?: unknown; method?: string; params?: { name?: string } };
      if (message.id === undefined) return void response.writeHead(202).end();
      const id = JSON.stringify(message.id);
      let text: string;
      if (message.method === "server/discover") {
        text = JSON.stringify({ jsonrpc: "2.0", id: message.id, result: { supportedVersions: ["2026-07-28"], capabilities: { tools: {} }, resultType: "complete", _meta: { "io.modelcontextprotocol/serverInfo": { name: "deep", version: "1" } } } });
      } else if (message.params?.name === "deep") {
        text = `{"jsonrpc":"2.0","id":${id},"result":{"resultType":"complete","content":[],"deep":${"[".repeat(DEEP)}${"]".repeat(DEEP)}}}`;
      } else {
        text = JSON.stringify({ jsonrpc: "2.0", id: message.id, result: { resultType: "complete", content: [{ type: "text", text: "plain" }] } });
      }
      response.writeHead(200, { "content-type": "application/json" }).end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
});

after(() => {
  server?.close();
});

test("a result nested deeper than the limit is an error for its request; the next request is served", async () => {
  const local = await connectLocalClient(["connect", url, "--log-level", "info"]);
  try {
    await assert.rejects(local.client.callTool({ name: "deep", arguments: {} }, undefined, { timeout: 20_000 }), (error: Error) => {
      assert.match(error.message, /nested deeper than \d+ levels/);
      return true;
    });
    const plain = await local.client.callTool({ name: "plain", arguments: {} });
    assert.deepEqual(plain.content, [{ type: "text", text: "plain" }]);
  } finally {
    await local.close();
  }
});
