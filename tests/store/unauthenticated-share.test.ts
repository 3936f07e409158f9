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

test("counters hold a quarter of the store, the least recently written giving way to a new one; never to other keys, nor when the store is full; evictions are journaled", async () => {
  const directory = mkdtempSync(join(tmpdir(), "store-evict-"));
  // A quarter is 3 counters, the share 6 entries.
  const open = () => FileStore.open({ directory, platform: nodePlatform, logger, maxEntries: 12, unauthenticatedPrefixes: ["pending:", "count:"], evictablePrefixes: ["count:"] });
  const present = (store: FileStore, keys: string[]) => Promise.all(keys.map(async (key) => (await store.get(key)) !== undefined));
  let store = await open();
  for (let i = 0; i < 3; i++) await store.increment(`count:${i}`, 1, 60_000);
  await store.increment("count:3", 1, 60_000);
  assert.deepEqual(await present(store, ["count:0", "count:1", "count:2", "count:3"]), [false, true, true, true], "the quarter is full: the oldest count gave way");
  await store.increment("count:1", 1, 60_000);
  await store.increment("count:4", 1, 60_000);
  assert.deepEqual(await present(store, ["count:1", "count:2", "count:3", "count:4"]), [true, false, true, true], "count:1 was written again, so count:2 went first");
  assert.equal(await store.increment("count:1", -5, 60_000), 0, "a count never goes below 0");
  assert.equal(await store.increment("count:9", -1, 60_000), 0);
  assert.equal(await store.get("count:9"), undefined, "taking back from a count that is gone stores nothing");
  await store.close();

  store = await open();
  assert.deepEqual(await present(store, ["count:0", "count:2", "count:3", "count:4"]), [false, false, true, true], "evictions are changes the journal keeps");
  for (const key of ["pending:a", "pending:b", "pending:c"]) await store.put(key, key, 60_000);
  await assert.rejects(store.put("pending:d", "d", 60_000), StoreFullError, "the share is full: counters never give way to another kind of key");
  await store.increment("count:5", 1, 60_000);
  // count:1 was written last before the reopen (taken back to 0): the order survives it.
  assert.deepEqual(await present(store, ["count:1", "count:3", "count:4", "count:5"]), [true, false, true, true], "but a new count still takes the least recent one's place");
  for (let i = 0; i < 6; i++) await store.put(`grant:${i}`, i, 60_000);
  await assert.rejects(store.increment("count:6", 1, 60_000), StoreFullError, "the whole store is full: a new count is refused, none forgotten");
  assert.deepEqual(await present(store, ["count:1", "count:4", "count:5"]), [true, true, true]);
  await store.close();
});

test("an evictable prefix outside the unauthenticated ones is a programming error", () => {
  assert.throws(() => new MemoryStore({ unauthenticatedPrefixes: ["pending:"], evictablePrefixes: ["grant:"] }), /evictable prefix "grant:" is not among the unauthenticated prefixes/);
});

test("more counters than their quarter, kept from before max_entries was lowered: a new one makes room by as many as it takes", async () => {
  const directory = mkdtempSync(join(tmpdir(), "store-evict-"));
  const open = (maxEntries: number) => FileStore.open({ directory, platform: nodePlatform, logger, maxEntries, unauthenticatedPrefixes: ["count:"], evictablePrefixes: ["count:"] });
  let store = await open(40);
  for (let i = 0; i < 10; i++) await store.increment(`count:${i}`, 1, 60_000);
  await store.close();
  store = await open(12);
  await store.increment("count:new", 1, 60_000);
  const kept = await Promise.all(Array.from({ length: 10 }, (_, i) => store.get(`count:${i}`)));
  assert.deepEqual(kept, [...Array(8).fill(undefined), 1, 1], "the quarter of 12 is 3: the two most recent and the new one");
  await store.close();
});
