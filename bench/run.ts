/**
 * @module `npm run bench`: mcp-bridge against the floors (the child over stdio; plain node:http)
 * and its peers (supergateway, mcp-proxy), one machine, one run, same stdio fixture behind all.
 *
 *   node --import tsx bench/run.ts [--quick] [--only s16,m64,…] [--targets bridge,floor-http,…] [--reps N] [--duration MS] [--out NAME]
 *
 * Each measured run starts its target afresh, lets bench/load.mjs (a separate process) open the
 * sessions and warm up, then measures for a fixed time while this process samples the target's
 * process tree in /proc (peak RSS; CPU before/after). Targets of a scenario are interleaved
 * (A B C, A B C, …) over the repetitions; medians are reported. Results go to
 * bench/results/NAME.json and NAME.md (NAME: latest, or quick with --quick).
 * The benchmark never fails on a number: it exits non-zero only when it could not run.
 */
import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { callEcho, deleteSession, openSession } from "./lib/mcp-client.mjs";
import { cpuSeconds, memory, startMemorySampler, treeCpuSeconds } from "./lib/proc.mjs";
import { ROOT, startJwtIssuer, startTarget, type JwtIssuer, type TargetSpec } from "./lib/targets.ts";
import { flag, option } from "./lib/args.ts";

// ---- options ------------------------------------------------------------------------------

const QUICK = flag("--quick");
const ONLY = option("--only")?.split(",");
/** Runs only these target ids in each scenario (a quick before/after of one change). */
const TARGETS = option("--targets")?.split(",");
const REPS_OVERRIDE = option("--reps") ? Number(option("--reps")) : undefined;
const DURATION_MS = Number(option("--duration") ?? (QUICK ? 1000 : 3000));
const WARMUP_MS = QUICK ? 500 : 1000;
const IDLE_SESSIONS = Number(option("--idle-sessions") ?? (QUICK ? 20 : 100));
const STARTUP_REPS = QUICK ? 1 : 5;
const OUT = option("--out") ?? (QUICK ? "quick" : "latest");

// ---- targets and scenarios ----------------------------------------------------------------

const STDIO: TargetSpec = { id: "stdio", label: "child over stdio (floor)", kind: "stdio" };
const FLOOR: TargetSpec = { id: "floor-http", label: "plain node:http (floor)", kind: "floor-http" };
const BRIDGE: TargetSpec = { id: "bridge", label: "mcp-bridge, bearer", kind: "bridge", auth: "bearer" };
const SUPERGATEWAY: TargetSpec = { id: "supergateway", label: "supergateway 4.0.0 (stateful)", kind: "supergateway" };
const MCP_PROXY: TargetSpec = { id: "mcp-proxy", label: "mcp-proxy 6.7.19", kind: "mcp-proxy" };
const ALL = [STDIO, FLOOR, BRIDGE, SUPERGATEWAY, MCP_PROXY];
const BRIDGE_SHARED: TargetSpec = { id: "bridge-shared", label: "mcp-bridge, bearer, shared child", kind: "bridge", auth: "bearer", session: "shared" };
/** Sessions scenarios: the bridge also with one shared child, which separates its own cost from that of a child per session. */
const HTTP_ONLY = [FLOOR, BRIDGE, BRIDGE_SHARED, SUPERGATEWAY, MCP_PROXY];

interface Scenario {
  id: string;
  title: string;
  connections: number;
  /** one: every connection uses the same session; each: a session per connection. */
  sessions: "one" | "each";
  payloadBytes: number;
  targets: TargetSpec[];
  reps: number;
  durationMs?: number;
}

