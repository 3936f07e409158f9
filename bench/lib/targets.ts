/**
 * @module The systems under test, started from this repository: mcp-bridge (dist/mcp-bridge.cjs),
 * the plain node:http floor, supergateway and mcp-proxy from node_modules — each wrapping the same
 * stdio fixture — and a local JWKS issuer for the JWT scenario.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { callEcho, deleteSession, openSession } from "./mcp-client.mjs";
import { treePids } from "./proc.mjs";

export const ROOT = resolve(import.meta.dirname, "../..");
export const FIXTURE = join(ROOT, "bench/fixtures/echo-server.mjs");
export const BEARER_TOKEN = "bench-token-0123456789abcdef0123456789abcdef";
export const JWT_AUDIENCE = "mcp-bridge-bench";
/** The Node release the standalone executables embed (scripts/node-dist.mjs). */
export const RELEASE_NODE_VERSION = ((await import(pathToFileURL(join(ROOT, "scripts/node-dist.mjs")).href)) as { NODE_VERSION: string }).NODE_VERSION;

export type Kind = "stdio" | "floor-http" | "bridge" | "supergateway" | "mcp-proxy";
export type Auth = "none" | "bearer" | "jwt";
export type Accept = "both" | "json" | "sse";

export interface TargetSpec {
  id: string;
  label: string;
  kind: Kind;
  /** The bridge's auth; peers take none (supergateway has none; mcp-proxy's is an API key). */
  auth?: Auth;
  session?: "per_session" | "shared";
  /** The bridge's session.modern_pool_size (children per principal for modern calls on a legacy child). */
  modernPoolSize?: number;
  /** What the load generator sends in Accept (default both). */
  accept?: Accept;
  /** Extra node options for the target's main process (e.g. --cpu-prof). */
  nodeArgs?: string[];
  /** A command the target's node runs under (e.g. valgrind and its options). */
  wrapper?: string[];
  /**
   * The bridge as a standalone executable (`node build.mjs --sea`: the Node release that
   * scripts/node-dist.mjs pins, as users run it) instead of `node dist/mcp-bridge.cjs` on this
   * process's Node; node options then go through NODE_OPTIONS.
   */
  executable?: string;
}

export interface Credentials {
  token?: string;
}

export interface Running {
  spec: TargetSpec;
  pid: number;
  url: string;
  credentials: Credentials;
  /** Milliseconds from spawn to the first verified tools/call answer. */
  startupMs: number;
  /** The last lines the target wrote (for error reports). */
  output(): string;
  stop(): Promise<void>;
}

export interface JwtIssuer {
  jwksUrl: string;
  issuer: string;
  token: string;
  close(): Promise<void>;
}

