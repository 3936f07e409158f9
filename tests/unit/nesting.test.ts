/** @module How deep a parsed JSON message nests (src/util/object.ts, src/jsonrpc/message.ts), at the limit and past it. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { MAX_NESTING_DEPTH, nestedTooDeep } from "../../src/jsonrpc/message.ts";
import { nestedDeeperThan } from "../../src/util/object.ts";

const arrays = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;
const objects = (depth: number) => `${'{"a":'.repeat(depth - 1)}{}${"}".repeat(depth - 1)}`;

test("a bare {} or [] is one level; primitives are none", () => {
  assert.equal(nestedDeeperThan({}, 0), true);
  assert.equal(nestedDeeperThan([], 1), false);
  assert.equal(nestedDeeperThan("text", 0), false);
  assert.equal(nestedDeeperThan(null, 0), false);
  assert.equal(nestedDeeperThan({ a: [1, { b: "x" }] }, 2), true);
  assert.equal(nestedDeeperThan({ a: [1, { b: "x" }] }, 3), false);
});

test("exactly MAX_NESTING_DEPTH levels pass, one more does not, arrays and objects alike; depths far past it are walked without recursion", () => {
  for (const make of [arrays, objects]) {
    const at = make(MAX_NESTING_DEPTH);
    assert.equal(nestedTooDeep(at, JSON.parse(at)), false);
    const past = make(MAX_NESTING_DEPTH + 1);
    assert.equal(nestedTooDeep(past, JSON.parse(past)), true);
  }
  const far = arrays(200_000);
  assert.equal(nestedTooDeep(far, JSON.parse(far)), true);
});

test("a wide value is not deep; text too short to nest past the limit is not walked", () => {
  const wide = JSON.stringify({ items: Array.from({ length: 10_000 }, (_, i) => ({ i, tags: ["a", "b"] })) });
  assert.equal(nestedTooDeep(wide, JSON.parse(wide)), false);
  // The text decides the shortcut: a value that is deep but whose text is claimed short is not walked.
  assert.equal(nestedTooDeep("{}", JSON.parse(arrays(MAX_NESTING_DEPTH + 5))), false);
});
