/**
 * @module The authorization server's bench: `node --import tsx bench/oauth-server.ts [--quick]
 * [--duration MS] [--reps N] [--connections N]`. One bridge (dist/mcp-bridge.cjs) with the
 * authorization server on (builtin user, the default file store) and a static bearer token next to
 * its JWTs, measured in one run:
 *
 * - the token endpoint, refresh grant: each worker rotates its own refresh token family;
 * - the authorization code flow with a cached login session (no password, no bcrypt): GET
 *   /authorize, POST the consent form, redeem the code at /token — complete flows per second,
 *   spread over USERS users (the bridge lets one user sign in 60 times per 15 minutes);
 * - tools/call through bench/load.mjs with an access token this server issued (a JWT checked
 *   against its own keys) and with the static bearer token, alternating per repetition (measured
 *   first, before the token phases grow the store).
 *
 * Results: bench/results/oauth-server.{json,md} (`oauth-server-quick` with --quick). Ratios within
 * one run are what counts; the absolute numbers depend on what else runs on the machine.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import http from "node:http";
import { createInterface } from "node:readline";
import bcrypt from "bcryptjs";
import { BEARER_TOKEN, FIXTURE, freePort, ROOT } from "./lib/targets.ts";
import { flag, option } from "./lib/args.ts";

const QUICK = flag("--quick");
const DURATION_MS = Number(option("--duration") ?? (QUICK ? 1500 : 5000));
const REPS = Number(option("--reps") ?? (QUICK ? 1 : 3));
const TOKEN_CONNECTIONS = Number(option("--connections") ?? 4);
const TOOLS_CONNECTIONS = 16;
const WARMUP_MS = QUICK ? 300 : 1000;
/** `--cpu-prof DIR`: the bridge writes a V8 profile there on exit (summarise with bench/cpuprofile-summary.mjs). */
const NODE_ARGS = option("--cpu-prof") ? ["--cpu-prof", "--cpu-prof-dir", option("--cpu-prof")!] : [];
const PASSWORD = "bench password, not a secret";
/** Users the code flows are spread over, each signed in once beforehand: room for USERS × 59 flows in a run. */
const USERS = 400;
const usernames = Array.from({ length: USERS }, (_, index) => `bench-${index}`);
const CALLBACK = "http://127.0.0.1:9/callback";

