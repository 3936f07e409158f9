/**
 * @module The ring of pending sign-ins (store/ring.ts through oauth-server/pending.ts) on a store
 * whose clock the test moves: the oldest gives way once the ring is full, and only then.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { PENDING_LIFETIME_MS, pendingSignIns } from "../../src/oauth-server/pending.ts";
import { MemoryStore } from "../../src/store/memory.ts";

const MINUTE = 60_000;

test("a full ring: each new pending sign-in ends the oldest, however young", async () => {
  const store = new MemoryStore();
  const pending = pendingSignIns(store, 3);
  for (const key of ["authz:a", "authz:b", "authz:c"]) await pending.put(key, key, PENDING_LIFETIME_MS);
  await pending.put("authz:d", "authz:d", PENDING_LIFETIME_MS);
  assert.deepEqual(await Promise.all(["authz:a", "authz:b", "authz:c", "authz:d"].map((key) => store.get(key))), [undefined, "authz:b", "authz:c", "authz:d"]);
  await store.close();
});

test("a ring far from full ends no pending sign-in, also once its sequence has run longer than a sign-in may take", async () => {
  let now = 1_000_000;
  const store = new MemoryStore({ now: () => now });
  const pending = pendingSignIns(store, 10);
  await pending.put("authz:first", "first", PENDING_LIFETIME_MS);
  now += PENDING_LIFETIME_MS - 60_000;
  await pending.put("authz:alice", "alice", PENDING_LIFETIME_MS);
  now += 2 * MINUTE;
  // Two sign-ins start: the ring holds one (Alice's, two minutes old) of its ten slots.
  await pending.put("authz:bob", "bob", PENDING_LIFETIME_MS);
  await pending.put("authz:carol", "carol", PENDING_LIFETIME_MS);
  assert.equal(await store.get("authz:alice"), "alice", "Alice's sign-in, two minutes old, was ended with nine slots free");
  assert.equal(await store.get("authz:bob"), "bob");
  await store.close();
});
