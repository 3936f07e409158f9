/**
 * @module `node --import tsx bench/modern.ts [--duration MS] [--connections N] [--reps N] [--rounds N]`:
 * the bridge's modern (2026-07-28) path against its legacy path, one bridge (bearer, a child per
 * principal / per session) in front of bench/fixtures/echo-server.mjs, in one run:
 * - throughput of tools/call `echo` over N keep-alive connections, modern (stateless, `_meta`
 *   envelope, standard headers) vs legacy (one session), alternated over the repetitions (every
 *   other one in reverse order; ratios are medians of per-repetition ratios), and the
 *   legacy path carrying a modern request's bytes, which separates the bridge's modern work from
 *   the protocol's larger requests (see PATHS);
 * - one Multi Round-Trip round (tools/call `ask`: the child elicits, the client gets
 *   `input_required`, retries with `inputResponses`) against two plain echo calls, sequential.
 * Both paths first run `--warmup` ms unmeasured. `--pool 1` gives the bridge one child per principal for such calls (one at a time), the
 * default 8 a pool: the attribution choice of src/server/modern-pool.ts, measured.
 * `--executable dist/mcp-bridge` runs the release executable (its pinned Node) instead of the bundle on this Node.
 * `--profile DIR` writes a CPU profile of the bridge there; with `--only legacy|sized|modern` it covers one path.
 * Goals (issue 12): modern ≥ 0.95× legacy; an MRTR round ≤ 1 ms more than two plain calls.
 * Writes bench/results/modern.{json,md}. Never fails on a number.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import { join } from "node:path";
import { post, responseFor } from "./lib/mcp-client.mjs";
import { callFor, modernCall, modernEcho, modernHeaders, PATH_LABELS, pathLoads, PATHS, type Path, type PathCall } from "./lib/modern-paths.ts";
import { cpuSeconds, treeCpuSeconds } from "./lib/proc.mjs";
import { RELEASE_NODE_VERSION, ROOT, startTarget, type Running } from "./lib/targets.ts";
import { flag, option } from "./lib/args.ts";
import { assertCanPin, pin } from "./lib/pin.ts";

const DURATION_MS = Number(option("--duration") ?? 2000);
const CONNECTIONS = Number(option("--connections") ?? 16);
const REPS = Number(option("--reps") ?? 9);
/** Each path runs this long, unmeasured, before the repetitions: both measured warm (JIT, the modern pool's children started). */
const WARMUP_MS = Number(option("--warmup") ?? 3000);
const ROUNDS = Number(option("--rounds") ?? 200);
/** session.modern_pool_size: 1 runs a principal's calls that may ask for input one at a time. */
const POOL = Number(option("--pool") ?? 8);
/** Writes a CPU profile of the bridge to this directory (node --cpu-prof); see cpuprofile-summary.mjs. */
const PROFILE_DIR = option("--profile");
/** Runs one path's throughput only (for a profile of that path): no ratio, no MRTR round. */
const ONLY = option("--only");
/**
 * Runs the bridge as this standalone executable (`node build.mjs --sea`: dist/mcp-bridge, on the
 * Node release users get, scripts/node-dist.mjs) instead of `node dist/mcp-bridge.cjs` on this Node.
 */
const EXECUTABLE = option("--executable");
const BRIDGE_RUNTIME = EXECUTABLE ? `the executable ${EXECUTABLE} (Node ${RELEASE_NODE_VERSION})` : `node dist/mcp-bridge.cjs (Node ${process.versions.node})`;
/**
 * Pins the load generator (this process) to CPU 1 and the bridge with its children to CPU 0
 * (taskset, Linux): on 2 cores the load generator otherwise competes with the bridge for the same
 * CPU, and the ratio then counts the client's cost of a larger request as the bridge's.
 */
const PIN = flag("--pin");
if (PIN) assertCanPin("--pin");
if (ONLY !== undefined && ONLY !== "legacy" && ONLY !== "sized" && ONLY !== "modern") throw new Error("--only takes legacy, sized or modern");

/** The value at fraction `q` of the sorted values (0.5: the median; 0.25 and 0.75: the quartiles). */
const quantile = (values: number[], q: number) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) * q + 0.5)]!;
const median = (values: number[]) => quantile(values, 0.5);

/**
 * CPU microseconds per call of the measured phase, from /proc (utime+stime, all threads: GC and
 * JIT threads included) and process.cpuUsage: a sampling profile counts wall time, and on 2 busy
 * cores it charges the time a write system call waits for another process to the call.
 */
interface CpuPerCall {
  bridge: number;
  children: number;
  loadGenerator: number;
}

