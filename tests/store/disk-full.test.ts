/**
 * @module The file store on a full disk, for real: the built CLI with its state directory on a
 * tiny tmpfs (mounted here; skipped where this process may not mount), the disk filled to leave
 * an exact number of bytes for the journal. A refresh whose rotation cannot be journaled fails
 * (500) and must leave the client's refresh token working, not rotated away in memory only (then
 * revoked as "reused" when the client retries); a line cut short by the full disk must not
 * swallow the next change on replay (a token issued after the disk was freed, lost on restart).
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { appendFileSync, mkdtempSync, readdirSync, rmSync, statSync, truncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ECHO_SERVER, runCli, writeConfig, type RunningBridge } from "../support/bridge.ts";
import { ALICE, ALICE_HASH, fullFlow, postForm, startAsBridge } from "../oauth-server/support.ts";

const PAGE = 4096;

/** Whether this process may mount a tmpfs (root with CAP_SYS_ADMIN, as in the CI container). */
function canMount(): boolean {
  if (process.getuid?.() !== 0) return false;
  const probe = mkdtempSync(join(tmpdir(), "mcp-bridge-mount-probe-"));
  const mounted = spawnSync("mount", ["-t", "tmpfs", "-o", "size=16k", "tmpfs", probe]).status === 0;
  if (mounted) spawnSync("umount", [probe]);
  rmSync(probe, { recursive: true, force: true });
  return mounted;
}
const skip = canMount() ? false : "needs root and mount(8) to put the state directory on a tiny tmpfs";

/** A 512 KiB tmpfs for one test, unmounted after it. */
function tinyDisk(t: { after: (fn: () => void) => void }): string {
  const mountPoint = mkdtempSync(join(tmpdir(), "mcp-bridge-tiny-disk-"));
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=512k,mode=0700", "tmpfs", mountPoint]);
  t.after(() => {
    spawnSync("umount", [mountPoint]);
    rmSync(mountPoint, { recursive: true, force: true });
  });
  return mountPoint;
}

/** The journal being appended to: the highest-numbered one. */
function currentJournal(directory: string): string {
  const numbers = readdirSync(directory)
    .filter((name) => /^state\.journal\.\d+$/.test(name))
    .map((name) => Number(name.slice("state.journal.".length)));
  assert.ok(numbers.length > 0, `a journal exists in ${directory}: ${readdirSync(directory).join(", ")}`);
  return join(directory, `state.journal.${Math.max(...numbers)}`);
}

/**
 * Fills the disk, then frees `room` bytes at the end of the journal's last page: the next appends
 * get exactly `room` bytes. Blank lines do the filling (the journal skips them).
 */
function fillLeaving(mountPoint: string, journal: string, room: number): void {
  spawnSync("dd", ["if=/dev/zero", `of=${join(mountPoint, "filler")}`, `bs=${PAGE}`]);
  try {
    appendFileSync(journal, "\n".repeat(2 * PAGE));
    assert.fail("the disk is full");
  } catch (error) {
    assert.equal((error as NodeJS.ErrnoException).code, "ENOSPC");
  }
  const size = statSync(journal).size;
  assert.equal(size % PAGE, 0, "the journal's last page is full");
  truncateSync(journal, size - room);
}

function refresh(bridge: RunningBridge, clientId: string, token: string): Promise<Response> {
  return postForm(`${bridge.origin}/token`, { grant_type: "refresh_token", refresh_token: token, client_id: clientId });
}

function startOn(directory: string): Promise<RunningBridge> {
  return startAsBridge({ storage: { type: "file", path: directory } });
}

