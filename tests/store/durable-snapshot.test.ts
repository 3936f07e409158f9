/**
 * @module The file store's snapshot survives a power cut: the new `state.json` is synced to disk
 * before it replaces the old one, and the directory is synced after the rename, before the
 * journals it covers are removed. A power cut cannot be made here; the system calls that make it
 * safe can be watched (strace), in the order they must come.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { CLI, ECHO_SERVER, startBridge } from "../support/bridge.ts";
import { ALICE, ALICE_HASH } from "../oauth-server/support.ts";

/** Why strace cannot watch a process here (a container without ptrace), or undefined when it can. */
function straceUnusable(): string | undefined {
  const probe = spawnSync("strace", ["-qq", "-e", "trace=none", "true"]);
  return probe.status === 0 ? undefined : `strace cannot trace here: ${probe.error?.message ?? probe.stderr.toString().trim()}`;
}

test("a snapshot is fsynced before its rename over state.json, and the directory after it, before the covered journal is removed", { timeout: 60_000, skip: straceUnusable() }, async () => {
  const directory = mkdtempSync(join(tmpdir(), "mcp-bridge-durable-"));
  const trace = join(directory, "..", `${directory.split("/").pop()}.strace`);
  const config = {
    storage: { type: "file", path: directory },
    server: {
      mcp_server: { command: process.execPath, args: [ECHO_SERVER] },
      oauth_server: { enabled: true, builtin: { users: [{ username: ALICE.username, password_hash: ALICE_HASH, scopes: ALICE.scopes }] } },
    },
  };
  // Opening the store writes a fresh snapshot and removes the journal it covers.
  const launcher = { command: "strace", args: ["-f", "-qq", "-e", "trace=openat,fsync,fdatasync,rename,renameat,renameat2,unlink,unlinkat", "-o", trace, process.execPath, CLI], env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp" } };
  const bridge = await startBridge(config, { launcher });
  // Stopped as a service manager would: SIGTERM to the bridge itself (strace, signalled, would only let go of it).
  const exited = new Promise((resolve) => bridge.process.once("exit", resolve));
  process.kill(Number(/^(\d+)/.exec(readFileSync(trace, "utf8"))![1]), "SIGTERM");
  await exited;

  const lines = readFileSync(trace, "utf8").split("\n");
  const index = (pattern: RegExp, from = 0) => lines.findIndex((line, i) => i >= from && pattern.test(line));
  const escaped = directory.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const opened = index(new RegExp(`openat\\(.*"${escaped}/state\\.json\\.[^"]+\\.tmp".*= (\\d+)$`));
  assert.ok(opened >= 0, `the snapshot's temporary file is opened:\n${lines.filter((line) => line.includes(directory)).join("\n")}`);
  const fd = /= (\d+)$/.exec(lines[opened]!)![1];
  const synced = index(new RegExp(`f(data)?sync\\(${fd}\\)`), opened);
  const renamed = index(new RegExp(`rename(at2?)?\\(.*state\\.json\\.[^"]+\\.tmp".*"${escaped}/state\\.json"`), opened);
  assert.ok(synced > opened && renamed > synced, `fsync of the temporary file (line ${synced}) before the rename (line ${renamed})`);
  const directoryOpened = index(new RegExp(`openat\\(.*"${escaped}", O_RDONLY.*= (\\d+)$`), renamed);
  assert.ok(directoryOpened > renamed, "the directory is opened after the rename");
  const directoryFd = /= (\d+)$/.exec(lines[directoryOpened]!)![1];
  const directorySynced = index(new RegExp(`fsync\\(${directoryFd}\\)`), directoryOpened);
  const journalRemoved = index(new RegExp(`unlink(at)?\\(.*"${escaped}/state\\.journal\\.`), renamed);
  assert.ok(directorySynced > directoryOpened, "and synced");
  assert.ok(journalRemoved === -1 || journalRemoved > directorySynced, `the covered journal is removed only after (line ${journalRemoved} vs ${directorySynced})`);
});
