/**
 * @module The official conformance suites' authorization scenarios against the built bridge in
 * client mode, through the conformance client driver (an SDK client that spawns the bridge with the
 * scenario's URL and a `client.auth` section made from MCP_CONFORMANCE_CONTEXT; the mock
 * authorization endpoint is followed by follow-redirects.mjs as `browser_command`).
 * @modelcontextprotocol/conformance 0.1.16 `--suite auth`, and 0.2.0-alpha.12 (conformance-next)
 * `--suite auth` plus its other authorization scenarios and the client-credentials,
 * enterprise-managed-authorization, workload-identity (jwt-bearer) and DPoP extensions. Every check of every scenario must pass.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import { CLI, ROOT, run } from "../support/bridge.ts";
import { conformanceDriver } from "../support/fixtures.ts";
import { pinnedNode } from "../support/pinned-node.ts";

const DRIVER = await conformanceDriver();
const OLD = join(ROOT, "node_modules", "@modelcontextprotocol", "conformance", "dist", "index.js");
const NEXT = join(ROOT, "node_modules", "conformance-next", "dist", "index.js");

/**
 * conformance-next's suites holding only scenarios outside its `auth` suite that client mode's
 * authorization must pass, each with exactly those scenarios: one CLI process runs a suite's
 * scenarios side by side, where one process per scenario would start the CLI each time.
 */
const NEXT_SUITES = {
  backcompat: ["auth/2025-03-26-oauth-metadata-backcompat", "auth/2025-03-26-oauth-endpoint-fallback"],
  extensions: ["auth/client-credentials-jwt", "auth/client-credentials-basic", "auth/enterprise-managed-authorization", "auth/wif-jwt-bearer", "auth/dpop", "auth/dpop-nonce"],
};

/** The other scenarios of conformance-next outside its `auth` suite that client mode's authorization must pass (no suite holds just them). */
const NEXT_SCENARIOS = [
  "auth/resource-mismatch",
  "auth/iss-supported-missing",
  "auth/iss-wrong-issuer",
  "auth/iss-unexpected",
  "auth/iss-normalized",
  "auth/metadata-issuer-mismatch",
  // Their servers speak only MCP 2026-07-28 (client mode's modern-era transport).
  "auth/offline-access-scope",
  "auth/offline-access-not-supported",
  "auth/authorization-server-migration",
  "auth/iss-supported",
  "auth/iss-not-advertised",
];

let node: string;

before(async () => {
  if (!existsSync(CLI)) {
    const built = await run(process.execPath, [join(ROOT, "build.mjs")], { env: { PATH: process.env.PATH ?? "" } });
    assert.equal(built.code, 0, built.stderr);
  }
  node = await pinnedNode();
});

interface Check {
  id: string;
  status: string;
  description: string;
  errorMessage?: string;
}

/** Runs the conformance CLI; resolves with its exit code, output, and the checks of every scenario it wrote. */
function conformance(cli: string, args: string[]): Promise<{ code: number | null; output: string; checks: Map<string, Check[]> }> {
  const out = mkdtempSync(join(tmpdir(), "mcp-bridge-conformance-auth-"));
  return new Promise((resolve, reject) => {
    const child = spawn(node, [cli, "client", "--command", DRIVER, ...args, "-o", out], { cwd: ROOT, env: { PATH: process.env.PATH ?? "", HOME: out } });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    child.on("error", reject);
    child.on("close", (code) => {
      const checks = new Map<string, Check[]>();
      const authDir = join(out, "auth");
      for (const entry of existsSync(authDir) ? readdirSync(authDir) : []) {
        const file = join(authDir, entry, "checks.json");
        if (existsSync(file)) checks.set(`auth/${entry.replace(/-\d{4}-\d\d-\d\dT.*$/, "")}`, JSON.parse(readFileSync(file, "utf8")) as Check[]);
      }
      resolve({ code, output, checks });
    });
  });
}

function assertAllPassed(result: Awaited<ReturnType<typeof conformance>>, expected: string[] | number): void {
  const failures = [...result.checks].flatMap(([scenario, checks]) =>
    checks.filter((check) => check.status === "FAILURE" || check.status === "WARNING").map((check) => `${scenario} ${check.id}: ${check.errorMessage ?? check.description}`),
  );
  assert.deepEqual(failures, [], `${failures.join("\n")}\n${result.output.slice(-4000)}`);
  if (typeof expected === "number") assert.equal(result.checks.size, expected, `scenarios with results: ${[...result.checks.keys()].join(", ")}`);
  else assert.deepEqual([...result.checks.keys()].sort(), [...expected].sort());
  assert.equal(result.code, 0, result.output.slice(-4000));
}

describe("conformance authorization scenarios through client mode", { timeout: 600_000 }, () => {
  test("@modelcontextprotocol/conformance 0.1.16 client --suite auth: every scenario passes", async () => {
    assertAllPassed(await conformance(OLD, ["--suite", "auth"]), 14);
  });

  test("conformance 0.2.0-alpha.12 client --suite auth: every scenario passes", async () => {
    assertAllPassed(await conformance(NEXT, ["--suite", "auth"]), 14);
  });

  for (const [suite, scenarios] of Object.entries(NEXT_SUITES)) {
    test(`conformance 0.2.0-alpha.12 client --suite ${suite}: each of ${scenarios.join(", ")} passes`, async () => {
      assertAllPassed(await conformance(NEXT, ["--suite", suite]), scenarios);
    });
  }

  for (const scenario of NEXT_SCENARIOS) {
    test(`conformance 0.2.0-alpha.12 ${scenario} passes`, async () => {
      assertAllPassed(await conformance(NEXT, ["--scenario", scenario]), [scenario]);
    });
  }
});
