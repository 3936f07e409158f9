/**
 * @module End-to-end: a legacy child that stops reading its input, in a pool of several. What
 * would be written to it is refused (503); calls the pool can run elsewhere still run.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { startBridge } from "../support/bridge.ts";
import { call, meta, post, textOf } from "../support/modern.ts";

const ALICE = "alice-token-0123456789";

const toolsCall = (id: number, name: string, args: Record<string, unknown> = {}) => ({ id, method: "tools/call", params: { name, arguments: args, _meta: meta({}) } });

test("a pool of legacy children whose first stops reading: tools/call goes to another child, what only the first can take gets 503", async () => {
  const bridge = await startBridge({
    server: {
      mcp_server: { command: process.execPath, args: ["tests/fixtures/misbehaving-server.mjs"], env: { MODE: "legacy" }, read_timeout: "3s", stdin_buffer_size: "1MiB", graceful_shutdown_timeout: "1s" },
      auth: { type: "bearer", bearer: { valid_tokens: [ALICE] } },
      session: { modern_pool_size: 2 },
    },
  });
  try {
    // Seen answering without asking, "ok" calls share a child; the first child takes them while it can.
    assert.equal(textOf((await call(bridge, ALICE, toolsCall(1, "ok"))).body.result), "ok {}");
    assert.equal(textOf((await call(bridge, ALICE, toolsCall(2, "stop_reading"))).body.result), "stopped reading");
    const big = "b".repeat(512 * 1024);
    const piled: Array<Promise<unknown>> = [];
    let listed = 200;
    for (let i = 0; i < 20 && listed !== 503; i++) {
      // Each times out, is refused (503), or fails as the bridge answers before reading it all: any is fine.
      piled.push(post(bridge, ALICE, toolsCall(10 + i, "ok", { big })).then((response) => response.arrayBuffer(), () => undefined));
      await new Promise((resolve) => setTimeout(resolve, 100));
      // tools/list is for the principal's first child only: refused once that child's input is full.
      const response = await post(bridge, ALICE, { id: `list-${i}`, method: "tools/list", params: { _meta: meta({}) } });
      listed = response.status;
      await response.arrayBuffer();
    }
    assert.equal(listed, 503, "the first child's input filled up");
    // The second child reads its input: a tools/call runs there.
    const served = await call(bridge, ALICE, toolsCall(99, "ok", { after: "congestion" }));
    assert.equal(served.status, 200, JSON.stringify(served.body));
    assert.equal(textOf(served.body.result), 'ok {"after":"congestion"}');
    await Promise.all(piled);
  } finally {
    await bridge.stop();
  }
});