interface Bridge {
  origin: string;
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

async function startBridge(): Promise<Bridge> {
  const passwordHash = bcrypt.hashSync(PASSWORD, 4);
  const dir = mkdtempSync(join(os.tmpdir(), "mcp-bridge-bench-as-"));
  const port = await freePort();
  const config = {
    mode: "server",
    log: { level: "warn" },
    storage: { type: "file", path: join(dir, "state") },
    server: {
      listen: `127.0.0.1:${port}`,
      mcp_server: { command: process.execPath, args: [FIXTURE] },
      session: { max_sessions: 10_000 },
      // Static tokens are accepted next to the server's own JWTs: both are measured on this one bridge.
      auth: { type: "bearer", bearer: { valid_tokens: ["${BENCH_TOKEN}"] } },
      oauth_server: { enabled: true, login_session_lifetime: "1h", builtin: { users: usernames.map((username) => ({ username, password_hash: passwordHash, scopes: ["mcp"] })) } },
    },
  };
  writeFileSync(join(dir, "config.yaml"), JSON.stringify(config));
  const child = spawn(process.execPath, [...NODE_ARGS, join(ROOT, "dist/mcp-bridge.cjs"), "-c", join(dir, "config.yaml")], { env: { ...process.env, BENCH_TOKEN: BEARER_TOKEN }, stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr!.on("data", (chunk) => (log = (log + chunk).slice(-4000)));
  const origin = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${origin}/.well-known/oauth-authorization-server`)).ok) break;
    } catch {
      if (child.exitCode !== null || i > 400) throw new Error(`the bridge did not start:\n${log}`);
    }
    await new Promise((done) => setTimeout(done, 50));
  }
  return {
    origin,
    url: `${origin}/mcp`,
    child,
    async stop() {
      child.kill("SIGTERM");
      await once(child, "exit");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---- a browser's part, by hand: cookies, the consent form -------------------------------------

function pkce() {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
}

interface Answer {
  status: number;
  location: string | null;
  setCookies: string[];
  text: string;
}

/**
 * One HTTP request from `localAddress` (any 127.x.y.z is this machine): the bridge limits sign-in
 * requests per client address, so the flows come from many addresses, as many users' would.
 */
function send(url: string | URL, options: { method?: string; headers?: Record<string, string>; body?: string; localAddress: string }): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method: options.method ?? "GET", headers: options.headers, localAddress: options.localAddress, agent: false }, (response) => {
      let text = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (text += chunk));
      response.on("end", () => {
        const cookies = response.headers["set-cookie"] ?? [];
        resolve({ status: response.statusCode ?? 0, location: response.headers.location ?? null, setCookies: cookies, text });
      });
    });
    request.on("error", reject);
    request.end(options.body);
  });
}

let nextAddress = 0;
/** 127.1.0.1, 127.1.0.2, … : a fresh loopback source address per flow. */
function nextLoopbackAddress(): string {
  nextAddress = (nextAddress % 65_000) + 1;
  return `127.1.${nextAddress >> 8}.${nextAddress & 255}`;
}

function cookiesOf(setCookies: string[], into: Map<string, string>): void {
  for (const line of setCookies) {
    const pair = line.split(";")[0]!;
    const eq = pair.indexOf("=");
    into.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
}

const cookieHeader = (jar: Map<string, string>) => [...jar].map(([k, v]) => `${k}=${v}`).join("; ");

async function registerClient(bridge: Bridge): Promise<string> {
  const response = await fetch(`${bridge.origin}/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ client_name: "bench", redirect_uris: [CALLBACK], token_endpoint_auth_method: "none", grant_types: ["authorization_code", "refresh_token"] }),
  });
  if (response.status !== 201) throw new Error(`registration failed: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { client_id: string }).client_id;
}

/** One authorization code flow; as `username` it signs in with the password, else it relies on the login session in `jar`. */
async function codeFlow(bridge: Bridge, clientId: string, jar: Map<string, string>, username?: string): Promise<{ access_token: string; refresh_token: string }> {
  const { verifier, challenge } = pkce();
  const authorize = new URL(`${bridge.origin}/oauth/authorize`);
  for (const [key, value] of Object.entries({ response_type: "code", client_id: clientId, redirect_uri: CALLBACK, code_challenge: challenge, code_challenge_method: "S256", state: "bench", resource: bridge.url })) {
    authorize.searchParams.set(key, value);
  }
  const localAddress = nextLoopbackAddress();
  const page = await send(authorize, { headers: { cookie: cookieHeader(jar) }, localAddress });
  cookiesOf(page.setCookies, jar);
  const html = page.text;
  const field = (name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1] ?? "";
  const form = new URLSearchParams({ request_id: field("request_id"), csrf_token: field("csrf_token"), action: "allow", ...(username && { username, password: PASSWORD }) });
  const posted = await send(`${bridge.origin}/oauth/authorize`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", origin: "null", cookie: cookieHeader(jar) },
    body: form.toString(),
    localAddress,
  });
  cookiesOf(posted.setCookies, jar);
  const code = new URL(posted.location ?? "http://x/").searchParams.get("code");
  if (posted.status !== 303 || !code) throw new Error(`no code from the consent form (HTTP ${page.status}, then ${posted.status})`);
  const token = await fetch(`${bridge.origin}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "authorization_code", code, code_verifier: verifier, client_id: clientId, redirect_uri: CALLBACK, resource: bridge.url }),
  });
  const body = (await token.json()) as { access_token: string; refresh_token: string };
  if (token.status !== 200 || !body.refresh_token) throw new Error(`code redemption failed: ${token.status} ${JSON.stringify(body)}`);
  return body;
}