const SCENARIOS: Scenario[] = [
  { id: "s16", title: "one session, 16 connections (main)", connections: 16, sessions: "one", payloadBytes: 16, targets: ALL, reps: 5 },
  { id: "s1", title: "one session, 1 connection", connections: 1, sessions: "one", payloadBytes: 16, targets: ALL, reps: 2 },
  { id: "s64", title: "one session, 64 connections", connections: 64, sessions: "one", payloadBytes: 16, targets: ALL, reps: 2 },
  { id: "m16", title: "16 sessions, each on its own connection", connections: 16, sessions: "each", payloadBytes: 16, targets: HTTP_ONLY, reps: 2 },
  { id: "m64", title: "64 sessions, each on its own connection", connections: 64, sessions: "each", payloadBytes: 16, targets: HTTP_ONLY, reps: 3 },
  {
    id: "auth",
    title: "auth: none / static bearer / JWT (one session, 16 connections)",
    connections: 16,
    sessions: "one",
    payloadBytes: 16,
    targets: [
      { id: "bridge-none", label: "mcp-bridge, auth none", kind: "bridge", auth: "none" },
      { id: "bridge-bearer", label: "mcp-bridge, bearer", kind: "bridge", auth: "bearer" },
      { id: "bridge-jwt", label: "mcp-bridge, JWT (ES256 via JWKS)", kind: "bridge", auth: "jwt" },
    ],
    reps: 5,
  },
  {
    id: "sse",
    title: "SSE vs JSON replies (one session, 16 connections)",
    connections: 16,
    sessions: "one",
    payloadBytes: 16,
    targets: [
      { id: "floor-http-json", label: "plain node:http, JSON", kind: "floor-http", accept: "json" },
      { id: "floor-http-sse", label: "plain node:http, SSE", kind: "floor-http", accept: "sse" },
      { id: "bridge-json", label: "mcp-bridge bearer, JSON", kind: "bridge", auth: "bearer", accept: "json" },
      { id: "bridge-sse", label: "mcp-bridge bearer, SSE", kind: "bridge", auth: "bearer", accept: "sse" },
    ],
    reps: 2,
  },
  { id: "big", title: "100 KiB payloads (one session, 16 connections)", connections: 16, sessions: "one", payloadBytes: 100 * 1024, targets: ALL, reps: 2 },
];

const IDLE_TARGETS: TargetSpec[] = [
  { id: "bridge", label: "mcp-bridge, bearer, per_session", kind: "bridge", auth: "bearer" },
  BRIDGE_SHARED,
  SUPERGATEWAY,
  MCP_PROXY,
];
const STARTUP_TARGETS: TargetSpec[] = [FLOOR, BRIDGE, SUPERGATEWAY, MCP_PROXY];

// ---- one measured run ---------------------------------------------------------------------

interface LoadResult {
  requests: number;
  errors: number;
  errorSamples: string[];
  elapsedMs: number;
  rps: number;
  latencyMs: { p50: number | null; p90: number | null; p99: number | null; max: number | null; mean: number | null };
  /** stdio floor only: the child's CPU over the measured phase, read by the load generator. */
  childCpuSeconds?: number;
  /** The load generator's own CPU over the measured phase. */
  loadCpuSeconds: number;
}

