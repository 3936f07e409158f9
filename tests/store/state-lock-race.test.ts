/**
 * @module The state directory's lock between real processes: bridges starting at the same moment
 * on one storage.path, with no lock yet or with a dead bridge's lock left behind, must leave
 * exactly one running and every other refusing to start (storage.path, exit 2), never two. The
 * contenders (state-lock-contender.ts) run the lock module itself, many rounds cheaply; the built
 * CLI (and the bridge under Deno) is raced too, in a few rounds (a bridge's start costs a contender's
 * many times over): what they add is the wiring around the lock (taken before listening, exit 2
 * naming the holder, released on stopping), and there the race is rarer. Then
 * the odd locks: another bridge's lock naming the same pid (release leaves it), a takeover whose
 * taker was killed mid-way, a lock that cannot be parsed, a dangling symbolic link.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { startContender as startContenderScript, type Contender } from "../support/contender.ts";
import { sha256, toHex } from "../../src/util/digest.ts";
import { ALICE_HASH } from "../oauth-server/support.ts";
import { DENO, ROOT } from "../release/helpers.ts";
import { ECHO_SERVER, type Launcher, type RunningBridge, startBridge } from "../support/bridge.ts";
import { bundle } from "../support/fixtures.ts";

const CONTENDER = await bundle("tests/store/state-lock-contender.ts", "state-lock-contender.mjs");
const IN_USE = /^the state directory ".*" is in use by another mcp-bridge \(process (\d+)\); give each bridge its own storage\.path/;

function startContender(directory: string): Contender {
  return startContenderScript(CONTENDER, [directory]);
}

/** The id of a process that has exited: what a bridge killed outright leaves in its lock. */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ["-e", "console.log(process.pid)"], { encoding: "utf8" }).stdout.trim());
}

/** The lock a bridge killed outright left behind (as older versions wrote it: no owner token). */
function plantDeadLock(directory: string): void {
  writeFileSync(join(directory, "bridge.lock"), `${JSON.stringify({ pid: deadPid(), started_at: new Date().toISOString() })}\n`, { mode: 0o600 });
}

async function raceContenders(stale: boolean): Promise<void> {
  const directory = mkdtempSync(join(tmpdir(), "mcp-bridge-state-lock-"));
  const lockPath = join(directory, "bridge.lock");
  const contenders = Array.from({ length: 6 }, () => startContender(directory));
  try {
    for (let round = 0; round < 40; round++) {
      if (stale) plantDeadLock(directory);
      for (const contender of contenders) contender.send({ op: "acquire" });
      const outcomes = await Promise.all(contenders.map((contender) => contender.next()));
      const holders = contenders.filter((_, i) => outcomes[i]!.acquired);
      assert.equal(holders.length, 1, `round ${round}: ${holders.length} contenders hold the lock: ${JSON.stringify(outcomes)}`);
      const holder = holders[0]!;
      for (const outcome of outcomes.filter((outcome) => !outcome.acquired)) {
        assert.equal(outcome.path, "storage.path", `round ${round}: ${JSON.stringify(outcome)}`);
        assert.equal(Number(IN_USE.exec(String(outcome.message))?.[1]), holder.pid, `round ${round}: the refusal names the holder: ${outcome.message}`);
      }
      assert.equal(outcomes.filter((outcome) => outcome.tookOver).length, stale ? 1 : 0, `round ${round}: ${stale ? "one contender" : "no contender"} removed a dead bridge's lock: ${JSON.stringify(outcomes)}`);
      assert.equal((JSON.parse(readFileSync(lockPath, "utf8")) as { pid: number }).pid, holder.pid, `round ${round}: the lock names its holder`);
      holder.send({ op: "release" });
      assert.deepEqual(await holder.next(), { released: true });
      assert.equal(existsSync(lockPath), false, `round ${round}: the holder released the lock`);
    }
  } finally {
    await Promise.all(contenders.map((contender) => contender.stop()));
    rmSync(directory, { recursive: true, force: true });
  }
}

test("bridges taking a state directory's lock at the same moment: exactly one holds it, the others are refused naming it", { timeout: 300_000 }, () => raceContenders(false));

test("bridges taking over a dead bridge's lock at the same moment: exactly one takes it over, the others are refused naming it", { timeout: 300_000 }, () => raceContenders(true));

test("a bridge releasing the state lock removes only its own lock, not another one naming the same process id", async () => {
  const directory = mkdtempSync(join(tmpdir(), "mcp-bridge-state-lock-"));
  const lockPath = join(directory, "bridge.lock");
  const contender = startContender(directory);
  try {
    contender.send({ op: "acquire" });
    assert.equal((await contender.next()).acquired, true);
    // Another bridge's lock in its place, with the same pid: a bridge in another container (pid
    // namespace) on a shared volume. Releasing must leave it alone.
    const other = `${JSON.stringify({ pid: contender.pid, owner: "another-bridge", started_at: new Date().toISOString() })}\n`;
    writeFileSync(lockPath, other, { mode: 0o600 });
    contender.send({ op: "release" });
    assert.deepEqual(await contender.next(), { released: true });
    assert.equal(readFileSync(lockPath, "utf8"), other);
  } finally {
    await contender.stop();
    rmSync(directory, { recursive: true, force: true });
  }
});

