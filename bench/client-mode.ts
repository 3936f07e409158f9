/**
 * Client mode vs the SDK's own HTTP client, same server, same run: `tools/call` (echo) made by an
 * SDK v1 client (a) over StreamableHTTPClientTransport straight to an SDK v1 Streamable HTTP
 * server, (b) over stdio to `mcp-bridge connect URL` in front of the same server. The server runs
 * in its own process; in (b) the HTTP work runs in the bridge's process, which on a multi-core
 * machine is parallelism (a) does not get — the deployment's real shape, but read ratios with that in mind. Rounds alternate
 * a, b, a, b… so drift of this shared machine's speed hits both alike; medians of the rounds.
 *
 *   node build.mjs && node --import tsx bench/client-mode.ts [--calls 2000] [--concurrency 16] [--rounds 3]
 *
 * Prints p50/p99 latency (ms), throughput (calls/s), the added p50 and the throughput ratio, and
 * writes bench/results/client-mode.json. Never fails on a number.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { spawn } from "node:child_process";
import { CLI, ROOT } from "../tests/support/bridge.ts";
import { option } from "./lib/args.ts";

const CALLS = Number(option("--calls") ?? 2000);
const CONCURRENCY = Number(option("--concurrency") ?? 16);
const ROUNDS = Number(option("--rounds") ?? 3);

interface Round {
  p50: number;
  p99: number;
  throughput: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** CALLS calls with CONCURRENCY in flight; every answer checked. */
async function measure(client: Client): Promise<Round> {
  for (let i = 0; i < 50; i++) await client.callTool({ name: "echo", arguments: { text: "warm-up" } });
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < CALLS) {
        const n = next++;
        const t0 = performance.now();
        const result = await client.callTool({ name: "echo", arguments: { text: `call ${n}` } });
        latencies.push(performance.now() - t0);
        if ((result.content as Array<{ text: string }>)[0]?.text !== `call ${n}`) throw new Error(`wrong answer for call ${n}`);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), throughput: CALLS / elapsed };
}

async function direct(url: string): Promise<Round> {
  const client = new Client({ name: "bench-direct", version: "1" });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  try {
    return await measure(client);
  } finally {
    await client.close();
  }
}

async function viaBridge(url: string): Promise<Round> {
  const client = new Client({ name: "bench-bridge", version: "1" });
  await client.connect(new StdioClientTransport({ command: process.execPath, args: [CLI, "connect", url, "--log-level", "error"], stderr: "inherit" }));
  try {
    return await measure(client);
  } finally {
    await client.close();
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

// The server runs in a process of its own, so neither client shares an event loop with it.
const serverProcess = spawn(process.execPath, ["--import", "tsx", join(ROOT, "bench", "fixtures", "sdk-streamable-server.ts")], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
const url = await new Promise<string>((resolve, reject) => {
  let text = "";
  serverProcess.stdout!.on("data", (chunk: Buffer) => {
    text += chunk.toString("utf8");
    if (text.includes("\n")) resolve(text.trim());
  });
  serverProcess.once("exit", (code) => reject(new Error(`the server exited (${code})`)));
});
const rounds: Array<{ sdk: Round; bridge: Round }> = [];
try {
  for (let i = 0; i < ROUNDS; i++) rounds.push({ sdk: await direct(url), bridge: await viaBridge(url) });
} finally {
  serverProcess.kill("SIGTERM");
}
const summary = (pick: (round: { sdk: Round; bridge: Round }) => Round) => ({
  p50: median(rounds.map((round) => pick(round).p50)),
  p99: median(rounds.map((round) => pick(round).p99)),
  throughput: median(rounds.map((round) => pick(round).throughput)),
});
const sdk = summary((round) => round.sdk);
const bridge = summary((round) => round.bridge);
const report = {
  when: new Date().toISOString(),
  calls: CALLS,
  concurrency: CONCURRENCY,
  rounds: ROUNDS,
  sdk,
  bridge,
  addedP50Ms: bridge.p50 - sdk.p50,
  addedP99Ms: bridge.p99 - sdk.p99,
  throughputRatio: bridge.throughput / sdk.throughput,
  // Paired per round: the machine's speed drifts between rounds.
  pairedThroughputRatios: rounds.map((round) => round.bridge.throughput / round.sdk.throughput),
};
const fmt = (value: number) => value.toFixed(2);
console.log(`tools/call, ${CALLS} calls, ${CONCURRENCY} in flight, median of ${ROUNDS} rounds`);
console.log(`  SDK HTTP client      p50 ${fmt(sdk.p50)} ms  p99 ${fmt(sdk.p99)} ms  ${fmt(sdk.throughput)} calls/s`);
console.log(`  via mcp-bridge       p50 ${fmt(bridge.p50)} ms  p99 ${fmt(bridge.p99)} ms  ${fmt(bridge.throughput)} calls/s`);
console.log(`  added p50 ${fmt(report.addedP50Ms)} ms, p99 ${fmt(report.addedP99Ms)} ms; throughput ${fmt(report.throughputRatio)}× the SDK client's`);
writeFileSync(join(ROOT, "bench", "results", "client-mode.json"), JSON.stringify(report, null, 2) + "\n");
