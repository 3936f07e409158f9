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
import { StoreFullError } from "../../src/store/memory.ts";

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