/** Calls per second over `CONNECTIONS` workers for DURATION_MS (after a short warm-up), and the CPU they cost. */
async function throughput(target: Running, call: PathCall, durationMs = DURATION_MS): Promise<{ rate: number; cpu: CpuPerCall }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const ids = { next: 1 };
  await callFor(call, agent, CONNECTIONS, 300, ids);
  const snapshot = () => ({ bridge: cpuSeconds(target.pid), tree: treeCpuSeconds(target.pid), self: process.cpuUsage() });
  const before = snapshot();
  const started = Date.now();
  const done = await callFor(call, agent, CONNECTIONS, durationMs, ids);
  const after = snapshot();
  const rate = (done * 1000) / (Date.now() - started);
  agent.destroy();
  const perCall = (seconds: number) => (seconds * 1e6) / done;
  const bridge = after.bridge - before.bridge;
  const self = process.cpuUsage(before.self);
  return { rate, cpu: { bridge: perCall(bridge), children: perCall(after.tree - before.tree - bridge), loadGenerator: (self.user + self.system) / done } };
}

async function main(): Promise<void> {
  const target = await startTarget({ id: "bridge", label: "mcp-bridge, bearer", kind: "bridge", auth: "bearer", modernPoolSize: POOL, ...(EXECUTABLE && { executable: EXECUTABLE }), ...(PROFILE_DIR && { nodeArgs: ["--cpu-prof", "--cpu-prof-dir", PROFILE_DIR] }) });
  const measured = PATHS.filter((path) => ONLY === undefined || ONLY === path);
  const rates = new Map<Path, number[]>(measured.map((path) => [path, []]));
  const cpu = new Map<Path, CpuPerCall[]>(measured.map((path) => [path, []]));
  let mrtr = { roundMs: 0, twoCallsMs: 0 };
  try {
    if (PIN) {
      pin(target.pid, 0);
      pin(process.pid, 1);
    }
    const sessionAgent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
    const loads = await pathLoads(target, sessionAgent);
    for (const path of measured) await throughput(target, loads[path], WARMUP_MS);
    for (let rep = 0; rep < REPS; rep++) {
      // Every other repetition in reverse order: no path always runs right after another.
      for (const path of rep % 2 === 0 ? measured : [...measured].reverse()) {
        const run = await throughput(target, loads[path]);
        rates.get(path)!.push(run.rate);
        cpu.get(path)!.push(run.cpu);
      }
    }
    sessionAgent.destroy();
    if (ONLY) {
      const [ran, spent] = [rates.get(ONLY as Path)!, cpu.get(ONLY as Path)!];
      process.stdout.write(`${ONLY}: ${ran.map((r) => r.toFixed(0)).join(", ")} calls/s; bridge CPU µs per call ${spent.map((c) => c.bridge.toFixed(1)).join(", ")}; children ${spent.map((c) => c.children.toFixed(1)).join(", ")}; load generator ${spent.map((c) => c.loadGenerator.toFixed(1)).join(", ")}\n`);
      return;
    }
    mrtr = await roundTrip(target);
  } finally {
    await target.stop();
  }
  const rate = (path: Path) => median(rates.get(path)!);
  /**
   * A ratio of two paths per repetition (they ran back to back, on the same machine state), then
   * the median and quartiles of those: this host's speed drifts between repetitions far more than
   * the paths differ.
   */
  const paired = (a: Path, b: Path) => {
    const ratios = rates.get(a)!.map((r, i) => r / rates.get(b)![i]!);
    return { median: median(ratios), q1: quantile(ratios, 0.25), q3: quantile(ratios, 0.75) };
  };
  const shown = (r: { median: number; q1: number; q3: number }) => `**${r.median.toFixed(2)}×** (quartiles ${r.q1.toFixed(2)}–${r.q3.toFixed(2)})`;
  const result = {
    when: new Date().toISOString(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, load: os.loadavg() },
    settings: { bridge: BRIDGE_RUNTIME, durationMs: DURATION_MS, warmupMs: WARMUP_MS, connections: CONNECTIONS, reps: REPS, rounds: ROUNDS, pool: POOL, pinned: PIN },
    rps: Object.fromEntries(rates),
    cpuUsPerCall: Object.fromEntries(cpu),
    ratio: paired("modern", "legacy"),
    ratioSameSize: paired("modern", "sized"),
    ratioSizedLegacy: paired("sized", "legacy"),
    mrtr,
    mrtrExtraMs: mrtr.roundMs - mrtr.twoCallsMs,
  };
  const dir = join(ROOT, "bench", "results");
  mkdirSync(dir, { recursive: true });
  const name = `${POOL === 8 ? "modern" : `modern-pool${POOL}`}${PIN ? "-pinned" : ""}${EXECUTABLE ? "-executable" : ""}`;
  writeFileSync(join(dir, `${name}.json`), JSON.stringify(result, null, 2) + "\n");
  const md = [
    "# Modern (2026-07-28) vs legacy path, one bridge (bearer), bench echo fixture",
    "",
    `${result.when}, ${result.machine.cpus} cores, load ${result.machine.load.map((l) => l.toFixed(2)).join(" ")}; ${CONNECTIONS} connections, ${DURATION_MS} ms × ${REPS} reps after ${WARMUP_MS} ms of each path unmeasured; modern_pool_size ${POOL}; the bridge: ${BRIDGE_RUNTIME}; ${PIN ? "pinned: load generator on CPU 1, bridge and its children on CPU 0" : "not pinned (all processes share the cores)"}.`,
    "",
    "| path | calls/s (median) | runs |",
    "|---|---|---|",
    ...PATHS.map((path) => `| ${PATH_LABELS[path]} | ${rate(path).toFixed(0)} | ${rates.get(path)!.map((r) => r.toFixed(0)).join(", ")} |`),
    "",
    "Ratios: median of the per-repetition ratios (each repetition runs the paths back to back).",
    "",
    `- Modern / legacy: ${shown(result.ratio)} (goal ≥ 0.95×).`,
    `- Modern / legacy with modern-sized requests (the bridge's own modern work): ${shown(result.ratioSameSize)}.`,
    `- Legacy with modern-sized requests / legacy (the protocol's larger requests): ${shown(result.ratioSizedLegacy)}.`,
    "",
    "CPU µs per call, median over the repetitions (lowest in brackets: the cost with the least interference); /proc, all threads:",
    "",
    "| path | bridge | its children | load generator |",
    "|---|---|---|---|",
    ...PATHS.map((path) => {
      const spent = cpu.get(path)!;
      const cell = (values: number[]) => `${median(values).toFixed(1)} (${Math.min(...values).toFixed(1)})`;
      return `| ${PATH_LABELS[path]} | ${cell(spent.map((c) => c.bridge))} | ${cell(spent.map((c) => c.children))} | ${cell(spent.map((c) => c.loadGenerator))} |`;
    }),
    "",
    `MRTR round (call → input_required → retry → result), sequential, ${ROUNDS} rounds: ${mrtr.roundMs.toFixed(3)} ms; two plain echo calls: ${mrtr.twoCallsMs.toFixed(3)} ms; extra: **${result.mrtrExtraMs.toFixed(3)} ms** (goal ≤ 1 ms).`,
    "",
  ].join("\n");
  writeFileSync(join(dir, `${name}.md`), md);
  process.stdout.write(md);
}