/** A local authorization server as far as the bridge can tell: a JWKS on loopback and one signed token. */
export async function startJwtIssuer(): Promise<JwtIssuer> {
  const { generateKeyPair, exportJWK, SignJWT } = await import("jose");
  const { publicKey, privateKey } = await generateKeyPair("ES256");
  const jwk = { ...(await exportJWK(publicKey)), kid: "bench-1", alg: "ES256", use: "sig" };
  const body = JSON.stringify({ keys: [jwk] });
  const server = http.createServer((_request, response) => {
    response.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    response.end(body);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as net.AddressInfo).port;
  const issuer = `http://127.0.0.1:${port}`;
  const token = await new SignJWT({ scope: "mcp", client_id: "bench" })
    .setProtectedHeader({ alg: "ES256", kid: "bench-1", typ: "at+jwt" })
    .setIssuer(issuer)
    .setSubject("bench-user")
    .setAudience(JWT_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime("4h")
    .sign(privateKey);
  return {
    jwksUrl: `${issuer}/jwks`,
    issuer,
    token,
    close: () => new Promise((done) => server.close(() => done())),
  };
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

function bridgeConfig(spec: TargetSpec, port: number, jwt: JwtIssuer | undefined): string {
  const auth =
    spec.auth === "bearer"
      ? { type: "bearer", bearer: { valid_tokens: ["${BENCH_TOKEN}"] } }
      : spec.auth === "jwt"
        ? { type: "oauth", oauth: { jwks_url: jwt!.jwksUrl, issuer: jwt!.issuer, audience: JWT_AUDIENCE, validation: { allowed_algorithms: ["ES256"] } } }
        : { type: "none" };
  // JSON is YAML; ${BENCH_TOKEN} is substituted by the bridge's loader.
  return JSON.stringify(
    {
      mode: "server",
      server: {
        listen: `127.0.0.1:${port}`,
        mcp_server: { command: process.execPath, args: [FIXTURE] },
        session: { mode: spec.session ?? "per_session", max_sessions: 10_000, ...(spec.modernPoolSize && { modern_pool_size: spec.modernPoolSize }) },
        auth,
      },
      log: { level: "info" },
    },
    null,
    2,
  );
}

function commandFor(spec: TargetSpec, port: number, configFile: string | undefined): string[] {
  const node = [...(spec.wrapper ?? []), process.execPath, ...(spec.nodeArgs ?? [])];
  switch (spec.kind) {
    case "bridge":
      if (spec.executable) return [...(spec.wrapper ?? []), spec.executable, "-c", configFile!];
      return [...node, join(ROOT, "dist/mcp-bridge.cjs"), "-c", configFile!];
    case "floor-http":
      return [...node, join(ROOT, "bench/floor-http.mjs"), "--port", String(port), "--", process.execPath, FIXTURE];
    case "supergateway":
      // Stateful Streamable HTTP: a child per session, like the bridge's per_session mode. Its own
      // logging is off (--logLevel none) so that it is measured at its fastest.
      return [
        ...node,
        join(ROOT, "node_modules/supergateway/dist/index.js"),
        "--stdio",
        `${process.execPath} ${FIXTURE}`,
        "--outputTransport",
        "streamableHttp",
        "--stateful",
        "--port",
        String(port),
        "--logLevel",
        "none",
      ];
    case "mcp-proxy":
      return [...node, join(ROOT, "node_modules/mcp-proxy/dist/bin/mcp-proxy.mjs"), "--port", String(port), "--host", "127.0.0.1", "--server", "stream", "--", process.execPath, FIXTURE];
    case "stdio":
      throw new Error("the stdio floor has no server: the load generator drives the child itself");
  }
}

/**
 * Starts a target and waits until it answers a verified tools/call (that time is its start-up
 * time). Throws, after stopping it, when it does not answer within `timeoutMs`.
 */
export async function startTarget(spec: TargetSpec, options: { jwt?: JwtIssuer; timeoutMs?: number } = {}): Promise<Running> {
  const port = await freePort();
  const dir = spec.kind === "bridge" ? mkdtempSync(join(tmpdir(), "mcp-bridge-bench-")) : undefined;
  const configFile = dir ? join(dir, "config.yaml") : undefined;
  if (configFile) writeFileSync(configFile, bridgeConfig(spec, port, options.jwt));
  const [command, ...args] = commandFor(spec, port, configFile);
  const credentials: Credentials = spec.auth === "bearer" ? { token: BEARER_TOKEN } : spec.auth === "jwt" ? { token: options.jwt!.token } : {};
  const url = `http://127.0.0.1:${port}/mcp`;

  const started = performance.now();
  const child: ChildProcess = spawn(command!, args, { cwd: ROOT, env: { ...process.env, BENCH_TOKEN: BEARER_TOKEN, ...(spec.executable && spec.nodeArgs && { NODE_OPTIONS: spec.nodeArgs.join(" ") }) }, stdio: ["ignore", "pipe", "pipe"] });
  let tail = "";
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString("utf8")).slice(-4000);
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  let exited = false;
  const exit = once(child, "exit").then(() => {
    exited = true;
  });

  const stop = async () => {
    if (exited) return cleanup();
    const pids = treePids(child.pid!);
    child.kill("SIGTERM");
    await Promise.race([exit, sleep(3000)]);
    // Whatever is left of the tree (peers that do not end their children, or a stuck shutdown).
    for (const pid of new Set([...pids, ...(exited ? [] : treePids(child.pid!))])) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    await Promise.race([exit, sleep(1000)]);
    cleanup();
  };
  const cleanup = () => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  };

  const agent = new http.Agent({ keepAlive: false });
  const deadline = started + (options.timeoutMs ?? 20_000);
  for (;;) {
    try {
      const session = await openSession(agent, url, credentials);
      await callEcho(agent, url, session.headers, 1, "first answer");
      const startupMs = performance.now() - started;
      await deleteSession(agent, url, session.headers);
      agent.destroy();
      return { spec, pid: child.pid!, url, credentials, startupMs, output: () => tail, stop };
    } catch (error) {
      if (exited || performance.now() > deadline) {
        await stop();
        throw new Error(`${spec.label} did not answer (${exited ? "it exited" : "timed out"}): ${(error as Error).message}\n${tail}`);
      }
      await sleep(5);
    }
  }
}
