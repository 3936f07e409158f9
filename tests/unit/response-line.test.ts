/**
 * @module Unit: when a peer's response line may be forwarded as text (afterIdOf, passableAsWritten, completeResultLine)
 * — the common compact line is, lines whose text and parse could differ are not.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { afterIdOf, passableAsWritten, responseLine } from "../../src/jsonrpc/message.ts";
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

test('a line that repeats "result" or "error", or names both, is not forwarded as text: a parser keeping the first key would read another answer', () => {
  for (const line of [
    '{"jsonrpc":"2.0","id":12,"result":{"a":1},"result":{"b":2}}',
    '{"jsonrpc":"2.0","id":12,"result":{"a":1},"\\u0072esult":{"b":2}}',
    '{"jsonrpc":"2.0","id":12,"error":{"code":1,"message":"a"},"error":{"code":2,"message":"b"}}',
    '{"jsonrpc":"2.0","id":12,"result":{},"error":{"code":1,"message":"a"}}',
    '{"jsonrpc":"2.0","id":12,"error":{"code":1,"message":"a"},"result":{}}',
    // False alarms (a nested key or a value spelled so) cost a serialization, never a wrong answer.
    '{"jsonrpc":"2.0","id":12,"result":{"level":"error"}}',
    '{"jsonrpc":"2.0","id":12,"error":{"code":1,"message":"a","data":{"result":1}}}',
  ]) {
    assert.equal(afterIdOf(line, 12), undefined, line);
  }
  for (const line of ['{"jsonrpc":"2.0","id":12,"error":{"code":1,"message":"say \\"error\\""}}', '{"jsonrpc":"2.0","id":12,"result":{"isError":true,"text":"no \\"result\\" here"}}']) {
    const afterId = afterIdOf(line, 12);
    assert.ok(afterId !== undefined, line);
    assert.deepEqual(JSON.parse(responseLine(3, afterId)), { ...JSON.parse(line), id: 3 });
  }
});

test("resultType is spliced in after whitespace, and not into a result that is repeated", () => {
  for (const body of ["{ }", "{\t}", '{ "content":[]}', "{}", '{"content":[]}']) {
    const line = completeResultLine(5, "tools/call", JSON.parse(body), `,"result":${body}}`);
    assert.deepEqual(JSON.parse(line!), { jsonrpc: "2.0", id: 5, result: { resultType: "complete", ...JSON.parse(body) } }, body);
  }
  // Its afterId comes from afterIdOf, which refuses a repeated "result" (the last one is what was parsed).
  assert.equal(afterIdOf('{"jsonrpc":"2.0","id":5,"result":{"a":1},"result":{"content":[]}}', 5), undefined);
});

test("completeResultLine refuses what it cannot splice: results that are not objects, resultType given, cacheable methods", () => {
  for (const result of [[], ["x"], "x", 3, true, false, null]) {
    assert.equal(completeResultLine(5, "tools/call", result, `,"result":${JSON.stringify(result)}}`), undefined, JSON.stringify(result));
  }
  assert.equal(completeResultLine(5, "tools/call", { resultType: "complete" }, ',"result":{"resultType":"complete"}}'), undefined);
  assert.equal(completeResultLine(5, "tools/list", { tools: [] }, ',"result":{"tools":[]}}'), undefined);
});

test("a peer's message is passed on as written under its own id in any key order and spacing, unless it could be read with another id or outcome", () => {
  for (const text of ['{"result":{"n":12345678901234567890},"jsonrpc":"2.0","id":1}', '{\n  "jsonrpc": "2.0",\n  "id": "a",\n  "error": {"code": 1, "message": "m"}\n}']) {
    assert.ok(passableAsWritten(text, true), text);
  }
  for (const text of [
    '{"jsonrpc":"2.0","id":1,"result":{"item":{"id":2}}}',
    '{"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1,"message":"m"}}',
    '{"jsonrpc":"2.0","id":1,"result":{},"result":{}}',
    '{"jsonrpc":"2.0","\\u0069d":1,"id":2,"result":{}}',
    '{"jsonrpc":"2.0","id":1,"r\\u0065sult":{}}',
  ]) {
    assert.equal(passableAsWritten(text, true), false, text);
  }
  // A request names no outcome: only its id is looked for.
  assert.ok(passableAsWritten('{"jsonrpc":"2.0","id":"r1","method":"roots/list"}', false));
  assert.equal(passableAsWritten('{"jsonrpc":"2.0","id":"r1","method":"roots/list"}', true), false);
});
