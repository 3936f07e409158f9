/**
 * @module End-to-end: a principal's first child at `session.max_sessions` takes the place of
 * another principal's extra child — one place, however many of its first requests arrive at once.
 * Each of them used to free a place of its own, ending as many of the other user's rounds. A legacy
 * session takes such a place only as its subject's first.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { call, meta, textOf, useDebugBridge } from "../support/modern.ts";

const ALICE = "alice-token-0123456789";
const BOB = "bob-token-0123456789abc";
const CAROL = "carol-token-0123456789ab";

describe("a new principal's concurrent first requests at max_sessions", () => {
  const bridge = useDebugBridge((everythingServer) => ({
    mcp_server: { command: process.execPath, args: [everythingServer], read_timeout: "30s" },
    auth: { type: "bearer", bearer: { valid_tokens: [ALICE, BOB] } },
    session: { max_sessions: 3, max_sessions_per_subject: 3, modern_pool_size: 8 },
  }));
  const ask = (id: number, tag: string, params: Record<string, unknown> = {}) =>
    call(bridge, ALICE, { id, method: "tools/call", params: { name: "elicit_tag", arguments: { tag }, ...params, _meta: meta() } });

  test("end one of the other principal's waiting rounds, not one per request", async () => {
    // Alice's three rounds wait for her on three children: every place is taken.
    const rounds = await Promise.all([ask(1, "a1"), ask(2, "a2"), ask(3, "a3")]);
    assert.deepEqual(rounds.map((round) => round.body.result?.resultType), ["input_required", "input_required", "input_required"], JSON.stringify(rounds.map((r) => r.body)));
    // Bob's first requests, all at once.
    const bob = await Promise.all(Array.from({ length: 4 }, (_, i) => call(bridge, BOB, { id: 10 + i, method: "tools/call", params: { name: "echo", arguments: { text: `bob ${i}` }, _meta: meta() } })));
    assert.deepEqual(bob.map((answer) => textOf(answer.body.result)), ["bob 0", "bob 1", "bob 2", "bob 3"], JSON.stringify(bob.map((answer) => answer.body)));
    assert.equal(bridge.logs().match(/to make way for another principal's first child/g)?.length, 1, "one of Alice's children made way");
    // Alice's retries: the round that made way is over, the two others complete.
    const retried = await Promise.all(
      rounds.map((round, i) => {
        const key = Object.keys(round.body.result?.inputRequests ?? {})[0]!;
        return ask(20 + i, `a${i + 1}`, { inputResponses: { [key]: { action: "accept", content: { value: "v" } } }, requestState: round.body.result?.requestState });
      }),
    );
    const completed = retried.filter((answer) => /^a\d=v$/.test(textOf(answer.body.result)));
    assert.equal(completed.length, 2, JSON.stringify(retried.map((answer) => answer.body)));
  });
});

describe("a burst of legacy initialize requests at max_sessions", () => {
  const bridge = useDebugBridge((everythingServer) => ({
    mcp_server: { command: process.execPath, args: [everythingServer], read_timeout: "30s" },
    auth: { type: "bearer", bearer: { valid_tokens: [ALICE, CAROL] } },
    session: { max_sessions: 3, max_sessions_per_subject: 3, modern_pool_size: 8 },
  }));
  const ask = (id: number, tag: string) => call(bridge, ALICE, { id, method: "tools/call", params: { name: "elicit_tag", arguments: { tag }, _meta: meta() } });
  const initialize = (id: number) =>
    fetch(bridge.url, {
      method: "POST",
      headers: { authorization: `Bearer ${CAROL}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "burst", version: "1" } } }),
    }).then(async (response) => ({ status: response.status, retryAfter: response.headers.get("retry-after"), body: await response.text() }));

  test("frees one place for them, not one per request: the other principal keeps the rest of its rounds", async () => {
    const rounds = await Promise.all([ask(1, "a1"), ask(2, "a2"), ask(3, "a3")]);
    assert.deepEqual(rounds.map((round) => round.body.result?.resultType), ["input_required", "input_required", "input_required"], JSON.stringify(rounds.map((r) => r.body)));
    const burst = await Promise.all(Array.from({ length: 4 }, (_, i) => initialize(10 + i)));
    // The place freed may be free before the last of them arrives: that one is served, and any
    // after it are refused without freeing another place (Carol has hers).
    assert.ok(burst.every((answer) => answer.status === 200 || (answer.status === 503 && (answer.retryAfter === "1" || answer.retryAfter === "5"))), JSON.stringify(burst));
    assert.ok(burst.filter((answer) => answer.status === 200).length <= 1, JSON.stringify(burst));
    assert.equal(bridge.logs().match(/to make way for another principal's first child/g)?.length, 1, "one of Alice's children made way");
    // Carol's retry takes the place made for her, unless one of the burst did.
    for (let attempt = 0; !burst.some((answer) => answer.status === 200); attempt++) {
      assert.ok(attempt < 40, "the place made was never served");
      const retry = await initialize(20 + attempt);
      if (retry.status === 200) burst.push(retry);
      else await new Promise((resolve) => setTimeout(resolve, 250));
    }
    // With a session of her own, she takes no further place from Alice, whose other rounds go on.
    const more = await initialize(90);
    assert.deepEqual([more.status, more.retryAfter], [503, "5"], more.body);
    assert.equal(bridge.logs().match(/to make way for another principal's first child/g)?.length, 1, "one of Alice's children made way");
  });
});
