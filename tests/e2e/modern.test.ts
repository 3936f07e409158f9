/**
 * @module End-to-end: modern (2026-07-28) clients through the built CLI, next to legacy ones, in
 * front of the legacy SDK v1 fixture: the translation, Multi Round-Trip Requests with a sealed
 * requestState, children per principal, and the failure cases.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from "@modelcontextprotocol/client";
import { Client as LegacyClient } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport as LegacyTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { waitForLog } from "../support/bridge.ts";
import { waitFor } from "../support/poll.ts";
import { call, eventReader, meta, MODERN, tamperedState, textOf, useDebugBridge } from "../support/modern.ts";

const ALICE = "alice-token-0123456789";
const BOB = "bob-token-0123456789abc";

const bridge = useDebugBridge((everythingServer) => ({
  mcp_server: { command: process.execPath, args: [everythingServer], pass_identity: true, read_timeout: "20s" },
  auth: { type: "bearer", bearer: { valid_tokens: [ALICE, BOB] } },
  session: { modern_pool_size: 4 },
}));

/** A modern request as a client without an SDK sends it: the envelope in `_meta` (with clientInfo), the standard headers. */
function modern(token: string, id: number, method: string, params: Record<string, unknown> = {}, capabilities: Record<string, unknown> = { elicitation: {} }, signal?: AbortSignal) {
  return call(bridge, token, { id, method, params: { ...params, _meta: { ...meta(capabilities), "io.modelcontextprotocol/clientInfo": { name: "raw", version: "1" } } } }, { signal });
}

/** How many times the bridge's log holds `text`. */
function occurrences(text: string): number {
  return bridge.logs().split(text).length - 1;
}

/** Waits until the bridge has logged `text` more than `before` times. */
function waitForMore(text: string, before: number): Promise<boolean> {
  return waitFor(() => occurrences(text) > before, () => `${JSON.stringify(text)} logged again:\n${bridge.logs().slice(-3000)}`);
}

describe("modern and legacy clients on one bridge", () => {
  test("an SDK v2 client (2026-07-28) and an SDK v1 client (2025-11-25) both call tools that elicit, at the same time", async () => {
    const modernClient = new ModernClient({ name: "modern", version: "1" }, { capabilities: { elicitation: {} }, versionNegotiation: { mode: { pin: MODERN } } });
    modernClient.setRequestHandler("elicitation/create", async () => ({ action: "accept", content: { name: "Modern Ada" } }));
    const legacyClient = new LegacyClient({ name: "legacy", version: "1" }, { capabilities: { elicitation: {} } });
    legacyClient.setRequestHandler(ElicitRequestSchema, async () => ({ action: "accept", content: { name: "Legacy Ada" } }));
    const modernTransport = new ModernTransport(new URL(bridge.url), { requestInit: { headers: { authorization: `Bearer ${ALICE}` } } });
    const legacyTransport = new LegacyTransport(new URL(bridge.url), { requestInit: { headers: { authorization: `Bearer ${BOB}` } } });
    await Promise.all([modernClient.connect(modernTransport), legacyClient.connect(legacyTransport)]);
    try {
      assert.equal(modernTransport.protocolVersion, MODERN);
      assert.ok(legacyTransport.sessionId, "the legacy client got a session");
      const [modernResult, legacyResult] = await Promise.all([
        modernClient.callTool({ name: "test_input_required_result_elicitation", arguments: {} }),
        legacyClient.callTool({ name: "test_input_required_result_elicitation", arguments: {} }),
      ]);
      assert.equal(textOf(modernResult as Record<string, any>), "Hello, Modern Ada!");
      assert.equal(textOf(legacyResult as Record<string, any>), "Hello, Legacy Ada!");
      const tools = await modernClient.listTools();
      assert.ok(tools.tools.some((tool) => tool.name === "echo"));
    } finally {
      await Promise.all([modernClient.close(), legacyClient.close()]);
    }
  });

  test("server/discover is answered from the legacy child's initialize result, with resultType and cache fields", async () => {
    const { status, body } = await modern(ALICE, 1, "server/discover");
    assert.equal(status, 200);
    assert.deepEqual(body.result?.supportedVersions, [MODERN]);
    assert.equal(body.result?.resultType, "complete");
    assert.equal(body.result?.ttlMs, 0);
    assert.equal(body.result?.cacheScope, "private");
    assert.equal(body.result?._meta?.["io.modelcontextprotocol/serverInfo"]?.name, "mcp-bridge-everything-fixture");
    assert.ok(body.result?.capabilities?.tools);
  });

  test("without a token a modern request gets 401 with a WWW-Authenticate challenge", async () => {
    const response = await fetch(bridge.url, { method: "POST", headers: { "content-type": "application/json", "mcp-protocol-version": MODERN, "mcp-method": "tools/list" }, body: "{}" });
    assert.equal(response.status, 401);
    assert.match(response.headers.get("www-authenticate") ?? "", /^Bearer/);
  });
});