test("a dead bridge's lock whose taker was killed mid-takeover is taken over once that taker's claim expires", async () => {
  const directory = mkdtempSync(join(tmpdir(), "mcp-bridge-state-lock-"));
  const lockPath = join(directory, "bridge.lock");
  const dead = `${JSON.stringify({ pid: deadPid(), owner: "dead", started_at: new Date().toISOString() })}\n`;
  writeFileSync(lockPath, dead, { mode: 0o600 });
  // The claim a bridge takes before removing that lock, left behind when it was killed; expired.
  const claimPath = `${lockPath}.${toHex(await sha256(dead)).slice(0, 16)}.claim`;
  writeFileSync(claimPath, JSON.stringify({ until: Date.now() - 1000, owner: "killed" }), { mode: 0o600 });
  const contender = startContender(directory);
  try {
    contender.send({ op: "acquire" });
    assert.deepEqual(await contender.next(), { acquired: true, tookOver: true });
    assert.equal(existsSync(claimPath), false, "the expired claim was removed");
    assert.equal((JSON.parse(readFileSync(lockPath, "utf8")) as { pid: number }).pid, contender.pid);
  } finally {
    await contender.stop();
    rmSync(directory, { recursive: true, force: true });
  }
});

test("a lock that cannot be parsed (a bridge killed as it wrote it) is taken over with a warning", async () => {
  const directory = mkdtempSync(join(tmpdir(), "mcp-bridge-state-lock-"));
  const lockPath = join(directory, "bridge.lock");
  writeFileSync(lockPath, "", { mode: 0o600 });
  const contender = startContender(directory);
  try {
    contender.send({ op: "acquire" });
    assert.deepEqual(await contender.next(), { acquired: true, tookOver: true });
    assert.equal((JSON.parse(readFileSync(lockPath, "utf8")) as { pid: number }).pid, contender.pid);
  } finally {
    await contender.stop();
    rmSync(directory, { recursive: true, force: true });
  }
});

test("a bridge.lock that is a dangling symbolic link: the bridge is refused naming storage.path and the file, it does not spin", async () => {
  const directory = mkdtempSync(join(tmpdir(), "mcp-bridge-state-lock-"));
  symlinkSync(join(directory, "nowhere"), join(directory, "bridge.lock"));
  const contender = startContender(directory);
  try {
    contender.send({ op: "acquire" });
    const outcome = await contender.next();
    assert.equal(outcome.acquired, false);
    assert.equal(outcome.path, "storage.path", JSON.stringify(outcome));
    assert.match(String(outcome.message), /bridge\.lock" exists but is not a file .*; remove it$/);
    assert.equal(existsSync(join(directory, "nowhere")), false, "nothing was created through the link");
  } finally {
    await contender.stop();
    rmSync(directory, { recursive: true, force: true });
  }
});

/** Starts `count` bridges on `directory` at once: each listening (running) or the error it exited with. */
function startAtOnce(directory: string, count: number, launcher: Launcher | undefined) {
  const config = {
    storage: { type: "file", path: directory },
    server: { mcp_server: { command: process.execPath, args: [ECHO_SERVER] }, oauth_server: { enabled: true, builtin: { users: [{ username: "alice", password_hash: ALICE_HASH }] } } },
  };
  return Promise.allSettled(Array.from({ length: count }, () => startBridge(config, { launcher })));
}

/** `rounds` rounds of `count` bridges started at once, every other one on a dead bridge's lock. */
async function raceBridges(rounds: number, count: number, launcher?: Launcher): Promise<void> {
  const directory = mkdtempSync(join(tmpdir(), "mcp-bridge-state-lock-cli-"));
  try {
    for (let round = 0; round < rounds; round++) {
      const stale = round % 2 === 1;
      if (stale) plantDeadLock(directory);
      const started = await startAtOnce(directory, count, launcher);
      const running = started.flatMap((outcome) => (outcome.status === "fulfilled" ? [outcome.value] : []));
      try {
        assert.equal(running.length, 1, `round ${round} (${stale ? "dead bridge's lock" : "no lock"}): ${running.length} bridges run on one state directory`);
        const [bridge] = running as [RunningBridge];
        const refusals = started.flatMap((outcome) => (outcome.status === "rejected" ? [(outcome.reason as Error).message] : []));
        for (const refusal of refusals) {
          assert.match(refusal, /exited with 2 before listening/, `round ${round}`);
          assert.match(refusal, new RegExp(`storage\\.path: the state directory ".*" is in use by another mcp-bridge \\(process ${bridge.process.pid}\\)`), `round ${round}: ${refusal}`);
        }
        assert.equal(bridge.process.exitCode, null, `round ${round}: the bridge that took the lock keeps running`);
        assert.equal((await fetch(`${bridge.origin}/.well-known/oauth-authorization-server`)).status, 200);
        // The bridge that removed the dead one's lock may have lost the race to take the free name.
        const tookOver = [bridge.logs(), ...refusals].filter((log) => log.includes("taking over the state directory's lock"));
        assert.equal(tookOver.length, stale ? 1 : 0, `round ${round}: ${stale ? "one bridge" : "no bridge"} removed a dead bridge's lock`);
      } finally {
        await Promise.all(running.map((bridge) => bridge.stop()));
      }
      assert.equal(existsSync(join(directory, "bridge.lock")), false, `round ${round}: the bridge released its lock on stopping`);
    }
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

test("the built CLI: bridges started at once on one storage.path, with no lock or a dead bridge's lock, leave one running and the others exit 2 naming storage.path", { timeout: 600_000 }, () => raceBridges(8, 6));

test("under Deno (deno run src/main.ts): bridges started at once on one storage.path leave one running and the others exit 2 naming storage.path", { timeout: 600_000 }, () =>
  raceBridges(4, 4, { command: DENO, args: ["run", "-A", join(ROOT, "src", "main.ts")], env: { HOME: process.env.HOME ?? "/root", PATH: process.env.PATH ?? "/usr/bin:/bin", DENO_NO_UPDATE_CHECK: "1" }, cwd: tmpdir() }),
);
