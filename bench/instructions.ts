/**
 * @module `node --import tsx bench/instructions.ts [--warmup N] [--calls N] [--reps N] [--connections N]`:
 * the paths of bench/modern.ts counted in instructions instead of timed. Each path runs in a bridge
 * of its own under valgrind's callgrind, the three side by side; each takes `--warmup` calls
 * unmeasured (the JIT settles), then `--reps` repetitions of `--calls` calls between a reset of the
 * counters (`callgrind_control -z`) and a dump (`-d`), so that a garbage collection falling into
 * one window is averaged. The
 * result is instructions (Ir) per call: of the main thread, the event loop every request goes
 * through (on these 2 cores the bridge's limit: it is busy ~90 % of the time under the timed
 * load), and of all the bridge's threads (GC and compiler threads too). A count does not drift
 * with the host's speed as a time does: a change of a few percent shows, where a timed ratio moves
 * by a tenth from one run to the next (bench/README.md says where it still moves). Valgrind runs
 * node ~40 times slower: ~15 minutes. Needs valgrind.
 * Writes bench/results/modern-instructions.{json,md}. Never fails on a number.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import { join } from "node:path";
import { setReplyTimeout } from "./lib/mcp-client.mjs";
import { PATH_LABELS, pathLoads, PATHS, type Path, type PathCall } from "./lib/modern-paths.ts";
import { ROOT, startTarget } from "./lib/targets.ts";
import { option } from "./lib/args.ts";

const WARMUP = Number(option("--warmup") ?? 6000);
const CALLS = Number(option("--calls") ?? 1000);
const REPS = Number(option("--reps") ?? 3);
const CONNECTIONS = Number(option("--connections") ?? 16);

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
  const total = (name: string) => {
    const totals = /^totals: (\d+)/m.exec(readFileSync(join(dir, name), "utf8"))?.[1];
    if (totals === undefined) throw new Error(`callgrind's dump ${name} has no totals`);
    return Number(totals);
  };
  const main = files.find((name) => name.endsWith("-01"));
  if (!main) throw new Error(`callgrind wrote no dump ${dump} in ${dir}`);
  return { main: total(main), all: files.reduce((sum, name) => sum + total(name), 0) };
}

/**
 * Asks the callgrind in `pid` to zero (`-z`) or dump (`-d`) its counters; the dump is written when
 * this returns (vgdb waits for callgrind's answer). Bounded: a vgdb that cannot reach the process
 * would wait for ever. Throws unless callgrind_control says OK.
 */
function control(pid: number, option: "-z" | "-d"): void {
  const output = execFileSync("callgrind_control", [option, String(pid)], { encoding: "utf8", timeout: 120_000, stdio: ["ignore", "pipe", "pipe"] });
  if (!output.includes("OK.")) throw new Error(`callgrind_control ${option} ${pid}: ${output.trim()}`);
}

/**
 * Counts one path in a bridge of its own: in a bridge serving several paths, a garbage collection
 * in one path's window pays for what another allocated. Each repetition's instructions per call.
 */
async function countPath(path: Path): Promise<Array<{ main: number; all: number }>> {
  const dir = mkdtempSync(join(os.tmpdir(), "mcp-bridge-callgrind-"));
  try {
    const target = await startTarget(
      {
        id: "bridge",
        label: `mcp-bridge, bearer, under callgrind (${path})`,
        kind: "bridge",
        auth: "bearer",
        // --smc-check: V8 writes and rewrites machine code on its heap; valgrind must see it change.
        wrapper: ["valgrind", "--tool=callgrind", "--separate-threads=yes", "--smc-check=all-non-file", `--callgrind-out-file=${join(dir, "callgrind.out")}`],
      },
      { timeoutMs: 300_000 },
    );
    const counts: Array<{ main: number; all: number }> = [];
    try {
      const sessionAgent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
      const call = (await pathLoads(target, sessionAgent))[path];
      await run(call, WARMUP, 1);
      for (let rep = 1; rep <= REPS; rep++) {
        control(target.pid, "-z");
        await run(call, CALLS, WARMUP + rep * CALLS);
        control(target.pid, "-d");
        const counted = dumped(dir, rep);
        counts.push({ main: counted.main / CALLS, all: counted.all / CALLS });
        process.stderr.write(`${path}: ${Math.round(counted.main / CALLS)} instructions per call (main thread)\n`);
      }
      sessionAgent.destroy();
    } finally {
      await target.stop();
    }
    return counts;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  execFileSync("valgrind", ["--version"], { stdio: "ignore" });
  // The first modern calls wait for the pool's children to start, each call ~40 times slower.
  setReplyTimeout(120_000);
  // Side by side: instructions do not depend on what else runs (but for timing, see the module comment).
  const counted = await Promise.all(PATHS.map((path) => countPath(path)));
  /** Per path, each repetition's instructions per call. */
  const counts = new Map<Path, Array<{ main: number; all: number }>>(PATHS.map((path, i) => [path, counted[i]!]));
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
    "# Modern (2026-07-28) vs legacy path in instructions, a bridge per path (bearer), bench echo fixture",
    "",
    `${result.when}, node ${result.node} under valgrind (callgrind); a bridge per path; ${CONNECTIONS} connections; per path ${WARMUP} calls unmeasured, then ${REPS} repetitions of ${CALLS} counted calls.`,
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
