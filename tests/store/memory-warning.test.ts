/**
 * @module storage.type: memory loses the authorization server's state at every restart; the
 * bridge says so when it starts (the built CLI's log), and says nothing of the kind with the file
 * store. A signing key from key_file keeps access tokens valid across restarts, which makes the
 * loss of refresh tokens and registrations easy to miss without it.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { exportPKCS8, generateKeyPair } from "jose";
import { startAsBridge, tempDir } from "../oauth-server/support.ts";

const LOST = /WARN\s+storage\.type is memory: registered clients, refresh tokens and sign-in sessions are lost when the bridge restarts/;

test("memory storage with a kept signing key: the start-up log warns that clients, refresh tokens and sessions are lost on restart", async () => {
  const keyFile = join(tempDir(), "key.pem");
  writeFileSync(keyFile, await exportPKCS8((await generateKeyPair("ES256", { extractable: true })).privateKey), { mode: 0o600 });
  const bridge = await startAsBridge({ storage: { type: "memory" }, oauthServer: { signing: { algorithm: "ES256", key_file: keyFile } } });
  try {
    assert.match(bridge.logs(), LOST);
  } finally {
    await bridge.stop();
  }
});

test("file storage: no such warning", async () => {
  const bridge = await startAsBridge();
  try {
    assert.doesNotMatch(bridge.logs(), /storage\.type is memory/);
  } finally {
    await bridge.stop();
  }
});
