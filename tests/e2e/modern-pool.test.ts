/**
 * @module End-to-end: a principal's calls that ask for input (Multi Round-Trip Requests on a
 * legacy child) outnumber its pool of children (`session.modern_pool_size`). A round waiting for
 * its client's input is not ended for another call while its client answers promptly: every call
 * completes, and the calls beyond the pool wait for a child meanwhile.
 */
import assert from "node:assert/strict";
import { setMaxListeners } from "node:events";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from "@modelcontextprotocol/client";
import { call, meta, MODERN, textOf, useDebugBridge, type Body } from "../support/modern.ts";

const ALICE = "alice-token-0123456789";
const CALLS = 20;
const POOL = 4;

const bridge = useDebugBridge((everythingServer) => ({
  mcp_server: { command: process.execPath, args: [everythingServer], read_timeout: "60s" },
  auth: { type: "bearer", bearer: { valid_tokens: [ALICE] } },
  session: { modern_pool_size: POOL },
}));

/** A modern tools/call as a client without an SDK sends it. */
async function callTool(id: number, name: string, params: Record<string, unknown>): Promise<Body> {
  return (await call(bridge, ALICE, { id, method: "tools/call", params: { name, ...params, _meta: meta() } })).body;
}

describe(`${CALLS} concurrent calls that ask for input, ${POOL} children`, { timeout: 180_000 }, () => {
  test("an SDK v2 client that answers each elicitation at once gets every call's own answer", async () => {
    const client = new ModernClient({ name: "modern", version: "1" }, { capabilities: { elicitation: {} }, versionNegotiation: { mode: { pin: MODERN } } });
    // Each question names its call's tag: the answer names it too, so a crossed answer shows.
    client.setRequestHandler("elicitation/create", async (request) => {
      const tag = /^value for (\S+)\?$/.exec(String(request.params.message))?.[1] ?? "?";
      return { action: "accept", content: { value: `v-${tag}` } };
    });
    await client.connect(new ModernTransport(new URL(bridge.url), { requestInit: { headers: { authorization: `Bearer ${ALICE}` } } }));
    try {
      const tags = Array.from({ length: CALLS }, (_, i) => `sdk${i}`);
      const outcomes = await Promise.allSettled(tags.map((tag) => client.callTool({ name: "elicit_tag", arguments: { tag } })));
      const texts = outcomes.map((outcome) => (outcome.status === "fulfilled" ? textOf(outcome.value as Record<string, any>) : `failed: ${String(outcome.reason)}`));
      assert.deepEqual(texts, tags.map((tag) => `${tag}=v-${tag}`));
    } finally {
      await client.close();
    }
  });

  test("round after round: raw clients that retry at once each complete a two-round call", async () => {
    /** One call to the end: every input_required is answered and retried at once. */
    const complete = async (n: number): Promise<string> => {
      let params: Record<string, unknown> = { arguments: {} };
      for (let round = 0; round < 5; round++) {
        const body = await callTool(1000 * n + round, "test_input_required_result_multi_round", params);
        if (body.error) return `call ${n} round ${round}: ${body.error.message}`;
        if (body.result?.resultType !== "input_required") return textOf(body.result);
        const requests = body.result.inputRequests as Record<string, { params: { message: string } }>;
        const inputResponses = Object.fromEntries(
          Object.entries(requests).map(([key, request]) => [key, { action: "accept", content: /color/.test(request.params.message) ? { color: `c${n}` } : { name: `n${n}` } }]),
        );
        params = { arguments: {}, inputResponses, requestState: body.result.requestState };
      }
      return `call ${n} never completed`;
    };
    const texts = await Promise.all(Array.from({ length: CALLS }, (_, n) => complete(n)));
    assert.deepEqual(texts, texts.map((_, n) => `Done: n${n} likes c${n}`));
  });

  test("a round whose client never comes back still makes way, after its grace, for a call waiting for a child", async () => {
    // Every child holds a round nobody will answer.
    const abandoned = await Promise.all(Array.from({ length: POOL }, (_, i) => callTool(2000 + i, "elicit_tag", { arguments: { tag: `gone${i}` } })));
    assert.ok(abandoned.every((body) => body.result?.resultType === "input_required"), JSON.stringify(abandoned));
    // This call waits for a child, takes the place of the oldest abandoned round, and completes.
    const asked = await callTool(2100, "elicit_tag", { arguments: { tag: "next" } });
    assert.equal(asked.result?.resultType, "input_required", JSON.stringify(asked));
    const [key] = Object.keys(asked.result?.inputRequests ?? {});
    const done = await callTool(2101, "elicit_tag", { arguments: { tag: "next" }, inputResponses: { [key!]: { action: "accept", content: { value: "v" } } }, requestState: asked.result?.requestState });
    assert.equal(textOf(done.result), "next=v", JSON.stringify(done));
    // The evicted round's state is refused: its call is over.
    const late = await Promise.all(
      abandoned.map((body, i) => {
        const [lateKey] = Object.keys(body.result?.inputRequests ?? {});
        return callTool(2200 + i, "elicit_tag", { arguments: { tag: `gone${i}` }, inputResponses: { [lateKey!]: { action: "accept", content: { value: "late" } } }, requestState: body.result?.requestState });
      }),
    );
    assert.ok(late.some((body) => body.error?.data?.reason === "invalid_request_state"), JSON.stringify(late));
  });
});

