/**
 * @module End-to-end: a child's answer line that no common serializer writes (an id spelled
 * `1.0`, keys repeated or escaped, whitespace in the result) still reaches a modern client as valid
 * JSON-RPC under the client's own id, with `resultType` for a legacy child. The bridge forwards
 * compact lines as text; these are the lines it must not forward so.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { meta, post, textOf, useMisbehavingBridge } from "../support/modern.ts";

const ALICE = "alice-token-0123456789";

for (const era of ["modern", "legacy"] as const) {
  describe(`odd answer lines from a ${era} child`, () => {
    const bridge = useMisbehavingBridge(era, "2s", ALICE);
    const complete = era === "modern" ? ',"resultType":"complete"' : "";

    /**
     * Has the child answer a tools/call with `line` ("ID" = the bridge's id); returns the body the
     * client got, as text and parsed.
     */
    const answered = async (clientId: string | number, line: string, progress = false) => {
      const params = { name: "raw_line", arguments: { line }, _meta: { ...meta(), ...(progress && { progressToken: "p-1" }) } };
      const response = await post(bridge, ALICE, { id: clientId, method: "tools/call", params });
      const text = await response.text();
      if (progress) assert.match(response.headers.get("content-type") ?? "", /^text\/event-stream/, "progress first: the answer is the stream's last event");
      // An SSE reply carries the answer as the data of its last event.
      const body = response.headers.get("content-type")?.startsWith("text/event-stream") ? text.trim().split("\n").at(-1)!.replace(/^data: ?/, "") : text;
      let parsed: { jsonrpc?: string; id?: unknown; result?: Record<string, any>; error?: { code: number; message: string } };
      assert.doesNotThrow(() => (parsed = JSON.parse(body)), `not JSON: ${body}`);
      assert.equal(parsed!.jsonrpc, "2.0", body);
      assert.deepEqual(parsed!.id, clientId, `the client's id: ${body}`);
      return { body, parsed: parsed! };
    };
    const answerWith = async (clientId: string | number, line: string, progress = false) => (await answered(clientId, line, progress)).parsed;
    /** How often `key` is named in JSON text (the test lines name it only as a key). */
    const named = (text: string, key: string) => text.split(`"${key}"`).length - 1;

    test("an id written as 1.0 or 1e0 (the same number): the client's string id, valid JSON", async () => {
      for (const spelling of ["ID.0", "IDe0", "ID.00E+0"]) {
        const body = await answerWith(`s-${spelling}`, `{"jsonrpc":"2.0","id":${spelling},"result":{"content":[{"type":"text","text":"odd id"}]${complete}}}`);
        assert.equal(textOf(body.result), "odd id");
        assert.equal(body.result?.resultType, "complete");
      }
    });

    test('"id" repeated after the result, plainly or escaped: the client still gets its own id', async () => {
      for (const key of ['"id"', '"\\u0069d"', '"i\\u0064"']) {
        const body = await answerWith(7, `{"jsonrpc":"2.0","id":ID,"result":{"content":[{"type":"text","text":"two ids"}]${complete}},${key}:ID}`);
        assert.equal(textOf(body.result), "two ids");
        const sse = await answerWith("sse-7", `{"jsonrpc":"2.0","id":ID,"result":{"content":[{"type":"text","text":"two ids"}]${complete}},${key}:ID}`, true);
        assert.equal(textOf(sse.result), "two ids");
      }
    });

    test("whitespace inside the result object, an empty result: valid JSON with resultType", async () => {
      for (const result of ["{ }", "{\t}", '{ "content":[{"type":"text","text":"spaced"}]}', "{}"]) {
        const line = era === "modern" ? `{"jsonrpc":"2.0","id":ID,"result":${result.replace(/}$/, result.includes('"') ? ',"resultType":"complete"}' : '"resultType":"complete"}')}}` : `{"jsonrpc":"2.0","id":ID,"result":${result}}`;
        const body = await answerWith(8, line);
        assert.equal(body.result?.resultType, "complete", JSON.stringify(body));
      }
    });

    test('"result" repeated: the client reads the result the bridge read, with resultType', async () => {
      const body = await answerWith(9, `{"jsonrpc":"2.0","id":ID,"result":{"content":[{"type":"text","text":"first"}]${complete}},"result":{"content":[{"type":"text","text":"last"}]${complete}}}`);
      assert.equal(textOf(body.result), "last");
      assert.equal(body.result?.resultType, "complete", JSON.stringify(body));
    });

    test('"result" or "error" repeated at the top level: the client\'s text names it once, the one the bridge read (a parser keeping the first key reads it too)', async () => {
      for (const progress of [false, true]) {
        const result = await answered(`r-${progress}`, `{"jsonrpc":"2.0","id":ID,"result":{"content":[{"type":"text","text":"first"}]${complete}},"result":{"content":[{"type":"text","text":"last"}]${complete}}}`, progress);
        assert.equal(named(result.body, "result"), 1, result.body);
        assert.equal(textOf(result.parsed.result), "last");
        const error = await answered(`e-${progress}`, '{"jsonrpc":"2.0","id":ID,"error":{"code":-32000,"message":"first"},"error":{"code":-32099,"message":"last"}}', progress);
        assert.equal(named(error.body, "error"), 1, error.body);
        assert.deepEqual(error.parsed.error, { code: -32099, message: "last" });
      }
    });

    test('"result" and "error" both: never forwarded; the call gets an InternalError saying so at once', async () => {
      const lines = ['{"jsonrpc":"2.0","id":ID,"result":{"content":[]},"error":{"code":-32000,"message":"x"}}', '{"jsonrpc":"2.0","id":ID,"error":{"code":-32000,"message":"x"},"result":{"content":[]}}'];
      const answers = await Promise.all(lines.map((line, i) => answered(`both-${i}`, line)));
      for (const { body, parsed } of answers) {
        assert.equal(parsed.error?.code, -32603, body);
        assert.match(parsed.error?.message ?? "", /exactly one of "result" and "error"/, body);
        assert.equal(named(body, "result"), 0, body);
      }
    });

    test("a carriage return between tokens, and a 2 MiB result, reach a stream as one event", async () => {
      const line = `{"jsonrpc":"2.0","id":ID,\r"result":{"content":[{"type":"text","text":"cr"}]${complete}}\r}`;
      assert.equal(textOf((await answerWith("cr", line, true)).result), "cr");
      const big = "x".repeat(2 * 1024 * 1024);
      const body = await answerWith("big", `{"jsonrpc":"2.0","id":ID,"result":{"content":[{"type":"text","text":"${big}"}]${complete}}}`, true);
      assert.equal(textOf(body.result).length, big.length);
      assert.equal(body.result?.resultType, "complete");
    });

    test("an error that is not an error object is never forwarded: the call gets an InternalError saying so at once", async () => {
      for (const error of ['"boom"', "null", '{"code":"x","message":1}']) {
        const response = await post(bridge, ALICE, { id: "bad-error", method: "tools/call", params: { name: "raw_line", arguments: { line: `{"jsonrpc":"2.0","id":ID,"error":${error}}` }, _meta: meta() } });
        const body = (await response.json()) as { id: unknown; error?: { code: unknown; message: string } };
        assert.equal(body.id, "bad-error");
        assert.equal(body.error?.code, -32603, JSON.stringify(body));
        assert.match(body.error?.message ?? "", /not valid JSON-RPC/);
      }
    });

    test("non-ASCII, U+2028 and an escaped lone surrogate pass unchanged", async () => {
      const body = await answerWith(10, `{"jsonrpc":"2.0","id":ID,"result":{"content":[{"type":"text","text":"é\u2028\\ud800 ok"}]${complete}}}`);
      assert.equal(textOf(body.result), "é\u2028\ud800 ok");
      assert.equal(body.result?.resultType, "complete");
    });
  });
}
