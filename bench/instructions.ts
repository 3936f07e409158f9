/**
 * @module `node --import tsx bench/instructions.ts [--warmup N] [--calls N] [--reps N] [--connections N]`:
 * the paths of bench/modern.ts counted in instructions instead of timed. The bridge runs under
 * valgrind's callgrind; each path takes `--warmup` calls unmeasured (the JIT settles), then in each
 * of `--reps` repetitions (every other one in reverse order) `--calls` calls between a reset of the
 * counters (`callgrind_control -z`) and a dump (`-d`): a garbage collection of the old generation
 * falls into one window, and is spread over the paths by the repetitions. The
 * result is instructions (Ir) per call: of the main thread, the event loop every request goes
 * through (on these 2 cores the bridge's limit: it is busy ~90 % of the time under the timed
 * load), and of all the bridge's threads (GC and compiler threads too). A count does not drift
 * with the host's speed as a time does: a change of 1 % shows, where a timed ratio moves by a tenth
 * from one run to the next. Valgrind runs node ~40 times slower: ~10 minutes. Needs valgrind.
 * Writes bench/results/modern-instructions.{json,md}. Never fails on a number.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import { join } from "node:path";
import { setReplyTimeout } from "./lib/mcp-client.mjs";
import { PATH_LABELS, pathLoads, PATHS, type Path, type PathCall } from "./lib/modern-paths.ts";
import { ROOT, startTarget } from "./lib/targets.ts";

const argv = process.argv.slice(2);
const value = (name: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
const WARMUP = Number(value("--warmup") ?? 6000);
const CALLS = Number(value("--calls") ?? 1000);
const REPS = Number(value("--reps") ?? 3);
const CONNECTIONS = Number(value("--connections") ?? 16);

/** Runs `count` calls over CONNECTIONS workers. */
async function run(call: PathCall, count: number, firstId: number): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  let next = 0;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (next < count) await call(agent, firstId + next++);
    }),
  );
  agent.destroy();
}

/** Instructions of one callgrind dump: the main thread's (file `-01`) and all threads'. */
function dumped(dir: string, dump: number): { main: number; all: number } {
  const files = readdirSync(dir).filter((name) => name.startsWith(`callgrind.out.${dump}-`));
  const total = (name: string) => Number(/^totals: (\d+)/m.exec(readFileSync(join(dir, name), "utf8"))?.[1] ?? NaN);
  const main = files.find((name) => name.endsWith("-01"));
  if (!main) throw new Error(`callgrind wrote no dump ${dump} in ${dir}`);
  return { main: total(main), all: files.reduce((sum, name) => sum + total(name), 0) };
}

