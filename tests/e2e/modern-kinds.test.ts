/**
 * @module End-to-end: the bridge remembers which kinds of call (method and tool) a legacy child
 * answers without asking for input, so that they share a child. One principal calling made-up tool
 * names past the memory's 10,000 kinds must not stop kinds learned later from sharing a child.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { startBridge, useBridge } from "../support/bridge.ts";
import { buildFixtures } from "../support/fixtures.ts";
import { call, meta, textOf } from "../support/modern.ts";

const TOKEN = "kinds-token-0123456789";
const MADE_UP_KINDS = 10_050;

const bridge = useBridge(async () =>
  startBridge({
    log: { level: "info" },
    server: {
      mcp_server: { command: process.execPath, args: [(await buildFixtures()).everythingServer] },
      auth: { type: "bearer", bearer: { valid_tokens: [TOKEN] } },
      session: { modern_pool_size: 4 },
    },
  }),
);

const childrenStarted = () => bridge.logs().match(/modern child started/g)?.length ?? 0;

describe("the memory of quiet kinds of call", { timeout: 300_000 }, () => {
  test(`after ${MADE_UP_KINDS} made-up tool names, a kind learned later still shares its child`, async () => {
    // One at a time: each made-up name runs alone, on a child of its own for the time of the call.
    for (let i = 0; i < MADE_UP_KINDS; i++) {
      const { status, body } = await call(bridge, TOKEN, { id: i, method: "tools/call", params: { name: `made-up-${i}`, arguments: {}, _meta: meta() } });
      assert.equal(status, 200, JSON.stringify(body));
    }
    // `slow` runs alone once, answers without asking, and is remembered as quiet ...
    assert.equal(textOf((await call(bridge, TOKEN, { id: "first", method: "tools/call", params: { name: "slow", arguments: { ms: 0 }, _meta: meta() } })).body.result), "done");
    // ... so three at once share a child (calls that run alone keep a spare child started, no more).
    const started = childrenStarted();
    assert.ok(started <= 2, `one child and its spare: ${started}`);
    const three = await Promise.all([1, 2, 3].map((n) => call(bridge, TOKEN, { id: `slow-${n}`, method: "tools/call", params: { name: "slow", arguments: { ms: 1000 }, _meta: meta() } })));
    assert.deepEqual(three.map(({ body }) => textOf(body.result)), ["done", "done", "done"]);
    assert.equal(childrenStarted(), started, "the quiet kind shared a child: none was started for it");
  });
});
