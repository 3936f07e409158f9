#!/usr/bin/env node
// The load generator, run in its own process so it never shares an event loop with a target.
//   node bench/load.mjs '<json options>'
// Options: { url, token?, apiKey?, accept: "both"|"json"|"sse", connections, sessions: "one"|"each",
//            durationMs?, requests?, warmupMs, payloadBytes, stdio?: [command, ...args] }
// With `stdio` it drives that command directly over stdin/stdout (the floor) with `connections`
// requests in flight, instead of HTTP.
// Protocol with the parent: after sessions are open and warm-up is done it prints
// {"ready":true,"pid":…} and waits for a line on stdin; then it runs the measured phase and prints
// one JSON line with the result. Every reply is checked (id and echoed text); failures are counted.
import { spawn } from "node:child_process";
import http from "node:http";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { callEcho, checkEcho, deleteSession, echoRequest, openSession } from "./lib/mcp-client.mjs";
import { cpuSeconds } from "./lib/proc.mjs";

const options = JSON.parse(process.argv[2] ?? "{}");
const connections = options.connections ?? 16;
const filler = makeFiller(options.payloadBytes ?? 16);
let nextId = 1;

function makeFiller(bytes) {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789 ";
  let text = "";
  while (text.length < bytes) text += alphabet;
  return text.slice(0, bytes);
}

class Recorder {
  constructor() {
    this.latencies = new Float64Array(1 << 16);
    this.count = 0;
    this.errors = 0;
    this.errorSamples = [];
  }
  ok(ms) {
    if (this.count === this.latencies.length) {
      const bigger = new Float64Array(this.latencies.length * 2);
      bigger.set(this.latencies);
      this.latencies = bigger;
    }
    this.latencies[this.count++] = ms;
  }
  error(error) {
    this.errors++;
    if (this.errorSamples.length < 5) this.errorSamples.push(String(error?.message ?? error).slice(0, 300));
  }
  summary(elapsedMs) {
    const sorted = this.latencies.slice(0, this.count).sort();
    const at = (q) => (this.count === 0 ? null : sorted[Math.min(this.count - 1, Math.floor(q * this.count))]);
    let sum = 0;
    for (let i = 0; i < this.count; i++) sum += sorted[i];
    return {
      requests: this.count,
      errors: this.errors,
      errorSamples: this.errorSamples,
      elapsedMs,
      rps: (this.count / elapsedMs) * 1000,
      latencyMs: { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: at(1), mean: this.count ? sum / this.count : null },
    };
  }
}

function waitForGo() {
  return new Promise((resolve) => {
    const lines = createInterface({ input: process.stdin });
    lines.once("line", () => {
      lines.close();
      resolve();
    });
  });
}

// ---- HTTP ----------------------------------------------------------------------------------

