/** @module The unbundled source under Deno (`deno run -A src/main.ts`): CLI basics, then server mode through Deno.serve. */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { connect as connectHttp2 } from "node:http2";
import { createServer } from "node:net";
import { join } from "node:path";
import { describe, it } from "node:test";
import { VERSION } from "../../src/version.ts";
import { ECHO_SERVER, startBridge } from "../support/bridge.ts";
import { brokenOffPost } from "../support/drip.ts";
import { startJsonEndpoint } from "../support/json-endpoint.ts";
import { initialize, JSON_HEADERS, logged, scripted, waitFor } from "../hardening-ops/support.ts";
import { assertBearerBridgeWorks, DENO, ROOT, run, startBearerBridge, tempDir } from "./helpers.ts";

/** Deno keeps its compile cache under HOME; the rest of the environment stays out. */
const ENV = { HOME: process.env.HOME ?? "/root", PATH: process.env.PATH ?? "/usr/bin:/bin", DENO_NO_UPDATE_CHECK: "1" };
const MAIN = join(ROOT, "src", "main.ts");

/** The bridge under `deno run`, serving `server` (server mode's settings) on a free loopback port. */
function startDenoBridge(server: Record<string, unknown>) {
  return startBridge({ server }, { launcher: { command: DENO, args: ["run", "-A", MAIN], env: ENV, cwd: tempDir() } });
}

