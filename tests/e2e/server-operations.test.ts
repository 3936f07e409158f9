/** @module Server mode's operational behaviour: shared children, limits, remote validation, TLS, CORS, shutdown. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { startIdp } from "../auth-oauth/support.ts";
import { logged } from "../hardening-ops/support.ts";
import { runCli, startBridge, writeConfig, type RunningBridge } from "../support/bridge.ts";

const SCRIPTED = fileURLToPath(new URL("../support/scripted-server.mjs", import.meta.url));
const TOKEN = "ops-token-0123456789";
const HEADERS = { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-06-18" };
const INIT = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } } };

const scripted = (extra: Record<string, unknown> = {}) => ({ command: process.execPath, args: [SCRIPTED], graceful_shutdown_timeout: "2s", ...extra });

async function initialize(bridge: RunningBridge, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(bridge.url, { method: "POST", headers: { ...HEADERS, ...headers }, body: JSON.stringify(INIT) });
}

async function call(bridge: RunningBridge, session: string, id: number | string, name: string, args: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
  const response = await fetch(bridge.url, {
    method: "POST",
    headers: { ...HEADERS, accept: "application/json", "mcp-session-id": session, ...headers },
    body: JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call", params: { name, arguments: args } }),
  });
  return { status: response.status, body: (await response.json()) as { id: unknown; result?: { content: Array<{ text: string }> }; error?: { code: number } } };
}

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address() as { port: number };
  return { server, url: `http://127.0.0.1:${address.port}/validate` };
}

/**
 * Reads an SSE body until `enough(text so far)` holds or the stream ends (`ended`), for at most
 * 15 s; throws then, so a missing event fails the test instead of hanging it.
 */
