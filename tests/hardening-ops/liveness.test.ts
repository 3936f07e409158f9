/** §3 Long calls show liveness: a POST whose client accepts SSE gets its response head and keep-alive comments while the call runs. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { startBridge } from "../support/bridge.ts";
import { initialize, JSON_HEADERS, scripted } from "./support.ts";

describe("liveness of long calls", () => {
  test("a call that has not answered gets an SSE head and keep-alive comments", async () => {
    const bridge = await startBridge({ server: { mcp_server: scripted(), sse_keepalive_interval: "1s" } });
    try {
      const { session } = await initialize(bridge.url);
      const controller = new AbortController();
      // "wait" without ms never answers: only liveness can produce bytes.
      const response = await fetch(bridge.url, {
        method: "POST",
        signal: controller.signal,
        headers: { ...JSON_HEADERS, "mcp-session-id": session, "mcp-protocol-version": "2025-06-18" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 5, method: "tools/call", params: { name: "wait", arguments: {} } }),
      });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("content-type"), "text/event-stream");
      const reader = response.body!.getReader();
      let text = "";
      while (!text.includes(": keep-alive")) {
        const { value, done } = await reader.read();
        assert.ok(!done, "the stream ended without a keep-alive");
        text += new TextDecoder().decode(value);
      }
      controller.abort();

    } finally {
      await bridge.stop();
    }
  });
});
