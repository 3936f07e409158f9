/**
 * @module `node --import tsx bench/store.ts [--sizes 10000,100000] [--writes 1000]`: what the file
 * store's writes cost as the state grows. For each size: the state directory filled with that many
 * refresh-token-family-sized entries, then `--writes` updates timed (each journaled before it
 * resolves; the slowest one includes a snapshot when one falls due), the files' sizes, the time to
 * reopen (snapshot + journal replay), and what a refused write costs when the store is full.
 * Prints one JSON line per size; never fails on a number (a loaded machine's numbers mean little).
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createLogger } from "../src/log/logger.ts";
import { nodePlatform } from "../src/runtime/node.ts";
import { FileStore } from "../src/store/file.ts";

const { values } = parseArgs({ options: { sizes: { type: "string", default: "10000,100000" }, writes: { type: "string", default: "1000" } } });
const sizes = values.sizes.split(",").map(Number);
const writes = Number(values.writes);
const logger = createLogger({ level: "error", format: "text", write: () => {} });
const family = { client_id: "x".repeat(24), sub: "alice", scope: ["mcp:read", "mcp:write"], resource: "https://mcp.example.com/mcp", expires_at: 0, heads: ["a".repeat(64)], retired: ["b".repeat(64)], rotated_at: 0, revoked: false };

async function main(): Promise<void> {
  for (const size of sizes) {
    const directory = mkdtempSync(join(tmpdir(), "mcp-bridge-bench-store-"));
    const open = () => FileStore.open({ directory, platform: nodePlatform, logger, maxEntries: size });
    let store = await open();
    for (let i = 0; i < size; i++) await store.put(`rtf:${i}`, family, 86_400_000);
    let slowest = 0;
    const started = performance.now();
    for (let i = 0; i < writes; i++) {
      const one = performance.now();
      await store.put(`rtf:${i % size}`, { ...family, rotated_at: i }, 86_400_000);
      slowest = Math.max(slowest, performance.now() - one);
    }
    const perWrite = (performance.now() - started) / writes;
    const refusedAt = performance.now();
    let refused = 0;
    for (let i = 0; i < writes; i++) await store.put(`new:${i}`, 1, 60_000).catch(() => refused++);
    const perRefusal = (performance.now() - refusedAt) / writes;
    await store.close();
    const files = Object.fromEntries(readdirSync(directory).map((name) => [name, statSync(join(directory, name)).size]));
    const reopenedAt = performance.now();
    store = await open();
    const reopen = performance.now() - reopenedAt;
    await store.close();
    rmSync(directory, { recursive: true, force: true });
    console.log(JSON.stringify({ entries: size, write_us: Math.round(perWrite * 1000), slowest_write_ms: Math.round(slowest), refused, refusal_us: Math.round(perRefusal * 1000), reopen_ms: Math.round(reopen), files }));
  }
}

await main();
