/**
 * @module A step of the wall clock (an NTP correction, a VM resumed, an operator's `date -s`) while
 * the bridge runs. Timeouts, idle lifetimes, keep-alives and cached token answers are durations:
 * they used to be measured with Date.now(), so a step back by an hour stretched each of them by an
 * hour (a call the MCP server never answers waited an hour, a revoked token stayed accepted, idle
 * sessions and children lived on, streams got no keep-alive), and a step forward cut them short (a
 * call in flight failed at once, its session was ended). tests/support/clock-step.cjs moves the
 * bridge's Date.now() on SIGUSR2 and leaves timers and performance.now() alone, as the kernel's
 * monotonic clock is left alone.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer, type RequestListener } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { CLI, ROOT, startBridge, writeConfig, type RunningBridge } from "../support/bridge.ts";
import { waitFor } from "../support/poll.ts";
import { call, meta, textOf } from "../support/modern.ts";
import { authorizeUrl, openLoginPage, registerClient, startAsBridge, submitLogin } from "../oauth-server/support.ts";
import { makeKey } from "../auth-oauth/support.ts";
import { SignJWT } from "jose";

const TOKEN = "clock-step-token-0123456789";
const LEGACY = "2025-11-25";
const HOUR_MS = 3_600_000;

function stepping(stepMs: number): { env: Record<string, string> } {
  return { env: { NODE_OPTIONS: `--require ${ROOT}tests/support/clock-step.cjs`, CLOCK_STEP_MS: String(stepMs) } };
}

function misbehaving(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    server: {
      mcp_server: { command: process.execPath, args: ["tests/fixtures/misbehaving-server.mjs"], env: { MODE: "legacy" }, read_timeout: "2s", graceful_shutdown_timeout: "1s" },
      auth: { type: "bearer", bearer: { valid_tokens: [TOKEN] } },
      session: { timeout: "3s", cleanup_interval: "1s" },
      sse_keepalive_interval: "2s",
      ...extra,
    },
  };
}

const headers = (session?: string) => ({
  authorization: `Bearer ${TOKEN}`,
  "content-type": "application/json",
  accept: "application/json, text/event-stream",
  ...(session && { "mcp-session-id": session, "mcp-protocol-version": LEGACY }),
});

/** A legacy (Streamable HTTP, 2025-11-25) session: its id. */
async function openSession(bridge: RunningBridge): Promise<string> {
  const response = await fetch(bridge.url, {
    method: "POST",
    headers: headers(),
    body: JSON.stringify({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: LEGACY, capabilities: {}, clientInfo: { name: "clock-step", version: "1" } } }),
  });
  await response.text();
  const session = response.headers.get("mcp-session-id");
  assert.ok(response.ok && session, `initialize: ${response.status}`);
  await (await fetch(bridge.url, { method: "POST", headers: headers(session), body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }) })).text();
  return session;
}

