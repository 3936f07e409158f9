/**
 * @module The official MCP conformance suite's client scenarios (the non-auth ones; outbound
 * authentication runs the auth ones) against the bridge's client mode, driven by
 * tests/support/conformance-client.ts: @modelcontextprotocol/conformance 0.1.16 (legacy era) and
 * 0.2.0-alpha.12 with the scenarios revision 2026-07-28 requires.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { CLI, ROOT } from "../support/bridge.ts";
import { conformanceDriver } from "../support/fixtures.ts";
import { pinnedNode } from "../support/pinned-node.ts";

const SUITES = {
  "0.1.16": join(ROOT, "node_modules", "@modelcontextprotocol", "conformance", "dist", "index.js"),
  "0.2.0-alpha.12": join(ROOT, "node_modules", "conformance-next", "dist", "index.js"),
};
const DRIVER = await conformanceDriver();
const SCENARIO_TIMEOUT_MS = 120_000;

interface Check {
  id: string;
  status: "SUCCESS" | "FAILURE" | "WARNING" | "INFO" | "SKIPPED";
  errorMessage?: string;
  description: string;
}

let node: string;
let workDir: string;

before(async () => {
  assert.ok(existsSync(CLI), `${CLI} is missing: run "node build.mjs"`);
  // The suites run on the pinned Node; the driver and the bridge run on this Node.
  node = await pinnedNode();
  workDir = await mkdtemp(join(tmpdir(), "mcp-bridge-client-conformance-"));
});

after(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

function run(args: string[], timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(node, args, { cwd: ROOT, env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** Client scenarios of a suite's `list`, without auth/ (outbound authentication's) and extensions, optionally only those of `revision`. */
async function clientScenarios(suite: string, revision?: string): Promise<string[]> {
  const { output } = await run([suite, "list"], 60_000);
  const section = output.slice(output.indexOf("Client scenarios"), output.indexOf("\n\n", output.indexOf("Client scenarios")) >>> 0 || undefined);
  return [...section.matchAll(/^ {2}- (\S+) \[([^\]]*)\]$/gm)]
    .filter(([, name, versions]) => !name!.startsWith("auth/") && versions !== "extension" && (!revision || versions!.split(",").includes(revision)))
    .map(([, name]) => name!);
}

async function runScenario(suite: string, scenario: string, extra: string[]): Promise<{ checks: Check[] | undefined; output: string }> {
  const outputDir = join(workDir, `${scenario.replace(/\W/g, "_")}-${Date.now()}`);
  const { output } = await run([suite, "client", "--command", DRIVER, "--scenario", scenario, "-o", outputDir, ...extra], SCENARIO_TIMEOUT_MS);
  const [entry] = await readdir(outputDir).catch(() => [] as string[]);
  if (!entry) return { checks: undefined, output };
  const checks = JSON.parse(await readFile(join(outputDir, entry, "checks.json"), "utf8").catch(() => "null")) as Check[] | null;
  const stderr = await readFile(join(outputDir, entry, "stderr.txt"), "utf8").catch(() => "");
  return { checks: checks ?? undefined, output: `${output}\n--- client stderr ---\n${stderr.split("\n").slice(-30).join("\n")}` };
}

function assertPassed(result: { checks: Check[] | undefined; output: string }): void {
  assert.ok(result.checks, `the scenario wrote no checks:\n${result.output}`);
  const bad = result.checks.filter((check) => check.status === "FAILURE" || check.status === "WARNING");
  assert.deepEqual(
    bad.map((check) => `[${check.status}] ${check.id}: ${check.errorMessage ?? check.description}`),
    [],
    result.output,
  );
  assert.ok(result.checks.some((check) => check.status === "SUCCESS"), "no check succeeded");
}

test("conformance 0.1.16 client scenarios (all but auth) pass through client mode", { timeout: 10 * SCENARIO_TIMEOUT_MS }, async (t) => {
  const scenarios = await clientScenarios(SUITES["0.1.16"]);
  assert.ok(scenarios.includes("initialize") && scenarios.includes("sse-retry"), `unexpected scenario list: ${scenarios.join(", ")}`);
  for (const scenario of scenarios) {
    await t.test(scenario, async () => assertPassed(await runScenario(SUITES["0.1.16"], scenario, [])));
  }
});

test("conformance 0.2.0-alpha.12 client scenarios required by 2026-07-28 (all but auth) pass through client mode", { timeout: 20 * SCENARIO_TIMEOUT_MS }, async (t) => {
  const scenarios = await clientScenarios(SUITES["0.2.0-alpha.12"], "2026-07-28");
  assert.ok(scenarios.includes("request-metadata") && scenarios.includes("sep-2322-client-request-state"), `unexpected scenario list: ${scenarios.join(", ")}`);
  for (const scenario of scenarios) {
    await t.test(scenario, async () => assertPassed(await runScenario(SUITES["0.2.0-alpha.12"], scenario, ["--spec-version", "2026-07-28"])));
  }
});
