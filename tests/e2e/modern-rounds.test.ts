/**
 * @module End-to-end, through the built CLI: how calls on a modern-serving child end. A multi
 * round-trip call over a legacy child whose round ends while the bridge is still making it
 * (sealing its requestState) must never be taken for one waiting for its client (the pool would
 * "evict" it again and again); read_timeout is measured on a clock that a wall-clock step does not move.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ROOT, startBridge, type RunningBridge } from "../support/bridge.ts";
import { call, meta, textOf } from "../support/modern.ts";

const ALICE = "alice-token-0123456789";

/** Stops the bridge; SIGKILL when it does not exit on SIGTERM (a blocked event loop cannot). */
async function stopHard(bridge: RunningBridge): Promise<void> {
  if (bridge.process.exitCode !== null) return;
  const killer = setTimeout(() => bridge.process.kill("SIGKILL"), 5_000);
  await bridge.stop();
  clearTimeout(killer);
}

describe("a round whose call ends while the bridge seals it (legacy child, one child per principal)", () => {
  let bridge: RunningBridge;
  before(async () => {
    bridge = await startBridge({
      log: { level: "debug", format: "json" },
      server: {
        // read_timeout 4 s: a waiting round's grace is 1 s.
        mcp_server: { command: process.execPath, args: ["tests/fixtures/misbehaving-server.mjs"], env: { MODE: "legacy" }, read_timeout: "4s" },
        auth: { type: "bearer", bearer: { valid_tokens: [ALICE] } },
        session: { modern_pool_size: 1 },
      },
    });
  });
  after(() => stopHard(bridge));

  const tool = (id: number, name: string, args: Record<string, unknown> = {}) =>
    call(bridge, ALICE, { id, method: "tools/call", params: { name, arguments: args, _meta: meta({ elicitation: {} }) } }, { signal: AbortSignal.timeout(15_000) });

  test("is not left behind as a round waiting for its client: a later call waiting for the child is served, the bridge keeps answering", async () => {
    // Large arguments make the digest the requestState is bound to take a while: the child's
    // answer arrives while the bridge still seals the round.
    const first = await tool(1, "answer_after_decoy", { pad: "x".repeat(6 * 1024 * 1024) });
    assert.ok(textOf(first.body.result) === "answered at once" || first.body.result?.resultType === "input_required", JSON.stringify(first.body).slice(0, 500));
    // Past the grace of a round waiting for its client.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    // One call takes the only child for 1.5 s; the next waits for it.
    const holding = tool(2, "wait");
    await new Promise((resolve) => setTimeout(resolve, 300));
    const waiting = tool(3, "ok");
    const [held, waited] = await Promise.all([holding, waiting]);
    assert.equal(textOf(held.body.result), "waited", JSON.stringify(held.body));
    assert.equal(textOf(waited.body.result), "ok {}", JSON.stringify(waited.body));
  });
});

describe("a legacy child that asks again while the bridge seals its round", () => {
  let bridge: RunningBridge;
  before(async () => {
    bridge = await startBridge({
      server: {
        mcp_server: { command: process.execPath, args: ["tests/fixtures/misbehaving-server.mjs"], env: { MODE: "legacy" } },
        auth: { type: "bearer", bearer: { valid_tokens: [ALICE] } },
      },
    });
  });
  after(() => stopHard(bridge));

  test("a question the child asks while the bridge seals the round that asks again what the client left unanswered joins a round whose requestState names it", async () => {
    for (let n = 0; n < 20; n++) {
      const asked: string[] = [];
      let retry: Record<string, unknown> = {};
      let done = false;
      for (let round = 0; round < 5 && !done; round++) {
        const { body } = await call(bridge, ALICE, { id: 100 * n + round, method: "tools/call", params: { name: "ask_more_when_answered", arguments: {}, _meta: meta({ elicitation: {} }), ...retry } }, { signal: AbortSignal.timeout(20_000) });
        assert.equal(body.error, undefined, `call ${n}, round ${round}: ${JSON.stringify(body).slice(0, 500)}`);
        if (body.result?.resultType !== "input_required") {
          assert.equal(textOf(body.result), "answers: accept, accept, accept", JSON.stringify(body).slice(0, 500));
          done = true;
          break;
        }
        const inputRequests = body.result.inputRequests as Record<string, { params: { message: string } }>;
        // The first round's retry answers only the first question: the bridge asks the second again.
        const keys = Object.keys(inputRequests).filter((key) => round > 0 || inputRequests[key]!.params.message === "question 1?");
        asked.push(...keys.map((key) => inputRequests[key]!.params.message));
        retry = { inputResponses: Object.fromEntries(keys.map((key) => [key, { action: "accept", content: {} }])), requestState: body.result.requestState };
      }
      assert.ok(done, `call ${n} did not complete within five rounds`);
      assert.deepEqual(asked.sort(), ["question 1?", "question 2?", "question 3?"]);
    }
  });
});

describe("a wall-clock step while calls are in flight (modern child)", () => {
  let bridge: RunningBridge;
  before(async () => {
    bridge = await startBridge(
      {
        server: {
          mcp_server: { command: process.execPath, args: ["tests/fixtures/misbehaving-server.mjs"], env: { MODE: "modern" }, read_timeout: "3s" },
          auth: { type: "bearer", bearer: { valid_tokens: [ALICE] } },
        },
      },
      // SIGUSR2 steps the bridge's wall clock an hour ahead (see tests/support/clock-step.cjs).
      { env: { NODE_OPTIONS: `--require ${join(ROOT, "tests/support/clock-step.cjs")}`, CLOCK_STEP_MS: String(3_600_000) } },
    );
  });
  after(() => stopHard(bridge));

  const tool = (id: number, name: string) =>
    call(bridge, ALICE, { id, method: "tools/call", params: { name, arguments: {}, _meta: meta({}) } }, { signal: AbortSignal.timeout(15_000) });

  test("does not end a call before read_timeout: the clock's step is not time the child had", async () => {
    // A call the child never answers: the child's deadline timer fires at its read_timeout, 3 s on.
    const held = tool(1, "hold");
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    // Answered 1.5 s after it started, well within its own read_timeout, but in flight when the timer fires.
    const waiting = tool(2, "wait");
    await new Promise((resolve) => setTimeout(resolve, 300));
    bridge.process.kill("SIGUSR2");
    const answered = await waiting;
    assert.equal(textOf(answered.body.result), "waited", JSON.stringify(answered.body));
    assert.equal((await held).body.error?.code, -32001);
  });
});
