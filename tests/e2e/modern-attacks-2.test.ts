/**
 * @module More end-to-end attacks on the modern (2026-07-28) path through the built CLI (see
 * modern-attacks.test.ts for the first set): children that lie about their results, and the
 * certainty of attributing a legacy child's requests for input. Each test failed before its fix.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { logged, waitFor } from "../hardening-ops/support.ts";
import { call, eventReader, meta, post, textOf, useDebugBridge, withStreams } from "../support/modern.ts";

const ALICE = "alice-token-0123456789";
const bearer = (...tokens: string[]) => ({ type: "bearer", bearer: { valid_tokens: tokens } });

/** A tools/call message with the client capabilities given. */
const toolsCall = (id: number | string, name: string, args: Record<string, unknown> = {}, capabilities: Record<string, unknown> = {}) => ({
  id,
  method: "tools/call",
  params: { name, arguments: args, _meta: meta(capabilities) },
});

describe("a legacy child whose call result claims a modern resultType", () => {
  const bridge = useDebugBridge(() => ({
    mcp_server: { command: process.execPath, args: ["tests/fixtures/misbehaving-server.mjs"], env: { MODE: "legacy" }, read_timeout: "5s" },
    auth: bearer(ALICE),
  }));

  const lie = (id: number, result: Record<string, unknown>, capabilities: Record<string, unknown> = {}) =>
    call(bridge, ALICE, toolsCall(id, "raw_line", { line: JSON.stringify({ jsonrpc: "2.0", id: 0, result }).replace('"id":0', '"id":ID') }, capabilities));

  test("input_required with questions the client never declared and a requestState the bridge never sealed: an internal error, never forwarded", async () => {
    const forged = { resultType: "input_required", inputRequests: { x: { method: "sampling/createMessage", params: { messages: [], maxTokens: 1 } } }, requestState: "forged-by-the-child" };
    const { status, body } = await lie(1, forged);
    assert.equal(status, 200);
    assert.equal(body.result, undefined, `the child's input_required reached the client: ${JSON.stringify(body)}`);
    assert.equal(body.error?.code, -32603, JSON.stringify(body));
    assert.match(bridge.logs(), /cannot be translated for a modern client/);
    // A result type no revision knows: the same.
    const odd = await lie(2, { resultType: "partial", content: [] });
    assert.equal(odd.body.error?.code, -32603, JSON.stringify(odd.body));
    // resultType "complete", which a legacy result may carry harmlessly, still passes.
    const complete = await lie(3, { resultType: "complete", content: [{ type: "text", text: "fine" }] });
    assert.equal(textOf(complete.body.result), "fine", JSON.stringify(complete.body));
    assert.equal(complete.body.result?.resultType, "complete");
  });
});

describe("a legacy child that asks for input while a plain request (no call that may ask) is in flight beside a call", () => {
  const bridge = useDebugBridge(() => ({
    mcp_server: { command: process.execPath, args: ["tests/fixtures/misbehaving-server.mjs"], env: { MODE: "legacy" }, read_timeout: "3s" },
    auth: bearer(ALICE),
    session: { modern_pool_size: 1 },
  }));

  test("the question is never put to the call: it might be the plain request's (the child cannot say), so it waits until one owner is certain, and is refused", async () => {
    const capabilities = { elicitation: {} };
    // A call that asks nothing and answers 1.5 s later: the one call that may ask in flight.
    const waiting = call(bridge, ALICE, toolsCall(1, "wait", {}, capabilities));
    await logged(bridge, /wait: started/);
    // A resources/list during which the child asks the client something (and which it never answers).
    const question = JSON.stringify({ jsonrpc: "2.0", id: "from-the-list-ID", method: "elicitation/create", params: { message: "asked during resources/list", requestedSchema: { type: "object", properties: {} } } });
    const list = call(bridge, ALICE, { id: 2, method: "resources/list", params: { rawLine: question, _meta: meta(capabilities) } });
    const [waited, listed] = await Promise.all([waiting, list]);
    assert.equal(waited.body.result?.resultType, "complete", `the list's question was put to the call: ${JSON.stringify(waited.body)}`);
    assert.equal(textOf(waited.body.result), "waited");
    assert.equal(listed.body.error?.code, -32001, JSON.stringify(listed.body));
  });
});

