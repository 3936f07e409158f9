/**
 * @module The store's share for unauthenticated keys (MemoryStoreOptions.unauthenticatedPrefixes):
 * at most half of max_entries, counted across every way an entry comes and goes (take, delete,
 * expiry, a rolled-back change) and across a reopen of the file store.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { createLogger } from "../../src/log/logger.ts";
import { nodePlatform } from "../../src/runtime/node.ts";
import { FileStore } from "../../src/store/file.ts";
import { MemoryStore, StoreFullError } from "../../src/store/memory.ts";

const logger = createLogger({ level: "error", format: "text", write: () => {} });

test("unauthenticated keys fill half the store at most; the rest stays for the others, also after a reopen", async () => {
  let now = 1_000_000;
  const directory = mkdtempSync(join(tmpdir(), "store-share-"));
  const open = () => FileStore.open({ directory, platform: nodePlatform, logger, maxEntries: 10, unauthenticatedPrefixes: ["pending:"], now: () => now });
  let store = await open();
  for (let i = 0; i < 5; i++) await store.put(`pending:${i}`, i, 1000);
  await assert.rejects(store.put("pending:5", 5, 1000), StoreFullError);
  // An existing one is still updated, and the other keys fill the rest.
  await store.increment("pending:0", 1, 1000);
  for (let i = 0; i < 5; i++) await store.put(`grant:${i}`, i, 10_000);
  await assert.rejects(store.put("grant:5", 5, 10_000), StoreFullError);

  await store.close();
  store = await open();
  await assert.rejects(store.put("pending:5", 5, 1000), StoreFullError, "the count survives a reopen");
  assert.equal(await store.take("pending:1"), 1);
  await store.delete("pending:2");
  await store.put("pending:a", "a", 1000);
  await store.put("pending:b", "b", 1000);
  await assert.rejects(store.putIfAbsent("pending:c", "c", 1000), StoreFullError, "take and delete freed exactly two");
  now += 1000;
  await store.put("pending:c", "c", 1000);
  assert.equal(await store.get("pending:0"), undefined, "expired ones make room");
  await store.close();
});

test("keys that only remember give way, the longest-held first, to a new key the share has no room for; the eviction is journaled; keys that do not give way still fill it", async () => {
  const directory = mkdtempSync(join(tmpdir(), "store-evict-"));
  const open = () => FileStore.open({ directory, platform: nodePlatform, logger, maxEntries: 10, unauthenticatedPrefixes: ["pending:", "count:"], evictablePrefixes: ["count:"] });
  let store = await open();
  for (let i = 0; i < 4; i++) await store.increment(`count:${i}`, 1, 60_000);
  await store.put("pending:a", "a", 60_000);
  // The share (5) is full: each new key, counter or not, ends the longest-held counter.
  await store.put("pending:b", "b", 60_000);
  await store.increment("count:4", 1, 60_000);
  assert.deepEqual(await Promise.all([0, 1, 2, 3, 4].map((i) => store.get(`count:${i}`))), [undefined, undefined, 1, 1, 1]);
  await store.increment("count:2", 1, 60_000);
  await store.close();

  store = await open();
  assert.equal(await store.get("count:0"), undefined, "an eviction is a change the journal keeps");
  assert.equal(await store.get("count:2"), 2);
  await store.put("pending:c", "c", 60_000);
  await store.put("pending:d", "d", 60_000);
  await store.put("pending:e", "e", 60_000);
  assert.deepEqual(await Promise.all(["pending:a", "pending:b", "pending:c", "pending:d", "pending:e"].map((key) => store.get(key))), ["a", "b", "c", "d", "e"]);
  await assert.rejects(store.put("pending:f", "f", 60_000), StoreFullError, "no counter is left to give way");
  await assert.rejects(store.increment("count:5", 1, 60_000), StoreFullError);
  // The other half is not theirs to take, nor theirs to give.
  for (let i = 0; i < 5; i++) await store.put(`grant:${i}`, i, 60_000);
  await assert.rejects(store.put("grant:5", 5, 60_000), StoreFullError);
  await store.close();
});

test("an evictable prefix outside the unauthenticated ones is a programming error", () => {
  assert.throws(() => new MemoryStore({ unauthenticatedPrefixes: ["pending:"], evictablePrefixes: ["grant:"] }), /evictable prefix "grant:" is not among the unauthenticated prefixes/);
});
