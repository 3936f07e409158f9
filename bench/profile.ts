/**
 * @module Profiles mcp-bridge under the main scenario (one session, 16 connections, bearer auth,
 * per-session child, log level info) with `node --cpu-prof`, then summarises the profile.
 *   node --import tsx bench/profile.ts [--duration MS] [--connections N] [--sessions one|each] [--auth none|bearer|jwt] [--accept both|json|sse]
 * Writes bench/results/profiles/bridge-<scenario>.cpuprofile and .md (the summary); the scenario
 * is named like run.ts's: s16 (one session, 16 connections), m64 (a session per connection, 64).
 */
import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { ROOT, startJwtIssuer, startTarget, type Accept, type Auth } from "./lib/targets.ts";
import { option } from "./lib/args.ts";

const durationMs = Number(option("--duration") ?? 8000);
const connections = Number(option("--connections") ?? 16);
const auth = (option("--auth") ?? "bearer") as Auth;
const accept = (option("--accept") ?? "both") as Accept;
const sessions = (option("--sessions") ?? "one") as "one" | "each";
const name = `bridge-${sessions === "one" ? "s" : "m"}${connections}-${auth}${accept === "both" ? "" : `-${accept}`}`;

const dir = join(ROOT, "bench/results/profiles");
const scratch = join(dir, `.${name}`);
rmSync(scratch, { recursive: true, force: true });
mkdirSync(scratch, { recursive: true });

const jwt = auth === "jwt" ? await startJwtIssuer() : undefined;
const running = await startTarget({ id: "bridge", label: "mcp-bridge", kind: "bridge", auth, nodeArgs: ["--cpu-prof", "--cpu-prof-dir", scratch] }, { jwt });
const load = spawn(process.execPath, [join(ROOT, "bench/load.mjs"), JSON.stringify({ url: running.url, token: running.credentials.token, accept, connections, sessions, durationMs, warmupMs: 1000, payloadBytes: 16 })], {
  cwd: ROOT,
  stdio: ["pipe", "pipe", "inherit"],
});
let result = "";
createInterface({ input: load.stdout! }).on("line", (line) => {
  if (line.includes('"ready"')) load.stdin!.write("go\n");
  else result = line;
});
await once(load, "exit");
// SIGTERM: the bridge shuts down gracefully and V8 writes the profile on exit.
await running.stop();
await jwt?.close();
const written = readdirSync(scratch).filter((f) => f.endsWith(".cpuprofile"));
if (written.length === 0) throw new Error("the bridge wrote no profile (did it exit gracefully?)");
const profile = join(dir, `${name}.cpuprofile`);
renameSync(join(scratch, written[0]!), profile);
rmSync(scratch, { recursive: true, force: true });
const summary = execFileSync(process.execPath, [join(ROOT, "bench/cpuprofile-summary.mjs"), profile, "--top", "25"], { encoding: "utf8" });
const load_ = JSON.parse(result).result;
const header = `# Profile: mcp-bridge, ${sessions === "one" ? "one session" : "a session per connection"}, ${connections} connections, auth ${auth}, accept ${accept}\n\n${new Date().toISOString()} · load during profiling: ${Math.round(load_.rps)} req/s, p50 ${load_.latencyMs.p50.toFixed(2)} ms, ${load_.errors} errors (the profiler slows the bridge)\n\n`;
writeFileSync(join(dir, `${name}.md`), header + summary);
console.log(header + summary);