describe("a legacy child's questions of a call that is over", () => {
  const bridge = useDebugBridge(() => ({
    mcp_server: { command: process.execPath, args: ["tests/fixtures/misbehaving-server.mjs"], env: { MODE: "legacy" }, read_timeout: "2s" },
    auth: bearer(ALICE),
  }));

  /** The child's report of how call `id`'s question was answered, once it is in the log. */
  const report = async (id: number): Promise<string> => {
    const pattern = new RegExp(`question of call (\\d+) answered: (.*)`, "g");
    for (let waited = 0; waited < 15_000; waited += 100) {
      const reports = [...bridge.logs().matchAll(pattern)].map((match) => match[2]!);
      // Bridge ids are the child's call ids: the n-th report is the n-th call's.
      if (reports.length >= id) return reports[id - 1]!;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.fail(`the child's question was never answered:\n${bridge.logs().slice(-2000)}`);
  };

  test("a round whose client never comes back: once it lapses, the child's question gets an error (a child awaiting it can go on)", async () => {
    const first = await call(bridge, ALICE, toolsCall(1, "ask_and_report", {}, { elicitation: {} }));
    assert.equal(first.body.result?.resultType, "input_required", JSON.stringify(first.body));
    assert.match(await report(1), /-32603.*is over/);
  });

  test("a call the child answered without waiting for its question: the question gets an error when the call's answer goes to the client", async () => {
    const first = await call(bridge, ALICE, toolsCall(2, "ask_and_report", { answerMs: 200 }, { elicitation: {} }));
    assert.equal(first.body.result?.resultType, "input_required", JSON.stringify(first.body));
    await new Promise((resolve) => setTimeout(resolve, 600));
    const [key] = Object.keys(first.body.result?.inputRequests ?? {});
    const retry = await call(bridge, ALICE, { ...toolsCall(3, "ask_and_report", { answerMs: 200 }, { elicitation: {} }), params: { name: "ask_and_report", arguments: { answerMs: 200 }, inputResponses: { [key!]: { action: "accept", content: {} } }, requestState: first.body.result?.requestState, _meta: meta({ elicitation: {} }) } });
    assert.equal(textOf(retry.body.result), "answered without the input", JSON.stringify(retry.body));
    assert.match(await report(2), /-32603.*is over|accept/);
  });
});

describe("a legacy child that asks while two calls share it, and the call that asked is cancelled", () => {
  const bridge = useDebugBridge((everythingServer) => ({
    mcp_server: { command: process.execPath, args: [everythingServer], read_timeout: "20s" },
    auth: bearer(ALICE),
    session: { modern_pool_size: 1 },
  }));

  test("the question never goes to the call left: the cancelled call may have asked it (its handler may still wait for it)", async () => {
    const capabilities = { elicitation: {} };
    // Both kinds are seen answering without asking: from then on they share the child.
    assert.equal(textOf((await call(bridge, ALICE, toolsCall(1, "maybe_ask", { ask: false }, capabilities))).body.result), "did not ask");
    assert.equal(textOf((await call(bridge, ALICE, toolsCall(2, "slow", { ms: 0 }, capabilities))).body.result), "done");
    const other = call(bridge, ALICE, toolsCall(3, "slow", { ms: 2500 }, capabilities), { signal: AbortSignal.timeout(20_000) });
    await waitFor(() => (bridge.logs().match(/slow: started/g)?.length ?? 0) >= 2, "the second slow call at the child");
    // This one asks while the other runs beside it: the bridge cannot tell whose question it is yet.
    const asking = new AbortController();
    const asked = call(bridge, ALICE, toolsCall(4, "maybe_ask", { ask: true }, capabilities), { signal: asking.signal }).catch(() => undefined);
    await logged(bridge, /child request parked until one call is left to own it/);
    asking.abort();
    await asked;
    const answered = await other;
    assert.equal(answered.body.result?.resultType, "complete", `the cancelled call's question was put to the other call: ${JSON.stringify(answered.body)}`);
    assert.equal(textOf(answered.body.result), "done");
  });
});

describe("Mcp-Name and Mcp-Param-* values with bytes outside ASCII", () => {
  const bridge = useDebugBridge((everythingServer) => ({ mcp_server: { command: process.execPath, args: [everythingServer], read_timeout: "20s" }, auth: bearer(ALICE) }));

  const custom = (args: Record<string, unknown>, headers: Record<string, string>) =>
    call(bridge, ALICE, { id: 1, method: "tools/call", params: { name: "test_custom_headers", arguments: args, _meta: meta({}) } }, { headers });

  test("are refused (400 HeaderMismatch), though read as Latin-1 they equal the body: a gateway reading them as UTF-8 would route on another value", async () => {
    // "Zürich" with ü as the single byte 0xFC, which fetch sends as it is (a ByteString).
    for (const [args, headers] of <Array<[Record<string, unknown>, Record<string, string>]>>[
      [{ region: "Zürich" }, { "mcp-param-region": "Z\u00fcrich" }],
      [{ region: "eu\u00a0" }, { "mcp-param-region": "eu\u00a0" }],
    ]) {
      const { status, body } = await custom(args, headers);
      assert.equal(status, 400, `${JSON.stringify(headers)}: ${JSON.stringify(body)}`);
      assert.equal(body.error?.code, -32020);
    }
    const named = await call(bridge, ALICE, { id: 2, method: "tools/call", params: { name: "t\u00e9st", arguments: {}, _meta: meta({}) } }, { headers: { "mcp-name": "t\u00e9st" } });
    assert.equal(named.status, 400, JSON.stringify(named.body));
    assert.equal(named.body.error?.code, -32020);
  });

  test("the same values in the base64 form, and plain values with inner spaces and tabs (as SDK v2 clients send them), are served", async () => {
    const b64 = (value: string) => `=?base64?${Buffer.from(value).toString("base64")}?=`;
    for (const [args, headers] of <Array<[Record<string, unknown>, Record<string, string>]>>[
      [{ region: "Zürich" }, { "mcp-param-region": b64("Zürich") }],
      [{ region: "eu west" }, { "mcp-param-region": "eu west" }],
      [{ region: "eu\twest" }, { "mcp-param-region": "eu\twest" }],
    ]) {
      const { status, body } = await custom(args, headers);
      assert.equal(status, 200, `${JSON.stringify(headers)}: ${JSON.stringify(body)}`);
      assert.match(textOf(body.result), /^custom headers: /);
    }
  });
});

describe("an initialize sent under a modern MCP-Protocol-Version header", () => {
  const bridge = useDebugBridge((everythingServer) => ({ mcp_server: { command: process.execPath, args: [everythingServer], read_timeout: "20s" }, auth: bearer(ALICE) }));

  test("is refused with HeaderMismatch naming the versions served (a legacy client has no other diagnostic to show), and creates no session", async () => {
    const response = await fetch(bridge.url, {
      method: "POST",
      headers: { authorization: `Bearer ${ALICE}`, "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2026-07-28" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "odd", version: "1" } } }),
    });
    const body = (await response.json()) as { error?: { code: number; message: string; data?: { supported?: string[] } } };
    assert.equal(response.status, 400);
    assert.equal(response.headers.get("mcp-session-id"), null);
    assert.equal(body.error?.code, -32020);
    for (const version of ["2026-07-28", "2025-11-25", "2024-11-05"]) assert.ok(body.error?.message.includes(version), `${version} is not named: ${body.error?.message}`);
    assert.deepEqual(body.error?.data?.supported, ["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"]);
  });
});