describe("without authentication, one client's unanswered calls and another's round", { timeout: 60_000 }, () => {
  const open = useDebugBridge((everythingServer) => ({
    mcp_server: { command: process.execPath, args: [everythingServer], read_timeout: "30s" },
    auth: { type: "none" },
    session: { modern_pool_size: 2 },
  }));
  const ask = (id: number, tag: string, from: string, extra: Record<string, unknown> = {}, signal?: AbortSignal) =>
    call(open, "", { id, method: "tools/call", params: { name: "elicit_tag", arguments: { tag }, ...extra, _meta: meta() } }, { from, signal });

  test("a client that asks four times a second and never answers cannot end another client's round: its calls end its own", async () => {
    const victim = (await ask(1, "victim", "127.0.0.1")).body;
    assert.equal(victim.result?.resultType, "input_required", JSON.stringify(victim));
    const stop = new AbortController();
    setMaxListeners(20, stop.signal);
    const flood: Array<Promise<{ body: Body } | undefined>> = [];
    // Past the 2 s grace of every round: before the fix the victim's, the oldest, gave way.
    for (let i = 0; i < 14; i++) {
      flood.push(ask(100 + i, `flood${i}`, "127.0.0.2", {}, stop.signal).catch(() => undefined));
      await sleep(250);
    }
    const [key] = Object.keys(victim.result?.inputRequests ?? {});
    const done = (await ask(2, "victim", "127.0.0.1", { inputResponses: { [key!]: { action: "accept", content: { value: "mine" } } }, requestState: victim.result?.requestState })).body;
    assert.equal(textOf(done.result), "victim=mine", JSON.stringify(done));
    stop.abort();
    // The first took the spare child; any other got its question only by ending the flooder's own round.
    const asked = (await Promise.all(flood)).filter((answer) => answer?.body.result?.resultType === "input_required");
    assert.ok(asked.length >= 2, `${asked.length} flood calls got their question`);
  });

  test("a third client's call ends a round that waits for another client, as before, when each of two clients holds a child", async () => {
    // Two clients each hold one of the two children with a round nobody answers.
    const held = await Promise.all([ask(300, "a", "127.0.0.3"), ask(301, "b", "127.0.0.4")]);
    assert.ok(held.every(({ body }) => body.result?.resultType === "input_required"), JSON.stringify(held));
    // A client holding none takes one after the 2 s grace, not after read_timeout (30 s).
    const third = (await ask(302, "c", "127.0.0.5", {}, AbortSignal.timeout(15_000))).body;
    assert.equal(third.result?.resultType, "input_required", JSON.stringify(third));
  });
});
