/**
 * @module `node --import tsx bench/path-profile.ts [--reps N] [--duration MS] [--frequency HZ] [--top N]`:
 * where each path of bench/modern.ts spends the bridge's CPU, natively and paired. One bridge
 * (bearer, the echo fixture, `node --perf-basic-prof` so that perf names JIT-compiled functions)
 * is pinned to CPU 0 with its children, the load generator to CPU 1; Linux `perf record`
 * (software clock `cpu-clock`, call graphs, CLOCK_MONOTONIC timestamps) samples the bridge for the
 * whole run while the paths alternate in windows of `--duration` ms, every other repetition in
 * reverse order. Each sample is charged to the path whose window holds its timestamp, so the
 * host's drift (a tenth within minutes here) falls on all paths alike, where profiles taken one
 * after another differ by it. The result is CPU µs per call by function, self and inclusive (a
 * function counted once per sample whatever its depth), and the differences modern − sized and
 * modern − legacy. perf's own cost per sample inflates every figure alike (a call costs ~2.3× its
 * unprofiled time): compare within the run. A short pause after each window is charged to no
 * path, so that little of what one window left (sockets closing, a collection of its garbage) is
 * charged to the next. Needs Linux, 2+ CPUs, `perf` and `taskset`.
 * Writes bench/results/modern-profile.{json,md}. Never fails on a number.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { callFor, PATH_LABELS, pathLoads, PATHS, type Path, type PathCall } from "./lib/modern-paths.ts";
import { ROOT, startTarget } from "./lib/targets.ts";
import { option } from "./lib/args.ts";
import { assertCanPin, pin } from "./lib/pin.ts";

const REPS = Number(option("--reps") ?? 10);
const DURATION_MS = Number(option("--duration") ?? 1500);
/** Samples per second; each stands for 1e6 / FREQUENCY µs of CPU. */
const FREQUENCY = Number(option("--frequency") ?? 4000);
const TOP = Number(option("--top") ?? 30);
const CONNECTIONS = 16;
const WARMUP_MS = 4000;
/** Uncharged pause after each window (see the module comment). */
const GAP_MS = 300;

/** One path's measured window, on the monotonic clock perf stamps its samples with (ns). */
interface Window {
  path: Path;
  start: bigint;
  end: bigint;
  calls: number;
}

/** Per path: samples per function where it was running (self) and anywhere on the stack (inclusive), and all samples. */
interface Tally {
  self: Map<string, number>;
  inclusive: Map<string, number>;
  samples: number;
}

/** Calls of `call` for `durationMs` on a fresh agent (no socket of another window's); how many. */
async function run(call: PathCall, durationMs: number, ids: { next: number }): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  try {
    return await callFor(call, agent, CONNECTIONS, durationMs, ids);
  } finally {
    agent.destroy();
  }
}

/** A frame's symbol as perf prints it (after its address), shortened: V8's tier marks dropped, bridge functions named by bundle line. */
function symbolOf(frame: string): string {
  return frame
    .trim()
    .replace(/^[0-9a-f]+\s+/, "")
    .replace(/^[~*^+]?(JS|RegExp):[~*^+]?/, "$1 ")
    .replace(/ \S*dist\/mcp-bridge\.cjs:(\d+):\d+/, " (bundle line $1)")
    .slice(0, 140);
}