async function readStreamUntil(reader: ReadableStreamDefaultReader<Uint8Array>, enough: (text: string) => boolean): Promise<{ text: string; ended: boolean }> {
  const decoder = new TextDecoder();
  let text = "";
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the stream did not deliver in time; got ${JSON.stringify(text)}`)), 15_000);
  });
  try {
    for (;;) {
      const chunk = await Promise.race([reader.read(), deadline]);
      if (chunk.done) return { text, ended: true };
      text += decoder.decode(chunk.value, { stream: true });
      if (enough(text)) return { text, ended: false };
    }
  } finally {
    clearTimeout(timer);
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("shared mode", () => {
  test("one child serves every session; ids are remapped so replies never cross", async () => {
    const bridge = await startBridge({ server: { mcp_server: scripted(), session: { mode: "shared" } } });
    try {
      const sessions = await Promise.all([initialize(bridge), initialize(bridge), initialize(bridge)]);
      const ids = sessions.map((response) => response.headers.get("mcp-session-id")!);
      assert.equal(new Set(ids).size, 3);
      const replies = await Promise.all(ids.flatMap((session, s) => Array.from({ length: 10 }, (_, i) => call(bridge, session, i, "echo", { text: `${s}:${i}` }))));
      replies.forEach((reply, index) => {
        const s = Math.floor(index / 10);
        const i = index % 10;
        assert.equal(reply.body.id, i);
        assert.equal(reply.body.result!.content[0]!.text, `${s}:${i}`);
      });
      // One child: it saw exactly one initialize.
      const initializes = bridge.logs().split("\n").filter((line) => line.includes("child stderr") && line.includes('\\"method\\":\\"initialize\\"'));
      assert.equal(initializes.length, 1);
    } finally {
      await bridge.stop();
    }
  });

  test("when the shared child dies, its sessions end and it is restarted", async () => {
    const bridge = await startBridge({ server: { mcp_server: scripted({ restart_delay: "100ms" }), session: { mode: "shared" } } });
    try {
      const first = (await initialize(bridge)).headers.get("mcp-session-id")!;
      const crashed = await call(bridge, first, 1, "crash");
      assert.ok(crashed.body.error);
      assert.equal((await call(bridge, first, 2, "echo", { text: "x" })).status, 404);
      let second: Response | undefined;
      // Until the restarted child is up: a process start that can take seconds on a busy machine.
      for (const deadline = Date.now() + 30_000; Date.now() < deadline; ) {
        second = await initialize(bridge);
        if (second.status === 200) break;
        assert.equal(second.status, 503);
        assert.ok(second.headers.get("retry-after"));
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.equal(second!.status, 200);
      const again = await call(bridge, second!.headers.get("mcp-session-id")!, 1, "echo", { text: "restarted" });
      assert.equal(again.body.result!.content[0]!.text, "restarted");
    } finally {
      await bridge.stop();
    }
  });
});

describe("limits", () => {
  test("max_sessions and max_sessions_per_subject answer 503 with Retry-After", async () => {
    const bridge = await startBridge({
      server: {
        mcp_server: scripted(),
        session: { max_sessions: 3, max_sessions_per_subject: 2 },
        auth: { type: "bearer", bearer: { valid_tokens: [TOKEN, "second-subject-token"] } },
      },
    });
    try {
      const as = (token: string) => initialize(bridge, { authorization: `Bearer ${token}` });
      assert.equal((await as(TOKEN)).status, 200);
      assert.equal((await as(TOKEN)).status, 200);
      const third = await as(TOKEN);
      assert.equal(third.status, 503);
      assert.ok(Number(third.headers.get("retry-after")) > 0);
      assert.equal((await as("second-subject-token")).status, 200);
      assert.equal((await as("second-subject-token")).status, 503);
    } finally {
      await bridge.stop();
    }
  });

  test("an idle session expires and is 404 afterwards", async () => {
    const bridge = await startBridge({ server: { mcp_server: scripted(), session: { timeout: "1s", cleanup_interval: "1s" } } });
    try {
      const session = (await initialize(bridge)).headers.get("mcp-session-id")!;
      // Expiry waits for the cleanup timer, which a busy machine runs late: wait for it to have run.
      await logged(bridge, /session ended .*the session was idle too long/);
      assert.equal((await call(bridge, session, 2, "echo", { text: "late" })).status, 404);
    } finally {
      await bridge.stop();
    }
  });

  test("repeated failed authentication from one address is answered 429", async () => {
    const bridge = await startBridge({ server: { mcp_server: scripted(), auth_failure_limit: 3, metrics_listen: "127.0.0.1:0", auth: { type: "bearer", bearer: { valid_tokens: [TOKEN] } } } });
    try {
      const statuses = [];
      for (let i = 0; i < 5; i++) statuses.push((await initialize(bridge, { authorization: `Bearer wrong-${i}` })).status);
      assert.deepEqual(statuses, [401, 401, 401, 429, 429]);
      const metricsUrl = /metrics served url=(\S+)/.exec(bridge.logs())![1]!;
      const metrics = await (await fetch(metricsUrl)).text();
      assert.match(metrics, /^mcp_bridge_auth_failures_total\{code="invalid_token"\} 5$/m);
      assert.match(metrics, /^mcp_bridge_auth_throttled_total 2$/m);
      assert.match(metrics, /^mcp_bridge_sessions 0$/m);
    } finally {
      await bridge.stop();
    }
  });
});

describe("remote token validation (bearer.validation_endpoint)", () => {
  test("valid, rejected, down, slow and lying endpoints", async () => {
    let behaviour: "ok" | "reject" | "error" | "slow" | "lie" = "ok";
    let calls = 0;
    const endpoint = await listen((req, res) => {
      let body = "";
      req.on("data", (chunk) => (body += chunk));
      req.on("end", () => {
        calls++;
        const { token } = JSON.parse(body) as { token: string };
        if (behaviour === "error") return res.writeHead(500).end("boom");
        if (behaviour === "slow") return setTimeout(() => res.writeHead(200).end(JSON.stringify({ valid: true, subject: "slow" })), 3000);
        if (behaviour === "lie") return res.writeHead(200, { "content-type": "application/json" }).end('{"valid": "yes please"}');
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify(behaviour === "ok" && token === "remote-good" ? { valid: true, subject: "alice", scopes: ["mcp:read"] } : { valid: false }));
      });
    });
    const bridge = await startBridge({
      server: {
        mcp_server: scripted(),
        auth: { type: "bearer", bearer: { validation_endpoint: endpoint.url, validation_timeout: "500ms", cache_ttl: "5s", negative_cache_ttl: "1s" } },
      },
    });
    try {
      const as = (token: string) => initialize(bridge, { authorization: `Bearer ${token}` });
      // The cache must outlive the first initialize, whose child may take seconds to start on a busy machine.
      assert.equal((await as("remote-good")).status, 200);
      const cachedBy = Date.now();
      assert.equal((await as("remote-good")).status, 200);
      assert.equal(calls, 1, "the positive answer is cached");
      assert.equal((await as("remote-bad")).status, 401);
      behaviour = "error";
      assert.equal((await as("fresh-token-1")).status, 503, "endpoint failing → fail closed");
      behaviour = "slow";
      assert.equal((await as("fresh-token-2")).status, 503, "endpoint too slow → fail closed");
      behaviour = "lie";
      assert.equal((await as("fresh-token-3")).status, 503, "malformed answer → fail closed");
      endpoint.server.close();
      endpoint.server.closeAllConnections();
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, cachedBy + 5_100 - Date.now())));
      assert.equal((await as("remote-good")).status, 503, "endpoint down, cache expired → fail closed");
      assert.doesNotMatch(bridge.logs(), /remote-good|fresh-token/);
    } finally {
      await bridge.stop();
      endpoint.server.close();
    }
  });
});

describe("CORS", () => {
  test("a preflight is answered before authentication", async () => {
    const bridge = await startBridge({
      server: {
        mcp_server: scripted(),
        cors: { enabled: true, allowed_origins: ["https://app.example.com"] },
        auth: { type: "bearer", bearer: { valid_tokens: [TOKEN] } },
      },
    });
    try {
      const preflight = await fetch(bridge.url, {
        method: "OPTIONS",
        headers: { origin: "https://app.example.com", "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" },
      });
      assert.equal(preflight.status, 204);
      assert.equal(preflight.headers.get("access-control-allow-origin"), "https://app.example.com");
      assert.match(preflight.headers.get("access-control-allow-headers")!, /authorization/i);
      const actual = await initialize(bridge, { origin: "https://app.example.com", authorization: `Bearer ${TOKEN}` });
      assert.equal(actual.status, 200);
      assert.equal(actual.headers.get("access-control-allow-origin"), "https://app.example.com");
      assert.match(actual.headers.get("access-control-expose-headers")!, /mcp-session-id/i);
    } finally {
      await bridge.stop();
    }
  });
});

describe("TLS", () => {
  const dir = mkdtempSync(join(tmpdir(), "mcp-bridge-tls-"));
  const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=test-ca");
  openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1");
  writeFileSync(join(dir, "san.ext"), "subjectAltName=IP:127.0.0.1\n");
  openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "1", "-extfile", "san.ext");
  openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "client.key", "-out", "client.csr", "-subj", "/CN=client");
  openssl("x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "client.pem", "-days", "1");
  openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "rogue.key", "-out", "rogue.pem", "-days", "1", "-subj", "/CN=rogue");
  const file = (name: string) => join(dir, name);
  const read = (name: string) => readFileSync(file(name));

  function tlsInitialize(url: string, cert?: string): Promise<number | string> {
    return new Promise((resolve) => {
      const target = new URL(url);
      const req = httpsRequest(
        { host: target.hostname, port: target.port, path: target.pathname, method: "POST", headers: HEADERS, ca: read("ca.pem"), ...(cert && { cert: read(`${cert}.pem`), key: read(`${cert}.key`) }) },
        (res) => {
          res.resume();
          resolve(res.statusCode!);
        },
      );
      req.on("error", (error) => resolve((error as NodeJS.ErrnoException).code ?? error.message));
      req.end(JSON.stringify(INIT));
    });
  }

  // Whether a client is served with a certificate from client_ca, with none, and with one from another CA.
  const served: Array<[string, [boolean, boolean, boolean]]> = [
    ["require_and_verify", [true, false, false]],
    ["verify", [true, true, false]],
    ["require", [true, false, true]],
    ["request", [true, true, true]],
  ];
  for (const [clientAuth, [signed, none, rogue]] of served) {
    test(`HTTPS with client_auth ${clientAuth}: a certificate from client_ca ${signed ? "served" : "refused"}, none ${none ? "served" : "refused"}, one from another CA ${rogue ? "served" : "refused"}`, async () => {
      const bridge = await startBridge({
        server: {
          mcp_server: scripted(),
          tls: { enabled: true, cert_file: file("server.pem"), key_file: file("server.key"), client_ca: file("ca.pem"), client_auth: clientAuth, min_version: "1.3" },
        },
      });
      try {
        assert.match(bridge.url, /^https:/);
        const outcomes = [await tlsInitialize(bridge.url, "client"), await tlsInitialize(bridge.url), await tlsInitialize(bridge.url, "rogue")];
        assert.deepEqual(
          outcomes.map((outcome) => outcome === 200),
          [signed, none, rogue],
          `outcomes: ${outcomes.join(", ")}`,
        );
      } finally {
        await bridge.stop();
      }
    });
  }
});

describe("shutdown", () => {
  test("SIGTERM with clients connected ends every child's process group and exits 0", async () => {
    const bridge = await startBridge({ server: { mcp_server: scripted(), auth: { type: "bearer", bearer: { valid_tokens: [TOKEN] } } } }, { args: ["--log-level", "debug"] });
    const client = new Client({ name: "held", version: "1" });
    await client.connect(new StreamableHTTPClientTransport(new URL(bridge.url), { requestInit: { headers: { authorization: `Bearer ${TOKEN}` } } }));
    const pids = [...bridge.logs().matchAll(/child started pid=(\d+)/g)].map((match) => Number(match[1]));
    const pending = client.callTool({ name: "wait", arguments: {} }).then(
      () => "answered",
      (error: Error) => error.message,
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(await bridge.stop(), 0);
    assert.match(await pending, /shutting down|closed|terminated|fetch failed/i);
    for (const pid of pids) assert.equal(processAlive(pid), false, `child ${pid} is gone`);
  });
});

describe("streams and observability", () => {
  test("SSE streams get a priming event with retry (2025-11-25) and keep-alive comments", async () => {
    const bridge = await startBridge({ server: { mcp_server: scripted(), sse_keepalive_interval: "1s" } });
    try {
      const init = { ...INIT, params: { ...INIT.params, protocolVersion: "2025-11-25" } };
      const created = await fetch(bridge.url, { method: "POST", headers: HEADERS, body: JSON.stringify(init) });
      const session = created.headers.get("mcp-session-id")!;
      await created.text();
      const stream = await fetch(bridge.url, { headers: { accept: "text/event-stream", "mcp-session-id": session, "mcp-protocol-version": "2025-11-25" } });
      assert.equal(stream.status, 200);
      const reader = stream.body!.getReader();
      const { text } = await readStreamUntil(reader, (seen) => seen.includes(": keep-alive"));
      await reader.cancel();
      assert.match(text, /^id: \S+\nretry: \d+\ndata: \n\n/m);
      assert.match(text, /: keep-alive/);
      const second = await fetch(bridge.url, { headers: { accept: "text/event-stream", "mcp-session-id": session } });
      assert.equal(second.status, 200, "the stream can be reopened once the first is gone");
      await second.body!.cancel();
    } finally {
      await bridge.stop();
    }
  });

  test("a client reconnecting its GET stream before the bridge saw the old one drop takes the stream over", async () => {
    const bridge = await startBridge({ server: { mcp_server: scripted() } });
    try {
      const created = await initialize(bridge);
      const session = created.headers.get("mcp-session-id")!;
      await created.text();
      const open = () => fetch(bridge.url, { headers: { accept: "text/event-stream", "mcp-session-id": session, "mcp-protocol-version": "2025-06-18" } });
      const first = await open();
      assert.equal(first.status, 200);
      const stale = first.body!.getReader();
      // The first stream is still open as far as the bridge knows (a dropped connection it has not
      // noticed): the reconnect is served at once, not refused until the old socket's close arrives.
      const second = await open();
      assert.equal(second.status, 200, "the reconnect gets the stream");
      assert.equal((await readStreamUntil(stale, () => false)).ended, true, "the superseded stream is ended");
      const fresh = second.body!.getReader();
      const reply = await call(bridge, session, 2, "chatty", { count: 1 });
      assert.equal(reply.status, 200);
      const { text } = await readStreamUntil(fresh, (seen) => seen.includes("step 1"));
      assert.match(text, /"data":"step 1"/, "server messages go to the new stream");
      await fresh.cancel();
    } finally {
      await bridge.stop();
    }
  });

  test("/ready fails when the MCP server's command cannot be found", async () => {
    const bridge = await startBridge({ server: { mcp_server: { command: "no-such-mcp-server-binary" } } });
    try {
      const ready = await fetch(new URL("/ready", bridge.origin));
      assert.equal(ready.status, 503);
      const init = await initialize(bridge);
      const body = await init.json();
      assert.equal(body.error.code, -32000, "initialize fails with a JSON-RPC error, the bridge stays up");
      assert.equal((await fetch(new URL("/health", bridge.origin))).status, 200);
    } finally {
      await bridge.stop();
    }
  });

  test("JSON logs to a file, at the configured level, with secrets redacted; a warning for open non-loopback listeners", async () => {
    const logFile = join(mkdtempSync(join(tmpdir(), "mcp-bridge-log-")), "bridge.log");
    const bridge = await startBridge({
      log: { level: "debug", format: "json", output: logFile },
      server: { listen: "0.0.0.0:0", mcp_server: scripted(), auth: { type: "none" } },
    }, { logFile });
    try {
      await initialize(bridge, { host: "localhost" });
    } finally {
      await bridge.stop();
    }
    const lines = readFileSync(logFile, "utf8").trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.ok(lines.every((line) => typeof line.time === "string" && typeof line.level === "string" && typeof line.msg === "string"));
    assert.ok(lines.some((line) => line.level === "warn" && /authentication is off/.test(String(line.msg))));
    assert.ok(lines.some((line) => line.level === "debug"));
  });
});

describe("identity", () => {
  test("pass_identity gives a per-session child the subject and scopes, never the token", async () => {
    const bridge = await startBridge({
      server: { mcp_server: scripted({ pass_identity: true }), auth: { type: "bearer", bearer: { valid_tokens: [TOKEN] } } },
    });
    try {
      const session = (await initialize(bridge, { authorization: `Bearer ${TOKEN}` })).headers.get("mcp-session-id")!;
      const reply = await call(bridge, session, 2, "whoami", {}, { authorization: `Bearer ${TOKEN}` });
      const reported = JSON.parse(reply.body.result!.content[0]!.text) as { identity: Record<string, string>; envKeys: string[] };
      assert.match(reported.identity.MCP_BRIDGE_SUBJECT!, /^token:[0-9a-f]{16}$/);
      assert.equal(reported.identity.MCP_BRIDGE_SCOPES, "");
      assert.doesNotMatch(JSON.stringify(reported), new RegExp(TOKEN));
      assert.match(bridge.logs(), new RegExp(`session started .*subject=${reported.identity.MCP_BRIDGE_SUBJECT}`));
    } finally {
      await bridge.stop();
    }
  });
  test("pass_identity: a role with a comma, or a scope with whitespace, is left out rather than read by the child as two", async () => {
    const idp = await startIdp();
    const bridge = await startBridge({ server: { mcp_server: scripted({ pass_identity: true }), auth: { type: "oauth", oauth: { discovery_url: idp.issuer } } } });
    try {
      // The bridge grants neither "admin" nor "mcp:admin" (one role "staff,admin", one scope "mcp:read\tmcp:admin");
      // a child splitting the variables on "," and on whitespace would.
      const token = await idp.sign({ aud: bridge.url, roles: ["viewer", "staff,admin"], scope: "mcp:read mcp:write\tmcp:admin" });
      const headers = { authorization: `Bearer ${token}` };
      const session = (await initialize(bridge, headers)).headers.get("mcp-session-id");
      assert.ok(session);
      const reply = await call(bridge, session, 2, "whoami", {}, headers);
      const { identity } = JSON.parse(reply.body.result!.content[0]!.text) as { identity: Record<string, string> };
      assert.equal(identity.MCP_BRIDGE_ROLES, "viewer");
      assert.equal(identity.MCP_BRIDGE_SCOPES, "mcp:read");
    } finally {
      await bridge.stop();
      await idp.stop();
    }
  });
});

describe("start-up failures", () => {
  test("settings that only fail when used (unreadable TLS files, plain-http IdP) exit 2 naming the key", async () => {
    const base = { mode: "server", server: { listen: "127.0.0.1:0", mcp_server: scripted() } };
    const tls = await runCli(["-c", writeConfig({ ...base, server: { ...base.server, tls: { enabled: true, cert_file: "/no/such/cert.pem", key_file: "/no/such/key.pem" } } })]);
    assert.equal(tls.code, 2);
    assert.match(tls.stderr, /server\.tls\.cert_file: cannot read "\/no\/such\/cert\.pem"/);
    const idp = await runCli(["-c", writeConfig({ ...base, server: { ...base.server, auth: { type: "oauth", oauth: { jwks_url: "http://idp.example.com/jwks" } } } })]);
    assert.equal(idp.code, 2);
    assert.match(idp.stderr, /server\.auth\.oauth\.jwks_url: must be an https URL/);
  });
});
