/**
 * @module Client mode's login lock between real processes (lock-contender.ts, each the real cache
 * module on the real file system): several instances breaking one stale lock, and a holder whose
 * sign-in overran its lock, must never leave two instances signing in under the lock at once.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { startContender as startContenderScript, type Contender } from "../support/contender.ts";
import { sha256, toHex } from "../../src/util/digest.ts";
import { bundle } from "../support/fixtures.ts";

const CONTENDER = await bundle("tests/client-auth/lock-contender.ts", "lock-contender.mjs");
const SERVER_URL = "https://mcp.example.com/mcp";

function startContender(dir: string): Contender {
  return startContenderScript(CONTENDER, [dir, SERVER_URL]);
}

/** Where the cache module keeps the login lock of SERVER_URL in `dir`. */
async function lockPathIn(dir: string): Promise<string> {
  return join(dir, `oauth-${toHex(await sha256(SERVER_URL)).slice(0, 32)}.json.lock`);
}

test("instances racing to break one stale login lock: exactly one breaks it, one signs in, never two at once", async () => {
  const dir = mkdtempSync(join(tmpdir(), "mcp-bridge-lock-race-"));
  const lockPath = await lockPathIn(dir);
  const contenders = Array.from({ length: 6 }, () => startContender(dir));
  try {
    for (let round = 0; round < 30; round++) {
      // A lock left by an instance that died: expired, with an owner token like any other.
      writeFileSync(lockPath, JSON.stringify({ until: Date.now() - 1000, owner: `dead-${round}` }), { mode: 0o600 });
      for (const contender of contenders) contender.send({ op: "login", round, maxWait: 60_000, hold: 100 });
      const outcomes = await Promise.all(contenders.map((contender) => contender.next()));
      assert.deepEqual(
        outcomes.filter((outcome) => outcome.overlap),
        [],
        `round ${round}: two instances signed in at once`,
      );
      assert.equal(outcomes.filter((outcome) => outcome.result === "login").length, 1, `round ${round}: one sign-in, the others share it`);
      assert.equal(outcomes.filter((outcome) => outcome.broke).length, 1, `round ${round}: one instance broke the stale lock`);
      assert.equal(existsSync(lockPath), false, `round ${round}: the lock is released`);
    }
  } finally {
    await Promise.all(contenders.map((contender) => contender.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a holder that overran its lock releases only its own: the newer holder's lock survives", async () => {
  const dir = mkdtempSync(join(tmpdir(), "mcp-bridge-lock-overrun-"));
  const lockPath = await lockPathIn(dir);
  const slow = startContender(dir);
  const newer = startContender(dir);
  try {
    // The slow holder's lock lasts 1 s; its sign-in runs until told to finish.
    slow.send({ op: "login", round: 0, maxWait: 1000, hold: "finish" });
    assert.deepEqual(await slow.next(), { entered: 0 });
    // The newer instance waits for that lock to expire, breaks it and signs in under its own.
    newer.send({ op: "login", round: 1, maxWait: 60_000, hold: "finish" });
    assert.deepEqual(await newer.next(), { entered: 1 });
    const newerLock = readFileSync(lockPath, "utf8");
    slow.send({ op: "finish" });
    assert.equal((await slow.next()).result, "login");
    assert.equal(existsSync(lockPath) ? readFileSync(lockPath, "utf8") : undefined, newerLock, "the newer holder's lock is still in place");
    // A third instance arriving now waits for the newer holder instead of signing in beside it.
    const third = startContender(dir);
    try {
      third.send({ op: "login", round: 1, maxWait: 60_000, hold: 0, reportWaiting: true });
      assert.deepEqual(await third.next(), { waiting: 1 });
      newer.send({ op: "finish" });
      assert.equal((await newer.next()).result, "login");
      assert.deepEqual(await third.next(), { round: 1, result: "shared", overlap: false, broke: false });
    } finally {
      await third.stop();
    }
    assert.equal(existsSync(lockPath), false, "the newer holder released its lock");
  } finally {
    await Promise.all([slow.stop(), newer.stop()]);
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a stale lock whose breaker was killed mid-break is broken once that breaker's claim expires", async () => {
  const dir = mkdtempSync(join(tmpdir(), "mcp-bridge-lock-claim-"));
  const lockPath = await lockPathIn(dir);
  const stale = JSON.stringify({ until: Date.now() - 1000, owner: "dead" });
  writeFileSync(lockPath, stale, { mode: 0o600 });
  // The claim an instance takes before removing that lock, left behind when it was killed.
  const claimPath = `${lockPath}.${toHex(await sha256(stale)).slice(0, 16)}.claim`;
  writeFileSync(claimPath, JSON.stringify({ until: Date.now() - 1000, owner: "killed" }), { mode: 0o600 });
  const contender = startContender(dir);
  try {
    contender.send({ op: "login", round: 0, maxWait: 60_000, hold: 0 });
    assert.deepEqual(await contender.next(), { round: 0, result: "login", overlap: false, broke: true });
    assert.equal(existsSync(claimPath), false, "the expired claim was removed");
    assert.equal(existsSync(lockPath), false, "the lock was released");
  } finally {
    await contender.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
