/**
 * @module The Store implementations (memory, file) against one contract: TTLs, atomic take-once
 * under concurrency, compare-and-set, increment, bounded size; and the file store's persistence:
 * atomic writes, mode 0600 in a 0700 directory, expired entries gone after a reopen, an unreadable
 * file set aside.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { createLogger } from "../../src/log/logger.ts";
import { nodePlatform } from "../../src/runtime/node.ts";
import { FileStore, STATE_FILE_NAME } from "../../src/store/file.ts";
import { MemoryStore, StoreFullError } from "../../src/store/memory.ts";
import { stateDirectory } from "../../src/store/index.ts";
import type { Store } from "../../src/store/types.ts";

const lines: string[] = [];
const logger = createLogger({ level: "debug", format: "text", write: (line) => lines.push(line) });

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

const implementations: [string, (options: { now: () => number; maxEntries?: number }) => Promise<Store>][] = [
  ["memory", async (options) => new MemoryStore(options)],
  ["file", async (options) => FileStore.open({ directory: mkdtempSync(join(tmpdir(), "store-")), platform: nodePlatform, logger, ...options })],
];

for (const [name, open] of implementations) {
  describe(`${name} store`, () => {
    test("get/put with TTL: a value is there until it expires", async () => {
      const time = clock();
      const store = await open({ now: time.now });
      await store.put("a", { x: [1, "two", null] }, 1000);
      assert.deepEqual(await store.get("a"), { x: [1, "two", null] });
      time.advance(999);
      assert.ok(await store.get("a"));
      time.advance(1);
      assert.equal(await store.get("a"), undefined);
      await store.close();
    });

    test("a stored value is a copy: changing the object afterwards changes nothing", async () => {
      const store = await open({ now: Date.now });
      const value = { list: [1] };
      await store.put("k", value, 10_000);
      value.list.push(2);
      const read = await store.get<{ list: number[] }>("k");
      read!.list.push(3);
      assert.deepEqual(await store.get("k"), { list: [1] });
      await store.close();
    });

    test("take is once: of 50 concurrent takes exactly one gets the value", async () => {
      const store = await open({ now: Date.now });
      await store.put("code", "secret-record", 10_000);
      const results = await Promise.all(Array.from({ length: 50 }, () => store.take("code")));
      assert.deepEqual(results.filter((result) => result !== undefined), ["secret-record"]);
      assert.equal(await store.get("code"), undefined);
      await store.close();
    });

    test("putIfAbsent sets only when absent or expired", async () => {
      const time = clock();
      const store = await open({ now: time.now });
      assert.equal(await store.putIfAbsent("k", 1, 100), true);
      assert.equal(await store.putIfAbsent("k", 2, 100), false);
      time.advance(100);
      assert.equal(await store.putIfAbsent("k", 3, 100), true);
      assert.equal(await store.get("k"), 3);
      await store.close();
    });

    test("compareAndSet replaces only the expected value (deep equality, key order ignored); of concurrent rotations one wins", async () => {
      const store = await open({ now: Date.now });
      await store.put("family", { heads: ["a"], n: 1 }, 10_000);
      assert.equal(await store.compareAndSet("family", { n: 1, heads: ["a"] }, { heads: ["b"], n: 2 }, 10_000), true);
      assert.equal(await store.compareAndSet("family", { n: 1, heads: ["a"] }, { heads: ["c"], n: 2 }, 10_000), false);
      const outcomes = await Promise.all(["x", "y", "z"].map((head) => store.compareAndSet("family", { heads: ["b"], n: 2 }, { heads: [head], n: 3 }, 10_000)));
      assert.equal(outcomes.filter(Boolean).length, 1);
      assert.equal(await store.compareAndSet("missing", null, 1, 10_000), false);
      await store.close();
    });

    test("increment counts from 0 and keeps the first expiry", async () => {
      const time = clock();
      const store = await open({ now: time.now });
      assert.equal(await store.increment("n", 1, 1000), 1);
      time.advance(600);
      assert.deepEqual(await Promise.all([store.increment("n", 1, 1000), store.increment("n", 2, 1000)]), [2, 4]);
      time.advance(400);
      assert.equal(await store.get("n"), undefined, "the window ends 1000 ms after the first increment");
      await store.close();
    });

    test("bounded: a full store refuses new keys (after dropping expired ones) but updates existing ones", async () => {
      const time = clock();
      const store = await open({ now: time.now, maxEntries: 3 });
      await store.put("a", 1, 100);
      await store.put("b", 1, 1000);
      await store.put("c", 1, 1000);
      await assert.rejects(store.put("d", 1, 1000), StoreFullError);
      await store.put("c", 2, 1000);
      time.advance(100);
      await store.put("d", 1, 1000);
      await store.close();
    });

    test("a TTL must be a positive number", async () => {
      const store = await open({ now: Date.now });
      await assert.rejects(store.put("k", 1, 0), TypeError);
      await assert.rejects(store.put("k", 1, Number.POSITIVE_INFINITY), TypeError);
      await store.close();
    });
  });
}

describe("file store persistence", () => {
  test("entries survive a reopen; expired ones do not; the file is 0600 in a 0700 directory", async () => {
    const directory = join(mkdtempSync(join(tmpdir(), "store-")), "nested", "state");
    const time = clock(Date.now());
    const store = await FileStore.open({ directory, platform: nodePlatform, logger, now: time.now });
    await store.put("long", { kept: true }, 60_000);
    await store.put("short", 1, 1_000);
    await store.close();
    const file = join(directory, STATE_FILE_NAME);
    if (process.platform !== "win32") {
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.equal(statSync(directory).mode & 0o777, 0o700);
    }
    time.advance(5_000);
    const reopened = await FileStore.open({ directory, platform: nodePlatform, logger, now: time.now });
    assert.deepEqual(await reopened.get("long"), { kept: true });
    assert.equal(await reopened.get("short"), undefined);
    await reopened.take("long");
    await reopened.close();
    const again = await FileStore.open({ directory, platform: nodePlatform, logger, now: time.now });
    assert.equal(await again.get("long"), undefined, "a take is persisted too");
    await again.close();
    assert.deepEqual(readdirSync(directory).filter((entry) => entry.endsWith(".tmp")), [], "no temporary files left behind");
  });

  test("every change is on disk when its promise resolves: a second process reading the directory sees it without a close", async () => {
    const directory = mkdtempSync(join(tmpdir(), "store-"));
    const store = await FileStore.open({ directory, platform: nodePlatform, logger });
    await Promise.all(Array.from({ length: 100 }, (_, i) => store.put(`k${i}`, i, 60_000)));
    await store.take("k0");
    if (process.platform !== "win32") {
      for (const name of readdirSync(directory)) assert.equal(statSync(join(directory, name)).mode & 0o777, 0o600, name);
    }
    // As if the bridge had been killed here, unclosed: a new open reads snapshot + journal.
    const crashed = await FileStore.open({ directory, platform: nodePlatform, logger });
    assert.equal(await crashed.get("k0"), undefined);
    assert.equal(await crashed.get("k99"), 99);
    await crashed.close();
    await store.close();
  });

  test("the journal is folded into a new snapshot as it grows; old journals go; a torn last line is skipped", async () => {
    const directory = mkdtempSync(join(tmpdir(), "store-"));
    const store = await FileStore.open({ directory, platform: nodePlatform, logger });
    for (let i = 0; i < 2500; i++) await store.put(`k${i % 10}`, i, 60_000);
    await store.close();
    const journals = readdirSync(directory).filter((name) => name.startsWith("state.journal."));
    assert.ok(journals.length <= 1, `old journals removed: ${journals}`);
    const snapshot = JSON.parse(readFileSync(join(directory, STATE_FILE_NAME), "utf8")) as { entries: Record<string, unknown> };
    assert.ok(Object.keys(snapshot.entries).length <= 10);
    const journal = join(directory, journals[0] ?? `state.journal.${(snapshot as unknown as { journal: number }).journal}`);
    writeFileSync(journal, `${readFileSync(journal, "utf8").trimEnd()}\n{"k":"k1","v":"12`, { flag: "w" });
    const reopened = await FileStore.open({ directory, platform: nodePlatform, logger });
    for (let k = 0; k < 10; k++) assert.equal(await reopened.get(`k${k}`), 2490 + k);
    await reopened.close();
  });

  test("an unreadable state file is set aside with a warning, and the store starts empty", async () => {
    const directory = mkdtempSync(join(tmpdir(), "store-"));
    writeFileSync(join(directory, STATE_FILE_NAME), "{ not json");
    const store = await FileStore.open({ directory, platform: nodePlatform, logger });
    assert.equal(await store.get("anything"), undefined);
    await store.put("k", 1, 1000);
    await store.close();
    assert.ok(readdirSync(directory).some((entry) => entry.startsWith(`${STATE_FILE_NAME}.unreadable-`)));
    assert.ok(lines.some((line) => /state file could not be read/.test(line)));
    assert.ok(existsSync(join(directory, STATE_FILE_NAME)));
  });

  test("the default directory follows XDG_STATE_HOME, then HOME", () => {
    assert.equal(stateDirectory({}, { XDG_STATE_HOME: "/x/state", HOME: "/home/u" }), "/x/state/mcp-bridge");
    assert.equal(stateDirectory({}, { HOME: "/home/u" }), "/home/u/.local/state/mcp-bridge");
    assert.equal(stateDirectory({ path: "/var/lib/mcp-bridge" }, { HOME: "/home/u" }), "/var/lib/mcp-bridge");
    assert.equal(stateDirectory({}, {}), undefined);
  });
});