describe("under Deno", { timeout: 120_000 }, () => {
  it("answers --version", async () => {
    const { code, stdout, stderr } = await run(DENO, ["run", "-A", MAIN, "--version"], { env: ENV });
    assert.equal(code, 0, stderr);
    assert.equal(stdout, `mcp-bridge ${VERSION}\n`);
  });

  it("runs check-config", async () => {
    const config = join(tempDir(), "config.yaml");
    writeFileSync(config, 'mode: server\nserver:\n  listen: "127.0.0.1:0"\n  mcp_server: {command: /bin/cat}\n');
    const { code, stdout, stderr } = await run(DENO, ["run", "-A", MAIN, "check-config", "-c", config], { env: ENV, cwd: tempDir() });
    assert.equal(code, 0, stderr);
    assert.match(stdout, /valid/);
  });

  it("refuses, naming each key, connection settings Deno.serve cannot apply when the config writes them (Node applies them)", async () => {
    const keys = ["max_connections: 50", "max_connections_per_address: 5", "header_timeout: 5s", "idle_timeout: 60s", "write_timeout: 30s"];
    const config = join(tempDir(), "config.yaml");
    writeFileSync(config, `mode: server\nserver:\n  listen: "127.0.0.1:0"\n  mcp_server: {command: /bin/cat}\n${keys.map((key) => `  ${key}\n`).join("")}`);
    const { code, stderr } = await run(DENO, ["run", "-A", MAIN, "check-config", "-c", config], { env: ENV, cwd: tempDir() });
    assert.equal(code, 2, stderr);
    for (const key of keys) assert.match(stderr, new RegExp(`server\\.${key.split(":")[0]}: cannot be applied under Deno \\(Deno\\.serve exposes no connections\\); remove the key`), stderr);
    const onNode = await run(process.execPath, [join(ROOT, "dist", "mcp-bridge.cjs"), "check-config", "-q", "-c", config], { env: ENV });
    assert.equal(onNode.code, 0, onNode.stderr);
  });

  it("serves a stdio MCP server with bearer auth through Deno.serve and Deno.Command", async () => {
    const token = "deno-smoke-token-0123456789";
    const bridge = await startBearerBridge(DENO, ["run", "-A", MAIN], token, ENV);
    try {
      await assertBearerBridgeWorks(bridge.url, token);
    } finally {
      assert.equal(await bridge.stop(), 0, bridge.logs());
    }
  });

  it("applies server.read_timeout to request bodies: a dripped body gets 408 and gives back its share of max_body_bytes_in_flight", async () => {
    const limits = { read_timeout: "3s", max_body_size: "1MiB", max_body_bytes_in_flight: "1MiB" };
    const bridge = await startDenoBridge({ mcp_server: { command: process.execPath, args: [ECHO_SERVER] }, ...limits });
    const ping = async () => (await fetch(bridge.url, { method: "POST", headers: { "content-type": "application/json", accept: "application/json" }, body: '{"jsonrpc":"2.0","id":1,"method":"ping"}' })).status;
    try {
      const dripping = await brokenOffPost(bridge.url, 1024 * 1024, '{"jsonrpc":');
      // While its body is awaited it holds the whole budget (once the bridge has read its head).
      await waitFor(async () => (await ping()) === 503, "the budget taken by the dripped body");
      // Before: Deno.serve has no read timeout, so the budget stayed taken (every POST 503) for as long as the client liked.
      await waitFor(() => /^HTTP\/1\.1 408/.test(dripping.received()), "408 for the dripped body");
      assert.match(dripping.received(), /^HTTP\/1\.1 408 [^]*"error":"request_timeout"/);
      dripping.socket.destroy();
      // Past the budget, refused for want of a session: the body was read.
      assert.equal(await ping(), 400);
      assert.doesNotMatch(bridge.logs(), /ERROR/);
    } finally {
      assert.equal(await bridge.stop(), 0, bridge.logs());
    }
  });

  it("checks the host an HTTP/2 request names (:authority, no Host header) as Node checks Host: a rebinding name gets 403", async () => {
    const bridge = await startDenoBridge({ mcp_server: { command: process.execPath, args: [ECHO_SERVER] } });
    // Deno.serve answers HTTP/2 with prior knowledge on a plain listener too (and h2 over TLS).
    const session = connectHttp2(bridge.origin);
    const health = (authority: string) =>
      new Promise<number>((resolve, reject) => {
        const stream = session.request({ ":path": "/health", ":authority": authority });
        stream.on("response", (headers) => resolve(headers[":status"]!));
        stream.on("error", reject);
        stream.resume();
      });
    try {
      assert.equal(await health(new URL(bridge.origin).host), 200);
      // Before: 200, the Host guard saw no Host header at all.
      assert.equal(await health("rebound.example.com"), 403);
      // A method no Request can be made with (Fetch forbids TRACE) is passed on as it came: 405 JSON, as under Node.
      const trace = await new Promise<{ status: number; type: string }>((resolve, reject) => {
        const sent = httpRequest(`${bridge.origin}/health`, { method: "TRACE" }, (response) => {
          response.resume();
          resolve({ status: response.statusCode!, type: response.headers["content-type"] ?? "" });
        });
        sent.on("error", reject);
        sent.end();
      });
      assert.deepEqual(trace, { status: 405, type: "application/json" });
    } finally {
      session.close();
      assert.equal(await bridge.stop(), 0, bridge.logs());
    }
  });

  it("refuses an identity the MCP server cannot be given (pass_identity, a NUL) with 500, as under Node, not as a failed start", async () => {
    const endpoint = await startJsonEndpoint((body) => ({ status: 200, json: { valid: true, subject: (JSON.parse(body) as { token: string }).token.startsWith("evil") ? "mallory\u0000root" : "alice" } }));
    const bridge = await startDenoBridge({ mcp_server: scripted({ pass_identity: true }), session: { max_sessions: 2 }, auth: { type: "bearer", bearer: { validation_endpoint: `${endpoint.origin}/validate` } } });
    try {
      for (let i = 0; i < 3; i++) {
        // Before: 200 with "the MCP server could not be started", counted as the MCP server failing to start.
        const refused = await initialize(bridge.url, { authorization: `Bearer evil-${i}-0123456789` });
        assert.equal(refused.status, 500, JSON.stringify(refused.body));
        assert.equal(refused.session, "");
      }
      assert.equal((await initialize(bridge.url, { authorization: "Bearer honest-0123456789" })).status, 200);
      assert.doesNotMatch(bridge.logs(), /could not be started/);
    } finally {
      assert.equal(await bridge.stop(), 0, bridge.logs());
      endpoint.close();
    }
  });

  it("logs why the validation endpoint is unreachable (Deno's fetch gives no error code): a refused connection says so", async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, "127.0.0.1", () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => resolve(port));
      });
    });
    const bridge = await startDenoBridge({ mcp_server: scripted(), auth: { type: "bearer", bearer: { validation_endpoint: `http://127.0.0.1:${port}/validate` } } });
    try {
      assert.equal((await initialize(bridge.url, { authorization: "Bearer deno-token-0123456789" })).status, 503);
      // Before: "validation endpoint unreachable: TypeError".
      await logged(bridge, /validation endpoint unreachable: Connection refused/);
    } finally {
      assert.equal(await bridge.stop(), 0, bridge.logs());
    }
  });

  it("cancels a call at the child when its client goes away, and ends a legacy session whose stream closes", async () => {
    const bridge = await startDenoBridge({ mcp_server: scripted() });
    try {
      const { session } = await initialize(bridge.url);
      const call = fetch(bridge.url, {
        method: "POST",
        signal: AbortSignal.timeout(500),
        headers: { ...JSON_HEADERS, accept: "application/json", "mcp-session-id": session, "mcp-protocol-version": "2025-06-18" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 78, method: "tools/call", params: { name: "wait", arguments: {} } }),
      });
      await assert.rejects(call);
      await logged(bridge, "cancelled 78");

      const legacy = new AbortController();
      const stream = await fetch(`${bridge.origin}/sse`, { headers: { accept: "text/event-stream" }, signal: legacy.signal });
      const reader = stream.body!.getReader();
      let text = "";
      while (!/data: (\S+)\n/.test(text)) text += new TextDecoder().decode((await reader.read()).value);
      legacy.abort();
      await logged(bridge, 'reason="the client closed its SSE stream"');
      const endpoint = new URL(/data: (\S+)\n/.exec(text)![1]!, bridge.origin);
      assert.equal((await fetch(endpoint, { method: "POST", headers: { "content-type": "application/json" }, body: '{"jsonrpc":"2.0","method":"notifications/initialized"}' })).status, 404);
    } finally {
      assert.equal(await bridge.stop(), 0, bridge.logs());
    }
  });
});