test("a refresh whose rotation cannot be journaled (disk full) fails and leaves the refresh token working: after the disk is freed and the grace is past, it still rotates, not revoked as reused", { skip, timeout: 120_000 }, async (t) => {
  const mountPoint = tinyDisk(t);
  const directory = join(mountPoint, "state");
  const bridge = await startOn(directory);
  t.after(() => bridge.stop());
  const { clientId, tokens } = await fullFlow(bridge);
  const journal = currentJournal(directory);
  // No room for the family's rotation (a refresh writes that one line).
  fillLeaving(mountPoint, journal, 0);

  const failed = await refresh(bridge, clientId, tokens.refresh_token!);
  const failedBody = await failed.text();
  assert.equal(failed.status, 500, failedBody);
  assert.doesNotMatch(failedBody, /refresh_token/, "no token is handed out");

  rmSync(join(mountPoint, "filler"));
  // Past the grace within which a rotated-away token still rotates (REFRESH_GRACE_MS, 10 s).
  await new Promise((resolve) => setTimeout(resolve, 11_000));
  const retried = await refresh(bridge, clientId, tokens.refresh_token!);
  const body = (await retried.json()) as Record<string, string>;
  assert.equal(retried.status, 200, `the client's token still works: ${JSON.stringify(body)}\n${bridge.logs()}`);
  assert.ok(body.refresh_token);
  assert.doesNotMatch(bridge.logs(), /refresh_reuse|grant_revoked/);
});

test("a journal line cut short by a full disk does not swallow the next change: a token issued once the disk is freed survives a restart", { skip, timeout: 120_000 }, async (t) => {
  const mountPoint = tinyDisk(t);
  const directory = join(mountPoint, "state");
  let bridge = await startOn(directory);
  t.after(() => bridge.stop());
  const { clientId, tokens } = await fullFlow(bridge);
  const journal = currentJournal(directory);
  // Room for the first 20 bytes of the family's rotation.
  fillLeaving(mountPoint, journal, 20);

  assert.equal((await refresh(bridge, clientId, tokens.refresh_token!)).status, 500);
  rmSync(join(mountPoint, "filler"));
  const retried = await refresh(bridge, clientId, tokens.refresh_token!);
  const issued = (await retried.json()) as Record<string, string>;
  assert.equal(retried.status, 200, JSON.stringify(issued));

  assert.equal(await bridge.stop(), 0);
  bridge = await startOn(directory);
  const after = await refresh(bridge, clientId, issued.refresh_token!);
  const body = await after.text();
  assert.equal(after.status, 200, `the token issued before the restart still works: ${body}`);
});

test("a signing key that cannot be written at the first start (disk full) leaves nothing behind: once there is room the bridge starts, not refused over an empty key file", { skip, timeout: 120_000 }, async (t) => {
  const mountPoint = tinyDisk(t);
  const directory = join(mountPoint, "state");
  const config = writeConfig({
    mode: "server",
    storage: { type: "file", path: directory },
    server: { listen: "127.0.0.1:0", mcp_server: { command: process.execPath, args: [ECHO_SERVER] }, oauth_server: { enabled: true, builtin: { users: [{ username: ALICE.username, password_hash: ALICE_HASH }] } } },
  });
  // Three pages left: the lock, its heartbeat and the snapshot fit, the key does not.
  spawnSync("dd", ["if=/dev/zero", `of=${join(mountPoint, "filler")}`, `bs=${PAGE}`]);
  truncateSync(join(mountPoint, "filler"), statSync(join(mountPoint, "filler")).size - 3 * PAGE);
  const full = await runCli(["run", "-c", config], { env: { HOME: process.env.HOME ?? "/tmp" } });
  assert.equal(full.code, 2, full.stderr);
  assert.match(full.stderr, /storage\.path: cannot write the signing key ".*signing-key-RS256\.pem" \(ENOSPC\)/);

  rmSync(join(mountPoint, "filler"));
  const bridge = await startOn(directory);
  t.after(() => bridge.stop());
  const jwks = (await (await fetch(`${bridge.origin}/oauth/jwks`)).json()) as { keys: unknown[] };
  assert.equal(jwks.keys.length, 1);
  assert.match(bridge.logs(), /generated a token signing key/);
});