describe("subscriptions/listen in front of a legacy child that declares only some of what is asked", () => {
  const bridge = useDebugBridge(() => ({
    mcp_server: {
      command: process.execPath,
      args: ["tests/fixtures/misbehaving-server.mjs"],
      // Tool list changes, nothing of prompts or resources.
      env: { MODE: "legacy", INIT_RESULT: JSON.stringify({ protocolVersion: "2025-11-25", capabilities: { tools: { listChanged: true } }, serverInfo: { name: "misbehaving", version: "1" } }) },
      read_timeout: "5s",
    },
    auth: bearer(ALICE),
  }));

  test("the acknowledgement lists only what the child can send (basic/patterns/subscriptions: unsupported types are omitted), so the client knows to poll for the rest", async () => {
    await withStreams(async (signal) => {
      const asked = { toolsListChanged: true, promptsListChanged: true, resourcesListChanged: true, resourceSubscriptions: ["test://a", "test://b"] };
      const response = await post(bridge, ALICE, { id: "listen-1", method: "subscriptions/listen", params: { notifications: asked, _meta: meta({}) } }, { signal, accept: "text/event-stream" });
      assert.equal(response.status, 200);
      const ack = (await eventReader(response).next()) as { method: string; params: { notifications: unknown; _meta: Record<string, unknown> } };
      assert.equal(ack.method, "notifications/subscriptions/acknowledged");
      assert.deepEqual(ack.params.notifications, { toolsListChanged: true });
      assert.equal(ack.params._meta["io.modelcontextprotocol/subscriptionId"], "listen-1");
    });
  });
});

