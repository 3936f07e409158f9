/**
 * @module Issue 9 §4, child lifecycle: the whole process tree ends, a failed initialize leaves
 * nothing behind, slow starts get their allowance, shutdown is bounded and says what it waits for,
 * a second signal exits at once, and the child's environment carries proxy and CA settings only.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { startBridge, type RunningBridge } from "../support/bridge.ts";
import { callTool, FIXTURE, fixtureServer, initialize, processesWith, PROTOCOL, waitFor } from "./support.ts";

const SCRIPTED = fileURLToPath(new URL("../support/scripted-server.mjs", import.meta.url));

/** The fixture behind a shell that outlives nothing itself: `sh -c 'node server; true'`. */
function wrapped(env: Record<string, string>, script = `"${process.execPath}" "${FIXTURE}" "$0"; true`) {
  const { config, marker } = fixtureServer(env, { graceful_shutdown_timeout: "1s" });
  return { marker, config: { ...config, command: "/bin/sh", args: ["-c", script, marker] } };
}

/** POSTs one 2026-07-28 request (no session: the `_meta` envelope and the standard headers). */
function postModern(url: string, message: { method: string; params: { name: string; [key: string]: unknown }; [key: string]: unknown }): Promise<Response> {
  const headers = { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2026-07-28", "mcp-method": message.method, "mcp-name": message.params.name };
  return fetch(url, { method: "POST", headers, body: JSON.stringify(message) });
}

function exited(bridge: RunningBridge): Promise<number | null> {
  return new Promise((resolve) => {
    if (bridge.process.exitCode !== null) return resolve(bridge.process.exitCode);
    bridge.process.once("exit", (code) => resolve(code));
  });
}

describe("the whole process tree ends", () => {
  test("after DELETE, a wrapper's server that ignores SIGTERM is killed, not orphaned", async () => {
    const { config, marker } = wrapped({ FIXTURE_IGNORE_EOF: "1", FIXTURE_IGNORE_SIGTERM: "1" });
    const bridge = await startBridge({ server: { mcp_server: config } });
    try {
      const { session } = await initialize(bridge.url);
      assert.ok(session);
      assert.equal(processesWith(marker).length, 2, "the shell and the server run");
      await fetch(bridge.url, { method: "DELETE", headers: { "mcp-session-id": session, "mcp-protocol-version": PROTOCOL } });
      await waitFor(() => processesWith(marker).length === 0, "every process of the tree to be gone");
    } finally {
      await bridge.stop();
    }
  });

  test("when the leader exits first, what it left behind is ended too", async () => {
    // The shell starts the server in the background and exits once it runs (and ignores SIGTERM).
    const ready = join(mkdtempSync(join(tmpdir(), "mcp-bridge-leader-")), "ready");
    const script = `"${process.execPath}" "${FIXTURE}" "$0" & while [ ! -e "${ready}" ]; do sleep 0.1; done; exit 0`;
    const { config, marker } = wrapped({ FIXTURE_IGNORE_EOF: "1", FIXTURE_IGNORE_SIGTERM: "1", FIXTURE_READY_FILE: ready }, script);
    const bridge = await startBridge({ server: { mcp_server: config } });
    try {
      await initialize(bridge.url);
      await waitFor(() => existsSync(ready), "the background server to have run");
      await waitFor(() => processesWith(marker).length === 0, "the orphaned server to be killed");
      assert.match(bridge.logs(), /outlived SIGTERM/);
    } finally {
      await bridge.stop();
    }
  });

  test("shutdown leaves no process of any child behind, and says what it waits for", async () => {
    const { config, marker } = wrapped({ FIXTURE_IGNORE_EOF: "1", FIXTURE_IGNORE_SIGTERM: "1" });
    const bridge = await startBridge({ server: { mcp_server: config } });
    await initialize(bridge.url);
    await initialize(bridge.url);
    assert.equal(processesWith(marker).length, 4);
    assert.equal(await bridge.stop(), 0);
    assert.deepEqual(processesWith(marker), [], "no orphan (ppid 1) or other survivor");
    assert.match(bridge.logs(), /waiting for MCP server processes to exit.*processes=2/);
    assert.match(bridge.logs(), /SIGKILL/);
  });

  test("shutdown leaves none of a 2026-07-28 client's pool of children behind (each one ignoring stdin's end)", async () => {
    const { config, marker } = fixtureServer({ FIXTURE_IGNORE_EOF: "1" }, { graceful_shutdown_timeout: "1s" });
    const bridge = await startBridge({ server: { mcp_server: config } });
    // A call of a kind not yet seen answering runs alone, and the pool starts a spare child for the next.
    const answer = await postModern(bridge.url, { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "echo", arguments: { text: "hi" }, _meta: { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {} } } });
    assert.equal(answer.status, 200, await answer.text());
    await waitFor(() => processesWith(marker).length === 2, "the pool's second child");
    assert.equal(await bridge.stop(), 0);
    assert.deepEqual(processesWith(marker), [], "no orphan (ppid 1) or other survivor");
    assert.match(bridge.logs(), /waiting for MCP server processes to exit.*processes=2/);
  });

  test("a second signal exits at once, and still kills the children", async () => {
    const { config, marker } = fixtureServer({ FIXTURE_IGNORE_EOF: "1", FIXTURE_IGNORE_SIGTERM: "1" }, { graceful_shutdown_timeout: "5m" });
    const bridge = await startBridge({ server: { mcp_server: config } });
    await initialize(bridge.url);
    const done = exited(bridge);
    bridge.process.kill("SIGINT");
    await waitFor(() => bridge.logs().includes("waiting for MCP server processes"), "the shutdown to start");
    bridge.process.kill("SIGINT");
    // Without the second signal this takes ten minutes (two grace periods).
    assert.equal(await done, 1);
    // SIGKILL was sent before the exit; a loaded machine may take a moment to carry it out.
    await waitFor(() => processesWith(marker).length === 0, "the children to die of SIGKILL", 10_000);
  });
});