/** POSTs a tools/call in `session`; resolves to the status and the answer (from JSON or from the SSE stream). */
async function callInSession(bridge: RunningBridge, session: string, id: number, name: string, signal: AbortSignal): Promise<{ status: number; answer: Record<string, any> | undefined }> {
  const response = await fetch(bridge.url, { method: "POST", headers: headers(session), signal, body: JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call", params: { name, arguments: {} } }) });
  const text = await response.text();
  if (!response.headers.get("content-type")?.includes("text/event-stream")) return { status: response.status, answer: text ? JSON.parse(text) : undefined };
  const answers = text
    .split("\n")
    .filter((line) => line.startsWith("data:") && line.slice(5).trim() !== "")
    .map((line) => JSON.parse(line.slice(5)))
    .filter((message) => message.id === id);
  return { status: response.status, answer: answers[0] };
}

/**
 * Runs `body` with a loopback HTTP server answering with `handler` (its origin), closed afterwards
 * whatever happened: a server left listening keeps the test file's process from ever ending.
 */
async function withLoopbackServer(handler: RequestListener, body: (origin: string) => Promise<void>): Promise<void> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    await body(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

/** Runs `body` with `bridge` once it started, and stops it afterwards whatever happened. */
async function withBridge(started: Promise<RunningBridge>, body: (bridge: RunningBridge) => Promise<void>): Promise<void> {
  const bridge = await started;
  try {
    await body(bridge);
  } finally {
    await bridge.stop();
  }
}

/** The HTTP status of a modern tools/call of the fixture's `ok` with `token`: 200, or 401 once the token is refused. */
async function okStatus(bridge: RunningBridge, token: string): Promise<number> {
  return (await call(bridge, token, { id: 1, method: "tools/call", params: { name: "ok", arguments: {}, _meta: meta({}) } })).status;
}

async function sessionAlive(bridge: RunningBridge, session: string): Promise<boolean> {
  const response = await fetch(bridge.url, { method: "POST", headers: headers(session), body: JSON.stringify({ jsonrpc: "2.0", id: 99, method: "ping" }) });
  await response.text();
  return response.status !== 404;
}

describe("the wall clock stepped back an hour", () => {
  test("a call the MCP server never answers still ends after read_timeout; idle sessions and modern children still end after session.timeout; open streams still get keep-alives", { timeout: 90_000 }, async () => {
    const bridge = await startBridge(misbehaving(), stepping(-HOUR_MS));
    try {
      const idle = await openSession(bridge);
      const holding = await openSession(bridge);
      const watched = await openSession(bridge);
      // A modern request starts a child of the pool for the principal.
      assert.equal(textOf((await call(bridge, TOKEN, { id: 1, method: "tools/call", params: { name: "ok", arguments: {}, _meta: meta({}) } })).body.result), "ok {}");
      const stream = await fetch(bridge.url, { headers: { ...headers(watched), accept: "text/event-stream" } });
      assert.equal(stream.status, 200);
      const held = callInSession(bridge, holding, 7, "hold", AbortSignal.timeout(30_000));
      await sleep(300);
      bridge.process.kill("SIGUSR2");

      // Before: the call's deadline was an hour away once the clock stepped back (aborted here at 30 s).
      const { answer } = await held;
      assert.equal(answer?.error?.code, -32001, `RequestTimeout after read_timeout (2 s): ${JSON.stringify(answer)}`);

      // Before: every lifetime counted from before the step lasted an hour more.
      // (Asking whether it lives would be activity: the log says.)
      const ended = (session: string) => bridge.logs().split("\n").some((line) => line.includes("session ended") && line.includes(session.slice(0, 8)) && line.includes("idle"));
      await waitFor(() => ended(idle), "the idle legacy session ending", 20_000);
      assert.ok(!(await sessionAlive(bridge, idle)), "the idle session is gone");
      await waitFor(() => bridge.logs().includes("modern child idle; ended"), "the idle modern child ending", 20_000);

      // The watched session's stream gets keep-alive comments (every 2 s) after the step too.
      const reader = stream.body!.getReader();
      const decoder = new TextDecoder();
      let received = "";
      const readUntilKeepAlive = (async () => {
        while (!/^:/m.test(received)) {
          const { value, done } = await reader.read();
          if (done) return false;
          received += decoder.decode(value, { stream: true });
        }
        return true;
      })();
      const kept = await Promise.race([readUntilKeepAlive, sleep(10_000).then(() => false)]);
      await reader.cancel().catch(() => {});
      assert.ok(kept, `a keep-alive comment on the open stream within 10 s of the step: ${JSON.stringify(received)}`);
      assert.ok(await sessionAlive(bridge, watched), "a session with an open stream lives on");
    } finally {
      await bridge.stop();
    }
  });

  test("a revoked token's cached acceptance (bearer.cache_ttl) still ends after cache_ttl", { timeout: 60_000 }, async () => {
    let valid = true;
    const validation: RequestListener = (request, response) => {
      request.resume();
      request.on("end", () => {
        response.setHeader("content-type", "application/json");
        response.end(JSON.stringify(valid ? { valid: true, subject: "alice", scopes: [] } : { valid: false }));
      });
    };
    await withLoopbackServer(validation, (origin) =>
      withBridge(startBridge(misbehaving({ auth: { type: "bearer", bearer: { validation_endpoint: `${origin}/validate`, cache_ttl: "1s", negative_cache_ttl: "1s" } } }), stepping(-HOUR_MS)), async (bridge) => {
        assert.equal(await okStatus(bridge, TOKEN), 200);
        valid = false;
        bridge.process.kill("SIGUSR2");
        await sleep(1_500);
        // Before: the acceptance cached just before the step was reused for an hour.
        assert.equal(await okStatus(bridge, TOKEN), 401, "the token is asked about again once cache_ttl passed, and refused");
      }),
    );
  });
});

describe("the wall clock stepped back an hour (federated sign-in)", () => {
  test("a discovery of the identity provider that failed is tried again after its cooldown (5 s), not an hour later", { timeout: 60_000 }, async () => {
    let up = false;
    let issuer = "";
    const idp: RequestListener = (request, response) => {
      request.resume();
      if (!up) {
        response.statusCode = 503;
        return void response.end();
      }
      response.setHeader("content-type", "application/json");
      response.end(JSON.stringify({ issuer, authorization_endpoint: `${issuer}/authorize`, token_endpoint: `${issuer}/token`, jwks_uri: `${issuer}/jwks` }));
    };
    await withLoopbackServer(idp, (origin) => {
      issuer = origin;
      const federated = { mode: "federated", builtin: { users: [] }, federated: { upstream_issuer: issuer, client_id: "bridge-upstream", client_secret_env: "UPSTREAM_SECRET" } };
      return withBridge(startAsBridge({ oauthServer: federated, env: { UPSTREAM_SECRET: "upstream-secret-not-real-0123456789", ...stepping(-HOUR_MS).env } }), async (bridge) => {
        await waitFor(() => bridge.logs().includes("identity provider not usable yet"), "the discovery at start failing", 10_000);
        up = true;
        bridge.process.kill("SIGUSR2");
        await sleep(6_000);
        const { client_id: clientId } = await registerClient(bridge.origin);
        const response = await submitLogin(bridge.origin, await openLoginPage(authorizeUrl(bridge.origin, clientId).url), {});
        await response.text();
        // Before: the failure was an hour old only on the wall clock's say: the sign-in was refused for an hour.
        assert.equal(new URL(response.headers.get("location") ?? "", bridge.origin).origin, issuer, `to the identity provider: ${response.status} ${response.headers.get("location")}`);
      });
    });
  });
});

describe("the wall clock stepped back an hour (client mode)", () => {
  test("waiting for another instance's sign-in still ends after authorization_timeout + 30 s, and this one signs in", { timeout: 120_000 }, async () => {
    const remote = await startAsBridge();
    const cache = mkdtempSync(join(tmpdir(), "mcp-bridge-clock-step-"));
    // Another live instance signing in to the same server holds the login lock (its `until` is far off).
    const lock = join(cache, `oauth-${createHash("sha256").update(remote.url).digest("hex").slice(0, 32)}.json.lock`);
    writeFileSync(lock, JSON.stringify({ until: Date.now() + 2 * HOUR_MS, owner: "another-instance" }), { mode: 0o600 });
    const opened = join(cache, "opened");
    const browser = [process.execPath, "-e", "require('node:fs').writeFileSync(process.argv[1], process.argv[2])", opened];
    const config = writeConfig({ mode: "client", client: { url: remote.url, auth: { type: "oauth", oauth: { browser_command: browser, authorization_timeout: "1s", token_cache: cache } } } });
    const bridge = spawn(process.execPath, [CLI, "-c", config], { env: { PATH: process.env.PATH ?? "", ...stepping(-HOUR_MS).env }, stdio: ["pipe", "pipe", "pipe"] });
    let stderr = "";
    bridge.stderr.on("data", (chunk) => (stderr += chunk));
    try {
      bridge.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: LEGACY, capabilities: {}, clientInfo: { name: "clock-step", version: "1" } } })}\n`);
      await waitFor(() => stderr.includes("another mcp-bridge is signing in"), "waiting for the other instance", 20_000);
      bridge.kill("SIGUSR2");
      // Before: the wait's end was an hour further off on the stepped wall clock.
      await waitFor(() => existsSync(opened), "this instance opening its own sign-in", 60_000);
    } finally {
      if (bridge.exitCode === null) {
        bridge.kill("SIGTERM");
        await new Promise((resolve) => bridge.once("exit", resolve));
      }
      await remote.stop();
    }
  });
});

describe("the wall clock stepped forward an hour", () => {
  test("a call in flight is still answered, and its session lives on", { timeout: 60_000 }, async () => {
    const bridge = await startBridge(misbehaving({ session: { timeout: "30s", cleanup_interval: "1s" } }), stepping(HOUR_MS));
    try {
      const session = await openSession(bridge);
      // The fixture answers `wait` after 1.5 s.
      const waiting = callInSession(bridge, session, 7, "wait", AbortSignal.timeout(30_000));
      await sleep(300);
      bridge.process.kill("SIGUSR2");
      // Before: the next tick found the call an hour past its deadline (RequestTimeout), then the session an hour idle.
      const { answer } = await waiting;
      assert.equal(textOf(answer?.result), "waited", JSON.stringify(answer));
      await sleep(1_500);
      assert.ok(await sessionAlive(bridge, session), "the session is not ended as idle");
    } finally {
      await bridge.stop();
    }
  });

  test("a JWT whose exp the step passed is refused, not accepted from the cache of validated tokens", { timeout: 60_000 }, async () => {
    const key = await makeKey("ES256");
    const jwks: RequestListener = (request, response) => {
      request.resume();
      response.setHeader("content-type", "application/json");
      response.end(JSON.stringify({ keys: [key.publicJwk] }));
    };
    await withLoopbackServer(jwks, async (issuer) => {
      const seconds = Math.floor(Date.now() / 1000);
      const token = await new SignJWT({ sub: "alice" })
        .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "at+jwt" })
        .setIssuer(issuer)
        .setAudience("clock-step")
        .setIssuedAt(seconds)
        .setExpirationTime(seconds + 600)
        .sign(key.privateKey);
      await withBridge(startBridge(misbehaving({ auth: { type: "oauth", oauth: { issuer, jwks_url: `${issuer}/jwks`, audience: "clock-step" } } }), stepping(HOUR_MS)), async (bridge) => {
        assert.equal(await okStatus(bridge, token), 200);
        bridge.process.kill("SIGUSR2");
        await sleep(300);
        // Before: the acceptance cached before the step lived on its monotonic lifetime (up to 5 min) past exp.
        assert.equal(await okStatus(bridge, token), 401, "exp (ten minutes ahead) is an hour behind the wall clock now");
      });
    });
  });
});