/** Mean time of one MRTR round and of two plain modern calls, one connection, one after another. */
async function roundTrip(target: Running): Promise<{ roundMs: number; twoCallsMs: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let id = 1_000_000;
  const round = async () => {
    const first = responseFor(await post(agent, target.url, modernCall(++id, "ask", {}), modernHeaders(target.credentials.token, "tools/call", "ask")), id);
    const inputRequests = first.result?.inputRequests as Record<string, unknown> | undefined;
    const key = inputRequests && Object.keys(inputRequests)[0];
    if (first.result?.resultType !== "input_required" || !key) throw new Error(`no input_required: ${JSON.stringify(first).slice(0, 200)}`);
    const retry = modernCall(++id, "ask", {}, { inputResponses: { [key]: { action: "accept", content: { value: "v" } } }, requestState: first.result.requestState });
    const final = responseFor(await post(agent, target.url, retry, modernHeaders(target.credentials.token, "tools/call", "ask")), id);
    if (final.result?.content?.[0]?.text !== "v") throw new Error(`round came back wrong: ${JSON.stringify(final).slice(0, 200)}`);
  };
  const two = async () => {
    await modernEcho(agent, target, ++id, "a");
    await modernEcho(agent, target, ++id, "b");
  };
  for (let i = 0; i < 20; i++) {
    await round();
    await two();
  }
  let roundTotal = 0;
  let twoTotal = 0;
  for (let i = 0; i < ROUNDS; i++) {
    let started = performance.now();
    await round();
    roundTotal += performance.now() - started;
    started = performance.now();
    await two();
    twoTotal += performance.now() - started;
  }
  agent.destroy();
  return { roundMs: roundTotal / ROUNDS, twoCallsMs: twoTotal / ROUNDS };
}

await main();
