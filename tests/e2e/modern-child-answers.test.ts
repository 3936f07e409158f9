/**
 * @module End-to-end, through the built CLI: a 2026-07-28 child's answers that are not valid
 * modern responses — a response with both result and error, an error without an integer code or a
 * string message, a result that is not an object, without `resultType` or of a kind the revision
 * has not, an `input_required` that asks nothing or for a method that may not ask — reach a modern
 * client as an InternalError (-32603) naming the problem, at once, never as the malformed message;
 * the bridge logs a warning without the child's content. A valid answer still passes.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { call, meta, textOf, type Body, useMisbehavingBridge } from "../support/modern.ts";

const ALICE = "alice-token-0123456789";

/** Lines the child answers with ("ID": the bridge's id), and what the client's error must say; "marker-not-logged" must never reach the log. */
const BAD_ANSWERS: Array<[string, string, RegExp]> = [
  ["result and error", '{"jsonrpc":"2.0","id":ID,"result":{"resultType":"complete","content":[]},"error":{"code":1,"message":"marker-not-logged"}}', /not valid JSON-RPC \(a response has exactly one of "result" and "error"\)/],
  ["an error whose code is a string", '{"jsonrpc":"2.0","id":ID,"error":{"code":"x","message":"marker-not-logged"}}', /not valid JSON-RPC .*integer "code"/],
  ["an error whose message is a number", '{"jsonrpc":"2.0","id":ID,"error":{"code":1,"message":2,"data":"marker-not-logged"}}', /not valid JSON-RPC .*string "message"/],
  ["a result that is an array", '{"jsonrpc":"2.0","id":ID,"result":["marker-not-logged"]}', /answered tools\/call with a result that is not an object \(array\)/],
  ["a result that is a string", '{"jsonrpc":"2.0","id":ID,"result":"marker-not-logged"}', /answered tools\/call with a result that is not an object/],
  ["a null result", '{"jsonrpc":"2.0","id":ID,"result":null}', /answered tools\/call with a result that is not an object/],
  ["a result without resultType", '{"jsonrpc":"2.0","id":ID,"result":{"content":[{"type":"text","text":"marker-not-logged"}]}}', /without resultType, which protocol revision 2026-07-28 requires/],
  ["an unknown resultType", '{"jsonrpc":"2.0","id":ID,"result":{"resultType":"marker-not-logged"}}', /resultType other than complete and input_required/],
  ["input_required asking nothing", '{"jsonrpc":"2.0","id":ID,"result":{"resultType":"input_required"}}', /input_required without inputRequests or requestState/],
  ["input_required with empty inputRequests", '{"jsonrpc":"2.0","id":ID,"result":{"resultType":"input_required","inputRequests":{}}}', /input_required without inputRequests or requestState/],
  ["input_required whose inputRequests is a string", '{"jsonrpc":"2.0","id":ID,"result":{"resultType":"input_required","inputRequests":"marker-not-logged"}}', /inputRequests is not an object/],
  ["input_required whose request is a string", '{"jsonrpc":"2.0","id":ID,"result":{"resultType":"input_required","inputRequests":{"a":"marker-not-logged"}}}', /inputRequests has an entry that is not a request/],
  ["input_required asking 17 inputs at once", `{"jsonrpc":"2.0","id":ID,"result":{"resultType":"input_required","inputRequests":{${Array.from({ length: 17 }, (_, i) => `"q${i}":{"method":"elicitation/create","params":{"message":"marker-not-logged"}}`).join(",")}}}}`, /input_required that asked for 17 inputs at once; at most 16/],
  ["input_required asking for what is no input", '{"jsonrpc":"2.0","id":ID,"result":{"resultType":"input_required","inputRequests":{"a":{"method":"tools/call","params":{"name":"marker-not-logged"}}}}}', /input_required that asked the client for tools\/call, which is no request for input/],
  ["input_required whose requestState is an object", '{"jsonrpc":"2.0","id":ID,"result":{"resultType":"input_required","inputRequests":{"a":{"method":"elicitation/create","params":{}}},"requestState":{"marker-not-logged":1}}}', /requestState is not a string/],
];

