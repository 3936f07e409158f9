/**
 * @module End-to-end, through the built CLI: a legacy child's answer that no modern answer can be
 * made of — a result that is not a JSON object, an initialize result whose fields are of the wrong
 * type — reaches a modern client as an InternalError naming the method, never as an empty
 * success, and the bridge logs one warning without the child's content.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { startBridge, useBridge } from "../support/bridge.ts";
import { call, meta, textOf } from "../support/modern.ts";

const ALICE = "alice-token-0123456789";
/** Results a legacy child may write that are not objects; the marker must never reach the log. */
const NOT_OBJECTS = ['["marker-not-logged"]', "[]", '"marker-not-logged"', "3", "true", "false", "null"];

function legacyChild(env: Record<string, string> = {}) {
  return useBridge(() =>
    startBridge({
      server: {
        mcp_server: { command: process.execPath, args: ["tests/fixtures/misbehaving-server.mjs"], env: { MODE: "legacy", ...env }, read_timeout: "5s" },
        auth: { type: "bearer", bearer: { valid_tokens: [ALICE] } },
      },
    }),
  );
}

describe("a legacy child's result that is not an object", () => {
  const bridge = legacyChild();

  /** Asserts an InternalError for `method` (no result), and returns its message. */
  const internalError = (method: string, answer: { status: number; body: { result?: unknown; error?: { code: number; message: string } } }, label: string) => {
    assert.equal(answer.status, 200, label);
    assert.equal(answer.body.result, undefined, `${label}: ${JSON.stringify(answer.body)}`);
    assert.equal(answer.body.error?.code, -32603, `${label}: ${JSON.stringify(answer.body)}`);
    assert.match(answer.body.error!.message, new RegExp(`answered ${method} with a result that is not an object`), label);
  };

  test("tools/call: an InternalError naming the method, as JSON and as a stream's last event; one warning each, without the content", async () => {
    const warnings = () => bridge.logs().split("\n").filter((line) => line.includes("cannot be translated for a modern client")).length;
    const before = warnings();
    for (const result of NOT_OBJECTS) {
      const line = `{"jsonrpc":"2.0","id":ID,"result":${result}}`;
      internalError("tools/call", await call(bridge, ALICE, { id: 1, method: "tools/call", params: { name: "raw_line", arguments: { line }, _meta: meta() } }), result);
    }
    assert.equal(warnings() - before, NOT_OBJECTS.length, bridge.logs());
    assert.doesNotMatch(bridge.logs(), /marker-not-logged/);
    // With progress first the answer is the last event of a stream.
    const response = await fetch(bridge.url, {
      method: "POST",
      headers: { authorization: `Bearer ${ALICE}`, "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": "raw_line" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "raw_line", arguments: { line: '{"jsonrpc":"2.0","id":ID,"result":[1]}' }, _meta: { ...meta(), progressToken: "p" } } }),
    });
    assert.match(response.headers.get("content-type") ?? "", /^text\/event-stream/);
    const last = JSON.parse((await response.text()).trim().split("\n").at(-1)!.replace(/^data: ?/, ""));
    assert.equal(last.error?.code, -32603, JSON.stringify(last));
    assert.equal(last.result, undefined);
  });

  test("list results (which get cache fields), prompts/get and resources/read (calls that may ask for input): the same", async () => {
    const requests: Array<[string, Record<string, unknown>]> = [
      ["tools/list", {}],
      ["resources/list", {}],
      ["resources/templates/list", {}],
      ["prompts/list", {}],
      ["prompts/get", { name: "p" }],
      ["resources/read", { uri: "test://r" }],
    ];
    for (const [method, params] of requests) {
      for (const result of ["[]", '"x"', "null"]) {
        const answer = await call(bridge, ALICE, { id: `${method}-${result}`, method, params: { ...params, rawLine: `{"jsonrpc":"2.0","id":ID,"result":${result}}`, _meta: meta() } });
        internalError(method, answer, `${method} ${result}`);
      }
    }
  });

  test("the final result of a multi round-trip call: the same", async () => {
    const params = { name: "ask_then_raw_line", arguments: { line: '{"jsonrpc":"2.0","id":ID,"result":["done"]}' }, _meta: meta({ elicitation: {} }) };
    const round = await call(bridge, ALICE, { id: 10, method: "tools/call", params });
    assert.equal(round.body.result?.resultType, "input_required", JSON.stringify(round.body));
    const [key] = Object.keys(round.body.result?.inputRequests ?? {});
    const done = await call(bridge, ALICE, { id: 11, method: "tools/call", params: { ...params, inputResponses: { [key!]: { action: "accept", content: {} } }, requestState: round.body.result?.requestState } });
    internalError("tools/call", done, "after the round");
  });

  test("an object result still works: a plain call is answered with resultType", async () => {
    const answer = await call(bridge, ALICE, { id: 20, method: "tools/call", params: { name: "ok", arguments: {}, _meta: meta() } });
    assert.equal(textOf(answer.body.result), "ok {}");
    assert.equal(answer.body.result?.resultType, "complete");
  });
});

