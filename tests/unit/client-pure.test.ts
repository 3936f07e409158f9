/** @module Pure pieces of client mode: SSE parsing, Retry-After, NO_PROXY matching, x-mcp-header validation. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { createSseParser, type SseEvent } from "../../src/client/sse-reader.ts";
import { retryAfterMs } from "../../src/client/remote-fetch.ts";
import { bypassesProxy } from "../../src/runtime/http-error.ts";
import { toolParamHeaders } from "../../src/mcp/client-headers.ts";

function parse(chunks: string[], max = 1000): { events: SseEvent[]; retries: number[] } {
  const events: SseEvent[] = [];
  const retries: number[] = [];
  const parser = createSseParser({ onEvent: (event) => events.push(event), onRetry: (ms) => retries.push(ms) }, max);
  for (const chunk of chunks) parser.push(chunk);
  return { events, retries };
}

test("SSE: events split anywhere, CRLF and CR line ends, comments, ids, retry, multi-line data", () => {
  // A lone CR at the end of a chunk may be half of a CRLF: it is settled by the next chunk.
  const { events, retries } = parse(["id: 1\r", "\nretry: 500\r\ndata: \r\n\r\n: keep-alive\n\nevent: message\nid: 2\nda", "ta: {\"a\":1}\ndata: x\r\r", "event: endpoint\ndata: /messages\n\n"]);
  assert.deepEqual(retries, [500]);
  assert.deepEqual(events, [
    { event: "message", data: "", id: "1" },
    { event: "message", data: '{"a":1}\nx', id: "2" },
    { event: "endpoint", data: "/messages" },
  ]);
});

test("SSE: an empty data event (priming) carries its id; an event without data dispatches nothing", () => {
  const { events } = parse(["id: 7\ndata:\n\nid: 8\n\n"]);
  assert.deepEqual(events, [{ event: "message", data: "", id: "7" }]);
});

test("SSE: an event or line over the limit is an error, not a growing buffer", () => {
  assert.throws(() => parse(["data: " + "x".repeat(2000) + "\n"], 1000), /exceeds 1000/);
  assert.throws(() => parse(["data: " + "x".repeat(2000)], 1000), /exceeds 1000/);
});

test("Retry-After: seconds or an HTTP date", () => {
  assert.equal(retryAfterMs("3"), 3000);
  assert.equal(retryAfterMs(new Date(61_000).toUTCString(), 1_000), 60_000);
  assert.equal(retryAfterMs("soon"), undefined);
  assert.equal(retryAfterMs(null), undefined);
});

test("NO_PROXY: exact hosts, domain suffixes on label boundaries, leading dots and *, ports ignored", () => {
  assert.ok(bypassesProxy("api.example.com", "example.com"));
  assert.ok(bypassesProxy("example.com", ".example.com"));
  assert.ok(bypassesProxy("127.0.0.1", "localhost, 127.0.0.1:8080"));
  assert.ok(bypassesProxy("anything", "*"));
  assert.ok(!bypassesProxy("badexample.com", "example.com"));
  assert.ok(!bypassesProxy("example.com", undefined));
});

test("x-mcp-header: valid annotations become declarations; each rule of the spec rejects the tool", () => {
  const valid = toolParamHeaders({ type: "object", properties: { region: { type: "string", "x-mcp-header": "Region" }, nested: { type: "object", properties: { id: { type: "integer", "x-mcp-header": "Id" } } } } });
  assert.deepEqual(valid, { declarations: [{ path: ["region"], name: "Region", type: "string" }, { path: ["nested", "id"], name: "Id", type: "integer" }] });
  const bad = (schema: unknown) => "problem" in toolParamHeaders(schema);
  assert.ok(bad({ properties: { a: { type: "string", "x-mcp-header": "" } } }), "empty");
  assert.ok(bad({ properties: { a: { type: "string", "x-mcp-header": "My Region" } } }), "space");
  assert.ok(bad({ properties: { a: { type: "string", "x-mcp-header": "Région" } } }), "non-ASCII");
  assert.ok(bad({ properties: { a: { type: "number", "x-mcp-header": "A" } } }), "number");
  assert.ok(bad({ properties: { a: { type: "object", "x-mcp-header": "A" } } }), "object");
  assert.ok(bad({ properties: { a: { type: "string", "x-mcp-header": "A" }, b: { type: "string", "x-mcp-header": "a" } } }), "duplicate, case-insensitive");
  assert.ok(bad({ properties: { list: { type: "array", items: { type: "string", "x-mcp-header": "Item" } } } }), "under items");
  assert.ok(bad({ anyOf: [{ properties: { a: { type: "string", "x-mcp-header": "A" } } }] }), "under anyOf");
  assert.deepEqual(toolParamHeaders({ type: "object" }), { declarations: [] });
});
