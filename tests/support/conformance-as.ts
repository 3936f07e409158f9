/**
 * @module Test support: the official conformance suite's authorization-server mode
 * (`@modelcontextprotocol/conformance@0.2.0-alpha.12 authorization --url ISSUER`, installed as
 * `conformance-next`), with its interactive step — "Access the following URL in your browser" —
 * done by the test.
 */
import { spawn } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { ROOT } from "./bridge.ts";
import { pinnedNode } from "./pinned-node.ts";

const SUITE_DIR = join(ROOT, "node_modules", "conformance-next");

/** One entry of a scenario's checks.json. */
export interface ConformanceCheck {
  id: string;
  name: string;
  status: "SUCCESS" | "FAILURE" | "WARNING" | "INFO" | "SKIPPED";
  errorMessage?: string;
  details?: unknown;
}

export interface AuthorizationSuiteRun {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  /** scenario → its checks (from `-o DIR`). */
  checks: Map<string, ConformanceCheck[]>;
}

/** A port free right now on 127.0.0.1, for the suite's callback server (it takes a number, not 0). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * Runs every authorization-server scenario against `issuer`. The suite's callback server listens
 * on `http://127.0.0.1:<port>/callback` (register that redirect URI for `clientId`); when the suite
 * prints the authorization URL, `authorize(url)` must take it to that callback (a browser signing
 * in). Resolves when the suite exits or after `timeoutMs`.
 */
export async function runAuthorizationSuite(options: {
  issuer: string;
  clientId: string;
  resource?: string;
  port: number;
  outputDir: string;
  authorize: (url: URL) => Promise<void>;
  timeoutMs?: number;
}): Promise<AuthorizationSuiteRun> {
  const node = await pinnedNode();
  const args = [join(SUITE_DIR, "dist", "index.js"), "authorization", "--url", options.issuer, "--client-id", options.clientId, "--port", String(options.port), "-o", options.outputDir];
  if (options.resource) args.push("--resource", options.resource);
  const child = spawn(node, args, { cwd: ROOT, env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  let authorizing: Promise<void> | undefined;
  const timeoutMs = options.timeoutMs ?? 120_000;
  const exited = new Promise<number | null>((resolve, reject) => {
    const timer = setTimeout(() => {
      stderr += `\n[killed after ${timeoutMs} ms]`;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString("utf8");
    // The URL is the line after this prompt, printed once the callback server listens.
    const prompt = /Access the following URL in your browser[^\n]*\n(\S+)\n/.exec(stdout);
    if (prompt && !authorizing) {
      authorizing = options.authorize(new URL(prompt[1]!)).catch((error: unknown) => {
        stderr += `\n[the test's sign-in failed: ${(error as Error).message}]`;
        child.kill("SIGTERM");
      });
    }
  });
  const exitCode = await exited;
  await authorizing;
  return { exitCode, stdout, stderr, checks: await readChecks(options.outputDir) };
}

/** With `-o DIR`, each scenario writes `DIR/authorization-server-<scenario>-<time>/checks.json`. */
async function readChecks(outputDir: string): Promise<Map<string, ConformanceCheck[]>> {
  const checks = new Map<string, ConformanceCheck[]>();
  for (const entry of await readdir(outputDir).catch(() => [] as string[])) {
    const scenario = /^authorization-server-(.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$/.exec(entry)?.[1];
    if (!scenario) continue;
    // A scenario cut short (the suite killed) leaves its directory without checks.json.
    const text = await readFile(join(outputDir, entry, "checks.json"), "utf8").catch(() => undefined);
    if (text !== undefined) checks.set(scenario, JSON.parse(text) as ConformanceCheck[]);
  }
  return checks;
}