interface RunResult extends LoadResult {
  target: string;
  rep: number;
  peakTreeMB: number;
  peakMainMB: number;
  processes: number;
  /** CPU of the target's whole tree (main process and children) per 1,000 answered requests. */
  cpuMsPer1k: number;
  /** CPU of the main process alone per 1,000 requests. */
  mainCpuMsPer1k: number;
  /** CPU of the load generator per 1,000 requests: what the target leaves for it on shared cores. */
  loadCpuMsPer1k: number;
  failed?: string;
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
const mb = (kb: number) => Math.round((kb / 1024) * 10) / 10;

async function runLoad(options: Record<string, unknown>, onReady: (pid: number | undefined) => void): Promise<LoadResult> {
  const child = spawn(process.execPath, [join(ROOT, "bench/load.mjs"), JSON.stringify(options)], { cwd: ROOT, stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout! });
  let result: LoadResult | undefined;
  let failure: string | undefined;
  lines.on("line", (line) => {
    let message: { ready?: boolean; pid?: number; result?: LoadResult; failed?: string };
    try {
      message = JSON.parse(line);
    } catch {
      return;
    }
    if (message.ready) {
      onReady(message.pid);
      child.stdin!.write("go\n");
    } else if (message.result) result = message.result;
    else if (message.failed) failure = message.failed;
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), Number(options.durationMs) + 120_000);
  await once(child, "exit");
  clearTimeout(timer);
  if (!result) throw new Error(failure ?? "the load generator ended without a result");
  return result;
}

async function measure(scenario: Scenario, spec: TargetSpec, rep: number, jwt: JwtIssuer | undefined): Promise<RunResult> {
  const running = spec.kind === "stdio" ? undefined : await startTarget(spec, { jwt });
  let sampler: ReturnType<typeof startMemorySampler> | undefined;
  let pid: number | undefined;
  let cpu0 = 0;
  let mainCpu0 = 0;
  let cpu1 = 0;
  let mainCpu1 = 0;
  try {
    const load = await runLoad(
      {
        url: running?.url,
        token: running?.credentials.token,
        accept: spec.accept ?? "both",
        connections: scenario.connections,
        sessions: scenario.sessions,
        durationMs: scenario.durationMs ?? DURATION_MS,
        warmupMs: WARMUP_MS,
        payloadBytes: scenario.payloadBytes,
        stdio: spec.kind === "stdio" ? [process.execPath, join(ROOT, "bench/fixtures/echo-server.mjs")] : undefined,
      },
      (childPid) => {
        pid = running?.pid ?? childPid;
        cpu0 = treeCpuSeconds(pid!);
        mainCpu0 = cpuSeconds(pid!);
        sampler = startMemorySampler(pid!, 100);
      },
    );
    // The stdio child exits with the load generator: its last sample is what counts there.
    if (running) {
      cpu1 = treeCpuSeconds(pid!);
      mainCpu1 = cpuSeconds(pid!);
    }
    const peak = sampler?.stop() ?? { rootKb: 0, treeKb: 0, processes: 0 };
    const per1k = (seconds: number) => (load.requests > 0 ? (seconds * 1000 * 1000) / load.requests : NaN);
    return {
      target: spec.id,
      rep,
      ...load,
      peakTreeMB: mb(peak.treeKb),
      peakMainMB: mb(peak.rootKb),
      processes: peak.processes,
      cpuMsPer1k: running ? per1k(cpu1 - cpu0) : per1k(load.childCpuSeconds ?? NaN),
      mainCpuMsPer1k: running ? per1k(mainCpu1 - mainCpu0) : per1k(load.childCpuSeconds ?? NaN),
      loadCpuMsPer1k: per1k(load.loadCpuSeconds),
    };
  } finally {
    sampler?.stop();
    await running?.stop();
  }
}

// ---- aggregation and reporting ------------------------------------------------------------

interface Summary {
  target: string;
  label: string;
  runs: number;
  rps: number;
  rpsRuns: number[];
  p50: number;
  p90: number;
  p99: number;
  errors: number;
  requests: number;
  peakTreeMB: number;
  peakMainMB: number;
  cpuMsPer1k: number;
  mainCpuMsPer1k: number;
  loadCpuMsPer1k: number;
  failed?: string;
}

function median(values: number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function summarize(spec: TargetSpec, runs: RunResult[]): Summary {
  const good = runs.filter((r) => !r.failed);
  return {
    target: spec.id,
    label: spec.label,
    runs: good.length,
    rps: median(good.map((r) => r.rps)),
    rpsRuns: good.map((r) => Math.round(r.rps)),
    p50: median(good.map((r) => r.latencyMs.p50 ?? NaN)),
    p90: median(good.map((r) => r.latencyMs.p90 ?? NaN)),
    p99: median(good.map((r) => r.latencyMs.p99 ?? NaN)),
    errors: runs.reduce((sum, r) => sum + (r.errors ?? 0), 0),
    requests: good.reduce((sum, r) => sum + r.requests, 0),
    peakTreeMB: Math.max(0, ...good.map((r) => r.peakTreeMB)),
    peakMainMB: Math.max(0, ...good.map((r) => r.peakMainMB)),
    cpuMsPer1k: median(good.map((r) => r.cpuMsPer1k)),
    mainCpuMsPer1k: median(good.map((r) => r.mainCpuMsPer1k)),
    loadCpuMsPer1k: median(good.map((r) => r.loadCpuMsPer1k)),
    failed: runs.find((r) => r.failed)?.failed,
  };
}

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : "–");
const ratio = (a: number, b: number | undefined) => (b !== undefined && Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}×` : "–");

function scenarioTable(scenario: Scenario, rows: Summary[]): string {
  const find = (id: string) => rows.find((r) => r.target === id && r.runs > 0);
  const floor = find("floor-http") ?? find("floor-http-json");
  const stdio = find("stdio");
  const sg = find("supergateway");
  const mp = find("mcp-proxy");
  const lines = [
    `### ${scenario.title}`,
    "",
    `${scenario.connections} connection(s), ${scenario.sessions === "one" ? "one session" : "a session per connection"}, ${scenario.payloadBytes >= 1024 ? `${scenario.payloadBytes / 1024} KiB` : `${scenario.payloadBytes} B`} text, ${scenario.reps} rep(s) × ${(scenario.durationMs ?? DURATION_MS) / 1000} s`,
    "",
    "| target | req/s | p50 ms | p90 ms | p99 ms | errors | tree RSS MB | main RSS MB | CPU ms/1k req: tree | main | load gen. | × node:http floor | × stdio floor | × supergateway | × mcp-proxy |",
    "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
  ];
  for (const row of rows) {
    if (row.runs === 0) {
      lines.push(`| ${row.label} | failed: ${(row.failed ?? "").split("\n")[0]!.slice(0, 120).replaceAll("|", "/")} | | | | ${row.errors} | | | | | | | | | |`);
      continue;
    }
    lines.push(
      `| ${row.label} | ${fmt(row.rps)} | ${fmt(row.p50, 2)} | ${fmt(row.p90, 2)} | ${fmt(row.p99, 2)} | ${row.errors} | ${fmt(row.peakTreeMB, 1)} | ${fmt(row.peakMainMB, 1)} | ${fmt(row.cpuMsPer1k, 1)} | ${fmt(row.mainCpuMsPer1k, 1)} | ${fmt(row.loadCpuMsPer1k, 1)} | ${ratio(row.rps, floor?.rps)} | ${ratio(row.rps, stdio?.rps)} | ${ratio(row.rps, sg?.rps)} | ${ratio(row.rps, mp?.rps)} |`,
    );
  }
  return lines.join("\n");
}

