/**
 * @module End-to-end: the `requestState` of a 2026-07-28 child, bound to the principal by the
 * bridge. The child sees no authentication, so it cannot bind its state to a user (the spec's
 * MUST, basic/patterns/mrtr): a state it signs with a key of its own (the SDK's codec, as this
 * fixture does) was accepted from any principal, on that principal's own child. The bridge seals
 * the child's state for the principal and the request, and opens it on the retry.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { startBridge, useBridge } from "../support/bridge.ts";
import { bundle } from "../support/fixtures.ts";
import { call, meta, tamperedState, textOf, useMisbehavingBridge } from "../support/modern.ts";

const ALICE = "alice-token-0123456789";
const BOB = "bob-token-0123456789abc";

for (const modernChild of ["per_principal", "shared"] as const) {
  describe(`a 2026-07-28 child's requestState (modern_child: ${modernChild})`, () => {
    const bridge = useBridge(async () =>
      startBridge({
        server: {
          mcp_server: { command: process.execPath, args: [await bundle("tests/fixtures/modern-server.ts", "modern-server.cjs")], read_timeout: "20s" },
          auth: { type: "bearer", bearer: { valid_tokens: [ALICE, BOB] } },
          session: { modern_child: modernChild },
        },
      }),
    );
    const ask = (token: string, id: number, params: Record<string, unknown> = {}) =>
      call(bridge, token, { id, method: "tools/call", params: { name: "test_input_required_result_request_state", arguments: {}, ...params, _meta: meta() } });
    const confirm = { confirm: { action: "accept", content: { ok: true } } };

    test("replayed by another principal: refused as foreign; its owner's retry completes", async () => {
      const first = await ask(ALICE, 1);
      assert.equal(first.body.result?.resultType, "input_required", JSON.stringify(first.body));
      const state = first.body.result?.requestState as string;
      assert.equal(typeof state, "string");
      const stolen = await ask(BOB, 2, { inputResponses: confirm, requestState: state });
      assert.equal(stolen.body.error?.code, -32602, JSON.stringify(stolen.body));
      assert.equal(stolen.body.error?.data?.reason, "invalid_request_state");
      const own = await ask(ALICE, 3, { inputResponses: confirm, requestState: state });
      assert.equal(textOf(own.body.result), "state-ok: confirmed", JSON.stringify(own.body));
    });

    test("tampered, or sent with another request: refused, never reaching the child", async () => {
      const first = await ask(ALICE, 4);
      const state = first.body.result?.requestState as string;
      const tampered = await ask(ALICE, 5, { inputResponses: confirm, requestState: tamperedState(state) });
      assert.equal(tampered.body.error?.data?.reason, "invalid_request_state", JSON.stringify(tampered.body));
      const other = await call(bridge, ALICE, { id: 6, method: "tools/call", params: { name: "test_input_required_result_elicitation", arguments: {}, inputResponses: confirm, requestState: state, _meta: meta() } });
      assert.equal(other.body.error?.data?.reason, "invalid_request_state", JSON.stringify(other.body));
    });
  });
}

describe("a 2026-07-28 child's requestState outlives read_timeout", () => {
  const bridge = useBridge(async () =>
    startBridge({
      server: {
        mcp_server: { command: process.execPath, args: [await bundle("tests/fixtures/modern-server.ts", "modern-server.cjs")], read_timeout: "1s" },
        auth: { type: "bearer", bearer: { valid_tokens: [ALICE] } },
      },
    }),
  );

  test("the child holds no call open for it, so its client may take longer than read_timeout to answer (the child's own state says how long)", async () => {
    const ask = (id: number, params: Record<string, unknown> = {}) =>
      call(bridge, ALICE, { id, method: "tools/call", params: { name: "test_input_required_result_request_state", arguments: {}, ...params, _meta: meta() } });
    const first = await ask(1);
    assert.equal(first.body.result?.resultType, "input_required", JSON.stringify(first.body));
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const done = await ask(2, { inputResponses: { confirm: { action: "accept", content: { ok: true } } }, requestState: first.body.result?.requestState });
    assert.equal(textOf(done.body.result), "state-ok: confirmed", JSON.stringify(done.body));
  });
});

describe("a 2026-07-28 child's requestState too large to seal", () => {
  const bridge = useMisbehavingBridge("modern", "5s", ALICE);

  test("is an internal error for the client and a warning in the log, never a state that would not open", async () => {
    const line = `{"jsonrpc":"2.0","id":ID,"result":{"resultType":"input_required","inputRequests":{"q":{"method":"roots/list"}},"requestState":"${"s".repeat(2 * 1024 * 1024)}"}}`;
    const answer = await call(bridge, ALICE, { id: 1, method: "tools/call", params: { name: "raw_line", arguments: { line }, _meta: meta({ roots: {} }) } });
    assert.equal(answer.body.error?.code, -32603, JSON.stringify(answer.body).slice(0, 300));
    assert.match(bridge.logs(), /requestState could not be sealed or opened/);
  });
});