/** Reads `perf script` of `data` and charges each sample to the window holding it. Rejects when perf fails or no sample falls in a window. */
async function tally(data: string, windows: Window[]): Promise<Map<Path, Tally>> {
  const tallies = new Map<Path, Tally>(PATHS.map((path) => [path, { self: new Map(), inclusive: new Map(), samples: 0 }]));
  const add = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);
  let at: bigint | undefined;
  let frames: string[] = [];
  const charge = () => {
    if (at === undefined) return;
    const window = windows.find((w) => w.start <= at! && at! <= w.end);
    if (!window) return;
    const t = tallies.get(window.path)!;
    t.samples++;
    if (frames.length === 0) return;
    add(t.self, frames[0]!);
    for (const frame of new Set(frames)) add(t.inclusive, frame);
  };
  const perf = spawn("perf", ["script", "-i", data, "-F", "time,ip,sym", "--ns"], { stdio: ["ignore", "pipe", "inherit"] });
  const exited = once(perf, "exit");
  for await (const line of createInterface({ input: perf.stdout! })) {
    // A sample's header is its timestamp ("  1255.667270063:"), its frames follow, innermost first.
    const header = /^\s*(\d+)\.(\d{9}):\s*$/.exec(line);
    if (header) {
      charge();
      at = BigInt(header[1]!) * 1_000_000_000n + BigInt(header[2]!);
      frames = [];
    } else if (line.trim()) frames.push(symbolOf(line));
  }
  charge();
  const [code] = await exited;
  if (code !== 0) throw new Error(`perf script exited with ${code}`);
  if (PATHS.some((path) => tallies.get(path)!.samples === 0)) throw new Error("perf recorded no sample in some path's windows");
  return tallies;
}