// ---- idle memory and start-up -------------------------------------------------------------

interface IdleResult {
  target: string;
  label: string;
  sessions: number;
  /** The main process 10 s after the sessions opened, once the runtime has collected start-up garbage. */
  mainMB: number;
  /** The main process 2 s after the sessions opened. */
  earlyMainMB: number;
  treeMB: number;
  processes: number;
  baselineMainMB: number;
  failed?: string;
}

async function idleMemory(spec: TargetSpec, count: number, jwt: JwtIssuer | undefined): Promise<IdleResult> {
  const running = await startTarget(spec, { jwt });
  const agents: http.Agent[] = [];
  try {
    await sleep(500);
    const baseline = memory(running.pid);
    const opened: { agent: http.Agent; headers: Record<string, string | number> }[] = [];
    for (let i = 0; i < count; i += 10) {
      const batch = [];
      for (let j = i; j < Math.min(count, i + 10); j++) {
        const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
        agents.push(agent);
        batch.push(
          openSession(agent, running.url, running.credentials).then(async (session) => {
            await callEcho(agent, running.url, session.headers, 1, `idle ${j}`);
            opened.push({ agent, headers: session.headers });
          }),
        );
      }
      await Promise.all(batch);
    }
    // What stays once the sessions are idle is what they cost; garbage from opening them is still
    // there after 2 s and gone after 10 (V8 shrinks an idle heap after a few seconds).
    await sleep(2000);
    const early = memory(running.pid);
    await sleep(8000);
    const now = memory(running.pid);
    for (const { agent, headers } of opened) await deleteSession(agent, running.url, headers);
    return { target: spec.id, label: spec.label, sessions: opened.length, mainMB: mb(now.rootKb), earlyMainMB: mb(early.rootKb), treeMB: mb(now.treeKb), processes: now.processes, baselineMainMB: mb(baseline.rootKb) };
  } finally {
    for (const agent of agents) agent.destroy();
    await running.stop();
  }
}

// ---- main ---------------------------------------------------------------------------------

