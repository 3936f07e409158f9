/**
 * @module `connect --scope` as its --help and docs/client-auth.md say: "Scope to ask for; default:
 * the server's challenge". Against the bridge's own authorization server, whose 401 names every
 * scope it supports, `--scope mcp:read` asks for mcp:read (and offline_access for a refresh token),
 * not for everything the challenge lists.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { CLI } from "../support/bridge.ts";
import { useAsBridge } from "../oauth-server/support.ts";

const INITIALIZE = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "newcomer", version: "1" } } });
const bridge = useAsBridge();

/** The authorization URL `connect URL ...flags --browser-command none` prints; the process is then ended. */
function signInUrl(flags: string[]): Promise<URL> {
  const state = mkdtempSync(join(tmpdir(), "mcp-bridge-newcomer-"));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, "connect", bridge.url, ...flags, "--browser-command", "none"], { env: { PATH: process.env.PATH ?? "", HOME: state, XDG_STATE_HOME: state } });
    let stderr = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`no sign-in URL:\n${stderr}`));
    }, 60_000);
    child.stdout.resume();
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
      const match = /^ {2}(http\S+\/authorize\?\S+)$/m.exec(stderr);
      if (!match) return;
      clearTimeout(timer);
      child.stdin.end();
      resolve(new URL(match[1]!));
    });
    child.stdin.write(`${INITIALIZE}\n`);
  });
}

test("connect: without --scope, the challenge's scopes; with --scope mcp:read, only that", { timeout: 120_000 }, async () => {
  const challenge = await fetch(bridge.url, { method: "POST", headers: { "content-type": "application/json" }, body: INITIALIZE });
  assert.match(challenge.headers.get("www-authenticate") ?? "", /scope="mcp:read mcp:write"/);
  const asked = (url: URL) => url.searchParams.get("scope")!.split(" ").sort();
  assert.deepEqual(asked(await signInUrl([])), ["mcp:read", "mcp:write", "offline_access"]);
  assert.deepEqual(asked(await signInUrl(["--scope", "mcp:read"])), ["mcp:read", "offline_access"]);
});

test("connect: when signing in fails, the local client's error says why, not only 'HTTP 401'", { timeout: 120_000 }, async () => {
  const { connectLocalClient } = await import("../client/support.ts");
  const state = mkdtempSync(join(tmpdir(), "mcp-bridge-newcomer-"));
  // The bridge's authorization server allows loopback redirect URIs with the path /callback only.
  const local = await connectLocalClient(["connect", bridge.url, "--browser-command", "none", "--callback", "http://127.0.0.1:9/cb"], { env: { HOME: state, XDG_STATE_HOME: state }, connect: false });
  try {
    const failure = await local.client.connect(local.transport).then(
      () => assert.fail("connected without a token"),
      (error: Error) => error.message,
    );
    assert.match(failure, /answered HTTP 401, and signing in failed: dynamic client registration refused \(HTTP 400, invalid_redirect_uri: .*allowed_redirect_uris\)/);
  } finally {
    await local.close();
  }
});
