/**
 * @module End-to-end: the official MCP conformance suites (server scenarios) against the built
 * bridge: 0.1.16 (legacy era) and 0.2.0-alpha.12 (`conformance-next`, both eras) fronting the legacy
 * everything fixture (SDK v1) and the modern fixture (SDK v2).
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";
import { buildFixtures, bundle } from "../support/fixtures.ts";
import { pinnedNode } from "../support/pinned-node.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BRIDGE = join(ROOT, "dist", "mcp-bridge.cjs");
const CONFORMANCE_DIR = join(ROOT, "node_modules", "@modelcontextprotocol", "conformance");
/** 0.2.0-alpha.12: has `--requirements 2026-07-28` and runs the legacy scenarios too. */
const CONFORMANCE_NEXT_DIR = join(ROOT, "node_modules", "conformance-next");

/**
 * Checks a legacy MCP server cannot pass through any translation, with the reason (the README
 * lists them). The bridge names the `inputRequests` of a legacy child's elicitation itself; these
 * checks expect the keys a modern server would have chosen ("user_name").
 */
const UNSERVABLE_BY_TRANSLATION: Record<string, string[]> = {
  "input-required-result-basic-elicitation": ["sep-2322-elicitation-incomplete"],
  "input-required-result-ignore-extra-params": ["sep-2322-ignore-unexpected-params"],
};

/** The whole suite takes ~15 s against a healthy server; a hung scenario must not hang `npm test`. */
const SUITE_TIMEOUT_MS = 240_000;
const STARTUP_TIMEOUT_MS = 20_000;

/**
 * Warnings fail a scenario too. The suite's own verdict ignores them unless a baseline file is
 * given, but in baseline mode it counts them as failures, and every warning it emits concerns a
 * SHOULD the bridge sets out to meet (SSE priming events with ids, `retry:`), so hiding them would
 * hide regressions.
 */
const WARNINGS_FAIL = true;

/** One entry of a scenario's checks.json, as written by the conformance CLI. */
interface ConformanceCheck {
  id: string;
  name: string;
  description: string;
  status: "SUCCESS" | "FAILURE" | "WARNING" | "INFO" | "SKIPPED";
  errorMessage?: string;
  details?: unknown;
}

interface SuiteRun {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  /** Scenario names, as announced in the summary, in run order. */
  scenarios: string[];
  /** The number the CLI announced before running, to catch scenarios missing from the summary. */
  announced: number | undefined;
  /** scenario → its checks; absent when the scenario crashed before writing them. */
  checks: Map<string, ConformanceCheck[]>;
  /** scenario → the target's log written while it ran, so a failure shows the bridge's side. */
  logs: Map<string, string>;
}

interface Target {
  url: string;
  /** The target's own log, to show next to a failure. */
  log(): string;
  stop(): Promise<void>;
}

let workDir: string;
let target: Target | undefined;
let modernTarget: Target | undefined;

before(async () => {
  workDir = await mkdtemp(join(tmpdir(), "mcp-bridge-conformance-"));
  const [{ everythingServer }, modernServer] = await Promise.all([buildFixtures(), bundle("tests/fixtures/modern-server.ts", "modern-server.cjs"), ensureBridgeBuilt()]);
  [target, modernTarget] = await Promise.all([startBridge(everythingServer, "legacy"), startBridge(modernServer, "modern")]);
});

