/**
 * @module Unit: when a peer's response line may be forwarded as text (afterIdOf, completeResultLine)
 * — the common compact line is, lines whose text and parse could differ are not.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { afterIdOf, responseLine } from "../../src/jsonrpc/message.ts";
import { completeResultLine } from "../../src/mcp/results.ts";

test("a compact answer is forwarded as text under the client's id; odd ids and repeated or escaped keys are not", () => {
  const plain = '{"jsonrpc":"2.0","id":12,"result":{"content":[{"type":"text","text":"say \\"id\\": é \\u001b"}]}}';
  const afterId = afterIdOf(plain, 12);
  assert.ok(afterId !== undefined, "the common line takes the fast path");
  assert.deepEqual(JSON.parse(responseLine("c", afterId)), { ...JSON.parse(plain), id: "c" });
  for (const line of [
    '{"jsonrpc":"2.0","id":1,"result":{}}',
    '{"jsonrpc":"2.0","id":12.0,"result":{}}',
    '{"jsonrpc":"2.0","id":12e0,"result":{}}',
    '{"jsonrpc":"2.0","id":12,"result":{},"id":12}',
    '{"jsonrpc":"2.0","id":12,"result":{},"\\u0069d":12}',
    '{"jsonrpc":"2.0","id":12,"result":{"list":[{"id":3}]}}',
  ]) {
    assert.equal(afterIdOf(line, 12), undefined, line);
  }
});

test("resultType is spliced in after whitespace, and not into a result that is repeated", () => {
  for (const body of ["{ }", "{\t}", '{ "content":[]}', "{}", '{"content":[]}']) {
    const line = completeResultLine(5, "tools/call", JSON.parse(body), `,"result":${body}}`);
    assert.deepEqual(JSON.parse(line!), { jsonrpc: "2.0", id: 5, result: { resultType: "complete", ...JSON.parse(body) } }, body);
  }
  assert.equal(completeResultLine(5, "tools/call", { content: [] }, ',"result":{"a":1},"result":{"content":[]}}'), undefined);
});
