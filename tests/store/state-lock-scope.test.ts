/**
 * @module The state directory's lock across containers, for real: bridges (the built CLI) each in
 * a pid namespace of its own (unshare(1); skipped where this process may not make one), on one
 * storage.path, as two containers sharing a volume are — each bridge may be process 1 there, and
 * its pid means nothing to the other. A second bridge must be refused while the first runs (not
 * take its lock over as a dead one's and run beside it, each removing the other's journals); once
 * the first is killed outright, a bridge in yet another namespace takes the lock over (a container
 * restarted after a crash), with the warning.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { nodePlatform } from "../../src/runtime/node.ts";
import { CLI, ECHO_SERVER, type Launcher, type RunningBridge, startBridge } from "../support/bridge.ts";
import { ALICE_HASH, startAsBridge } from "../oauth-server/support.ts";

const canUnshare = process.getuid?.() === 0 && spawnSync("unshare", ["--pid", "--fork", "--mount-proc", "true"]).status === 0;
const skip = canUnshare ? false : "needs root and unshare(1) to give each bridge a pid namespace of its own";

/** The built CLI as process 1 of a new pid namespace. */
function namespaced(): Launcher {
  return { command: "unshare", args: ["--pid", "--fork", "--mount-proc", process.execPath, CLI], env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp" } };
}

/** The node process unshare forked: process 1 of the namespace (unshare itself ignores SIGTERM while it waits). */
function innerPid(bridge: RunningBridge): number {
  return Number(execFileSync("pgrep", ["-P", String(bridge.process.pid)], { encoding: "utf8" }).trim());
}

/** Sends `signal` to the bridge itself and waits for it (and unshare) to exit. */
function signalBridge(bridge: RunningBridge, signal: NodeJS.Signals): Promise<number | null> {
  if (bridge.process.exitCode !== null) return Promise.resolve(bridge.process.exitCode);
  return new Promise((resolve) => {
    bridge.process.once("exit", resolve);
    process.kill(innerPid(bridge), signal);
  });
}

async function startIn(directory: string): Promise<RunningBridge> {
  const bridge = await startBridge(
    {
      storage: { type: "file", path: directory },
      server: { mcp_server: { command: process.execPath, args: [ECHO_SERVER] }, oauth_server: { enabled: true, builtin: { users: [{ username: "alice", password_hash: ALICE_HASH }] } } },
    },
    // A takeover waits out the dead bridge's heartbeat (15 s) first.
    { launcher: namespaced(), startTimeoutMs: 60_000 },
  );
  return { ...bridge, stop: () => signalBridge(bridge, "SIGTERM") };
}

test("bridges in pid namespaces of their own on one storage.path: while the first runs the second exits 2 naming storage.path; once the first is killed outright, a third takes the lock over", { skip, timeout: 180_000 }, async (t) => {
  const directory = mkdtempSync(join(tmpdir(), "mcp-bridge-lock-scope-"));
  const first = await startIn(directory);
  t.after(() => first.stop());
  assert.equal((JSON.parse(readFileSync(join(directory, "bridge.lock"), "utf8")) as { pid: number }).pid, 1, "the first bridge is process 1 of its namespace");

  const second = startIn(directory);
  t.after(async () => (await second.catch(() => undefined))?.stop());
  await assert.rejects(second, (error: Error) => {
    assert.match(error.message, /exited with 2 before listening/);
    assert.match(error.message, /storage\.path: the state directory ".*" is in use by another mcp-bridge \(process 1\)/);
    return true;
  });
  // The first still holds the lock and answers.
  assert.equal((await fetch(`${first.origin}/.well-known/oauth-authorization-server`)).status, 200);

  await signalBridge(first, "SIGKILL");
  const third = await startIn(directory);
  t.after(() => third.stop());
  assert.match(third.logs(), /taking over the state directory's lock: the bridge that held it is no longer running/);
});

test("a bridge in the same pid namespace as a dead bridge's lock takes it over, as before", { timeout: 60_000 }, async () => {
  const directory = mkdtempSync(join(tmpdir(), "mcp-bridge-lock-scope-"));
  const first = await startAsBridge({ storage: { type: "file", path: directory } });
  const exited = new Promise((resolve) => first.process.once("exit", resolve));
  first.process.kill("SIGKILL");
  await exited;
  const second = await startAsBridge({ storage: { type: "file", path: directory } });
  try {
    assert.match(second.logs(), /taking over the state directory's lock: the bridge that held it is no longer running/);
  } finally {
    await second.stop();
  }
});

test("a lock left before a reboot, naming a process id another process has now: taken over once its heartbeat stays silent, not refused as in use", { timeout: 60_000 }, async () => {
  const directory = mkdtempSync(join(tmpdir(), "mcp-bridge-lock-scope-"));
  // This very process stands for whatever got the dead bridge's pid after the reboot.
  const scope = nodePlatform.processScope.split(" ");
  assert.ok(scope.length === 3, `this test needs a boot id in the scope: ${nodePlatform.processScope}`);
  scope[2] = "00000000-0000-4000-8000-000000000000";
  writeFileSync(join(directory, "bridge.lock"), `${JSON.stringify({ pid: process.pid, scope: scope.join(" "), owner: "0".repeat(32), started_at: "2026-01-01T00:00:00.000Z" })}\n`, { mode: 0o600 });
  const bridge = await startBridge(
    { storage: { type: "file", path: directory }, server: { mcp_server: { command: process.execPath, args: [ECHO_SERVER] }, oauth_server: { enabled: true, builtin: { users: [{ username: "alice", password_hash: ALICE_HASH }] } } } },
    { startTimeoutMs: 60_000 },
  );
  try {
    assert.match(bridge.logs(), new RegExp(`taking over the state directory's lock: the bridge that held it is no longer running .*previous_pid=${process.pid}`));
  } finally {
    await bridge.stop();
  }
});