describe("a failed initialize leaves nothing behind", () => {
  for (const accept of ["application/json, text/event-stream", "text/event-stream"]) {
    test(`a child too slow for startup_timeout: an error, no session id, no child (Accept: ${accept})`, async () => {
      const { config, marker } = fixtureServer({ FIXTURE_START_DELAY_MS: "4000" }, { read_timeout: "1s", startup_timeout: "1s" });
      const bridge = await startBridge({ server: { mcp_server: config } });
      try {
        const { response, session, body } = await initialize(bridge.url, { accept });
        assert.equal(session, null, "no session id for a session that does not exist");
        assert.match(body, /did not answer within 1000 ms/);
        await waitFor(() => processesWith(marker).length === 0, "the child to be gone");
        assert.doesNotMatch(bridge.logs(), /recv notifications\/cancelled/, "initialize is never cancelled");
        assert.ok(response.status === 200);
      } finally {
        await bridge.stop();
      }
    });
  }

  test("a child that refuses initialize: the error, no session id, no child", async () => {
    const { config, marker } = fixtureServer({ FIXTURE_REFUSE_INIT: "1" });
    const bridge = await startBridge({ server: { mcp_server: config } });
    try {
      const { session, body } = await initialize(bridge.url);
      assert.equal(session, null);
      assert.match(body, /cannot start/);
      await waitFor(() => processesWith(marker).length === 0, "the child to be gone");
    } finally {
      await bridge.stop();
    }
  });

  test("a slow start within startup_timeout succeeds even when read_timeout is shorter", async () => {
    const { config } = fixtureServer({ FIXTURE_START_DELAY_MS: "3000" }, { read_timeout: "1s" });
    const bridge = await startBridge({ server: { mcp_server: config } });
    try {
      const { session, body } = await initialize(bridge.url);
      assert.ok(session, body);
      assert.match(body, /"result":\{"protocolVersion"/, "initialize succeeded rather than timing out");
      const echo = await callTool(bridge.url, session, 1, "echo", { text: "started" }, { accept: "application/json" });
      assert.match(await echo.text(), /started/);
    } finally {
      await bridge.stop();
    }
  });
});

describe("the child's environment", () => {
  test("carries proxy and CA variables (both cases) by default, and no secrets", async () => {
    const env = {
      HTTP_PROXY: "http://proxy.internal:3128",
      HTTPS_PROXY: "http://proxy.internal:3128",
      NO_PROXY: "localhost,127.0.0.1",
      http_proxy: "http://proxy.internal:3128",
      https_proxy: "http://proxy.internal:3128",
      no_proxy: "localhost",
      NODE_EXTRA_CA_CERTS: "/etc/ssl/extra.pem",
      SSL_CERT_FILE: "/etc/ssl/cert.pem",
      SSL_CERT_DIR: "/etc/ssl/certs",
      MCP_BRIDGE_TOKEN_SECRET: "do-not-leak",
      AWS_SECRET_ACCESS_KEY: "do-not-leak",
    };
    const bridge = await startBridge({ server: { mcp_server: { command: process.execPath, args: [SCRIPTED] } } }, { env });
    try {
      const { session } = await initialize(bridge.url);
      assert.ok(session);
      const response = await callTool(bridge.url, session, 1, "whoami", {}, { accept: "application/json" });
      const reply = (await response.json()) as { result: { content: Array<{ text: string }> } };
      const { envKeys } = JSON.parse(reply.result.content[0]!.text) as { envKeys: string[] };
      for (const name of ["HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy", "NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE", "SSL_CERT_DIR"]) {
        assert.ok(envKeys.includes(name), `${name} reaches the child`);
      }
      assert.ok(!envKeys.includes("MCP_BRIDGE_TOKEN_SECRET") && !envKeys.includes("AWS_SECRET_ACCESS_KEY"), "secrets stay out");
    } finally {
      await bridge.stop();
    }
  });
});

describe("/ready", () => {
  test("is not ready when the command exists but cannot be run; ready when it can", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mcp-bridge-ready-"));
    writeFileSync(join(dir, "server"), "#!/bin/sh\n", { mode: 0o644 });
    const cases: Array<[Record<string, unknown>, number]> = [
      [{ command: join(dir, "server") }, 503],
      [{ command: "server", env: { PATH: dir } }, 503],
      [{ command: join(dir, "missing") }, 503],
      [{ command: process.execPath, args: [FIXTURE] }, 200],
    ];
    for (const [mcp, status] of cases) {
      const bridge = await startBridge({ server: { mcp_server: mcp } });
      try {
        const ready = await fetch(`${bridge.origin}/ready`);
        assert.equal(ready.status, status, `${JSON.stringify(mcp)}: ${await ready.text()}`);
      } finally {
        await bridge.stop();
      }
    }
  });
});