after(async () => {
  await Promise.all([target?.stop(), modernTarget?.stop()]);
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

test("MCP conformance suite (server scenarios, --suite all) passes against the bridge", { timeout: SUITE_TIMEOUT_MS + 30_000 }, async (t) => {
  assert.ok(target, "bridge did not start");
  const run = await runConformanceSuite(target, join(workDir, "results"), CONFORMANCE_DIR, ["--suite", "all"]);
  await assertSuitePassed(t, run);
});

test("conformance 0.2.0-alpha.12, --requirements 2026-07-28: every scored scenario passes through the bridge in front of the modern (SDK v2) fixture", { timeout: SUITE_TIMEOUT_MS + 30_000 }, async (t) => {
  assert.ok(modernTarget, "bridge did not start");
  const run = await runConformanceSuite(modernTarget, join(workDir, "results-modern"), CONFORMANCE_NEXT_DIR, ["--requirements", "2026-07-28"]);
  await assertSuitePassed(t, run, { only: scoredScenarios() });
});

test("conformance 0.2.0-alpha.12, --requirements 2026-07-28: the bridge translates for the legacy (SDK v1) fixture; only key-naming checks fail", { timeout: SUITE_TIMEOUT_MS + 30_000 }, async (t) => {
  assert.ok(target, "bridge did not start");
  await warmLegacyChildren(target);
  const run = await runConformanceSuite(target, join(workDir, "results-translated"), CONFORMANCE_NEXT_DIR, ["--requirements", "2026-07-28"]);
  await assertSuitePassed(t, run, { only: scoredScenarios(), unservable: UNSERVABLE_BY_TRANSLATION });
});

test("conformance 0.2.0-alpha.12, --spec-version 2025-11-25: the legacy fixture still passes every scenario", { timeout: SUITE_TIMEOUT_MS + 30_000 }, async (t) => {
  assert.ok(target, "bridge did not start");
  const run = await runConformanceSuite(target, join(workDir, "results-2025"), CONFORMANCE_NEXT_DIR, ["--spec-version", "2025-11-25"]);
  await assertSuitePassed(t, run);
});

/** The server scenarios a revision's requirement set scores (conformance-next/requirements/<revision>.yaml). */
function scoredScenarios(): Set<string> {
  const requirements = parseYaml(readFileSync(join(CONFORMANCE_NEXT_DIR, "requirements", "2026-07-28.yaml"), "utf8")) as { server: string[] };
  return new Set(requirements.server);
}

/**
 * One subtest per scenario: every check must pass (warnings count as failures). With `only`, the
 * scored scenarios must all have run and others are not judged; `unservable` names checks allowed
 * to fail, and they must fail (a pass means the list is stale).
 */
async function assertSuitePassed(t: import("node:test").TestContext, run: SuiteRun, options: { only?: Set<string>; unservable?: Record<string, string[]> } = {}): Promise<void> {

  assert.ok(run.scenarios.length > 0, `the conformance CLI reported no scenarios (exit ${run.exitCode}).\n${tail(run.stdout)}\n${tail(run.stderr)}`);
  if (run.announced !== undefined) {
    assert.equal(run.scenarios.length, run.announced, "some scenarios are missing from the suite's summary");
  }

  if (options.only) {
    const missing = [...options.only].filter((scenario) => !run.scenarios.includes(scenario));
    assert.deepEqual(missing, [], "scored scenarios missing from the run");
  }
  for (const scenario of run.scenarios) {
    if (options.only && !options.only.has(scenario)) continue;
    await t.test(scenario, () => {
      const checks = run.checks.get(scenario);
      if (!checks) {
        assert.fail(`scenario wrote no checks.json (it threw before finishing).\n${scenarioErrors(run.stderr, scenario)}`);
      }
      const allowed = options.unservable?.[scenario] ?? [];
      const failing = checks.filter((check) => check.status === "FAILURE" || (WARNINGS_FAIL && check.status === "WARNING"));
      for (const id of allowed) assert.ok(failing.some((check) => check.id === id), `${id} passes now: drop it from UNSERVABLE_BY_TRANSLATION and the README`);
      const bad = failing.filter((check) => !allowed.includes(check.id));
      if (bad.length > 0) {
        assert.fail(
          `${bad.length} of ${checks.length} checks did not pass:\n${bad.map(describeCheck).join("\n")}\n--- bridge log while it ran (tail) ---\n${tail(run.logs.get(scenario) ?? "", 25)}`,
        );
      }
    });
  }
  // The per-scenario subtests carry the detail; this guards the parsing itself.
  if (!options.only) assert.equal(run.exitCode, 0, `the conformance CLI exited ${run.exitCode} although every parsed scenario passed`);
}

// ---- the bridge ----------------------------------------------------------------------------------

async function ensureBridgeBuilt(): Promise<void> {
  // `npm test` builds first; a lone run of this file may not have.
  if (existsSync(BRIDGE)) return;
  const { code, output } = await run(process.execPath, [join(ROOT, "build.mjs")], 120_000);
  assert.equal(code, 0, `node build.mjs failed:\n${output}`);
}

async function startBridge(fixture: string, name: string): Promise<Target> {
  const configPath = join(workDir, `bridge-${name}.yaml`);
  // JSON strings are valid YAML double-quoted scalars, which keeps odd characters in paths safe.
  await writeFile(
    configPath,
    [
      "mode: server",
      // debug: a failing scenario's report then shows what the bridge did on the wire.
      "log: { level: debug, format: json }",
      "server:",
      '  listen: "127.0.0.1:0"',
      `  mcp_server: { command: ${JSON.stringify(process.execPath)}, args: [${JSON.stringify(fixture)}] }`,
      "  auth: { type: none }",
      // A legacy child's simultaneous elicitation/sampling/roots requests must make one MRTR round
      // (input-required-result-multiple-input-requests); on a loaded test host its writes can
      // arrive milliseconds apart, so the round waits a little for them.
      "  session: { input_window: 50ms }",
      "",
    ].join("\n"),
  );
  const child = spawn(process.execPath, [BRIDGE, "-c", configPath], { cwd: workDir, stdio: ["ignore", "pipe", "pipe"] });
  const log = captureOutput(child);
  try {
    const port = await waitForListeningPort(child, log, STARTUP_TIMEOUT_MS);
    // The suite's dns-rebinding scenario needs a loopback literal in the URL it is given.
    const origin = `http://127.0.0.1:${port}`;
    await waitForHealth(child, `${origin}/health`, log, STARTUP_TIMEOUT_MS);
    return { url: `${origin}/mcp`, log, stop: () => stopProcess(child) };
  } catch (error) {
    await stopProcess(child);
    throw error;
  }
}

/**
 * Starts the modern children of a bridge in front of a legacy server before a suite runs: its first
 * child, and the spare it starts once that one answered (see ModernChildPool). server-stateless
 * gives a call 500 ms while a round it left unanswered holds the first child; the bridge then
 * serves it on the spare, whose start takes longer than that on a loaded test host. A deployment's
 * first two calls that may ask pay that start once; the suite is about what comes after.
 */
async function warmLegacyChildren(target: Target): Promise<void> {
  const response = await fetch(target.url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2026-07-28", "mcp-method": "server/discover" },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "server/discover",
      params: { _meta: { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {} } },
    }),
  });
  const text = await response.text();
  assert.equal(response.status, 200, text);
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  const ready = () => target.log().split("\n").filter((line) => line.includes('"msg":"modern child ready"')).length;
  while (ready() < 2) {
    assert.ok(Date.now() < deadline, `the bridge's spare modern child did not start within ${STARTUP_TIMEOUT_MS} ms\n${tail(target.log())}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Port 0 is configured, so the bound port is learnt from the bridge's "listening" log line. */
function waitForListeningPort(child: ChildProcess, log: () => string, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let scanned = 0;
    const timer = setTimeout(() => finish(new Error(`bridge did not log "listening" within ${timeoutMs} ms\n${tail(log())}`)), timeoutMs);
    const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
      finish(new Error(`bridge exited (code ${code}, signal ${signal}) before listening\n${tail(log())}`));
    const onData = () => {
      const text = log();
      const lines = text.slice(scanned).split("\n");
      const complete = lines.slice(0, -1);
      scanned = text.length - (lines.at(-1)?.length ?? 0);
      for (const line of complete) {
        const port = listeningPort(line);
        if (port !== undefined) return finish(undefined, port);
      }
    };
    function finish(error: Error | undefined, port?: number) {
      clearTimeout(timer);
      child.off("exit", onExit);
      child.stderr?.off("data", onData);
      child.stdout?.off("data", onData);
      if (error) reject(error);
      else resolve(port!);
    }
    child.once("exit", onExit);
    // captureOutput's listeners were added first, so log() already holds this chunk here.
    child.stderr?.on("data", onData);
    child.stdout?.on("data", onData);
    onData();
  });
}

function listeningPort(line: string): number | undefined {
  let record: unknown;
  try {
    record = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof record !== "object" || record === null) return undefined;
  const { msg, url } = record as { msg?: unknown; url?: unknown };
  if (msg !== "listening" || typeof url !== "string") return undefined;
  const port = Number(new URL(url).port);
  return Number.isInteger(port) && port > 0 ? port : undefined;
}

async function waitForHealth(child: ChildProcess, url: string, log: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer";
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`bridge exited before /health answered\n${tail(log())}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await response.body?.cancel();
      if (response.status === 200) return;
      last = `HTTP ${response.status}`;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`GET ${url} did not answer 200 within ${timeoutMs} ms (last: ${last})\n${tail(log())}`);
}