describe("subscriptions/listen in front of a legacy child that refuses one of the resources asked", () => {
  const bridge = useDebugBridge(() => ({
    mcp_server: {
      command: process.execPath,
      args: ["tests/fixtures/misbehaving-server.mjs"],
      env: { MODE: "legacy", INIT_RESULT: JSON.stringify({ protocolVersion: "2025-11-25", capabilities: { resources: { subscribe: true }, tools: { listChanged: true } }, serverInfo: { name: "misbehaving", version: "1" } }) },
      read_timeout: "5s",
    },
    auth: bearer(ALICE),
  }));
  const listenTo = (id: string, notifications: Record<string, unknown>, signal: AbortSignal) =>
    post(bridge, ALICE, { id, method: "subscriptions/listen", params: { notifications, _meta: meta({}) } }, { signal, accept: "text/event-stream" });

  test("the acknowledgement lists only the URIs the child accepted (the subset the server agreed to honor), on every stream that asks", async () => {
    await withStreams(async (signal) => {
      const listen = async (id: string, resourceSubscriptions: string[]) => {
        const response = await listenTo(id, { resourceSubscriptions }, signal);
        assert.equal(response.status, 200);
        const events = eventReader(response);
        const ack = (await events.next()) as { method: string; params: { notifications: unknown } };
        assert.equal(ack.method, "notifications/subscriptions/acknowledged");
        return { events, honored: ack.params.notifications };
      };
      // test://known-slow is accepted last, after the child has sent an update of it.
      const first = await listen("listen-1", ["test://known-a", "test://missing", "test://known-slow"]);
      assert.deepEqual(first.honored, { resourceSubscriptions: ["test://known-a", "test://known-slow"] });
      // The update that came before the acknowledgement follows it (never before: basic/patterns/subscriptions).
      const update = (await first.events.next()) as { method: string; params: { uri: string; _meta: Record<string, unknown> } };
      assert.equal(update.method, "notifications/resources/updated");
      assert.equal(update.params.uri, "test://known-slow");
      assert.equal(update.params._meta["io.modelcontextprotocol/subscriptionId"], "listen-1");
      // A second stream shares the accepted subscription, and the refused URI is asked (and refused) again.
      const second = await listen("listen-2", ["test://missing", "test://known-a"]);
      assert.deepEqual(second.honored, { resourceSubscriptions: ["test://known-a"] });
    });
  });

  test("an update of an asked URI before the acknowledgement is held for it, however many updates of other URIs come with it", async () => {
    await withStreams(async (signal) => {
      const events = eventReader(await listenTo("listen-5", { resourceSubscriptions: ["test://known-noisy"], toolsListChanged: true }, signal));
      assert.equal((await events.next()).method, "notifications/subscriptions/acknowledged");
      // The held update, then notify_subscribed's own update and its end mark.
      assert.equal(textOf((await call(bridge, ALICE, toolsCall(40, "notify_subscribed"))).body.result), "notified");
      const seen: string[] = [];
      for (let event = await events.next(); event.method !== "notifications/tools/list_changed"; event = await events.next()) seen.push(`${event.method} ${event.params.uri}`);
      assert.deepEqual(seen, ["notifications/resources/updated test://known-noisy", "notifications/resources/updated test://known-noisy"]);
    });
  });

  test("a stream that left before the child accepted its URI does not unsubscribe it from a stream that asked for it meanwhile", async () => {
    await withStreams(async (signal) => {
      // The first stream asks for a URI whose subscribe the child holds, and leaves before the acknowledgement.
      const leaving = new AbortController();
      const left = listenTo("listen-3", { resourceSubscriptions: ["test://known-held"] }, leaving.signal).catch(() => undefined);
      await logged(bridge, /subscribe asked: test:\/\/known-held/);
      leaving.abort();
      await left;
      // A call through the child in between: the bridge has seen the first stream go before the second comes.
      assert.equal(textOf((await call(bridge, ALICE, toolsCall(30, "ok"))).body.result), "ok {}");
      const staying = listenTo("listen-4", { resourceSubscriptions: ["test://known-held"], toolsListChanged: true }, signal);
      assert.equal(textOf((await call(bridge, ALICE, toolsCall(31, "ok"))).body.result), "ok {}");
      assert.equal(textOf((await call(bridge, ALICE, toolsCall(32, "release_subscribes"))).body.result), "released");
      const events = eventReader(await staying);
      const ack = await events.next();
      assert.equal(ack.method, "notifications/subscriptions/acknowledged");
      assert.deepEqual(ack.params.notifications, { toolsListChanged: true, resourceSubscriptions: ["test://known-held"] });
      // The child still has it subscribed: its update comes before the tool list change that marks the end.
      assert.equal(textOf((await call(bridge, ALICE, toolsCall(33, "notify_subscribed"))).body.result), "notified");
      const next = await events.next();
      assert.equal(next.method, "notifications/resources/updated", `the child no longer has the URI subscribed: ${JSON.stringify(next)}`);
      assert.equal(next.params.uri, "test://known-held");
    });
  });
});