async function main(): Promise<void> {
  assertCanPin("path-profile.ts");
  execFileSync("perf", ["--version"], { stdio: "ignore" });
  const dir = mkdtempSync(join(os.tmpdir(), "mcp-bridge-path-profile-"));
  const data = join(dir, "perf.data");
  const windows: Window[] = [];
  let perf: ChildProcess | undefined;
  let tallies: Map<Path, Tally>;
  let jitMap: string | undefined;
  try {
    // --perf-basic-prof also writes V8's log, by default into the working directory (the checkout): into `dir` instead.
    const nodeArgs = ["--perf-basic-prof", "--no-logfile-per-isolate", `--logfile=${join(dir, "v8.log")}`];
    const target = await startTarget({ id: "bridge", label: "mcp-bridge, bearer, perf", kind: "bridge", auth: "bearer", nodeArgs });
    // --perf-basic-prof's map of the JIT's code: perf script reads it after the bridge is gone.
    jitMap = `/tmp/perf-${target.pid}.map`;
    try {
      pin(target.pid, 0);
      pin(process.pid, 1);
      const sessionAgent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
      const loads = await pathLoads(target, sessionAgent);
      const ids = { next: 1 };
      for (const path of PATHS) await run(loads[path], WARMUP_MS, ids);
      perf = spawn("perf", ["record", "-k", "CLOCK_MONOTONIC", "-e", "cpu-clock", "-F", String(FREQUENCY), "-g", "-o", data, "-p", String(target.pid)], { stdio: ["ignore", "ignore", "inherit"] });
      const exited = once(perf, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
      // perf needs a moment to attach to every thread; one that cannot (permissions, -F above the
      // kernel's limit) has exited by then.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      if (perf.exitCode !== null) throw new Error(`perf record exited with ${perf.exitCode}`);
      for (let rep = 0; rep < REPS; rep++) {
        for (const path of rep % 2 === 0 ? PATHS : [...PATHS].reverse()) {
          // process.hrtime is CLOCK_MONOTONIC on Linux, the clock perf was told to stamp with.
          const start = process.hrtime.bigint();
          const calls = await run(loads[path], DURATION_MS, ids);
          windows.push({ path, start, end: process.hrtime.bigint(), calls });
          await new Promise((resolve) => setTimeout(resolve, GAP_MS));
        }
      }
      perf.kill("SIGINT");
      const [code, signal] = await exited;
      if (code !== 0 && signal !== "SIGINT") throw new Error(`perf record ended with ${code ?? signal}`);
      sessionAgent.destroy();
    } finally {
      if (perf && perf.exitCode === null && perf.signalCode === null) perf.kill("SIGKILL");
      await target.stop();
    }
    tallies = await tally(data, windows);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    if (jitMap) rmSync(jitMap, { force: true });
  }

  const calls = new Map<Path, number>(PATHS.map((path) => [path, windows.filter((w) => w.path === path).reduce((sum, w) => sum + w.calls, 0)]));
  const usPerCall = (path: Path, samples: number) => (samples * 1e6) / FREQUENCY / calls.get(path)!;
  /**
   * Functions by how much more CPU (µs per call) modern spends in them than `base`, largest increase
   * first. Inclusive rows name JavaScript functions only: the runtime's frames below them (event
   * loop, callbacks) hold everything.
   */
  const differences = (kind: "self" | "inclusive", base: Path) => {
    const names = new Set([...tallies.get(base)![kind].keys(), ...tallies.get("modern")![kind].keys()]);
    return [...names]
      .filter((name) => kind === "self" || name.startsWith("JS "))
      .map((name) => {
        const a = usPerCall(base, tallies.get(base)![kind].get(name) ?? 0);
        const b = usPerCall("modern", tallies.get("modern")![kind].get(name) ?? 0);
        return { name, base: a, modern: b, difference: b - a };
      })
      .sort((x, y) => y.difference - x.difference);
  };
  const result = {
    when: new Date().toISOString(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, load: os.loadavg() },
    settings: { reps: REPS, durationMs: DURATION_MS, frequency: FREQUENCY, connections: CONNECTIONS },
    calls: Object.fromEntries(calls),
    cpuUsPerCall: Object.fromEntries(PATHS.map((path) => [path, usPerCall(path, tallies.get(path)!.samples)])),
    modernMinusSized: { self: differences("self", "sized").slice(0, TOP), inclusive: differences("inclusive", "sized").slice(0, TOP) },
    modernMinusLegacy: { self: differences("self", "legacy").slice(0, TOP), inclusive: differences("inclusive", "legacy").slice(0, TOP) },
  };
  const resultsDir = join(ROOT, "bench", "results");
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, "modern-profile.json"), JSON.stringify(result, null, 2) + "\n");
  const table = (rows: Array<{ name: string; base: number; modern: number; difference: number }>, base: Path) => [
    `| function | ${base} | modern | difference |`,
    "|---|--:|--:|--:|",
    ...rows.map((r) => `| \`${r.name.replaceAll("|", "\\|")}\` | ${r.base.toFixed(2)} | ${r.modern.toFixed(2)} | ${r.difference >= 0 ? "+" : ""}${r.difference.toFixed(2)} |`),
  ];
  const md = [
    "# Where each path spends the bridge's CPU, paired (perf, one bridge, paths alternating)",
    "",
    `${result.when}, ${result.machine.cpus} cores, load ${result.machine.load.map((l) => l.toFixed(2)).join(" ")}; ${CONNECTIONS} connections; ${REPS} repetitions of ${DURATION_MS} ms per path after ${WARMUP_MS} ms each unmeasured; cpu-clock at ${FREQUENCY} Hz; bridge and its children on CPU 0, load generator on CPU 1.`,
    "",
    "| path | calls | bridge CPU µs per call (under perf) | calls ÷ legacy's |",
    "|---|--:|--:|--:|",
    ...PATHS.map((path) => `| ${PATH_LABELS[path]} | ${calls.get(path)} | ${result.cpuUsPerCall[path]!.toFixed(1)} | ${(calls.get(path)! / calls.get("legacy")!).toFixed(3)} |`),
    "",
    "µs per call under perf (every figure inflated alike by perf's cost per sample); inclusive: the JavaScript function anywhere on the stack.",
    "",
    "## Largest increases, modern − sized, inclusive",
    "",
    ...table(result.modernMinusSized.inclusive, "sized"),
    "",
    "## Largest increases, modern − sized, self",
    "",
    ...table(result.modernMinusSized.self, "sized"),
    "",
    "## Largest increases, modern − legacy, inclusive",
    "",
    ...table(result.modernMinusLegacy.inclusive, "legacy"),
    "",
  ].join("\n");
  writeFileSync(join(resultsDir, "modern-profile.md"), md);
  process.stdout.write(md.split("\n").slice(0, 10).join("\n") + "\n");
}

await main();