// ---- the conformance CLI -------------------------------------------------------------------------

function conformanceBin(dir: string): string {
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { bin: string | Record<string, string> };
  const bin = typeof pkg.bin === "string" ? pkg.bin : pkg.bin["conformance"];
  if (!bin) throw new Error(`${dir}: declares no "conformance" bin`);
  return join(dir, bin);
}

async function runConformanceSuite(target: Target, outputDir: string, dir: string, selection: string[]): Promise<SuiteRun> {
  const node = await pinnedNode();
  // Scenarios run one after another; noting where the target's log stood when each one started
  // lets a failure show only the bridge lines that belong to it.
  const starts: Array<{ scenario: string; offset: number }> = [];
  let pendingLine = "";
  const onStdout = (chunk: string) => {
    const lines = (pendingLine + chunk).split("\n");
    pendingLine = lines.pop() ?? "";
    for (const line of lines) {
      const scenario = /^=== Running scenario: (\S+) ===$/.exec(line)?.[1];
      if (scenario) starts.push({ scenario, offset: target.log().length });
    }
  };
  const result = await run(node, [conformanceBin(dir), "server", "--url", target.url, ...selection, "-o", outputDir], SUITE_TIMEOUT_MS, {
    // Colour codes would only get in the way of parsing the summary.
    env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" },
    onStdout,
  });
  const fullLog = target.log();
  const logs = new Map(starts.map(({ scenario, offset }, i) => [scenario, fullLog.slice(offset, starts[i + 1]?.offset ?? fullLog.length)]));
  const announced = /Running \S+ suite \((\d+) scenarios\)/.exec(result.stdout)?.[1];
  return {
    exitCode: result.code,
    stdout: result.stdout,
    stderr: result.stderr,
    scenarios: summaryScenarios(result.stdout),
    announced: announced === undefined ? undefined : Number(announced),
    checks: await readChecks(outputDir),
    logs,
  };
}