async function main(): Promise<void> {
  execFileSync("valgrind", ["--version"], { stdio: "ignore" });
  // The first modern calls wait for the pool's children to start, each call ~40 times slower.
  setReplyTimeout(120_000);
  const dir = mkdtempSync(join(os.tmpdir(), "mcp-bridge-callgrind-"));
  const target = await startTarget(
    {
      id: "bridge",
      label: "mcp-bridge, bearer, under callgrind",
      kind: "bridge",
      auth: "bearer",
      // --smc-check: V8 writes and rewrites machine code on its heap; valgrind must see it change.
      wrapper: ["valgrind", "--tool=callgrind", "--separate-threads=yes", "--smc-check=all-non-file", `--callgrind-out-file=${join(dir, "callgrind.out")}`],
    },
    { timeoutMs: 300_000 },
  );
  /** Per path, each repetition's instructions per call. */
  const counts = new Map<Path, Array<{ main: number; all: number }>>(PATHS.map((path) => [path, []]));
  try {
    const sessionAgent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
    const loads = await pathLoads(target, sessionAgent);
    let id = 1;
    let dump = 0;
    for (const path of PATHS) {
      await run(loads[path], WARMUP, id);
      id += WARMUP;
    }
    for (let rep = 0; rep < REPS; rep++) {
      for (const path of rep % 2 === 0 ? PATHS : [...PATHS].reverse()) {
        execFileSync("callgrind_control", ["-z", String(target.pid)], { stdio: "ignore" });
        await run(loads[path], CALLS, id);
        id += CALLS;
        execFileSync("callgrind_control", ["-d", String(target.pid)], { stdio: "ignore" });
        dump++;
        // The dump is written by the target itself, shortly after the request returns.
        for (let waited = 0; !existsSync(join(dir, `callgrind.out.${dump}-01`)) && waited < 30_000; waited += 100) await new Promise((done) => setTimeout(done, 100));
        const counted = dumped(dir, dump);
        counts.get(path)!.push({ main: counted.main / CALLS, all: counted.all / CALLS });
        process.stderr.write(`${path}: ${Math.round(counted.main / CALLS)} instructions per call (main thread)\n`);
      }
    }
    sessionAgent.destroy();
  } finally {
    await target.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const mean = (values: number[]) => values.reduce((sum, v) => sum + v, 0) / values.length;
  const perCall = new Map(PATHS.map((path) => [path, { main: mean(counts.get(path)!.map((c) => c.main)), all: mean(counts.get(path)!.map((c) => c.all)) }]));
  const ratio = (a: Path, b: Path, thread: "main" | "all") => perCall.get(b)![thread] / perCall.get(a)![thread];
  const result = {
    when: new Date().toISOString(),
    node: process.version,
    settings: { warmup: WARMUP, calls: CALLS, reps: REPS, connections: CONNECTIONS },
    instructionsPerCall: Object.fromEntries(perCall),
    repetitions: Object.fromEntries(counts),
    // As throughput ratios: the fewer instructions, the more calls.
    ratio: { main: ratio("modern", "legacy", "main"), all: ratio("modern", "legacy", "all") },
    ratioSameSize: { main: ratio("modern", "sized", "main"), all: ratio("modern", "sized", "all") },
    ratioSizedLegacy: { main: ratio("sized", "legacy", "main"), all: ratio("sized", "legacy", "all") },
  };
  const resultsDir = join(ROOT, "bench", "results");
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, "modern-instructions.json"), JSON.stringify(result, null, 2) + "\n");
  const thousands = (n: number) => `${(n / 1000).toFixed(1)} k`;
  const md = [
    "# Modern (2026-07-28) vs legacy path in instructions, one bridge (bearer), bench echo fixture",
    "",
    `${result.when}, node ${result.node} under valgrind (callgrind); ${CONNECTIONS} connections; per path ${WARMUP} calls unmeasured, then ${REPS} repetitions of ${CALLS} counted calls.`,
    "",
    "| path | instructions per call, main thread (mean; repetitions) | all threads (mean; repetitions) |",
    "|---|---|---|",
    ...PATHS.map((path) => {
      const reps = (thread: "main" | "all") => counts.get(path)!.map((c) => (c[thread] / 1000).toFixed(1)).join(", ");
      return `| ${PATH_LABELS[path]} | ${thousands(perCall.get(path)!.main)} (${reps("main")}) | ${thousands(perCall.get(path)!.all)} (${reps("all")}) |`;
    }),
    "",
    "As throughput ratios of the means (legacy's instructions ÷ modern's: what the modern path would reach where the main thread is the limit):",
    "",
    `- Modern / legacy: **${result.ratio.main.toFixed(3)}×** main thread, ${result.ratio.all.toFixed(3)}× all threads (goal ≥ 0.95×).`,
    `- Modern / legacy with modern-sized requests (the bridge's own modern work): ${result.ratioSameSize.main.toFixed(3)}× main thread, ${result.ratioSameSize.all.toFixed(3)}× all threads.`,
    `- Legacy with modern-sized requests / legacy (the protocol's larger requests): ${result.ratioSizedLegacy.main.toFixed(3)}× main thread, ${result.ratioSizedLegacy.all.toFixed(3)}× all threads.`,
    "",
  ].join("\n");
  writeFileSync(join(resultsDir, "modern-instructions.md"), md);
  process.stdout.write(md);
}

await main();
