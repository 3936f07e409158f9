/**
 * @module The login lock file as other processes see it: another bridge instance reading the lock
 * must never find it empty (it would take it for a lock whose holder died, break it and sign in too).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { privateFiles } from "../../src/runtime/private-files.ts";

test("a lock file created exclusively is never seen empty by another process, and is private", async () => {
  const dir = mkdtempSync(join(tmpdir(), "mcp-bridge-lock-"));
  const path = join(dir, "oauth-x.json.lock");
  const stop = join(dir, "stop");
  const lock = JSON.stringify({ until: Date.now() + 60_000 });
  // Another process reading the lock as fast as it can until told to stop.
  const reader = spawn(
    process.execPath,
    [
      "-e",
      `const fs = require("node:fs"); let reads = 0, empty = 0;
       process.stdout.write("ready\\n");
       while (!fs.existsSync(${JSON.stringify(stop)})) {
         try { const text = fs.readFileSync(${JSON.stringify(path)}, "utf8"); reads++; if (text === "") empty++; } catch {}
       }
       process.stdout.write(JSON.stringify({ reads, empty }));`,
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  let output = "";
  reader.stdout.on("data", (chunk) => (output += chunk));
  const exited = new Promise((resolve) => reader.on("exit", resolve));
  await Promise.race([exited, new Promise<void>((resolve) => reader.stdout.on("data", () => output.startsWith("ready\n") && resolve()))]);
  try {
    for (let round = 0; round < 1000; round++) {
      rmSync(path, { force: true });
      assert.equal(await privateFiles.createExclusive(path, lock), true);
      assert.equal(await privateFiles.createExclusive(path, lock), false, "a second create finds the lock held");
    }
    assert.equal(statSync(path).mode & 0o777, 0o600);
  } finally {
    writeFileSync(stop, "");
    await exited;
  }
  const { reads, empty } = JSON.parse(output.slice("ready\n".length)) as { reads: number; empty: number };
  assert.ok(reads > 0, "the other process saw the lock");
  assert.equal(empty, 0, `an empty lock was read ${empty} times in ${reads}`);
});
