/**
 * @module End-to-end: how a pool of legacy children shares out calls when one is unusable — a
 * child that stops reading its input (what would be written to it is refused with 503; calls the
 * pool can run elsewhere still run), a child held by a round that waits for its client.
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

test("a round the child answered while it waited for its client is not evicted for a call waiting for a child: the client's retry gets the answer", async () => {
  const bridge = await startBridge({
    server: {
      mcp_server: { command: process.execPath, args: ["tests/fixtures/misbehaving-server.mjs"], env: { MODE: "legacy" }, read_timeout: "8s" },
      auth: { type: "bearer", bearer: { valid_tokens: [ALICE] } },
      session: { modern_pool_size: 1 },
    },
  });
  const withElicitation = (id: number, name: string, args: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => ({ id, method: "tools/call", params: { name, arguments: args, ...extra, _meta: meta({ elicitation: {} }) } });
  try {
    const first = await call(bridge, ALICE, withElicitation(1, "ask_then_answer", { ms: 200 }));
    assert.equal(first.body.result?.resultType, "input_required", JSON.stringify(first.body));
    // The child answers 200 ms later; once the round is past its grace (2 s), the only child is
    // taken by a slow call and another call waits for it.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const slow = call(bridge, ALICE, withElicitation(2, "wait"));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const waiting = call(bridge, ALICE, withElicitation(3, "ok"));
    assert.equal(textOf((await slow).body.result), "waited");
    assert.equal(textOf((await waiting).body.result), "ok {}");
    const [key] = Object.keys(first.body.result?.inputRequests as Record<string, unknown>);
    const retry = await call(bridge, ALICE, withElicitation(4, "ask_then_answer", { ms: 200 }, { inputResponses: { [key!]: { action: "accept", content: {} } }, requestState: first.body.result?.requestState }));
    assert.equal(textOf(retry.body.result), "answered without the input", JSON.stringify(retry.body));
  } finally {
    await bridge.stop();
  }
});