async function refresh(bridge: Bridge, clientId: string, refreshToken: string): Promise<string> {
  const response = await fetch(`${bridge.origin}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: refreshToken, client_id: clientId, resource: bridge.url }),
  });
  const body = (await response.json()) as { refresh_token?: string; error?: string };
  if (response.status !== 200 || !body.refresh_token) throw new Error(`refresh failed: ${response.status} ${body.error}`);
  return body.refresh_token;
}

// ---- measuring --------------------------------------------------------------------------------

interface Rate {
  operations: number;
  errors: number;
  elapsedMs: number;
  perSecond: number;
  firstError?: string;
}

/** Runs `workers` loops of `step` for `durationMs`, after a warm-up; counts completed steps. */
async function rate<T>(workers: T[], step: (worker: T) => Promise<void>): Promise<Rate> {
  const loop = async (worker: T, until: number, tally: { operations: number; errors: number; firstError?: string }) => {
    while (performance.now() < until) {
      try {
        await step(worker);
        tally.operations++;
      } catch (error) {
        tally.errors++;
        tally.firstError ??= (error as Error).message;
      }
    }
  };
  await Promise.all(workers.map((worker) => loop(worker, performance.now() + WARMUP_MS, { operations: 0, errors: 0 })));
  const tally = { operations: 0, errors: 0 } as { operations: number; errors: number; firstError?: string };
  const start = performance.now();
  await Promise.all(workers.map((worker) => loop(worker, start + DURATION_MS, tally)));
  const elapsedMs = performance.now() - start;
  return { ...tally, elapsedMs, perSecond: (tally.operations / elapsedMs) * 1000 };
}

/** tools/call through bench/load.mjs (its own process), one session over TOOLS_CONNECTIONS connections. */
interface ToolsCall {
  rps: number;
  errors: number;
  p50: number | null;
  p99: number | null;
}

async function toolsCall(bridge: Bridge, token: string): Promise<ToolsCall> {
  const options = { url: bridge.url, token, accept: "both", connections: TOOLS_CONNECTIONS, sessions: "one", durationMs: DURATION_MS, warmupMs: WARMUP_MS, payloadBytes: 16 };
  const child = spawn(process.execPath, [join(ROOT, "bench/load.mjs"), JSON.stringify(options)], { cwd: ROOT, stdio: ["pipe", "pipe", "inherit"] });
  let result: { rps: number; errors: number; latencyMs: { p50: number | null; p99: number | null } } | undefined;
  let failure: string | undefined;
  createInterface({ input: child.stdout! }).on("line", (line) => {
    const message = JSON.parse(line) as { ready?: boolean; result?: typeof result; failed?: string };
    if (message.ready) child.stdin!.write("go\n");
    else if (message.result) result = message.result;
    else if (message.failed) failure = message.failed;
  });
  await once(child, "exit");
  if (!result) throw new Error(failure ?? "the load generator ended without a result");
  return { rps: result.rps, errors: result.errors, p50: result.latencyMs.p50, p99: result.latencyMs.p99 };
}

const median = (values: number[]) => {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length === 0 ? NaN : sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

async function main(): Promise<void> {
  const loadBefore = os.loadavg();
  const bridge = await startBridge();
  try {
    const clientId = await registerClient(bridge);
    // One real sign-in (bcrypt) per worker, for its refresh family, and one per user, for the login
    // session each of its code flows relies on (one user's flows would soon be throttled).
    const workers = await Promise.all(
      Array.from({ length: TOKEN_CONNECTIONS }, async (_, index) => {
        const tokens = await codeFlow(bridge, clientId, new Map(), usernames[index]!);
        return { refreshToken: tokens.refresh_token, accessToken: tokens.access_token };
      }),
    );
    const sessions: Map<string, string>[] = [];
    for (const username of usernames) {
      const jar = new Map<string, string>();
      await codeFlow(bridge, clientId, jar, username);
      sessions.push(jar);
    }
    let nextSession = 0;
    const asJwt = workers[0]!.accessToken;
    // tools/call first, while the store is small: the token phases leave the file store larger and
    // writing for a while, which would weigh on whichever tools/call run came next. The order of
    // JWT and bearer alternates per repetition, so a drift of the machine's speed favours neither.
    const calls: { jwt: ToolsCall; bearer: ToolsCall }[] = [];
    for (let rep = 1; rep <= REPS; rep++) {
      const [first, second] = rep % 2 ? [asJwt, BEARER_TOKEN] : [BEARER_TOKEN, asJwt];
      const a = await toolsCall(bridge, first);
      const b = await toolsCall(bridge, second);
      const [jwt, bearer] = rep % 2 ? [a, b] : [b, a];
      calls.push({ jwt, bearer });
      console.error(`rep ${rep}: tools/call JWT ${jwt.rps.toFixed(0)}/s (${jwt.errors} errors) vs bearer ${bearer.rps.toFixed(0)}/s (${bearer.errors} errors)`);
    }
    const runs: { rep: number; refresh: Rate; codeFlow: Rate; jwt: ToolsCall; bearer: ToolsCall }[] = [];
    for (let rep = 1; rep <= REPS; rep++) {
      const refreshRate = await rate(workers, async (worker) => {
        worker.refreshToken = await refresh(bridge, clientId, worker.refreshToken);
      });
      const flowRate = await rate(workers, async (worker) => {
        await codeFlow(bridge, clientId, sessions[nextSession++ % sessions.length]!);
      });
      runs.push({ rep, refresh: refreshRate, codeFlow: flowRate, ...calls[rep - 1]! });
      console.error(`rep ${rep}: refresh ${refreshRate.perSecond.toFixed(0)}/s (${refreshRate.errors} errors), code flow ${flowRate.perSecond.toFixed(1)}/s (${flowRate.errors} errors)`);
      for (const failed of [refreshRate, flowRate]) if (failed.firstError) console.error(`  first error: ${failed.firstError}`);
    }
    const summary = {
      refreshPerSecond: median(runs.map((r) => r.refresh.perSecond)),
      codeFlowPerSecond: median(runs.map((r) => r.codeFlow.perSecond)),
      toolsCallJwtRps: median(runs.map((r) => r.jwt.rps)),
      toolsCallBearerRps: median(runs.map((r) => r.bearer.rps)),
      // Paired per repetition: the two ran back to back.
      jwtOverBearer: median(runs.map((r) => r.jwt.rps / r.bearer.rps)),
      codeFlowOverRefresh: median(runs.map((r) => r.codeFlow.perSecond / r.refresh.perSecond)),
    };
    const meta = { date: new Date().toISOString(), quick: QUICK, durationMs: DURATION_MS, reps: REPS, tokenConnections: TOKEN_CONNECTIONS, toolsConnections: TOOLS_CONNECTIONS, cpus: os.cpus().length, loadBefore, loadAfter: os.loadavg(), node: process.version };
    const name = QUICK ? "oauth-server-quick" : "oauth-server";
    writeFileSync(join(ROOT, "bench/results", `${name}.json`), JSON.stringify({ meta, summary, runs }, null, 2) + "\n");
    const f = (n: number, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : "–");
    const md = [
      `# Authorization server bench${QUICK ? " (quick)" : ""}`,
      "",
      `${meta.date}, Node ${meta.node}, ${meta.cpus} CPUs, load average ${loadBefore.map((l) => l.toFixed(2)).join(" ")} before, ${meta.loadAfter.map((l) => l.toFixed(2)).join(" ")} after; ${REPS} rep(s) × ${DURATION_MS / 1000} s, medians. One bridge, file store, log level warn.`,
      "",
      "| measure | value |",
      "|---|--:|",
      `| token endpoint, refresh grant (${TOKEN_CONNECTIONS} workers, rotation each time) | ${f(summary.refreshPerSecond)} req/s |`,
      `| authorization code flow with a cached login session (GET /authorize + POST consent + POST /token; ${TOKEN_CONNECTIONS} workers) | ${f(summary.codeFlowPerSecond, 1)} flows/s (${f(summary.codeFlowPerSecond * 3)} req/s) |`,
      `| tools/call, the server's own JWT (${TOOLS_CONNECTIONS} connections, one session) | ${f(summary.toolsCallJwtRps)} req/s |`,
      `| tools/call, static bearer token, same bridge | ${f(summary.toolsCallBearerRps)} req/s |`,
      `| **JWT ÷ static bearer** (paired per rep) | **${f(summary.jwtOverBearer, 2)}×** |`,
      `| code flow ÷ refresh (flows per refresh) | ${f(summary.codeFlowOverRefresh, 2)}× |`,
      "",
      "The load generators share the cores with the bridge (and, on the machine these were taken on, with other work): ratios within one run are what counts.",
      "",
    ].join("\n");
    writeFileSync(join(ROOT, "bench/results", `${name}.md`), md);
    console.log(md);
  } finally {
    await bridge.stop();
  }
}

await main();