/** Summary lines look like `✓ tools-list: 1 passed, 0 failed`. */
function summaryScenarios(stdout: string): string[] {
  const summary = stdout.slice(stdout.lastIndexOf("=== SUMMARY ==="));
  return [...summary.matchAll(/^[✓✗] (\S+): \d+ passed, \d+ failed$/gmu)].map((match) => match[1]!);
}

/** With `-o DIR`, each scenario writes `DIR/server-<scenario>-<ISO time with : and . as ->/checks.json`. */
async function readChecks(outputDir: string): Promise<Map<string, ConformanceCheck[]>> {
  const checks = new Map<string, ConformanceCheck[]>();
  const entries = await readdir(outputDir).catch(() => [] as string[]);
  for (const entry of entries) {
    const scenario = /^server-(.+)-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$/.exec(entry)?.[1];
    if (!scenario) continue;
    const file = join(outputDir, entry, "checks.json");
    const parsed = JSON.parse(await readFile(file, "utf8")) as unknown;
    if (!Array.isArray(parsed)) throw new Error(`${file}: expected an array of checks`);
    checks.set(scenario, parsed as ConformanceCheck[]);
  }
  return checks;
}

function describeCheck(check: ConformanceCheck): string {
  const details = check.details === undefined ? "" : `\n      details: ${truncate(JSON.stringify(check.details), 600)}`;
  return `  - [${check.status}] ${check.id}: ${check.errorMessage ?? check.description}${details}`;
}

function scenarioErrors(stderr: string, scenario: string): string {
  const at = stderr.indexOf(`Failed to run scenario ${scenario}`);
  return at === -1 ? tail(stderr) : truncate(stderr.slice(at), 2_000);
}

// ---- processes -----------------------------------------------------------------------------------

/** Everything the process writes; kept whole (a suite run logs well under a few MB) so offsets stay valid. */
function captureOutput(child: ChildProcess): () => string {
  let text = "";
  const append = (chunk: Buffer) => {
    text += chunk.toString("utf8");
  };
  child.stdout?.on("data", append);
  child.stderr?.on("data", append);
  return () => text;
}

function run(
  command: string,
  args: string[],
  timeoutMs: number,
  options: { env?: NodeJS.ProcessEnv; onStdout?: (chunk: string) => void } = {},
): Promise<{ code: number | null; stdout: string; stderr: string; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env: options.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      const text = chunk.toString("utf8");
      stdout += text;
      options.onStdout?.(text);
    });
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    const timer = setTimeout(() => {
      stderr += `\n[killed after ${timeoutMs} ms]`;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, output: stdout + stderr });
    });
  });
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  // The bridge drains sessions on SIGTERM; don't let a slow drain hold the test run.
  const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}

function tail(text: string, lines = 30): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}
