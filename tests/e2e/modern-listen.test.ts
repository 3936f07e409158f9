/**
 * @module End-to-end: `subscriptions/listen` asked in ways that cannot work. Its answer is a stream
 * (Streamable HTTP 2026-07-28 §Receiving Messages): a client that accepts only JSON can never be
 * answered, and used to wait forever, holding one of its principal's listen streams.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { startBridge, useBridge } from "../support/bridge.ts";
import { call, meta } from "../support/modern.ts";

const ALICE = "alice-token-0123456789";

for (const era of ["modern", "legacy"] as const) {
  describe(`subscriptions/listen in front of a ${era} child`, () => {
    const bridge = useBridge(() =>
      startBridge({
        server: {
          mcp_server: { command: process.execPath, args: ["tests/fixtures/misbehaving-server.mjs"], env: { MODE: era }, read_timeout: "5s" },
          auth: { type: "bearer", bearer: { valid_tokens: [ALICE] } },
        },
      }),
    );

    test("from a client that accepts only application/json: 406 at once, naming text/event-stream, and it holds no listen stream", async () => {
      for (let id = 1; id <= 40; id++) {
        const refused = await call(bridge, ALICE, { id, method: "subscriptions/listen", params: { notifications: { toolsListChanged: true }, _meta: meta({}) } }, { accept: "application/json", signal: AbortSignal.timeout(10_000) });
        assert.equal(refused.status, 406, JSON.stringify(refused.body));
        assert.equal(refused.body.id, id);
        assert.match(refused.body.error?.message ?? "", /text\/event-stream/);
      }
      // Other requests from such a client are answered as JSON.
      const listed = await call(bridge, ALICE, { id: 41, method: "tools/list", params: { _meta: meta({}) } }, { accept: "application/json" });
      assert.equal(listed.status, 200, JSON.stringify(listed.body));
      assert.ok(Array.isArray(listed.body.result?.tools));
    });
  });
}
