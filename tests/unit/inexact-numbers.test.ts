/** @module Which numbers would reach their reader changed if the bridge serialized a message again, and where they are. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { inexactNumberProblem } from "../../src/jsonrpc/message.ts";

const problem = (text: string) => inexactNumberProblem(text, JSON.parse(text));

test("integers past 2^53 - 1 written without fraction or exponent, and numbers past a double's range, are found where they are", () => {
  assert.match(problem('{"params":{"arguments":{"account":12345678901234567890}}}') ?? "", /^the number at params\.arguments\.account is an integer past 2\^53 - 1/);
  assert.match(problem('{"a":[1,-9007199254740993]}') ?? "", /^the number at a\[1\] /);
  assert.match(problem('{"a":1e400}') ?? "", /^the number at a /);
  assert.match(problem('{"a": 1.5E+309}') ?? "", /^the number at a /);
  assert.match(inexactNumberProblem('{"x":12345678901234567890}', { x: 12345678901234567890 }, "params") ?? "", /^the number at params\.x /);
});

test("what a double carries as written, or reads the same after a round trip, passes: floats of any size, 2^53 - 1, digits in strings", () => {
  for (const text of [
    '{"a":9007199254740991,"b":-9007199254740991}',
    '{"a":1e300,"b":2.5e100,"c":1.7976931348623157e308,"d":0.5}',
    '{"a":6.022e23,"s":"1234567890123456"}',
    '{"s":"12345678901234567890","t":"e400"}',
    '{"a":9.007199254740993e15,"b":1e-400}',
    '{"id":"a1b2c3d4e5f6a7b8c9d0e123","s":"node123 release2023"}',
  ]) {
    assert.equal(problem(text), undefined, text);
  }
});