describe("a modern child's answers that are not valid modern responses", () => {
  const bridge = useMisbehavingBridge("modern", "10s", ALICE);

  /** Asserts the client got an InternalError under its id matching `problem`, no result. */
  const internalError = (answer: { status: number; body: Body }, id: string, problem: RegExp, label: string) => {
    assert.equal(answer.status, 200, label);
    assert.equal(answer.body.id, id, label);
    assert.equal(answer.body.result, undefined, `${label}: ${JSON.stringify(answer.body)}`);
    assert.equal(answer.body.error?.code, -32603, `${label}: ${JSON.stringify(answer.body)}`);
    assert.match(answer.body.error!.message, problem, label);
  };

  test("tools/call: each bad shape is an InternalError naming the problem (not a timeout), with a warning that carries none of the answer", async () => {
    const warnings = () => bridge.logs().split("\n").filter((line) => /not a valid 2026-07-28 result|response that is not JSON-RPC 2.0/.test(line)).length;
    for (const [label, line, problem] of BAD_ANSWERS) {
      const id = `bad-${label}`;
      internalError(await call(bridge, ALICE, { id, method: "tools/call", params: { name: "raw_line", arguments: { line }, _meta: meta() } }), id, problem, label);
    }
    assert.ok(warnings() > 0, bridge.logs());
    assert.doesNotMatch(bridge.logs(), /marker-not-logged/);
  });

  test("tools/list answered with input_required (a list cannot ask): an InternalError", async () => {
    const line = '{"jsonrpc":"2.0","id":ID,"result":{"resultType":"input_required","inputRequests":{"a":{"method":"elicitation/create","params":{}}}}}';
    internalError(await call(bridge, ALICE, { id: "list", method: "tools/list", params: { rawLine: line, _meta: meta() } }), "list", /answered tools\/list with input_required, which only/, "tools/list");
  });

  test("an input_required asking what the request did not declare it can answer never reaches the client: 400 -32021 naming the capabilities", async () => {
    const asking = (inputRequests: Record<string, unknown>) => JSON.stringify({ jsonrpc: "2.0", id: 0, result: { resultType: "input_required", inputRequests } }).replace('"id":0', '"id":ID');
    const cases: Array<[string, Record<string, unknown>, Record<string, unknown>, Record<string, unknown>]> = [
      ["elicitation, nothing declared", { a: { method: "elicitation/create", params: { message: "?", requestedSchema: { type: "object", properties: {} } } } }, {}, { elicitation: { form: {} } }],
      ["URL elicitation, form declared", { a: { method: "elicitation/create", params: { mode: "url", message: "?", url: "https://example.com/", elicitationId: "e" } } }, { elicitation: { form: {} } }, { elicitation: { url: {} } }],
      ["sampling and roots, elicitation declared", { s: { method: "sampling/createMessage", params: { messages: [], maxTokens: 1 } }, r: { method: "roots/list" } }, { elicitation: {} }, { sampling: {}, roots: {} }],
      ["sampling with tools, sampling declared", { s: { method: "sampling/createMessage", params: { messages: [], maxTokens: 1, tools: [] } } }, { sampling: {} }, { sampling: { tools: {} } }],
    ];
    for (const [what, inputRequests, declared, required] of cases) {
      const answer = await call(bridge, ALICE, { id: what, method: "tools/call", params: { name: "raw_line", arguments: { line: asking(inputRequests) }, _meta: meta(declared) } });
      assert.equal(answer.status, 400, `${what}: ${JSON.stringify(answer.body)}`);
      assert.equal(answer.body.error?.code, -32021, what);
      assert.deepEqual(answer.body.error?.data?.requiredCapabilities, required, what);
    }
  });

  test("valid answers still pass: a complete result, and an input_required that asks", async () => {
    const ok = await call(bridge, ALICE, { id: "ok", method: "tools/call", params: { name: "raw_line", arguments: { line: '{"jsonrpc":"2.0","id":ID,"result":{"resultType":"complete","content":[{"type":"text","text":"fine"}]}}' }, _meta: meta() } });
    assert.equal(textOf(ok.body.result), "fine", JSON.stringify(ok.body));
    const asks = await call(bridge, ALICE, { id: "asks", method: "tools/call", params: { name: "raw_line", arguments: { line: '{"jsonrpc":"2.0","id":ID,"result":{"resultType":"input_required","inputRequests":{"a":{"method":"elicitation/create","params":{"message":"?","requestedSchema":{"type":"object","properties":{}}}}}}}' }, _meta: meta() } });
    assert.equal(asks.body.result?.resultType, "input_required", JSON.stringify(asks.body));
    assert.equal(asks.body.result?.inputRequests?.a?.method, "elicitation/create");
  });
});
