/**
 * @module What the bridge accepts as its state directory, through the built CLI: one that other
 * users may write to (a shared /tmp-like directory, sticky or not) lets them plant the signing key
 * and the journal the bridge replays, so it is refused at start and by check-config (exit 2,
 * naming storage.path and the fix); one that others may only read is accepted, and one that only
 * its group may write to is accepted with storage.allow_group_write (a Kubernetes fsGroup volume).
 * Storage settings nothing would read are refused.
 */
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { calculateJwkThumbprint, exportJWK, exportPKCS8, generateKeyPair } from "jose";
import { ECHO_SERVER, runCli, writeConfig } from "../support/bridge.ts";
import { ALICE_HASH, startAsBridge } from "../oauth-server/support.ts";

function configFor(directory: string, storage: Record<string, unknown> = {}): string {
  return writeConfig({
    mode: "server",
    storage: { type: "file", path: directory, ...storage },
    server: { listen: "127.0.0.1:0", mcp_server: { command: process.execPath, args: [ECHO_SERVER] }, oauth_server: { enabled: true, builtin: { users: [{ username: "alice", password_hash: ALICE_HASH }] } } },
  });
}

for (const [mode, allowGroupWrite] of [[0o777, false], [0o1777, false], [0o770, false], [0o2777, true]] as const) {
  test(`a state directory others may write to (mode ${mode.toString(8)}${allowGroupWrite ? ", allow_group_write" : ""}) is refused: run and check-config exit 2 naming storage.path and the fix; nothing planted there is used`, { timeout: 60_000 }, async () => {
    const directory = mkdtempSync(join(tmpdir(), "mcp-bridge-shared-state-"));
    chmodSync(directory, mode);
    // Another user's key, planted where the bridge keeps its own: it would sign every token with it.
    const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
    writeFileSync(join(directory, "signing-key-RS256.pem"), await exportPKCS8(privateKey), { mode: 0o600 });
    const planted = await calculateJwkThumbprint(await exportJWK(publicKey), "sha256");
    const config = configFor(directory, allowGroupWrite ? { allow_group_write: true } : {});
    const groupOnly = (mode & 0o002) === 0;
    for (const command of ["check-config", "run"]) {
      const result = await runCli([command, "-c", config], { env: { HOME: process.env.HOME ?? "/tmp" } });
      assert.equal(result.code, 2, `${command}: ${result.stderr}`);
      assert.match(result.stderr, /storage\.path: the state directory ".*" can be written by other users \(mode \d+\)/, command);
      assert.match(result.stderr, groupOnly ? /chmod g-w .*set storage\.allow_group_write: true/ : /chmod go-w/, command);
      if (!groupOnly) assert.doesNotMatch(result.stderr, /allow_group_write/, command);
      assert.doesNotMatch(result.stderr + result.stdout, new RegExp(planted), command);
    }
  });
}

test("a state directory others may only read (mode 755) is accepted, and the bridge's files in it are private", { timeout: 60_000 }, async () => {
  const directory = mkdtempSync(join(tmpdir(), "mcp-bridge-readable-state-"));
  chmodSync(directory, 0o755);
  assert.equal((await runCli(["check-config", "-c", configFor(directory)], { env: { HOME: process.env.HOME ?? "/tmp" } })).code, 0);
  const bridge = await startAsBridge({ storage: { type: "file", path: directory } });
  try {
    const jwks = (await (await fetch(`${bridge.origin}/oauth/jwks`)).json()) as { keys: unknown[] };
    assert.equal(jwks.keys.length, 1);
  } finally {
    assert.equal(await bridge.stop(), 0);
  }
  const files = readdirSync(directory);
  assert.ok(files.includes("state.json") && files.includes("signing-key-RS256.pem"), files.join(", "));
  for (const name of files) assert.equal(statSync(join(directory, name)).mode & 0o077, 0, `${name} is private`);
});

test("with storage.allow_group_write a state directory its group may write to (a Kubernetes fsGroup volume, mode 2770) is accepted, and the bridge's files in it stay private", { timeout: 60_000 }, async () => {
  const directory = mkdtempSync(join(tmpdir(), "mcp-bridge-fsgroup-state-"));
  chmodSync(directory, 0o2770);
  assert.equal((await runCli(["check-config", "-c", configFor(directory, { allow_group_write: true })], { env: { HOME: process.env.HOME ?? "/tmp" } })).code, 0);
  const bridge = await startAsBridge({ storage: { type: "file", path: directory, allow_group_write: true } });
  try {
    assert.equal((await fetch(`${bridge.origin}/oauth/jwks`)).status, 200);
  } finally {
    assert.equal(await bridge.stop(), 0);
  }
  for (const name of readdirSync(directory)) assert.equal(statSync(join(directory, name)).mode & 0o077, 0, `${name} is private`);
});

test("storage settings nothing reads are refused naming the key: without an authorization server, in client mode, and a path or allow_group_write with type memory", { timeout: 60_000 }, async () => {
  const stdio = { command: process.execPath, args: [ECHO_SERVER] };
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ mode: "server", storage: { type: "file", path: "/tmp/x" }, server: { listen: "127.0.0.1:0", mcp_server: stdio } }, /storage: is set \(path\) but only the authorization server \(server\.oauth_server\) keeps state, and this file configures none: remove it/],
    [{ mode: "client", storage: { max_entries: 10 }, client: { url: "http://127.0.0.1:1/mcp" } }, /storage: is set \(max_entries\) but only the authorization server .* client mode runs none/],
    // An empty section runs no authorization server either (it does not say enabled).
    [{ mode: "server", storage: { path: "/tmp/x" }, server: { listen: "127.0.0.1:0", mcp_server: stdio, oauth_server: {} } }, /storage: is set \(path\) but .*server\.oauth_server does not say enabled: set server\.oauth_server\.enabled, or remove storage/],
    [{ mode: "server", storage: { type: "memory", path: "/tmp/x" }, server: { listen: "127.0.0.1:0", mcp_server: stdio, oauth_server: { enabled: true, builtin: { users: [{ username: "alice", password_hash: ALICE_HASH }] } } } }, /storage\.path: is set but storage\.type is memory/],
    [{ mode: "server", storage: { type: "memory", allow_group_write: true }, server: { listen: "127.0.0.1:0", mcp_server: stdio, oauth_server: { enabled: true, builtin: { users: [{ username: "alice", password_hash: ALICE_HASH }] } } } }, /storage\.allow_group_write: is set but storage\.type is memory/],
  ];
  for (const [config, expected] of cases) {
    const result = await runCli(["check-config", "-c", writeConfig(config)]);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, expected);
  }
  // enabled: false keeps the section, and its storage, unused.
  const kept = await runCli(["check-config", "-c", writeConfig({ mode: "server", storage: { path: "/tmp/x" }, server: { listen: "127.0.0.1:0", mcp_server: stdio, oauth_server: { enabled: false } } })]);
  assert.equal(kept.code, 0, kept.stderr);
});
