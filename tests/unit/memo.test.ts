/**
 * @module Unit: the bounded memo of per-request parsing (src/util/memo.ts) — remembers, stays
 * within its bound however many distinct inputs arrive, never keeps long inputs, and remembers
 * undefined answers too.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { memoized } from "../../src/util/memo.ts";
import { addressBucket, canonicalAddress } from "../../src/util/cidr.ts";

test("a memo computes each input once while it has room, and again once it forgot", () => {
  const computed: string[] = [];
  const upper = memoized((text: string) => {
    computed.push(text);
    return text.toUpperCase();
  }, 3);
  for (const text of ["a", "b", "a", "c", "b"]) assert.equal(upper(text), text.toUpperCase());
  assert.deepEqual(computed, ["a", "b", "c"]);
  // A fourth input finds it full: it forgets all, so "a" is computed again (and stays under 3 kept).
  upper("d");
  upper("a");
  upper("d");
  assert.deepEqual(computed, ["a", "b", "c", "d", "a"]);
});

test("a memo keeps no input longer than 256 characters, and remembers an undefined answer", () => {
  let calls = 0;
  const length = memoized((text: string) => (calls++, text.length > 300 ? undefined : text.length));
  const long = "x".repeat(257);
  length(long);
  length(long);
  assert.equal(calls, 2, "a long input is computed every time");
  const longer = "y".repeat(400);
  assert.equal(length(longer), undefined);
  assert.equal(calls, 3);
  const none = memoized((_text: string) => (calls++, undefined));
  none("z");
  none("z");
  assert.equal(calls, 4, "undefined is an answer, remembered like any other");
});

test("the remembered address forms answer as the parsing does: one client's answer is never another's", () => {
  for (let round = 0; round < 2; round++) {
    assert.equal(canonicalAddress("::ffff:192.0.2.7"), "192.0.2.7");
    assert.equal(canonicalAddress("2001:DB8:0:0:0:0:0:1"), "2001:db8::1");
    assert.equal(canonicalAddress("not an address"), "not an address");
    assert.equal(addressBucket("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
    assert.equal(addressBucket("2001:db8:1:3:3:4:5:6"), "2001:db8:1:3::/64");
    assert.equal(addressBucket("192.0.2.7"), "192.0.2.7");
  }
  // Past the bound (1024 inputs) the answers are still right.
  for (let i = 0; i < 3000; i++) assert.equal(addressBucket(`10.0.${i >> 8}.${i & 255}`), `10.0.${i >> 8}.${i & 255}`);
});