describe("a progress token that is neither a string nor a number", () => {
  const bridge = useDebugBridge((everythingServer) => ({ mcp_server: { command: process.execPath, args: [everythingServer], read_timeout: "20s" }, auth: bearer(ALICE) }));

  test("is refused at once (400 InvalidParams naming it), never forwarded to a child that may drop the request and leave the client waiting for read_timeout", async () => {
    for (const progressToken of [{ a: 1 }, [1], true, null]) {
      const { status, body } = await call(bridge, ALICE, { id: 1, method: "tools/call", params: { name: "echo", arguments: { text: "x" }, _meta: { ...meta({}), progressToken } } }, { signal: AbortSignal.timeout(10_000) });
      assert.equal(status, 400, `${JSON.stringify(progressToken)}: ${JSON.stringify(body)}`);
      assert.equal(body.error?.code, -32602);
      assert.match(body.error?.message ?? "", /progressToken/);
    }
    for (const progressToken of ["p-1", 7, 1.5]) {
      const { body } = await call(bridge, ALICE, { id: 2, method: "tools/call", params: { name: "echo", arguments: { text: "fine" }, _meta: { ...meta({}), progressToken } } });
      assert.equal(textOf(body.result), "fine", `${JSON.stringify(progressToken)}: ${JSON.stringify(body)}`);
    }
  });
});

describe("a request id past 2^53", () => {
  const bridge = useDebugBridge((everything) => ({ mcp_server: { command: process.execPath, args: [everything] }, auth: { type: "bearer", bearer: { valid_tokens: [ALICE] } } }));

  test("as a progress token: refused (400 InvalidParams naming it), never echoed in progress as another number", async () => {
    const raw = `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"},"_meta":${JSON.stringify({ ...meta({}), progressToken: 0 }).replace('"progressToken":0', '"progressToken":9007199254740993')}}}`;
    const response = await post(bridge, ALICE, { method: "tools/call", params: { name: "echo" } }, { raw });
    const body = (await response.json()) as { error?: { code: number; message: string } };
    assert.equal(response.status, 400, JSON.stringify(body));
    assert.equal(body.error?.code, -32602);
    assert.match(body.error!.message, /progressToken: expected a string or a number \(an integer at most 2\^53 - 1 in magnitude\)/);
  });

  test("is refused (400 InvalidRequest saying to send a string), never answered under another number the client cannot match", async () => {
    // 2^53 + 1: a client with 64-bit integers (Go, Rust, Java) sends it exactly; a double reads 2^53.
    const raw = `{"jsonrpc":"2.0","id":9007199254740993,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"},"_meta":${JSON.stringify(meta({}))}}}`;
    const response = await post(bridge, ALICE, { method: "tools/call", params: { name: "echo" } }, { raw });
    const text = await response.text();
    assert.equal(response.status, 400, text);
    assert.doesNotMatch(text, /9007199254740992/);
    const body = JSON.parse(text) as { error?: { code: number; message: string } };
    assert.equal(body.error?.code, -32600, text);
    assert.match(body.error!.message, /"id" must be a string or an integer \(at most 2\^53 - 1 in magnitude: send a larger one as a string\)/);
    const safe = await call(bridge, ALICE, { id: 9007199254740991, method: "tools/call", params: { name: "echo", arguments: { text: "max" }, _meta: meta({}) } });
    assert.equal(safe.body.id, 9007199254740991);
    assert.equal(textOf(safe.body.result), "max");
  });
});
