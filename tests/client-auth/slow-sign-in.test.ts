/**
 * @module A person slower to sign in than client.timeout: the sign-in the server's 401 starts on
 * the first request (the era probe) is waited for as long as authorization_timeout allows, not cut
 * at client.timeout, and the local client connects.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { CLI, writeConfig, type RunningBridge } from "../support/bridge.ts";
import { useOAuthBridge } from "../auth-oauth/support.ts";
import { testBrowser } from "./support.ts";

const FETCH_BROWSER = await testBrowser.fetch();

describe("a sign-in longer than client.timeout", () => {
  let bridge: RunningBridge;
  const home = mkdtempSync(join(tmpdir(), "mcp-bridge-slow-sign-in-"));
  useOAuthBridge({ accounts: { alice: {} } }, (started) => ({ bridge } = started));

  test("is waited for: the first initialize succeeds and tools are listed", { timeout: 60_000 }, async () => {
    // The "browser" takes twice client.timeout before it signs in.
    const auth = { type: "oauth", oauth: { browser_command: ["/bin/sh", "-c", `sleep 4; exec "${process.execPath}" "${FETCH_BROWSER}" "$0"`] } };
    const config = writeConfig({ mode: "client", client: { url: bridge.url, timeout: "2s", auth } });
    const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, "-c", config], env: { PATH: process.env.PATH ?? "", HOME: home, XDG_STATE_HOME: join(home, "state") }, stderr: "pipe" });
    let stderr = "";
    transport.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    const client = new Client({ name: "slow-sign-in", version: "1" });
    try {
      await client.connect(transport);
      const { tools } = await client.listTools();
      assert.ok(tools.length > 0, stderr);
    } finally {
      await client.close();
    }
  });
});
