/**
 * @module What the bridge accepts as its state directory, through the built CLI: one that other
 * users may write to (a shared /tmp-like directory, sticky or not) lets them plant the signing key
 * and the journal the bridge replays, so it is refused at start and by check-config (exit 2,
 * naming storage.path and the fix); one that others may only read is accepted.
 */
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { calculateJwkThumbprint, exportJWK, exportPKCS8, generateKeyPair } from "jose";
import { ECHO_SERVER, runCli, writeConfig } from "../support/bridge.ts";
import { ALICE_HASH, startAsBridge } from "../oauth-server/support.ts";

function configFor(directory: string): string {
  return writeConfig({
    mode: "server",
    storage: { type: "file", path: directory },
    server: { listen: "127.0.0.1:0", mcp_server: { command: process.execPath, args: [ECHO_SERVER] }, oauth_server: { enabled: true, builtin: { users: [{ username: "alice", password_hash: ALICE_HASH }] } } },
  });
}

for (const mode of [0o777, 0o1777, 0o770]) {
  test(`a state directory others may write to (mode ${mode.toString(8)}) is refused: run and check-config exit 2 naming storage.path and the fix; nothing planted there is used`, { timeout: 60_000 }, async () => {
    const directory = mkdtempSync(join(tmpdir(), "mcp-bridge-shared-state-"));
    chmodSync(directory, mode);
    // Another user's key, planted where the bridge keeps its own: it would sign every token with it.
    const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
    writeFileSync(join(directory, "signing-key-RS256.pem"), await exportPKCS8(privateKey), { mode: 0o600 });
    const planted = await calculateJwkThumbprint(await exportJWK(publicKey), "sha256");
    const config = configFor(directory);
    for (const command of ["check-config", "run"]) {
      const result = await runCli([command, "-c", config], { env: { HOME: process.env.HOME ?? "/tmp" } });
      assert.equal(result.code, 2, `${command}: ${result.stderr}`);
      assert.match(result.stderr, /storage\.path: the state directory ".*" can be written by other users \(mode \d+\)/, command);
      assert.match(result.stderr, /chmod go-w/, command);
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
