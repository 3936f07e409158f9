/**
 * @module More end-to-end attacks on the modern (2026-07-28) path through the built CLI (see
 * modern-attacks.test.ts for the first set): children that lie about their results, and the
 * certainty of attributing a legacy child's requests for input. Each test failed before its fix.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { call, meta, textOf, useDebugBridge } from "../support/modern.ts";

const ALICE = "alice-token-0123456789";
const bearer = (...tokens: string[]) => ({ type: "bearer", bearer: { valid_tokens: tokens } });

/** A tools/call message with the client capabilities given. */
const toolsCall = (id: number | string, name: string, args: Record<string, unknown> = {}, capabilities: Record<string, unknown> = {}) => ({
  id,
  method: "tools/call",
  params: { name, arguments: args, _meta: meta(capabilities) },
});

describe("a legacy child whose call result claims a modern resultType", () => {
  const bridge = useDebugBridge(() => ({
    mcp_server: { command: process.execPath, args: ["tests/fixtures/misbehaving-server.mjs"], env: { MODE: "legacy" }, read_timeout: "5s" },
    auth: bearer(ALICE),
  }));

  const lie = (id: number, result: Record<string, unknown>, capabilities: Record<string, unknown> = {}) =>
    call(bridge, ALICE, toolsCall(id, "raw_line", { line: JSON.stringify({ jsonrpc: "2.0", id: 0, result }).replace('"id":0', '"id":ID') }, capabilities));

  test("input_required with questions the client never declared and a requestState the bridge never sealed: an internal error, never forwarded", async () => {
    const forged = { resultType: "input_required", inputRequests: { x: { method: "sampling/createMessage", params: { messages: [], maxTokens: 1 } } }, requestState: "forged-by-the-child" };
    const { status, body } = await lie(1, forged);
    assert.equal(status, 200);
    assert.equal(body.result, undefined, `the child's input_required reached the client: ${JSON.stringify(body)}`);
    assert.equal(body.error?.code, -32603, JSON.stringify(body));
    assert.match(bridge.logs(), /cannot be translated for a modern client/);
    // A result type no revision knows: the same.
    const odd = await lie(2, { resultType: "partial", content: [] });
    assert.equal(odd.body.error?.code, -32603, JSON.stringify(odd.body));
    // resultType "complete", which a legacy result may carry harmlessly, still passes.
    const complete = await lie(3, { resultType: "complete", content: [{ type: "text", text: "fine" }] });
    assert.equal(textOf(complete.body.result), "fine", JSON.stringify(complete.body));
    assert.equal(complete.body.result?.resultType, "complete");
  });
});