describe("refusals at the edge", () => {
  const meta = (version = MODERN) => ({ "io.modelcontextprotocol/protocolVersion": version, "io.modelcontextprotocol/clientCapabilities": {} });
  async function refusal(body: unknown, headers: Record<string, string>) {
    const response = await fetch(bridge.url, {
      method: "POST",
      headers: { authorization: `Bearer ${ALICE}`, "content-type": "application/json", accept: "application/json, text/event-stream", ...headers },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as { id: unknown; error?: { code: number; data?: any } } };
  }

  test("an unknown version: 400, -32022 listing what is served and echoing what was asked", async () => {
    const { status, body } = await refusal({ jsonrpc: "2.0", id: 7, method: "tools/list", params: { _meta: meta("2031-01-01") } }, { "mcp-protocol-version": "2031-01-01", "mcp-method": "tools/list" });
    assert.equal(status, 400);
    assert.equal(body.id, 7);
    assert.equal(body.error?.code, -32022);
    assert.deepEqual(body.error?.data, { supported: [MODERN], requested: "2031-01-01" });
  });

  test("headers that disagree with the body, or are missing: 400, -32020", async () => {
    const call = { jsonrpc: "2.0", id: 8, method: "tools/call", params: { name: "echo", arguments: { text: "x" }, _meta: meta() } };
    for (const headers of <Array<Record<string, string>>>[
      { "mcp-protocol-version": "2025-11-25", "mcp-method": "tools/call", "mcp-name": "echo" },
      { "mcp-protocol-version": MODERN, "mcp-method": "tools/list", "mcp-name": "echo" },
      { "mcp-protocol-version": MODERN, "mcp-method": "tools/call", "mcp-name": "other" },
      { "mcp-protocol-version": MODERN, "mcp-method": "tools/call" },
      { "mcp-method": "tools/call", "mcp-name": "echo" },
    ]) {
      const { status, body } = await refusal(call, headers);
      assert.equal(status, 400, JSON.stringify(headers));
      assert.equal(body.error?.code, -32020, JSON.stringify(headers));
      assert.equal(body.id, 8);
    }
  });

  test("a broken envelope, a modern header without one, a modern element in a batch: 400", async () => {
    const broken = await refusal({ jsonrpc: "2.0", id: 9, method: "tools/list", params: { _meta: { "io.modelcontextprotocol/protocolVersion": MODERN } } }, { "mcp-protocol-version": MODERN, "mcp-method": "tools/list" });
    assert.equal(broken.status, 400);
    assert.equal(broken.body.error?.code, -32602);
    const missing = await refusal({ jsonrpc: "2.0", id: 10, method: "tools/list", params: {} }, { "mcp-protocol-version": MODERN, "mcp-method": "tools/list" });
    assert.equal(missing.status, 400);
    assert.equal(missing.body.error?.code, -32602);
    const batch = await refusal([{ jsonrpc: "2.0", id: 11, method: "tools/list", params: { _meta: meta() } }], {});
    assert.equal(batch.status, 400);
    assert.equal(batch.body.error?.code, -32600);
  });

  test("initialize under a modern claim: 404, -32601, naming the versions served", async () => {
    const { status, body } = await refusal(
      { jsonrpc: "2.0", id: 12, method: "initialize", params: { protocolVersion: MODERN, capabilities: {}, clientInfo: { name: "x", version: "1" }, _meta: meta() } },
      { "mcp-protocol-version": MODERN, "mcp-method": "initialize" },
    );
    assert.equal(status, 404);
    assert.equal(body.error?.code, -32601);
    assert.ok((body.error?.data?.supported as string[]).includes("2025-11-25"));
  });
});

describe("children per principal", () => {
  test("two principals get two children; each principal's calls reuse its own", async () => {
    const who = async (token: string, id: number) => JSON.parse(textOf((await modern(token, id, "tools/call", { name: "whoami", arguments: {} })).body.result)) as { subject: string; pid: number };
    const [alice1, bob1] = await Promise.all([who(ALICE, 10), who(BOB, 11)]);
    const [alice2, bob2] = await Promise.all([who(ALICE, 12), who(BOB, 13)]);
    assert.notEqual(alice1.subject, bob1.subject);
    assert.notEqual(alice1.pid, bob1.pid, "alice and bob share a child");
    // whoami asks for no input, yet it is a tools/call: it may run on any child of the principal's group.
    assert.equal(alice2.subject, alice1.subject);
    assert.equal(bob2.subject, bob1.subject);
  });
});

describe("multi round-trip requests over a legacy child", () => {
  test("a requestState replayed by another principal is refused; its owner's retry completes", async () => {
    const first = await modern(ALICE, 20, "tools/call", { name: "test_input_required_result_elicitation", arguments: {} });
    assert.equal(first.body.result?.resultType, "input_required");
    const [key] = Object.keys(first.body.result?.inputRequests ?? {});
    assert.ok(key);
    const state = first.body.result?.requestState as string;
    assert.equal(typeof state, "string");
    const answer = { [key]: { action: "accept", content: { name: "Grace" } } };
    const replay = await modern(BOB, 21, "tools/call", { name: "test_input_required_result_elicitation", arguments: {}, inputResponses: answer, requestState: state });
    assert.equal(replay.body.error?.code, -32602);
    assert.equal(replay.body.error?.data?.reason, "invalid_request_state");
    const tampered = await modern(ALICE, 22, "tools/call", { name: "test_input_required_result_elicitation", arguments: {}, inputResponses: answer, requestState: tamperedState(state) });
    assert.equal(tampered.body.error?.code, -32602);
    const own = await modern(ALICE, 23, "tools/call", { name: "test_input_required_result_elicitation", arguments: {}, inputResponses: answer, requestState: state });
    assert.equal(textOf(own.body.result), "Hello, Grace!");
    assert.equal(own.body.result?.resultType, "complete");
  });

  test("round after round: each retry continues the same call at the child; an earlier round's state is refused", async () => {
    const call = (id: number, extra: Record<string, unknown> = {}) => modern(ALICE, id, "tools/call", { name: "test_input_required_result_multi_round", arguments: {}, ...extra });
    const first = await call(24);
    const [key1] = Object.keys(first.body.result?.inputRequests ?? {});
    const second = await call(25, { inputResponses: { [key1!]: { action: "accept", content: { name: "Ada" } } }, requestState: first.body.result?.requestState });
    assert.equal(second.body.result?.resultType, "input_required");
    const [key2, request2] = Object.entries((second.body.result?.inputRequests ?? {}) as Record<string, { params: { message: string } }>)[0] ?? [];
    assert.match(request2?.params.message ?? "", /Step 2/);
    const stale = await call(26, { inputResponses: { [key1!]: { action: "accept", content: { name: "Eve" } } }, requestState: first.body.result?.requestState });
    assert.equal(stale.body.error?.code, -32602);
    const done = await call(27, { inputResponses: { [key2!]: { action: "accept", content: { color: "green" } } }, requestState: second.body.result?.requestState });
    assert.equal(textOf(done.body.result), "Done: Ada likes green");
  });

  test("concurrent calls that each elicit get their own input request and their own answer", async () => {
    const tags = ["t1", "t2", "t3", "t4"];
    const rounds = await Promise.all(tags.map((tag, i) => modern(ALICE, 30 + i, "tools/call", { name: "elicit_tag", arguments: { tag } })));
    const retries = rounds.map((round, i) => {
      const requests = round.body.result?.inputRequests as Record<string, { method: string; params: { message: string } }>;
      const entries = Object.entries(requests ?? {});
      assert.equal(entries.length, 1, `call ${tags[i]} got ${entries.length} input requests`);
      const [key, request] = entries[0]!;
      assert.equal(request.params.message, `value for ${tags[i]}?`, "an input request went to the wrong call");
      return modern(ALICE, 40 + i, "tools/call", { name: "elicit_tag", arguments: { tag: tags[i] }, inputResponses: { [key]: { action: "accept", content: { value: `v-${tags[i]}` } } }, requestState: round.body.result?.requestState });
    });
    const finals = await Promise.all(retries);
    assert.deepEqual(finals.map((final) => textOf(final.body.result)), tags.map((tag) => `${tag}=v-${tag}`), JSON.stringify(finals.map((final) => final.body)));
  });

  test("a kind of call seen answering without asking shares a child; when it does ask, the child drains until the request's owner is certain", async () => {
    // Both kinds answer once without asking: from then on they share one child.
    assert.equal(textOf((await modern(BOB, 90, "tools/call", { name: "maybe_ask", arguments: { ask: false } })).body.result), "did not ask");
    assert.equal(textOf((await modern(BOB, 91, "tools/call", { name: "slow", arguments: { ms: 0 } })).body.result), "done");
    // The asking call must reach the child while the slow one runs there, even on a busy machine.
    const started = occurrences("slow: started");
    const slow = modern(BOB, 92, "tools/call", { name: "slow", arguments: { ms: 2000 } });
    await waitForMore("slow: started", started);
    const asking = await modern(BOB, 93, "tools/call", { name: "maybe_ask", arguments: { ask: true } });
    // The elicitation could only be handed over once the slow call had answered.
    assert.equal(textOf((await slow).body.result), "done");
    assert.match(bridge.logs(), /child request parked until one call is left to own it/);
    const entries = Object.entries((asking.body.result?.inputRequests ?? {}) as Record<string, { params: { message: string } }>);
    assert.equal(entries.length, 1);
    assert.equal(entries[0]![1].params.message, "maybe value?");
    const final = await modern(BOB, 94, "tools/call", { name: "maybe_ask", arguments: { ask: true }, inputResponses: { [entries[0]![0]]: { action: "accept", content: { value: "ok" } } }, requestState: asking.body.result?.requestState });
    assert.equal(textOf(final.body.result), "asked: ok");
  });

  test("a capability the request did not declare is never asked; with nothing left to ask the client gets -32021 and HTTP 400", async () => {
    const { status, body } = await modern(ALICE, 50, "tools/call", { name: "test_missing_capability", arguments: {} }, {});
    assert.equal(status, 400);
    assert.equal(body.error?.code, -32021);
    assert.deepEqual(body.error?.data?.requiredCapabilities, { sampling: {} });
  });

  test("a child that dies while a round is pending gives the retry a clean error", async () => {
    const first = await modern(BOB, 60, "tools/call", { name: "crash_during_input", arguments: {} });
    assert.equal(first.body.result?.resultType, "input_required");
    await waitForLog(bridge, /"msg":"modern child ended"/);
    const [key] = Object.keys(first.body.result?.inputRequests ?? {});
    const retry = await modern(BOB, 61, "tools/call", { name: "crash_during_input", arguments: {}, inputResponses: { [key!]: { action: "accept", content: { name: "x" } } }, requestState: first.body.result?.requestState });
    assert.equal(retry.status, 200);
    assert.equal(retry.body.error?.code, -32000);
    assert.match(retry.body.error?.message ?? "", /exited/);
    // The principal is served again by a fresh child.
    const after = await modern(BOB, 62, "tools/call", { name: "echo", arguments: { text: "still here" } });
    assert.equal(textOf(after.body.result), "still here");
  });
});

describe("subscriptions/listen over a legacy child", () => {
  test("the stream opens with the acknowledgement and carries the child's list changes the filter asks for, tagged with the listen id", async () => {
    const controller = new AbortController();
    const response = await fetch(bridge.url, {
      method: "POST",
      signal: controller.signal,
      headers: { authorization: `Bearer ${ALICE}`, "content-type": "application/json", accept: "text/event-stream", "mcp-protocol-version": MODERN, "mcp-method": "subscriptions/listen" },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: "listen-1",
        method: "subscriptions/listen",
        params: { notifications: { toolsListChanged: true }, _meta: { "io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {} } },
      }),
    });
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /text\/event-stream/);
    const events = eventReader(response);
    try {
      const ack = await events.next();
      assert.equal(ack.method, "notifications/subscriptions/acknowledged");
      assert.equal(ack.params._meta["io.modelcontextprotocol/subscriptionId"], "listen-1");
      await modern(ALICE, 100, "tools/call", { name: "test_trigger_prompt_change", arguments: {} });
      await modern(ALICE, 101, "tools/call", { name: "test_trigger_tool_change", arguments: {} });
      // The prompts change was not asked for: the first notification after the ack is the tools one.
      const change = await events.next();
      assert.equal(change.method, "notifications/tools/list_changed");
      assert.equal(change.params._meta["io.modelcontextprotocol/subscriptionId"], "listen-1");
    } finally {
      controller.abort();
      await events.cancel();
    }
  });
});