async function runHttp() {
  const each = options.sessions === "each";
  const agentFor = () => new http.Agent({ keepAlive: true, maxSockets: each ? 1 : connections, maxFreeSockets: each ? 1 : connections });
  const sharedAgent = each ? undefined : agentFor();
  const sessionCount = each ? connections : 1;
  const sessions = [];
  // Open sessions a few at a time: with a child per session, each one spawns a process.
  for (let i = 0; i < sessionCount; i += 8) {
    const batch = [];
    for (let j = i; j < Math.min(sessionCount, i + 8); j++) {
      const agent = sharedAgent ?? agentFor();
      batch.push(openSession(agent, options.url, options).then((s) => ({ ...s, agent })));
    }
    sessions.push(...(await Promise.all(batch)));
  }

  async function worker(session, recorder, until) {
    while (until()) {
      const id = nextId++;
      const text = `${id}:${filler}`;
      const start = performance.now();
      try {
        await callEcho(session.agent, options.url, session.headers, id, text);
        recorder?.ok(performance.now() - start);
      } catch (error) {
        recorder?.error(error);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
  }
  const phase = async (recorder, stopAt, budget) => {
    let started = 0;
    const until = () => (budget === undefined ? performance.now() < stopAt : started++ < budget);
    await Promise.all(Array.from({ length: connections }, (_, i) => worker(sessions[each ? i : 0], recorder, until)));
  };

  const warmup = new Recorder();
  await phase(warmup, performance.now() + (options.warmupMs ?? 1000));
  if (warmup.count === 0) throw new Error(`warm-up got no good reply: ${warmup.errorSamples.join(" | ")}`);
  console.log(JSON.stringify({ ready: true }));
  await waitForGo();
  const recorder = new Recorder();
  const ownCpu = process.cpuUsage();
  const start = performance.now();
  await phase(recorder, start + (options.durationMs ?? 5000), options.requests);
  const elapsed = performance.now() - start;
  const loadCpuSeconds = cpuSecondsSince(ownCpu);
  await Promise.all(sessions.map((s) => deleteSession(s.agent, options.url, s.headers)));
  return { ...recorder.summary(elapsed), loadCpuSeconds };
}

/** This process's own CPU (user + system) since `before`, in seconds. */
function cpuSecondsSince(before) {
  const { user, system } = process.cpuUsage(before);
  return (user + system) / 1e6;
}

// ---- stdio (the floor) ---------------------------------------------------------------------

async function runStdio() {
  const [command, ...args] = options.stdio;
  const child = spawn(command, args, { stdio: ["pipe", "pipe", "inherit"] });
  child.stdout.setEncoding("utf8");
  const inFlight = new Map(); // id → { text, start }
  let recorder;
  let buffered = "";
  let sending = true;
  let budget = Infinity;
  let stopAt = Infinity;
  let onIdle;
  let onInit;

  const next = () => {
    if (!sending) return "";
    if (budget-- <= 0 || performance.now() >= stopAt) {
      sending = false;
      return "";
    }
    const id = nextId++;
    const text = `${id}:${filler}`;
    inFlight.set(id, { text, start: performance.now() });
    return echoRequest(id, text) + "\n";
  };

  child.stdout.on("data", (chunk) => {
    buffered += chunk;
    let start = 0;
    let out = "";
    for (let nl = buffered.indexOf("\n"); nl !== -1; nl = buffered.indexOf("\n", start)) {
      const line = buffered.slice(start, nl);
      start = nl + 1;
      const message = JSON.parse(line);
      if (message.id === 0) {
        onInit(message);
        continue;
      }
      const sent = inFlight.get(message.id);
      try {
        if (!sent) throw new Error(`reply to unknown id ${message.id}`);
        inFlight.delete(message.id);
        if (message.error) throw new Error(`JSON-RPC error ${message.error.message}`);
        checkEcho(message, sent.text);
        recorder.ok(performance.now() - sent.start);
      } catch (error) {
        recorder.error(error);
      }
      out += next();
    }
    buffered = buffered.slice(start);
    if (out) child.stdin.write(out);
    if (inFlight.size === 0 && onIdle) onIdle();
  });

  await new Promise((resolve, reject) => {
    onInit = (message) => (message.result ? resolve() : reject(new Error("initialize failed")));
    child.stdin.write(JSON.stringify({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "bench", version: "1" } } }) + "\n");
  });
  child.stdin.write(JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }) + "\n");

  const phase = (rec, until, count) =>
    new Promise((resolve) => {
      recorder = rec;
      sending = true;
      stopAt = until;
      budget = count ?? Infinity;
      onIdle = () => {
        onIdle = undefined;
        resolve();
      };
      let out = "";
      for (let i = 0; i < connections; i++) out += next();
      child.stdin.write(out);
    });

  await phase(new Recorder(), performance.now() + (options.warmupMs ?? 1000));
  console.log(JSON.stringify({ ready: true, pid: child.pid }));
  await waitForGo();
  const rec = new Recorder();
  const cpu0 = cpuSeconds(child.pid);
  const ownCpu = process.cpuUsage();
  const start = performance.now();
  await phase(rec, start + (options.durationMs ?? 5000), options.requests);
  const elapsed = performance.now() - start;
  const loadCpuSeconds = cpuSecondsSince(ownCpu);
  // The child is the target here, and it ends with us: its CPU is read before it goes.
  const childCpuSeconds = cpuSeconds(child.pid) - cpu0;
  child.stdin.end();
  await once(child, "exit");
  return { ...rec.summary(elapsed), childCpuSeconds, loadCpuSeconds };
}

try {
  const result = options.stdio ? await runStdio() : await runHttp();
  console.log(JSON.stringify({ result }));
  process.exit(0);
} catch (error) {
  console.log(JSON.stringify({ failed: String(error?.stack ?? error) }));
  process.exit(1);
}
