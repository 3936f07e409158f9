/** @module Shared pieces of the release tests: the host executable (built once per bundle), process runners, a bridge starter. */
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
// @ts-expect-error: a plain .mjs build script without type declarations.
import { buildCachedExecutable, executableName, hostTarget } from "../../scripts/release.mjs";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const BUNDLE = join(ROOT, "dist", "mcp-bridge.cjs");
export const DENO = join(ROOT, "node_modules", ".bin", "deno");
export const ECHO_SERVER = join(ROOT, "examples", "echo-server.mjs");

/**
 * dist/mcp-bridge for this machine (or dist/mcp-bridge-TARGET for another), rebuilt only when the
 * bundle changed (see scripts/release.mjs).
 */
export async function ensureExecutable(target: string = hostTarget()): Promise<string> {
  if (!existsSync(BUNDLE)) execFileSync(process.execPath, ["build.mjs"], { cwd: ROOT, stdio: "inherit" });
  const name = target === hostTarget() ? executableName(target) : `mcp-bridge-${target}`;
  const { output } = (await buildCachedExecutable({ target, bundle: BUNDLE, output: join(ROOT, "dist", name) })) as { output: string };
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

export interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a process to completion with exactly `env` (nothing inherited). */
export function run(command: string, args: string[], options: { env?: Record<string, string>; cwd?: string; input?: string } = {}): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd ?? ROOT, env: options.env ?? {} });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("error", reject);
    // A command that exits without reading stdin (bash -n, --version) must not fail the test with EPIPE.
    child.stdin.on("error", () => {});
    child.stdin.end(options.input ?? "");
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

export function tempDir(prefix = "mcp-bridge-release-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface StartedBridge {
  url: string;
  logs(): string;
  stop(): Promise<number | null>;
}

/**
 * Starts `command …args -c CONFIG` in server mode with bearer auth in front of the echo server, and
 * waits for its "listening" line.
 */
export async function startBearerBridge(command: string, args: string[], token: string, env: Record<string, string> = {}): Promise<StartedBridge> {
  const dir = tempDir();
  const config = join(dir, "config.yaml");
  writeFileSync(
    config,
    stringify({
      mode: "server",
      server: {
        listen: "127.0.0.1:0",
        mcp_server: { command: process.execPath, args: [ECHO_SERVER] },
        auth: { type: "bearer", bearer: { valid_tokens: [token] } },
      },
    }),
  );
  const child = spawn(command, [...args, "-c", config], { cwd: dir, env, stdio: ["ignore", "pipe", "pipe"] });
  let logs = "";
  child.stdout.on("data", (chunk) => (logs += chunk));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the bridge did not start in time:\n${logs}`)), 20_000);
    child.stderr.on("data", (chunk) => {
      logs += chunk;
      const match = /listening url=(\S+)/.exec(logs);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the bridge exited with ${code} before listening:\n${logs}`));
    });
  });
  return {
    url,
    logs: () => logs,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
        child.once("exit", (code) => resolve(code));
        child.kill("SIGTERM");
      }),
  };
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