describe("cancellation and logging", () => {
  test("closing a modern response stream cancels the request at the child", async () => {
    const controller = new AbortController();
    const started = occurrences("slow: started");
    const cancelled = occurrences("slow: cancelled");
    const pending = modern(ALICE, 70, "tools/call", { name: "slow", arguments: { ms: 60_000 } }, {}, controller.signal).catch((error: unknown) => error);
    // Closed once the child runs the call: a request closed before it got there never reaches it.
    await waitForMore("slow: started", started);
    controller.abort();
    await pending;
    await waitForMore("slow: cancelled", cancelled);
  });

  test("notifications/message reaches only requests that set a logLevel", async () => {
    const call = async (id: number, logLevel?: string) => {
      const response = await fetch(bridge.url, {
        method: "POST",
        headers: { authorization: `Bearer ${ALICE}`, "content-type": "application/json", accept: "text/event-stream, application/json", "mcp-protocol-version": MODERN, "mcp-method": "tools/call", "mcp-name": "test_logging_tool" },
        body: JSON.stringify({
          jsonrpc: "2.0",
          id,
          method: "tools/call",
          params: { name: "test_logging_tool", arguments: {}, _meta: { "io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {}, ...(logLevel && { "io.modelcontextprotocol/logLevel": logLevel }) } },
        }),
      });
      return response.text();
    };
    const quiet = await call(80);
    const chatty = await call(81, "info");
    const filtered = await call(82, "error");
    assert.doesNotMatch(quiet, /notifications\/message/);
    assert.equal((chatty.match(/notifications\/message/g) ?? []).length, 3);
    assert.doesNotMatch(filtered, /notifications\/message/);
    assert.match(chatty, /Tool with logging executed successfully/);
  });
});