const MALFORMED_INITIALIZE: Array<[string, Record<string, unknown>]> = [
  ["capabilities as an array", { protocolVersion: "2025-11-25", capabilities: [], serverInfo: { name: "m", version: "1" } }],
  ["capabilities as a string, serverInfo missing", { protocolVersion: "2025-11-25", capabilities: "all" }],
  ["instructions as a number", { protocolVersion: "2025-11-25", capabilities: { tools: {} }, serverInfo: { name: "m", version: "1" }, instructions: 42 }],
];

for (const [label, init] of MALFORMED_INITIALIZE) {
  describe(`a legacy child whose initialize result has ${label}`, () => {
    const bridge = legacyChild({ INIT_RESULT: JSON.stringify(init) });

    test("server/discover is an InternalError saying why, with one warning; other requests are still served", async () => {
      const discover = await call(bridge, ALICE, { id: 1, method: "server/discover", params: { _meta: meta() } });
      assert.equal(discover.status, 200);
      assert.equal(discover.body.result, undefined, JSON.stringify(discover.body));
      assert.equal(discover.body.error?.code, -32603, JSON.stringify(discover.body));
      assert.match(discover.body.error!.message, /the MCP server cannot be described: its initialize result/);
      assert.equal(bridge.logs().split("\n").filter((line) => line.includes("cannot be translated for a modern client")).length, 1, bridge.logs());
      const answer = await call(bridge, ALICE, { id: 2, method: "tools/call", params: { name: "ok", arguments: {}, _meta: meta() } });
      assert.equal(textOf(answer.body.result), "ok {}");
    });
  });
}

describe("a legacy child whose initialize result has instructions: null", () => {
  const bridge = legacyChild({ INIT_RESULT: JSON.stringify({ protocolVersion: "2025-11-25", capabilities: { tools: {} }, serverInfo: { name: "m", version: "1" }, instructions: null }) });

  test("server/discover reads null as absent: described, without instructions, no warning", async () => {
    const discover = await call(bridge, ALICE, { id: 1, method: "server/discover", params: { _meta: meta() } });
    assert.equal(discover.status, 200, JSON.stringify(discover.body));
    const result = discover.body.result as { capabilities?: unknown; instructions?: unknown } | undefined;
    assert.ok(result?.capabilities, JSON.stringify(discover.body));
    assert.equal("instructions" in result!, false, JSON.stringify(discover.body));
    assert.doesNotMatch(bridge.logs(), /cannot be translated for a modern client/);
  });
});

describe("a legacy child whose initialize result describes capabilities with wrong types", () => {
  const capabilities = { tools: { listChanged: "yes" }, prompts: [], resources: { subscribe: true, listChanged: 1 }, logging: {}, completions: 3, experimental: { a: 1, b: { on: true } } };
  const bridge = legacyChild({ INIT_RESULT: JSON.stringify({ protocolVersion: "2025-11-25", capabilities, serverInfo: { name: "m", version: "1" } }) });

  test("server/discover tells only what a client's schema can read (an SDK client refuses the whole result for one such member)", async () => {
    const discover = await call(bridge, ALICE, { id: 1, method: "server/discover", params: { _meta: meta() } });
    assert.equal(discover.status, 200, JSON.stringify(discover.body));
    assert.deepEqual(discover.body.result?.capabilities, { tools: {}, resources: { subscribe: true }, logging: {}, experimental: { b: { on: true } } });
  });
});

describe("a legacy child whose serverInfo has optional fields of wrong types", () => {
  const serverInfo = { name: "m", version: "1", title: 5, websiteUrl: ["x"], icons: [{ src: 1 }], description: "readable" };
  const bridge = legacyChild({ INIT_RESULT: JSON.stringify({ protocolVersion: "2025-11-25", capabilities: { tools: {} }, serverInfo }) });

  test("server/discover names it with what a client's schema can read", async () => {
    const discover = await call(bridge, ALICE, { id: 1, method: "server/discover", params: { _meta: meta() } });
    assert.equal(discover.status, 200, JSON.stringify(discover.body));
    assert.deepEqual(discover.body.result?._meta?.["io.modelcontextprotocol/serverInfo"], { name: "m", version: "1", description: "readable" });
  });
});
