/**
 * @module Issue 9 §1, processes and requests with side effects: max_sessions caps live children,
 * one credential cannot take every slot, HEAD creates and ends nothing, legacy sessions expire,
 * and a child's stderr flood is a few log lines and a summary.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { startBridge } from "../support/bridge.ts";
import { callTool, countLines, fixtureServer, initialize, processesWith, PROTOCOL, waitFor } from "./support.ts";

describe("processes and sessions stay bounded", () => {
  test("max_sessions counts children until they are gone, even ones that ignore EOF", async () => {
    const { config, marker } = fixtureServer({ FIXTURE_IGNORE_EOF: "1" }, { graceful_shutdown_timeout: "3s" });
    const bridge = await startBridge({ server: { mcp_server: config, session: { max_sessions: 3 } } });
    try {
      let most = 0;
      const statuses: number[] = [];
      let retryAfter: string | null = null;
      for (let i = 0; i < 12; i++) {
        const { response, session } = await initialize(bridge.url);
        statuses.push(response.status);
        if (response.status === 503) retryAfter = response.headers.get("retry-after");
        if (session) {
          const ended = await fetch(bridge.url, { method: "DELETE", headers: { "mcp-session-id": session, "mcp-protocol-version": PROTOCOL } });
          assert.equal(ended.status, 200);
        }
        most = Math.max(most, processesWith(marker).length);
      }
      assert.ok(most <= 3, `at most max_sessions children were alive (saw ${most})`);
      assert.ok(statuses.includes(503) && retryAfter !== null, `initialize past the cap gets 503 with Retry-After (got ${statuses.join(",")})`);
      await waitFor(() => processesWith(marker).length === 0, "the children to be gone");
      // The bridge learns a group is gone by polling it (every 100 ms): on a busy host a client may
      // still get 503 with Retry-After for a moment after /proc shows none; the slot must come back.
      await waitFor(async () => (await initialize(bridge.url)).response.status === 200, "slots to come back once the children are gone (initialize answered 200)", 10_000);
    } finally {
      await bridge.stop();
    }
  });

  test("with authentication on, one token cannot take every slot (default max_sessions_per_subject)", async () => {
    const { config } = fixtureServer();
    const tokens = ["token-a-0123456789abcdef", "token-b-0123456789abcdef"];
    const bridge = await startBridge({ server: { mcp_server: config, session: { max_sessions: 4 }, auth: { type: "bearer", bearer: { valid_tokens: tokens } } } });
    try {
      const as = (token: string) => ({ authorization: `Bearer ${token}` });
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await initialize(bridge.url, as(tokens[0]!))).response.status);
      assert.deepEqual(statuses, [200, 200, 503, 503], "the first token gets half of max_sessions");
      assert.equal((await initialize(bridge.url, as(tokens[1]!))).response.status, 200, "another token still gets a session");
    } finally {
      await bridge.stop();
    }
  });

  test("without authentication, one client address cannot take every slot (half of max_sessions; an IPv6 client's /64 as one)", async () => {
    const { config } = fixtureServer();
    // Clients named by a trusted proxy (X-Forwarded-For), as different peers would be directly.
    const bridge = await startBridge({ server: { mcp_server: config, trusted_proxies: ["127.0.0.1/32"], session: { max_sessions: 4 } } });
    try {
      const from = (client: string) => ({ "x-forwarded-for": client });
      const statuses: number[] = [];
      for (let i = 1; i <= 4; i++) statuses.push((await initialize(bridge.url, from(`2001:db8:5:7::${i}`))).response.status);
      assert.deepEqual(statuses, [200, 200, 503, 503], "the first client gets half of max_sessions, whichever addresses of its /64 it uses");
      const refused = await initialize(bridge.url, from("2001:db8:5:7::9"));
      assert.match(refused.body, /this client address already has 2 sessions/);
      assert.equal((await initialize(bridge.url, from("198.51.100.7"))).response.status, 200, "another client still gets a session");
    } finally {
      await bridge.stop();
    }
  });

  test("HEAD is safe: HEAD /sse creates no session or child, HEAD /mcp ends nothing", async () => {
    const { config, marker } = fixtureServer();
    const bridge = await startBridge({ server: { mcp_server: config, session: { max_sessions: 5 } } });
    try {
      for (let i = 0; i < 20; i++) {
        const head = await fetch(`${bridge.origin}/sse`, { method: "HEAD" });
        assert.equal(head.status, 405);
        assert.equal(head.headers.get("allow"), "GET");
      }
      assert.equal(processesWith(marker).length, 0, "no child was started");
      const { response, session } = await initialize(bridge.url);
      assert.equal(response.status, 200, "every slot is still free");
      assert.ok(session);
      const head = await fetch(bridge.url, { method: "HEAD", headers: { "mcp-session-id": session, "mcp-protocol-version": PROTOCOL } });
      assert.equal(head.status, 405);
      const echo = await callTool(bridge.url, session, 1, "echo", { text: "still here" }, { accept: "application/json" });
      assert.equal(echo.status, 200);
      assert.match(await echo.text(), /still here/);
    } finally {
      await bridge.stop();
    }
  });

  test("a legacy SSE session ends when idle, even while its stream is open", async () => {
    const { config, marker } = fixtureServer();
    const bridge = await startBridge({ server: { mcp_server: config, sse_keepalive_interval: "1s", session: { timeout: "2s", cleanup_interval: "1s" } } });
    try {
      const stream = await fetch(`${bridge.origin}/sse`, { headers: { accept: "text/event-stream" } });
      assert.equal(stream.status, 200);
      const reader = stream.body!.getReader();
      const first = new TextDecoder().decode((await reader.read()).value);
      assert.match(first, /event: endpoint/);
      assert.equal(processesWith(marker).length, 1);
      // Keep-alive comments flow, but nobody POSTs: the bridge ends the session and its stream.
      let ended = false;
      void (async () => {
        while (!(await reader.read().catch(() => ({ done: true }))).done);
        ended = true;
      })();
      await waitFor(() => ended, "the bridge to end the idle legacy stream");
      await waitFor(() => processesWith(marker).length === 0, "the legacy session's child to be gone");
      assert.match(bridge.logs(), /session ended .*reason="the session was idle too long"/);
    } finally {
      await bridge.stop();
    }
  });

  test("a child's stderr flood is rate-limited, with a summary line", async () => {
    const { config } = fixtureServer({ FIXTURE_STDERR_FLOOD: "5000" });
    const bridge = await startBridge({ server: { mcp_server: config } });
    try {
      const { session } = await initialize(bridge.url);
      assert.ok(session);
      await waitFor(() => bridge.logs().includes("lines not logged"), "the flood to reach the bridge");
      const logged = countLines(bridge.logs(), "child stderr");
      // 50 a window; a loaded machine may spread the flood over two windows.
      assert.ok(logged <= 110, `${logged} stderr lines logged of 5000`);
      assert.match(bridge.logs(), /suppressed=\d+/);
    } finally {
      await bridge.stop();
    }
  });
});
