/** @module Spawns the built CLI (dist/mcp-bridge.cjs) with a config, the way a user runs it, for end-to-end tests. */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { waitFor } from "./poll.ts";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const CLI = join(ROOT, "dist", "mcp-bridge.cjs");
export const ECHO_SERVER = join(ROOT, "examples", "echo-server.mjs");

export interface RunningBridge {
  /** The MCP endpoint, e.g. http://127.0.0.1:41234/mcp */
  url: string;
  origin: string;
  process: ChildProcess;
  /** Everything the bridge wrote to stderr so far. */
  logs(): string;
  /** SIGTERM, then wait for exit; returns the exit code. */
  stop(): Promise<number | null>;
}

function requireBuiltCli(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "node build.mjs" (npm test does)`);
}

export function writeConfig(config: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), "mcp-bridge-test-"));
  const path = join(dir, "config.yaml");
  writeFileSync(path, typeof config === "string" ? config : stringify(config));
  return path;
}

/** `server.tls` with a fresh self-signed certificate for 127.0.0.1 (its key beside it), made with openssl. */
export function selfSignedTls(): { enabled: true; cert_file: string; key_file: string } {
  const dir = mkdtempSync(join(tmpdir(), "mcp-bridge-tls-"));
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "server.key", "-out", "server.pem", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], { cwd: dir, stdio: "pipe" });
  return { enabled: true, cert_file: join(dir, "server.pem"), key_file: join(dir, "server.key") };
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

/** Runs the built CLI to completion (for commands that exit), with PATH and `env`. */
export function runCli(args: string[], options: { env?: Record<string, string>; cwd?: string; input?: string } = {}): Promise<Finished> {
  requireBuiltCli();
  return run(process.execPath, [CLI, ...args], { ...options, env: { PATH: process.env.PATH ?? "", ...options.env } });
}

/** Another way to run the bridge than `node dist/mcp-bridge.cjs`: a release executable, `deno run`. */
export interface Launcher {
  command: string;
  args: string[];
  /** The whole environment (nothing inherited). */
  env: Record<string, string>;
  cwd?: string;
}

/** Starts the bridge on 127.0.0.1 with a free port and waits until it listens. */
export async function startBridge(config: Record<string, unknown>, options: { env?: Record<string, string>; args?: string[]; logFile?: string; launcher?: Launcher; startTimeoutMs?: number } = {}): Promise<RunningBridge> {
  const server = (config.server ?? {}) as Record<string, unknown>;
  const full = { mode: "server", ...config, server: { listen: "127.0.0.1:0", ...server } };
  const path = writeConfig(full);
  if (!options.launcher) requireBuiltCli();
  const launcher = options.launcher ?? {
    command: process.execPath,
    args: [CLI],
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...options.env },
  };
  const child = spawn(launcher.command, [...launcher.args, "-c", path, ...(options.args ?? [])], { cwd: launcher.cwd, env: launcher.env, stdio: ["ignore", "pipe", "pipe"] });
  let logs = "";
  child.stdout!.on("data", (chunk) => (logs += chunk));
  const url = await new Promise<string>((resolve, reject) => {
    // Generous: a release executable or `deno run` on a loaded machine starts slower than the bundle.
    const timer = setTimeout(() => reject(new Error(`bridge did not start in time:\n${logs}`)), options.startTimeoutMs ?? 20_000);
    const check = (text: string) => {
      const match = /listening url=(\S+)|"msg":"listening","url":"([^"]+)"/.exec(text);
      if (!match) return false;
      clearTimeout(timer);
      resolve((match[1] ?? match[2])!);
      return true;
    };
    child.stderr!.on("data", (chunk) => {
      logs += chunk;
      check(logs);
    });
    if (options.logFile) {
      const logFile = options.logFile;
      const poll = setInterval(() => {
        if (child.exitCode !== null || (existsSync(logFile) && check(readFileSync(logFile, "utf8")))) clearInterval(poll);
      }, 50);
    }
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`bridge exited with ${code} before listening:\n${logs}`));
    });
  });
  return {
    url,
    origin: new URL(url).origin,
    process: child,
    logs: () => logs,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(child.exitCode);
        child.once("exit", (code) => resolve(code));
        child.kill("SIGTERM");
      }),
  };
}

/**
 * Starts a bridge with `start` before the enclosing describe's tests and stops it after them. The
 * object returned is filled in by then, so tests use it as the running bridge.
 */
export function useBridge(start: () => Promise<RunningBridge>): RunningBridge {
  const bridge = {} as RunningBridge;
  before(async () => {
    Object.assign(bridge, await start());
  });
  after(async () => {
    await bridge.stop?.();
  });
  return bridge;
}

/** Resolves once the bridge's log matches `pattern`; fails, showing the log's tail, after `timeoutMs`. */
export async function waitForLog(bridge: RunningBridge, pattern: RegExp, timeoutMs = 15_000): Promise<void> {
  await waitFor(() => pattern.test(bridge.logs()), () => `${pattern} in the log:\n${bridge.logs().slice(-3000)}`, timeoutMs);
}
