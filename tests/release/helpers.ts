/** @module Shared pieces of the release tests: the host executable (built once per bundle), a bearer bridge started by any launcher, its smoke test. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
// @ts-expect-error: a plain .mjs build script without type declarations.
import { buildCachedExecutable, executableName, hostTarget } from "../../scripts/release.mjs";
import { CLI, ECHO_SERVER, ROOT, startBridge, type RunningBridge } from "../support/bridge.ts";

export { CLI, ROOT, run } from "../support/bridge.ts";
export const DENO = join(ROOT, "node_modules", ".bin", "deno");

/**
 * dist/mcp-bridge for this machine (or dist/mcp-bridge-TARGET for another), rebuilt only when the
 * bundle changed (see scripts/release.mjs).
 */
export async function ensureExecutable(target: string = hostTarget()): Promise<string> {
  if (!existsSync(CLI)) execFileSync(process.execPath, ["build.mjs"], { cwd: ROOT, stdio: "inherit" });
  const name = target === hostTarget() ? executableName(target) : `mcp-bridge-${target}`;
  const { output } = (await buildCachedExecutable({ target, bundle: CLI, output: join(ROOT, "dist", name) })) as { output: string };
  return output;
}

export function hasCommand(name: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${name}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

export function tempDir(prefix = "mcp-bridge-release-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** `command …args -c CONFIG` in server mode with bearer auth in front of the echo server, run from an empty directory. */
export function startBearerBridge(command: string, args: string[], token: string, env: Record<string, string> = {}): Promise<RunningBridge> {
  const config = { server: { mcp_server: { command: process.execPath, args: [ECHO_SERVER] }, auth: { type: "bearer", bearer: { valid_tokens: [token] } } } };
  return startBridge(config, { launcher: { command, args, env, cwd: tempDir() } });
}

/**
 * The server-mode smoke test: unauthenticated requests get 401 with a challenge; with the token the
 * SDK client initializes, lists the echo server's tools and calls one.
 */
export async function assertBearerBridgeWorks(url: string, token: string): Promise<void> {
  const { Client } = await import("@modelcontextprotocol/sdk/client/index.js");
  const { StreamableHTTPClientTransport } = await import("@modelcontextprotocol/sdk/client/streamableHttp.js");
  const initialize = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "smoke", version: "1" } } };
  const anonymous = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
    body: JSON.stringify(initialize),
  });
  assert.equal(anonymous.status, 401);
  assert.match(anonymous.headers.get("www-authenticate") ?? "", /^Bearer/);
  await anonymous.body?.cancel();

  const client = new Client({ name: "release-smoke", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  try {
    const { tools } = await client.listTools();
    assert.ok(tools.some((tool) => tool.name === "echo"));
    const result = await client.callTool({ name: "echo", arguments: { text: "through the bridge" } });
    assert.deepEqual(result.content, [{ type: "text", text: "through the bridge" }]);
  } finally {
    await client.close();
  }
}
