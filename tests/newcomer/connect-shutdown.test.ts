/**
 * @module `mcp-bridge connect` against the bridge's own authorization server, as a newcomer tries it:
 * a sign-in left unfinished (the MCP client quits before the person signs in) must not leave the
 * login lock behind, or the next start waits minutes for it "to finish signing in".
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { CLI } from "../support/bridge.ts";
import { useAsBridge } from "../oauth-server/support.ts";

const INITIALIZE = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "newcomer", version: "1" } } });

/** Runs `connect URL --browser-command none`, closes stdin once the sign-in URL is printed, and waits for the exit. */
function abandonSignIn(url: string, state: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, "connect", url, "--browser-command", "none"], { env: { PATH: process.env.PATH ?? "", HOME: state, XDG_STATE_HOME: state } });
    let stderr = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`connect did not exit:\n${stderr}`));
    }, 60_000);
    child.stdout.resume();
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
      if (stderr.includes("sign-in required") && !child.stdin.writableEnded) child.stdin.end();
    });
    child.stdin.write(`${INITIALIZE}\n`);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

const bridge = useAsBridge();

test("connect: quitting during the sign-in removes the login lock, so the next start signs in at once", { timeout: 180_000 }, async () => {
  const state = mkdtempSync(join(tmpdir(), "mcp-bridge-newcomer-"));
  const first = await abandonSignIn(bridge.url, state);
  assert.equal(first.code, 0, first.stderr);
  const dir = join(state, "mcp-bridge");
  const locks = existsSync(dir) ? readdirSync(dir).filter((name) => name.includes(".lock")) : [];
  assert.deepEqual(locks, [], `no login lock left behind:\n${first.stderr}`);
  assert.doesNotMatch(first.stderr, /ERROR|WARN/, "quitting is no failure");
  const second = await abandonSignIn(bridge.url, state);
  assert.doesNotMatch(second.stderr, /another mcp-bridge is signing in/);
  assert.match(second.stderr, /sign-in required/);
});
