/**
 * @module End-to-end: JSON nested absurdly deep, from a child or from a client. JSON.parse takes
 * any depth, but JSON.stringify (and every recursive walk) runs out of stack some thousands of
 * levels down: such a message serialized again threw out of the child's output handler and
 * killed the whole bridge. Messages nested deeper than the bridge's limit are refused where they
 * are read (a child's line dropped and logged, a client's body 400), and the bridge keeps serving.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { call, meta, post, textOf, useMisbehavingBridge } from "../support/modern.ts";

const ALICE = "alice-token-0123456789";
/** Far past the limit, and past what JSON.stringify survives; a few tens of kilobytes. */
const DEEP = 20_000;
const nested = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;

for (const era of ["modern", "legacy"] as const) {
  describe(`a ${era} child that writes a message nested ${DEEP} levels deep`, () => {
    const bridge = useMisbehavingBridge(era, "2s", ALICE);
    /** What a modern child's result carries (the 2026-07-28 revision requires it). */
    const complete = era === "modern" ? ',"resultType":"complete"' : "";
    /** Has the child answer a tools/call with `line` as written ("ID": the bridge's id). */
    const answerWith = (id: number, line: string, progress = false) =>
      call(bridge, ALICE, { id, method: "tools/call", params: { name: "raw_line", arguments: { line }, _meta: { ...meta(), ...(progress && { progressToken: `p-${id}` }) } } });
    const stillServes = async (id: number) => {
      const ok = await call(bridge, ALICE, { id, method: "tools/call", params: { name: "ok", arguments: {}, _meta: meta() } });
      assert.equal(textOf(ok.body.result), "ok {}", JSON.stringify(ok.body));
    };

    test("as the answer (not compact, so the bridge would serialize it again): dropped and logged, the call times out, the bridge keeps serving", async () => {
      const answer = await answerWith(1, `{"jsonrpc":"2.0", "id":ID,"result":{"content":[],"deep":${nested(DEEP)}}}`);
      assert.equal(answer.body.error?.code, -32001, JSON.stringify(answer.body));
      assert.match(bridge.logs(), /nested deeper than \d+ levels/);
      await stillServes(2);
    });

    test("as notifications about the call (progress, a log line the request asked for) before the answer: dropped, the call is answered", async () => {
      const progress = `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":ID,"progress":1,"deep":${nested(DEEP)}}}`;
      const log = `{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":${nested(DEEP)}}}`;
      const answer = `{"jsonrpc":"2.0","id":ID,"result":{"content":[{"type":"text","text":"after the deep lines"}]${complete}}}`;
      const response = await post(bridge, ALICE, {
        id: 3,
        method: "tools/call",
        params: { name: "raw_line", arguments: { line: `${progress}\n${log}\n${answer}` }, _meta: { ...meta(), "io.modelcontextprotocol/logLevel": "debug", progressToken: "p-3" } },
      });
      const text = await response.text();
      assert.match(text, /after the deep lines/);
      assert.doesNotMatch(text, /\[\[\[/);
      await stillServes(4);
    });

    test("just within the limit: forwarded", async () => {
      const answer = await answerWith(5, `{"jsonrpc":"2.0", "id":ID,"result":{"content":[{"type":"text","text":"deep enough"}],"deep":${nested(997)}${complete}}}`);
      assert.equal(textOf(answer.body.result), "deep enough", JSON.stringify(answer.body).slice(0, 300));
    });
  });
}

describe(`requests and child lines nested ${DEEP} levels deep, modern and legacy sessions on one bridge`, () => {
  const bridge = useMisbehavingBridge("legacy", "2s", ALICE);
  const headers = { authorization: `Bearer ${ALICE}`, "content-type": "application/json", accept: "application/json, text/event-stream" };
  /** A legacy (2025-11-25) session: its id. */
  const legacySession = async () => {
    const response = await fetch(bridge.url, {
      method: "POST",
      headers,
      body: JSON.stringify({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } } }),
    });
    assert.equal(response.status, 200, await response.clone().text());
    await response.text();
    const session = response.headers.get("mcp-session-id")!;
    const sessionHeaders = { ...headers, "mcp-session-id": session, "mcp-protocol-version": "2025-11-25" };
    await (await fetch(bridge.url, { method: "POST", headers: sessionHeaders, body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }) })).text();
    return sessionHeaders;
  };

  test("a modern request: 400 InvalidRequest naming the limit, never forwarded; the next request is served", async () => {
    const raw = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"ok","arguments":{"deep":${nested(DEEP)}},"_meta":${JSON.stringify(meta())}}}`;
    const refused = await call(bridge, ALICE, { id: 1, method: "tools/call", params: { name: "ok" } }, { raw });
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    assert.equal(refused.body.error?.code, -32600);
    assert.match(refused.body.error?.message ?? "", /nested deeper than \d+ levels/);
    const ok = await call(bridge, ALICE, { id: 2, method: "tools/call", params: { name: "ok", arguments: {}, _meta: meta() } });
    assert.equal(textOf(ok.body.result), "ok {}", JSON.stringify(ok.body));
  });

  test("a legacy session's request, alone or in a batch: 400 as well", async () => {
    const sessionHeaders = await legacySession();
    for (const body of [`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"ok","arguments":{"deep":${nested(DEEP)}}}}`, `[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"ok","arguments":{"deep":${nested(DEEP)}}}}]`]) {
      const response = await fetch(bridge.url, { method: "POST", headers: sessionHeaders, body });
      assert.equal(response.status, 400, await response.clone().text());
      assert.match(((await response.json()) as { error: { message: string } }).error.message, /nested deeper than \d+ levels/);
    }
  });

  test("a legacy session's child line with a carriage return (forwarded serialized again): dropped, the call is answered", async () => {
    const sessionHeaders = await legacySession();
    const line = `{"jsonrpc":"2.0",\r"method":"notifications/message","params":{"level":"info","data":${nested(DEEP)}}}\n{"jsonrpc":"2.0","id":ID,"result":{"content":[{"type":"text","text":"after the deep line"}]}}`;
    const response = await fetch(bridge.url, { method: "POST", headers: sessionHeaders, body: JSON.stringify({ jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "raw_line", arguments: { line } } }) });
    const text = await response.text();
    assert.match(text, /after the deep line/);
    assert.doesNotMatch(text, /\[\[\[/);
    assert.match(bridge.logs(), /nested deeper than \d+ levels/);
  });
});
