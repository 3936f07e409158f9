/**
 * §5 "/ready tells the truth" for per-session children: a command that can be run but whose
 * processes die before answering initialize makes /ready 503 (saying why, with the exit code),
 * once several starts in a row failed; one failure never does, and one good start recovers.
 * Meanwhile /health, public and detailed (metrics_listen) alike, says "degraded".
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { startBridge, type RunningBridge } from "../support/bridge.ts";
import { initialize, initializeBody, JSON_HEADERS, SCRIPTED } from "./support.ts";

type Readiness = { status: number; body: Record<string, unknown> };

async function ready(bridge: RunningBridge): Promise<Readiness> {
  const response = await fetch(`${bridge.origin}/ready`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** An initialize that must fail because the child died (the bridge stays up and answers with an error). */
async function failedStart(bridge: RunningBridge): Promise<void> {
  const { body, session } = await initialize(bridge.url);
  assert.equal(session, "", "a failed initialize hands out no session id");
  assert.ok(body?.error, `initialize should fail: ${JSON.stringify(body)}`);
}

async function goodStart(bridge: RunningBridge): Promise<void> {
  const { body, session } = await initialize(bridge.url);
  assert.ok(body?.result, `initialize should succeed: ${JSON.stringify(body)}`);
  await fetch(bridge.url, { method: "DELETE", headers: { "mcp-session-id": session, "mcp-protocol-version": "2025-06-18" } });
}

/**
 * A child that serves (the scripted server) while `flag` exists, else exits with code 3 at once:
 * a server that is broken, and then fixed, without the command changing.
 */
function flaky(flag: string) {
  return { command: "/bin/sh", args: ["-c", `if [ -e "${flag}" ]; then exec "${process.execPath}" "${SCRIPTED}"; fi; exit 3`], graceful_shutdown_timeout: "2s" };
}

describe("/ready and per-session children that fail to start", { timeout: 120_000 }, () => {
  test("a command that exits at once: /ready is 503 after a few failed starts, naming the exit code, while /health stays up", async () => {
    const bridge = await startBridge({ server: { mcp_server: { command: "/bin/sh", args: ["-c", "exit 3"] }, metrics_listen: "127.0.0.1:0" } });
    try {
      assert.equal((await ready(bridge)).status, 200, "the command is runnable: nothing has failed yet");
      for (let i = 0; i < 3; i++) await failedStart(bridge);
      const { status, body } = await ready(bridge);
      assert.equal(status, 503, JSON.stringify(body));
      assert.equal(body.status, "not_ready");
      assert.equal(body.mcp_server, "failing");
      assert.equal(body.last_exit_code, 3);
      // Liveness is not readiness: the bridge itself is fine, and says the server is degraded.
      const health = await fetch(`${bridge.origin}/health`);
      assert.equal(health.status, 200);
      assert.equal(((await health.json()) as { status: string }).status, "degraded");
      // The operators' detailed /health says the same, not "ok".
      const metricsUrl = /metrics served url=(\S+)/.exec(bridge.logs())![1]!;
      const detailed = await fetch(new URL("/health", metricsUrl));
      assert.equal(detailed.status, 200);
      assert.equal(((await detailed.json()) as { status: string }).status, "degraded");
    } finally {
      await bridge.stop();
    }
  });

  test("one failed start is not enough; a good start in between resets the count; and one good start recovers", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mcp-bridge-ready-"));
    const flag = join(dir, "serving");
    const bridge = await startBridge({ server: { mcp_server: flaky(flag) } });
    try {
      await failedStart(bridge);
      await failedStart(bridge);
      assert.equal((await ready(bridge)).status, 200, "two failures are not yet a pattern");
      writeFileSync(flag, "");
      await goodStart(bridge);
      rmSync(flag);
      await failedStart(bridge);
      await failedStart(bridge);
      assert.equal((await ready(bridge)).status, 200, "the good start in between reset the count");
      await failedStart(bridge);
      const failing = await ready(bridge);
      assert.equal(failing.status, 503, JSON.stringify(failing.body));
      assert.equal(failing.body.last_exit_code, 3);
      // Fixed: the next start (which /ready's 503 does not refuse) succeeds, and /ready says so at once.
      writeFileSync(flag, "");
      await goodStart(bridge);
      const recovered = await ready(bridge);
      assert.equal(recovered.status, 200, JSON.stringify(recovered.body));
      assert.equal(recovered.body.last_exit_code, undefined);
    } finally {
      await bridge.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a server that never answers initialize: each start times out (startup_timeout), and /ready says so", async () => {
    const silent = { command: "/bin/sh", args: ["-c", "exec sleep 600"], read_timeout: "1s", startup_timeout: "1s", graceful_shutdown_timeout: "1s" };
    const bridge = await startBridge({ server: { mcp_server: silent } });
    try {
      for (let i = 0; i < 3; i++) await failedStart(bridge);
      const { status, body } = await ready(bridge);
      assert.equal(status, 503, JSON.stringify(body));
      assert.equal(body.reason, "did not answer initialize in time");
      assert.equal(body.last_exit_code, undefined, "the bridge ended it: its exit says nothing");
    } finally {
      await bridge.stop();
    }
  });

  test("modern (2026-07-28) clients' children count too: their handshake involves no client input at all", async () => {
    const bridge = await startBridge({ server: { mcp_server: { command: "/bin/sh", args: ["-c", "exit 4"] } } });
    try {
      for (let i = 0; i < 3; i++) {
        const response = await fetch(bridge.url, {
          method: "POST",
          headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/list" },
          body: JSON.stringify({ jsonrpc: "2.0", id: i, method: "tools/list", params: { _meta: { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {} } } }),
        });
        const body = (await response.json()) as { error?: unknown };
        assert.ok(body.error, `the call should fail: ${JSON.stringify(body)}`);
      }
      const { status, body } = await ready(bridge);
      assert.equal(status, 503, JSON.stringify(body));
      assert.equal(body.mcp_server, "failing");
      assert.equal(body.last_exit_code, 4);
    } finally {
      await bridge.stop();
    }
  });

  test("clients that give up while their child starts are not failed starts", async () => {
    // Children take a few seconds to answer; each client leaves after a fraction of that.
    const slow = { command: "/bin/sh", args: ["-c", `sleep 3; exec "${process.execPath}" "${SCRIPTED}"`], graceful_shutdown_timeout: "1s" };
    const bridge = await startBridge({ server: { mcp_server: slow } });
    try {
      for (let i = 0; i < 4; i++) {
        const controller = new AbortController();
        const request = fetch(bridge.url, { method: "POST", headers: { ...JSON_HEADERS, accept: "application/json" }, body: JSON.stringify(initializeBody()), signal: controller.signal }).catch(() => undefined);
        await new Promise((resolve) => setTimeout(resolve, 200));
        controller.abort();
        await request;
      }
      // Let the abandoned children be shut down (stdin closed, then SIGTERM after the grace period).
      await new Promise((resolve) => setTimeout(resolve, 3000));
      assert.match(bridge.logs(), /the client went away during initialize/);
      const { status, body } = await ready(bridge);
      assert.equal(status, 200, JSON.stringify(body));
    } finally {
      await bridge.stop();
    }
  });
});
