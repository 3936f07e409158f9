/**
 * @module What a legacy child reads of a modern (2026-07-28) request is what the bridge parsed,
 * less the `_meta` envelope (its meaning went to `initialize`), serialized again: never the
 * client's text, whose repeated or escaped keys a child could read otherwise. The fixture's child
 * reads the first of repeated keys, in any case (as cJSON does), and its `received` tool answers
 * with the line it read.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { startBridge, useBridge, type RunningBridge } from "../support/bridge.ts";
import { meta, post, textOf } from "../support/modern.ts";
import { fixtureServer } from "./support.ts";

const TOKEN = "forwarding-token-0123456789";
const ENVELOPE = JSON.stringify(meta());

/** The line the child read for modern request `body` (text) naming the `received` tool. */
async function lineRead(bridge: RunningBridge, body: string): Promise<string> {
  const response = await post(bridge, TOKEN, { method: "tools/call", params: { name: "received" } }, { raw: body, accept: "application/json" });
  const text = await response.text();
  assert.equal(response.status, 200, text);
  const answer = JSON.parse(text) as { id: unknown; result?: Record<string, any> };
  assert.deepEqual(answer.id, (JSON.parse(body) as { id: unknown }).id, "the client's own id");
  assert.equal(answer.result?.resultType, "complete", text);
  return textOf(answer.result);
}

/** `message` as the child should read it: without the envelope, under the child's id. */
function withoutEnvelope(message: Record<string, any>, childId: unknown): Record<string, any> {
  const { _meta, ...params } = message.params as Record<string, unknown>;
  const rest = Object.fromEntries(Object.entries(_meta as Record<string, unknown>).filter(([key]) => !key.startsWith("io.modelcontextprotocol/")));
  return { ...message, id: childId, params: Object.keys(rest).length > 0 ? { ...params, _meta: rest } : params };
}

describe("a legacy child reads a modern request as the bridge did, without the envelope", () => {
  const bridge = useBridge(() => startBridge({ server: { mcp_server: fixtureServer().config, auth: { type: "bearer", bearer: { valid_tokens: [TOKEN] } } } }));

  const bodies: Array<[string, string]> = [
    ["_meta last", `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"received","arguments":{"amount":1.50},"_meta":${ENVELOPE}}}`],
    ["_meta first, blanks around keys and values", `{ "jsonrpc" : "2.0" , "id" : 8 , "method" : "tools/call" , "params" : { "_meta" : ${ENVELOPE} , "name" : "received" , "arguments" : { "x" : "}{][\\\\" } } }`],
    ["the id last, a string with quotes", `{"jsonrpc":"2.0","method":"tools/call","params":{"name":"received","_meta":${ENVELOPE}},"id":"a \\"quoted\\" id"}`],
    ["the tool named twice", `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"delete_everything","name":"received","_meta":${ENVELOPE}}}`],
    ["_meta named again in the arguments", `{"jsonrpc":"2.0","id":10,"method":"tools/call","params":{"name":"received","arguments":{"_meta":{"amount":1.50}},"_meta":${ENVELOPE}}}`],
    ["_meta's key spelled with an escape", `{"jsonrpc":"2.0","id":11,"method":"tools/call","params":{"name":"received","arguments":{"x":"_meta"},"\\u005fmeta":${ENVELOPE}}}`],
    ["a line break between tokens", `{"jsonrpc":"2.0","id":12,"method":"tools/call",\n"params":{"name":"received","_meta":${ENVELOPE}}}`],
    ["_meta holding more than the envelope", `{"jsonrpc":"2.0","id":13,"method":"tools/call","params":{"name":"received","_meta":${JSON.stringify({ ...meta(), "example.com/trace": "t-1" })}}}`],
  ];
  for (const [what, body] of bodies) {
    test(`${what}: the child reads what the bridge parsed, without the envelope`, async () => {
      const line = await lineRead(bridge, body);
      const childId = (JSON.parse(line) as { id: unknown }).id;
      assert.equal(typeof childId, "number", `the bridge's own id: ${line}`);
      assert.deepEqual(JSON.parse(line), withoutEnvelope(JSON.parse(body), childId));
      assert.equal(line, JSON.stringify(JSON.parse(line)), `one compact line, serialized: ${line}`);
      assert.ok(!line.includes("io.modelcontextprotocol/") && !line.includes("delete_everything"), line);
    });
  }

  test("a progress token in _meta reaches the child as the bridge's own, the rest as parsed", async () => {
    const body = `{"jsonrpc":"2.0","id":16,"method":"tools/call","params":{"name":"received","_meta":${JSON.stringify({ ...meta(), progressToken: "client-token" })}}}`;
    const line = await lineRead(bridge, body);
    const read = JSON.parse(line) as { id: number; params: { _meta: Record<string, unknown> } };
    assert.deepEqual(read.params._meta, { progressToken: read.id }, line);
  });
});