function gitCommit(): string {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
  } catch {
    return "unknown";
  }
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const loadBefore = os.loadavg();
  const scenarios = SCENARIOS.filter((s) => !ONLY || ONLY.includes(s.id)).map((s) => ({
    ...s,
    reps: REPS_OVERRIDE ?? (QUICK ? 1 : s.reps),
    targets: TARGETS ? s.targets.filter((t) => TARGETS.includes(t.id)) : s.targets,
  }));
  const wantIdle = !ONLY || ONLY.includes("idle");
  const wantStartup = !ONLY || ONLY.includes("startup");
  const needsJwt = scenarios.some((s) => s.targets.some((t) => t.auth === "jwt"));
  const jwt = needsJwt ? await startJwtIssuer() : undefined;
  console.error(`mcp-bridge bench${QUICK ? " (quick)" : ""}: ${scenarios.length} scenarios, ${DURATION_MS} ms per run; load average ${loadBefore.map((l) => l.toFixed(2)).join(" ")}`);

  const results: { scenario: Scenario; runs: RunResult[]; summaries: Summary[] }[] = [];
  for (const scenario of scenarios) {
    const runs: RunResult[] = [];
    for (let rep = 1; rep <= scenario.reps; rep++) {
      for (const spec of scenario.targets) {
        let run: RunResult;
        const runStart = performance.now();
        try {
          run = await measure(scenario, spec, rep, jwt);
        } catch (error) {
          const message = (error as Error).message;
          run = { target: spec.id, rep, failed: message, requests: 0, errors: 0, errorSamples: [], elapsedMs: 0, rps: NaN, latencyMs: { p50: null, p90: null, p99: null, max: null, mean: null }, peakTreeMB: NaN, peakMainMB: NaN, processes: 0, cpuMsPer1k: NaN, mainCpuMsPer1k: NaN, loadCpuSeconds: NaN, loadCpuMsPer1k: NaN };
        }
        runs.push(run);
        const tag = `${scenario.id} ${spec.id} #${rep}`;
        if (run.failed) console.error(`  ${tag}: FAILED ${run.failed.split("\n")[0]}`);
        else console.error(`  ${tag} (${((performance.now() - runStart) / 1000).toFixed(1)} s): ${fmt(run.rps)} req/s, p50 ${fmt(run.latencyMs.p50 ?? NaN, 2)} ms, p99 ${fmt(run.latencyMs.p99 ?? NaN, 2)} ms, ${run.errors} errors, tree ${run.peakTreeMB} MB${run.errors ? ` (${run.errorSamples[0]})` : ""}`);
      }
    }
    results.push({ scenario, runs, summaries: scenario.targets.map((spec) => summarize(spec, runs.filter((r) => r.target === spec.id))) });
  }

  const idle: IdleResult[] = [];
  if (wantIdle) {
    for (const spec of IDLE_TARGETS) {
      try {
        idle.push(await idleMemory(spec, IDLE_SESSIONS, jwt));
      } catch (error) {
        idle.push({ target: spec.id, label: spec.label, sessions: 0, mainMB: NaN, earlyMainMB: NaN, treeMB: NaN, processes: 0, baselineMainMB: NaN, failed: (error as Error).message });
      }
      const last = idle[idle.length - 1]!;
      console.error(`  idle ${spec.id}: ${last.failed ? `FAILED ${last.failed.split("\n")[0]}` : `${last.sessions} sessions, main ${last.mainMB} MB (${last.earlyMainMB} MB after 2 s), tree ${last.treeMB} MB (${last.processes} processes)`}`);
    }
  }

  const startup: { target: string; label: string; ms: number[]; medianMs: number }[] = [];
  if (wantStartup) {
    for (const spec of STARTUP_TARGETS) startup.push({ target: spec.id, label: spec.label, ms: [], medianMs: NaN });
    for (let rep = 0; rep < STARTUP_REPS; rep++) {
      for (const [i, spec] of STARTUP_TARGETS.entries()) {
        try {
          const running = await startTarget(spec, { jwt });
          startup[i]!.ms.push(Math.round(running.startupMs * 10) / 10);
          await running.stop();
        } catch (error) {
          console.error(`  startup ${spec.id}: FAILED ${(error as Error).message.split("\n")[0]}`);
        }
      }
    }
    for (const entry of startup) {
      entry.medianMs = median(entry.ms);
      console.error(`  startup ${entry.target}: median ${fmt(entry.medianMs)} ms (${entry.ms.join(", ")})`);
    }
  }
  await jwt?.close();
  const loadAfter = os.loadavg();

  // ---- the issue's targets, as ratios measured in this run ----
  /**
   * `value` of target `a` over the throughput of `b`, per repetition (the two ran back to back),
   * then the median: this machine's speed drifts over minutes, and pairing cancels most of it.
   */
  const paired = (scenarioId: string, a: string, b: string, value: (run: RunResult) => number = (run) => run.rps) => {
    const runs = results.find((r) => r.scenario.id === scenarioId)?.runs ?? [];
    const each: number[] = [];
    for (const first of runs.filter((r) => r.target === a && !r.failed)) {
      const second = runs.find((r) => r.target === b && r.rep === first.rep && !r.failed);
      if (second) each.push(value(first) / second.rps);
    }
    return each.length > 0 ? { median: median(each), each } : undefined;
  };
  const targets: { what: string; measured: string; goal: string; met: boolean | null }[] = [];
  /** `measured` undefined: the scenario did not run; `met` undefined: a figure without a goal. */
  const addTarget = (what: string, goal: string, measured: string | undefined, met: boolean | undefined) =>
    targets.push({ what, goal, measured: measured ?? "not measured", met: measured === undefined || met === undefined ? null : met });
  const checkRatio = (what: string, goal: string, ratio: { median: number; each: number[] } | undefined, ok: ((v: number) => boolean) | undefined, note = "") =>
    addTarget(what, goal, ratio && `${ratio.median.toFixed(2)}× (per repetition ${ratio.each.map((v) => v.toFixed(2)).join(", ")})${note}`, ratio && ok?.(ratio.median));
  const pick = (scenarioId: string, target: string) => results.find((r) => r.scenario.id === scenarioId)?.summaries.find((s) => s.target === target && s.runs > 0);

  checkRatio("one session, 16 conns, bearer: bridge ÷ node:http floor", "≥ 0.70×", paired("s16", "bridge", "floor-http"), (v) => v >= 0.7);
  checkRatio("one session, 16 conns, bearer: bridge ÷ supergateway", "≥ 5×", paired("s16", "bridge", "supergateway"), (v) => v >= 5);
  checkRatio("64 sessions: bridge ÷ node:http floor throughput", "≥ 0.60×", paired("m64", "bridge", "floor-http"), (v) => v >= 0.6);
  const bridge64 = pick("m64", "bridge");
  const floor64 = pick("m64", "floor-http");
  const p99Ratio = bridge64 && floor64 ? bridge64.p99 / floor64.p99 : undefined;
  addTarget("64 sessions: bridge p99 ÷ floor p99 (medians)", "≤ 2×", p99Ratio === undefined ? undefined : `${p99Ratio.toFixed(2)}× (${bridge64!.p99.toFixed(2)} vs ${floor64!.p99.toFixed(2)} ms)`, p99Ratio !== undefined && p99Ratio <= 2);
  // With a child per session every message wakes a process of its own. If the bridge itself cost
  // nothing, the children and the load generator alone would still fill the cores at this rate.
  const cores = os.cpus().length;
  const ceiling = (run: RunResult) => (cores * 1e6) / (run.cpuMsPer1k - run.mainCpuMsPer1k + run.loadCpuMsPer1k);
  checkRatio(
    "64 sessions, a child per session: ceiling for a bridge that cost nothing (cores ÷ CPU of the 64 children and the load generator per request) ÷ floor",
    "(bound)",
    paired("m64", "bridge", "floor-http", ceiling),
    undefined,
    bridge64 ? `; children ${fmt(bridge64.cpuMsPer1k - bridge64.mainCpuMsPer1k, 1)} and load generator ${fmt(bridge64.loadCpuMsPer1k, 1)} CPU ms per 1k requests (medians)` : "",
  );
  checkRatio("64 sessions, bridge with one shared child (for comparison): ÷ floor", "≥ 0.60×", paired("m64", "bridge-shared", "floor-http"), (v) => v >= 0.6);
  // Throughput lost to JWT validation is 1 − (JWT ÷ bearer).
  checkRatio("JWT ÷ bearer throughput (JWT validation may cost ≤ 10 %)", "≥ 0.90×", paired("auth", "bridge-jwt", "bridge-bearer"), (v) => v >= 0.9);
  const idleBridge = idle.find((i) => i.target === "bridge" && !i.failed);
  addTarget(
    `bridge RSS (children excluded) with ${IDLE_SESSIONS} idle sessions, settled`,
    "≤ 80 MB",
    idleBridge && `${idleBridge.mainMB.toFixed(1)} MB (${idleBridge.earlyMainMB.toFixed(1)} MB 2 s after opening them)`,
    idleBridge && idleBridge.mainMB <= 80,
  );

  // ---- write ----
  const machine = { node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryGB: Math.round(os.totalmem() / 2 ** 30), loadBefore, loadAfter };
  const report = { startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(), commit: gitCommit(), quick: QUICK, durationMs: DURATION_MS, warmupMs: WARMUP_MS, machine, targets, scenarios: results, idle, startup };

  const md: string[] = [
    `# mcp-bridge benchmark${QUICK ? " (quick sanity run)" : ""}`,
    "",
    `${startedAt.toISOString()} · commit ${report.commit} · Node ${machine.node} · ${machine.cpus} cores (${machine.cpuModel}) · load average before ${loadBefore.map((l) => l.toFixed(2)).join(" ")}, after ${loadAfter.map((l) => l.toFixed(2)).join(" ")}`,
    "",
    "Same stdio fixture (bench/fixtures/echo-server.mjs) behind every target; the load generator (bench/load.mjs, node:http keep-alive) runs in its own process on the same 2 cores, so it competes with the target for CPU. Every reply is parsed and checked (id and echoed text). RSS is the peak over the measured phase; “tree” is the target and all its descendants, “main” its first process alone. CPU is utime+stime per 1,000 answered requests: of the whole tree, of the main process, and of the load generator. Tables show medians over repetitions (errors summed); the target ratios pair each repetition of one target with the other target's run right beside it and take the median of those ratios, since this machine's speed drifts over minutes.",
    "",
    "## Targets of issue 5",
    "",
    "| target | goal | measured | met |",
    "|---|---|---|---|",
    ...targets.map((t) => `| ${t.what} | ${t.goal} | ${t.measured} | ${t.met === null ? "–" : t.met ? "yes" : "no"} |`),
    "",
    "## Throughput and latency",
    "",
    ...results.flatMap((r) => [scenarioTable(r.scenario, r.summaries), ""]),
  ];
  if (idle.length > 0) {
    md.push(
      `## Memory with ${IDLE_SESSIONS} idle sessions`,
      "",
      "Each session was initialized and answered one call over a keep-alive connection that stays open; RSS of the main process before any session, 2 s after the last one opened, and 10 s after (settled), and of the whole tree at 10 s.",
      "",
      "| target | sessions | main RSS MB before | 2 s after | 10 s after | tree RSS MB | processes |",
      "|---|--:|--:|--:|--:|--:|--:|",
    );
    for (const i of idle) md.push(i.failed ? `| ${i.label} | failed: ${i.failed.split("\n")[0]!.slice(0, 120)} | | | | | |` : `| ${i.label} | ${i.sessions} | ${fmt(i.baselineMainMB, 1)} | ${fmt(i.earlyMainMB, 1)} | ${fmt(i.mainMB, 1)} | ${fmt(i.treeMB, 1)} | ${i.processes} |`);
    md.push("");
  }
  if (startup.length > 0) {
    md.push("## Start-up time to first answer", "", "From spawn to the first verified tools/call reply (initialize, initialized, tools/call; polled every 5 ms).", "", "| target | median ms | runs (ms) |", "|---|--:|---|");
    for (const s of startup) md.push(`| ${s.label} | ${fmt(s.medianMs)} | ${s.ms.join(", ")} |`);
    md.push("");
  }

  const dir = join(ROOT, "bench/results");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${OUT}.json`), JSON.stringify(report, null, 2) + "\n");
  writeFileSync(join(dir, `${OUT}.md`), md.join("\n"));
  console.log(md.join("\n"));
  console.error(`\nwrote bench/results/${OUT}.json and bench/results/${OUT}.md in ${((Date.now() - startedAt.getTime()) / 1000).toFixed(0)} s`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
