/** @module The login limiter's rules on a memory store with a controlled clock: free failures, doubling waits, usernames under attack, other addresses unaffected. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { createLoginLimiter } from "../../src/oauth-server/login-limiter.ts";
import { MemoryStore } from "../../src/store/memory.ts";

function setup() {
  let now = 10_000_000;
  const store = new MemoryStore({ now: () => now });
  return { limiter: createLoginLimiter(store, () => now), advance: (ms: number) => (now += ms), close: () => store.close() };
}

test("five failures for a username from one address are free; then each attempt waits a doubling delay", async () => {
  const { limiter, advance, close } = setup();
  for (let i = 0; i < 5; i++) assert.equal(await limiter.attempt("alice", "10.0.0.1"), 0);
  assert.equal(await limiter.attempt("alice", "10.0.0.1"), 1000);
  assert.equal(await limiter.attempt("alice", "10.0.0.1"), 1000, "an attempt told to wait is not counted");
  advance(1000);
  assert.equal(await limiter.attempt("alice", "10.0.0.1"), 0);
  assert.equal(await limiter.attempt("alice", "10.0.0.1"), 2000);
  assert.equal(await limiter.attempt("alice", "10.0.0.2"), 0, "another address is not affected");
  assert.equal(await limiter.attempt("bob", "10.0.0.1"), 0, "another username from that address is not affected (yet)");
  await close();
});

test("an address failing across many usernames is slowed after ten failures", async () => {
  const { limiter, close } = setup();
  for (let i = 0; i < 10; i++) assert.equal(await limiter.attempt(`user${i}`, "10.0.0.9"), 0);
  assert.ok((await limiter.attempt("someone-else", "10.0.0.9")) > 0);
  await close();
});

test("a username under attack from many addresses: each address gets one free attempt, a fresh address still gets its first", async () => {
  const { limiter, close } = setup();
  for (let i = 0; i < 20; i++) assert.equal(await limiter.attempt("alice", `10.1.0.${i}`), 0);
  assert.ok((await limiter.attempt("alice", "10.1.0.1")) > 0, "an attacking address waits after its one failure");
  assert.equal(await limiter.attempt("alice", "192.168.7.7"), 0, "the real user elsewhere is checked at once");
  await close();
});

test("success clears the username's failures from that address, and is not itself a failure", async () => {
  const { limiter, close } = setup();
  for (let i = 0; i < 5; i++) await limiter.attempt("alice", "10.0.0.3");
  await limiter.succeeded("alice", "10.0.0.3");
  assert.equal(await limiter.attempt("alice", "10.0.0.3"), 0);
  // Nine failures and a success from a shared address: the next person there is not slowed.
  for (let i = 0; i < 8; i++) await limiter.attempt(`user${i}`, "10.0.0.3");
  await limiter.attempt("carol", "10.0.0.3");
  await limiter.succeeded("carol", "10.0.0.3");
  assert.equal(await limiter.attempt("dave", "10.0.0.3"), 0);
  await close();
});

test("waits are capped at 15 minutes and counters end with their window", async () => {
  const { limiter, advance, close } = setup();
  for (let admitted = 0; admitted < 9; ) {
    const wait = await limiter.attempt("alice", "10.0.0.4");
    if (wait === 0) admitted++;
    else advance(wait);
  }
  const wait = await limiter.attempt("alice", "10.0.0.4");
  assert.ok(wait > 0 && wait <= 15 * 60_000, String(wait));
  advance(15 * 60_000);
  assert.equal(await limiter.attempt("alice", "10.0.0.4"), 0);
  await close();
});

test("past the free failures, attempts sent at once are let through one at a time, however long ago the last failure was", async () => {
  const { limiter, advance, close } = setup();
  for (let i = 0; i < 5; i++) assert.equal(await limiter.attempt("alice", "10.0.0.5"), 0);
  advance(60_000);
  const waits = await Promise.all(Array.from({ length: 10 }, () => limiter.attempt("alice", "10.0.0.5")));
  assert.equal(waits.filter((wait) => wait === 0).length, 1, `one is checked, the others wait: ${waits.join(" ")}`);
  await close();
});
