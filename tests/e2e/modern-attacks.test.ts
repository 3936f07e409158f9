/**
 * @module End-to-end attacks on the modern (2026-07-28) path through the built CLI: hostile
 * headers and envelopes, requestState abuse, one principal's load against another's service, and
 * children that misbehave. Each test is an attack that once broke, or must keep failing.
 */
import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { describe, test } from "node:test";
import { Client as LegacyClient } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport as LegacyTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { startBridge } from "../support/bridge.ts";
import { call, meta, MODERN, post, textOf, useDebugBridge, type Body, type PostOptions } from "../support/modern.ts";

const ALICE = "alice-token-0123456789";
const BOB = "bob-token-0123456789abc";
const CAROL = "carol-token-0123456789ab";

const everything = (everythingServer: string) => ({ command: process.execPath, args: [everythingServer], read_timeout: "20s" });
const bearer = (...tokens: string[]) => ({ type: "bearer", bearer: { valid_tokens: tokens } });

/** A tools/call message; `params` go between the arguments and the envelope. */
const toolsCall = (id: number | string, name: string, args: Record<string, unknown> = {}, params: Record<string, unknown> = {}, capabilities?: Record<string, unknown>) => ({
  id,
  method: "tools/call",
  params: { name, arguments: args, ...params, _meta: meta(capabilities) },
});

describe("one principal's load never locks another out", () => {
  const bridge = useDebugBridge((everythingServer) => ({
    mcp_server: everything(everythingServer),
    auth: bearer(ALICE, BOB),
    session: { modern_child: "shared", modern_pool_size: 2 },
  }));

  test("with one shared child, a principal holding every subscriptions/listen stream it may open leaves another principal its own", async () => {
    const controllers: AbortController[] = [];
    const listen = (token: string, id: number, controller: AbortController) =>
      post(bridge, token, { id, method: "subscriptions/listen", params: { notifications: { toolsListChanged: true }, _meta: meta({}) } }, { signal: controller.signal, accept: "text/event-stream" });
    try {
      // Alice opens listen streams until the bridge refuses her.
      let refused: Response | undefined;
      for (let i = 0; i < 100 && !refused; i++) {
        const controller = new AbortController();
        controllers.push(controller);
        const response = await listen(ALICE, i, controller);
        if (response.status !== 200) refused = response;
      }
      assert.equal(refused?.status, 429, "alice's listen streams are bounded");
      const controller = new AbortController();
      controllers.push(controller);
      const bob = await listen(BOB, 1000, controller);
      assert.equal(bob.status, 200, `bob was refused a listen stream because of alice's: ${bob.status}`);
    } finally {
      for (const controller of controllers) controller.abort();
    }
  });
});

describe("without authentication, one client's load never locks another out", () => {
  const bridge = useDebugBridge((everythingServer) => ({ mcp_server: everything(everythingServer), auth: { type: "none" } }));

  /** Opens a listen stream from `localAddress` (a client on that address): its status, the stream left open until `signal` aborts. */
  const listenFrom = (localAddress: string, id: number, signal: AbortSignal) =>
    new Promise<number>((resolve, reject) => {
      const body = JSON.stringify({ jsonrpc: "2.0", id, method: "subscriptions/listen", params: { notifications: { toolsListChanged: true }, _meta: meta({}) } });
      const url = new URL(bridge.url);
      const request = httpRequest(
        { host: url.hostname, port: url.port, path: url.pathname, method: "POST", localAddress, signal, headers: { "content-type": "application/json", accept: "text/event-stream", "mcp-protocol-version": MODERN, "mcp-method": "subscriptions/listen" } },
        (response) => {
          response.on("error", () => undefined);
          resolve(response.statusCode!);
        },
      );
      request.on("error", reject);
      request.end(body);
    });

  test("a client (one address) holding every subscriptions/listen stream it may open leaves a client on another address its own", async () => {
    const controller = new AbortController();
    try {
      let refused: number | undefined;
      for (let i = 0; i < 100 && refused === undefined; i++) {
        const status = await listenFrom("127.0.0.2", i, controller.signal);
        if (status !== 200) refused = status;
      }
      assert.equal(refused, 429, "one address's listen streams are bounded");
      const other = await listenFrom("127.0.0.1", 1000, controller.signal);
      assert.equal(other, 200, `a client on 127.0.0.1 was refused a listen stream because of 127.0.0.2's: ${other}`);
    } finally {
      controller.abort();
    }
  });
});

describe("without authentication, one client keeping calls waiting never locks another out of the children", () => {
  // Every client shares the children; read_timeout bounds how long a locked-out call would wait.
  const bridge = useDebugBridge((everythingServer) => ({ mcp_server: { ...everything(everythingServer), read_timeout: "8s" }, auth: { type: "none" }, session: { modern_pool_size: 2 } }));

  test("a client on 127.0.0.2 starting rounds it never finishes, many at once and again as each ends, leaves a client on 127.0.0.3 a child of its own", async () => {
    const ask = (from: string, id: number, tag: string) => call(bridge, "none", toolsCall(id, "elicit_tag", { tag }), { from });
    let attacking = true;
    let id = 0;
    const attacker = Promise.all(
      Array.from({ length: 30 }, async () => {
        while (attacking) await ask("127.0.0.2", ++id, "a");
      }),
    );
    try {
      // The attacker's calls fill both children and wait in numbers for each that frees (ending its own rounds).
      await new Promise((resolve) => setTimeout(resolve, 3000));
      // Each of its calls in turn (one might win a race for a child by chance).
      for (let call = 0; call < 3; call++) {
        const victim = await ask("127.0.0.3", 100_000 + call, "v");
        assert.equal(victim.status, 200, `call ${call}: ${JSON.stringify(victim.body)}`);
        assert.equal(victim.body.result?.resultType, "input_required", JSON.stringify(victim.body));
      }
    } finally {
      attacking = false;
      await attacker;
    }
  });
});

describe("children at max_sessions", () => {
  const bridge = useDebugBridge((everythingServer) => ({
    mcp_server: everything(everythingServer),
    auth: bearer(ALICE, BOB, CAROL),
    session: { max_sessions: 3, modern_pool_size: 8 },
  }));

  test("a principal whose rounds fill every place still gets its calls served (its oldest waiting round makes way), and another principal is not locked out", async () => {
    const ask = (token: string, id: number, tag: string) => call(bridge, token, toolsCall(id, "elicit_tag", { tag }));
    // Alice starts rounds she never finishes, more than there are places for children.
    const rounds = await Promise.all(Array.from({ length: 6 }, (_, i) => ask(ALICE, i, `a${i}`)));
    assert.deepEqual(
      rounds.map((round) => `${round.status} ${round.body.result?.resultType ?? round.body.error?.message}`),
      rounds.map(() => "200 input_required"),
    );
    // Bob's first requests: a child of his own takes the place of one of Alice's extra children.
    const echo = await call(bridge, BOB, toolsCall(100, "echo", { text: "bob here" }));
    assert.equal(echo.status, 200, JSON.stringify(echo.body));
    assert.equal(textOf(echo.body.result), "bob here");
    const bobRound = await ask(BOB, 101, "b");
    assert.equal(bobRound.body.result?.resultType, "input_required", JSON.stringify(bobRound.body));
    const [key] = Object.keys(bobRound.body.result?.inputRequests ?? {});
    const done = await call(bridge, BOB, toolsCall(102, "elicit_tag", { tag: "b" }, { inputResponses: { [key!]: { action: "accept", content: { value: "ok" } } }, requestState: bobRound.body.result?.requestState }));
    assert.equal(textOf(done.body.result), "b=ok");
  });

  test("a legacy client is not locked out by another principal's extra modern children", async () => {
    const ask = (id: number, tag: string) => call(bridge, ALICE, toolsCall(id, "elicit_tag", { tag }));
    const rounds = await Promise.all(Array.from({ length: 6 }, (_, i) => ask(200 + i, `c${i}`)));
    assert.ok(rounds.every((round) => round.body.result?.resultType === "input_required"));
    // The first initialize may get 503 with a short Retry-After while an extra child of Alice's
    // exits (its process counts until gone); retrying as told gets the place.
    let legacy: LegacyClient | undefined;
    for (let attempt = 0; !legacy; attempt++) {
      const client = new LegacyClient({ name: "legacy", version: "1" });
      try {
        await client.connect(new LegacyTransport(new URL(bridge.url), { requestInit: { headers: { authorization: `Bearer ${CAROL}` } } }));
        legacy = client;
      } catch (error) {
        assert.ok(attempt < 5 && /503|Service Unavailable/.test(String(error)), `attempt ${attempt}: ${String(error)}`);
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
    try {
      const result = await legacy.callTool({ name: "echo", arguments: { text: "legacy carol" } });
      assert.equal(textOf(result as Record<string, any>), "legacy carol");
    } finally {
      await legacy.close();
    }
  });
});

describe("clients that leave", () => {
  const bridge = useDebugBridge((everythingServer) => ({
    // Children take a second to start, so that a client can leave while its first one starts.
    mcp_server: { command: "/bin/sh", args: ["-c", `sleep 1; exec "${process.execPath}" "${everythingServer}"`], read_timeout: "60s" },
    auth: bearer(ALICE, BOB),
    session: { modern_pool_size: 1 },
  }));

  test("a call whose client left while it waited for a child never runs there: the principal's next call gets the child", async () => {
    const slow = (id: number, ms: number, signal: AbortSignal) => post(bridge, ALICE, toolsCall(id, "slow", { ms }), { signal });
    const first = new AbortController();
    const running = slow(1, 60_000, first.signal).catch(() => undefined);
    const second = new AbortController();
    // The only child is taken: this call waits for it, and its client gives up meanwhile.
    const waiting = slow(2, 60_000, second.signal).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 500));
    second.abort();
    await waiting;
    first.abort();
    await running;
    // Had the abandoned call started, it would hold the child for a minute.
    const next = await call(bridge, ALICE, toolsCall(3, "slow", { ms: 0 }), { signal: AbortSignal.timeout(20_000) });
    assert.equal(textOf(next.body.result), "done");
  });
  test("a call whose client left while its principal's first child was starting never runs there", async () => {
    const abandoned = new AbortController();
    const call1 = post(bridge, BOB, toolsCall(1, "slow", { ms: 60_000 }), { signal: abandoned.signal }).catch(() => undefined);
    // Bob has no child yet: the bridge starts one (hundreds of milliseconds) while he gives up.
    await new Promise((resolve) => setTimeout(resolve, 300));
    abandoned.abort();
    await call1;
    const next = await call(bridge, BOB, toolsCall(2, "slow", { ms: 0 }), { signal: AbortSignal.timeout(20_000) });
    assert.equal(textOf(next.body.result), "done");
  });
});

describe("hostile requests", () => {
  const bridge = useDebugBridge((everythingServer) => ({ mcp_server: everything(everythingServer), auth: bearer(ALICE, BOB) }));

  const b64 = (value: string) => `=?base64?${Buffer.from(value).toString("base64")}?=`;

  test("Mcp-Param-* headers: any case, base64 UTF-8, numbers compared as numbers; missing, duplicated, wrong, broken base64 or untrimmed plain values are 400 -32020", async () => {
    const custom = (args: Record<string, unknown>, headers: Record<string, string>) =>
      call(bridge, ALICE, toolsCall(1, "test_custom_headers", args, {}, {}), { headers });
    for (const [args, headers] of <Array<[Record<string, unknown>, Record<string, string>]>>[
      [{ region: "eu" }, { "MCP-PARAM-REGION": "eu" }],
      [{ region: "Zürich" }, { "mcp-param-region": b64("Zürich") }],
      [{ region: " eu " }, { "mcp-param-region": b64(" eu ") }],
      [{ region: "=?base64?eA==?=" }, { "mcp-param-region": b64("=?base64?eA==?=") }],
      [{ region: "eu", priority: 7 }, { "mcp-param-region": "eu", "mcp-param-priority": "007" }],
    ]) {
      const { status, body } = await custom(args, headers);
      assert.equal(status, 200, `${JSON.stringify(args)} ${JSON.stringify(body)}`);
      assert.match(textOf(body.result), /^custom headers: /);
    }
    for (const [args, headers] of <Array<[Record<string, unknown>, Record<string, string>]>>[
      [{ region: "eu" }, {}],
      [{ region: "eu" }, { "mcp-param-region": "us" }],
      [{ region: "eu" }, { "mcp-param-region": "eu, eu" }],
      [{ region: "x" }, { "mcp-param-region": "=?base64?eA?=" }],
      [{ region: "x" }, { "mcp-param-region": "=?base64?/w==?=" }],
      [{ region: " eu " }, { "mcp-param-region": " eu " }],
      [{ region: "=?base64?eA==?=" }, { "mcp-param-region": "=?base64?eA==?=" }],
      [{ region: "eu", priority: 7 }, { "mcp-param-region": "eu", "mcp-param-priority": "8" }],
      [{ region: "eu", priority: 7 }, { "mcp-param-region": "eu" }],
    ]) {
      const { status, body } = await custom(args, headers);
      assert.equal(status, 400, `${JSON.stringify(args)} ${JSON.stringify(headers)}`);
      assert.equal(body.error?.code, -32020);
    }
  });

  test("hostile envelopes and bodies get clear refusals, and the bridge keeps serving", async () => {
    const list = { id: 2, method: "tools/list", params: { _meta: meta() } };
    const cases: Array<[string, PostOptions, number, number | undefined]> = [
      // _meta keys named like prototype members are plain data.
      ["proto keys", { raw: `{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{"_meta":{"__proto__":{"x":1},"io.modelcontextprotocol/protocolVersion":"${MODERN}","io.modelcontextprotocol/clientCapabilities":{"__proto__":{"elicitation":{}}}}}}` }, 200, undefined],
      ["duplicated Mcp-Method", { headers: { "mcp-method": "tools/list, tools/list" } }, 400, -32020],
      ["version as a number", { raw: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list", params: { _meta: { ...meta(), "io.modelcontextprotocol/protocolVersion": 20260728 } } }) }, 400, -32602],
      ["capabilities as a string", { raw: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list", params: { _meta: { ...meta(), "io.modelcontextprotocol/clientCapabilities": "all" } } }) }, 400, -32602],
      ["clientInfo without a version", { raw: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list", params: { _meta: { ...meta(), "io.modelcontextprotocol/clientInfo": { name: "x".repeat(100_000) } } } }) }, 400, -32602],
      ["_meta as an array", { raw: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list", params: { _meta: [meta()] } }) }, 400, -32602],
      ["params as an array", { raw: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list", params: [meta()] }) }, 400, -32602],
      ["a future version", { raw: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list", params: { _meta: { ...meta(), "io.modelcontextprotocol/protocolVersion": "2099-01-01" } } }), headers: { "mcp-protocol-version": "2099-01-01" } }, 400, -32022],
      ["a batch of modern requests", { raw: JSON.stringify([{ jsonrpc: "2.0", id: 2, method: "tools/list", params: { _meta: meta() } }]) }, 400, -32600],
      ["a response POSTed with modern headers", { raw: JSON.stringify({ jsonrpc: "2.0", id: 2, result: { _meta: meta() } }) }, 400, -32600],
      ["a removed method", { raw: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "logging/setLevel", params: { level: "debug", _meta: meta() } }), headers: { "mcp-method": "logging/setLevel" } }, 404, -32601],
      ["a method named like a prototype member", { raw: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "__proto__", params: { _meta: meta() } }), headers: { "mcp-method": "__proto__" } }, 404, -32601],
    ];
    for (const [label, options, status, code] of cases) {
      const response = await post(bridge, ALICE, list, options);
      const body = (await response.json()) as Body;
      assert.equal(response.status, status, `${label}: ${JSON.stringify(body).slice(0, 300)}`);
      assert.equal(body.error?.code, code, label);
    }
    const notification = await post(bridge, ALICE, { method: "notifications/cancelled", params: { requestId: 1, _meta: meta() } });
    assert.equal(notification.status, 202);
    const still = await call(bridge, ALICE, toolsCall(3, "echo", { text: "still" }));
    assert.equal(textOf(still.body.result), "still");
  });

  test("requestState abuse: garbage, oversized, another request's, replayed after completion, two retries at once", async () => {
    const elicit = (id: number, tag: string, extra: Record<string, unknown> = {}, token = ALICE) =>
      call(bridge, token, toolsCall(id, "elicit_tag", { tag }, extra));
    for (const requestState of [{ a: 1 }, 42, "", "v1.", `v1.${"A".repeat(100_000)}`]) {
      const { body } = await elicit(10, "g", { requestState, inputResponses: {} });
      assert.equal(body.error?.code, -32602, JSON.stringify(requestState).slice(0, 40));
      assert.equal(body.error?.data?.reason, "invalid_request_state");
    }
    const first = await elicit(11, "one");
    const state = first.body.result?.requestState as string;
    const [key] = Object.keys(first.body.result?.inputRequests ?? {});
    const answer = { [key!]: { action: "accept", content: { value: "v" } } };
    // The same state on a call with other arguments.
    const other = await elicit(12, "two", { inputResponses: answer, requestState: state });
    assert.equal(other.body.error?.data?.reason, "invalid_request_state");
    // Wrong-typed and extra answers: the key is asked again, under a fresh state.
    const again = await elicit(13, "one", { inputResponses: { [key!]: "yes", extra: { action: "accept" }, ["__proto__"]: {} }, requestState: state });
    assert.equal(again.body.result?.resultType, "input_required", JSON.stringify(again.body));
    const state2 = again.body.result?.requestState as string;
    const [twice1, twice2] = await Promise.all([elicit(14, "one", { inputResponses: answer, requestState: state2 }), elicit(15, "one", { inputResponses: answer, requestState: state2 })]);
    const texts = [twice1, twice2].map((result) => textOf(result.body.result));
    assert.equal(texts.filter((text) => text === "one=v").length, 1, JSON.stringify([twice1.body, twice2.body]));
    const replay = await elicit(16, "one", { inputResponses: answer, requestState: state2 });
    assert.equal(replay.body.error?.data?.reason, "invalid_request_state");
  });

  test("two retries of one round at once, one answering nothing and one answering: both are answered, neither hangs", async () => {
    const elicit = (id: number, tag: string, extra: Record<string, unknown> = {}) =>
      call(bridge, BOB, toolsCall(id, "elicit_tag", { tag }, extra), { signal: AbortSignal.timeout(20_000) });
    for (let attempt = 0; attempt < 5; attempt++) {
      const first = await elicit(20 + attempt, `race${attempt}`);
      const [key] = Object.keys(first.body.result?.inputRequests ?? {});
      const state = first.body.result?.requestState;
      const [empty, full] = await Promise.all([
        elicit(30 + attempt, `race${attempt}`, { inputResponses: {}, requestState: state }),
        elicit(40 + attempt, `race${attempt}`, { inputResponses: { [key!]: { action: "accept", content: { value: "r" } } }, requestState: state }),
      ]);
      assert.ok(empty.body.result || empty.body.error, JSON.stringify(empty.body));
      assert.ok(full.body.result || full.body.error, JSON.stringify(full.body));
    }
  });
});

for (const era of ["modern", "legacy"] as const) {
  describe(`a misbehaving ${era} child`, () => {
    const bridge = useDebugBridge(() => ({
      mcp_server: { command: process.execPath, args: ["tests/fixtures/misbehaving-server.mjs"], env: { MODE: era }, read_timeout: "3s" },
      auth: bearer(ALICE),
    }));

    const tool = (id: number, name: string, args: Record<string, unknown> = {}, params: Record<string, unknown> = {}) =>
      call(bridge, ALICE, toolsCall(id, name, args, params, { elicitation: {}, sampling: {}, roots: {} }));

    test("garbage lines are dropped, an answer to an id not in flight times the call out, requests with no call in flight are refused; the child keeps serving", async () => {
      assert.equal(textOf((await tool(1, "garbage")).body.result), "after garbage");
      const wrong = await tool(2, "wrong_id");
      assert.equal(wrong.body.error?.code, -32001, JSON.stringify(wrong.body));
      assert.equal(textOf((await tool(3, "ask_after")).body.result), "answered");
      assert.equal(textOf((await tool(4, "ok")).body.result), "ok {}");
      assert.match(bridge.logs(), /child wrote a line that is not JSON/);
    });

    test("a child that exits during a call: the call gets an error, the next request a new child", async () => {
      const exited = await tool(5, "exit");
      assert.equal(exited.body.error?.code, -32000, JSON.stringify(exited.body));
      assert.equal(textOf((await tool(6, "ok")).body.result), "ok {}");
    });

    test("a subscriptions/listen stream is not cut at read_timeout: a change 4 s later still reaches it", async () => {
      const controller = new AbortController();
      const timeout = setTimeout(() => controller.abort(), 20_000);
      try {
        const response = await post(bridge, ALICE, { id: "listen-long", method: "subscriptions/listen", params: { notifications: { toolsListChanged: true }, _meta: meta({}) } }, { signal: controller.signal, accept: "text/event-stream" });
        assert.equal(response.status, 200);
        const reader = response.body!.getReader();
        const decoder = new TextDecoder();
        let text = "";
        const readUntil = async (marker: string) => {
          while (!text.includes(marker)) {
            const { value, done } = await reader.read();
            assert.ok(!done, `the stream ended before ${marker}: ${text}`);
            text += decoder.decode(value, { stream: true });
          }
        };
        await readUntil("notifications/subscriptions/acknowledged");
        assert.equal(textOf((await tool(20, "change_later", { ms: 4000 })).body.result), "scheduled");
        await readUntil("notifications/tools/list_changed");
        assert.doesNotMatch(text, /"error"/);
      } finally {
        clearTimeout(timeout);
        controller.abort();
      }
    });

    if (era === "legacy") {
      test("an MRTR call gets read_timeout afresh when its client comes back: 2 s for the client plus 2 s for the child, with a 3 s read_timeout", async () => {
        const first = await tool(21, "ask_then_wait", { ms: 2000 });
        assert.equal(first.body.result?.resultType, "input_required", JSON.stringify(first.body));
        const [key] = Object.keys(first.body.result?.inputRequests as Record<string, unknown>);
        await new Promise((resolve) => setTimeout(resolve, 2000));
        const retry = await tool(22, "ask_then_wait", { ms: 2000 }, { inputResponses: { [key!]: { action: "accept", content: {} } }, requestState: first.body.result?.requestState });
        assert.equal(textOf(retry.body.result), "after accept", JSON.stringify(retry.body));
      });
    }

    test("a child that stops reading its input: modern requests get 503 with Retry-After, never an unbounded buffer", async () => {
      // Its own bridge: the child stops for good. One child per principal, so that calls cannot go round it.
      const own = await startBridge({ server: { mcp_server: { command: process.execPath, args: ["tests/fixtures/misbehaving-server.mjs"], env: { MODE: era }, read_timeout: "3s", stdin_buffer_size: "1MiB", graceful_shutdown_timeout: "1s" }, auth: bearer(ALICE), session: { modern_pool_size: 1 } } });
      try {
        // Seen answering without asking, "ok" calls share the child (a legacy child runs unknown kinds one at a time).
        assert.equal(textOf((await call(own, ALICE, toolsCall(29, "ok", {}, {}, {}))).body.result), "ok {}");
        assert.equal(textOf((await call(own, ALICE, toolsCall(30, "stop_reading", {}, {}, {}))).body.result), "stopped reading");
        const big = "b".repeat(512 * 1024);
        const replies: Array<Promise<Response>> = [];
        for (let i = 0; i < 8; i++) {
          replies.push(post(own, ALICE, toolsCall(31 + i, "ok", { big }, {}, {})));
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        const statuses = await Promise.all(replies.map(async (reply) => {
          const response = await reply;
          const body = (await response.json()) as Body;
          if (response.status === 503) {
            assert.ok(Number(response.headers.get("retry-after")) > 0, "the 503 says when to retry");
            assert.match(body.error?.message ?? "", /not keeping up/);
          }
          return response.status;
        }));
        assert.ok(statuses.includes(503), `some requests are refused (got ${statuses.join(",")})`);
        assert.match(own.logs(), /not reading its input; modern request refused with 503/);
      } finally {
        await own.stop();
      }
    });

    test("Mcp-Param-* headers are checked for tools of every page, whatever page the client read last", async () => {
      const list = (id: number, cursor?: string) => call(bridge, ALICE, { id, method: "tools/list", params: { ...(cursor && { cursor }), _meta: meta({}) } });
      const first = await list(7);
      assert.equal(first.body.result?.nextCursor, "page-2");
      await list(8, "page-2");
      const routed = await call(bridge, ALICE, toolsCall(9, "routed", { region: "eu" }, {}, {}), { headers: { "mcp-param-region": "us" } });
      assert.equal(routed.status, 400, JSON.stringify(routed.body));
      assert.equal(routed.body.error?.code, -32020);
      // And the second page's after the client read the first again, just after the bridge listed every page itself.
      await call(bridge, ALICE, toolsCall(12, "no_such_tool", {}, {}, {}));
      await list(10);
      const too = await call(bridge, ALICE, toolsCall(11, "routed_too", { region: "eu" }, {}, {}), { headers: { "mcp-param-region": "us" } });
      assert.equal(too.status, 400, JSON.stringify(too.body));
    });
  });
}

for (const era of ["modern", "legacy"] as const) {
  describe(`one ${era} child shared by every principal (modern_child: shared)`, () => {
    const bridge = useDebugBridge(() => ({
      mcp_server: { command: process.execPath, args: ["tests/fixtures/misbehaving-server.mjs"], env: { MODE: era }, read_timeout: "10s" },
      auth: bearer(ALICE, BOB),
      session: { modern_child: "shared" },
    }));

    test("a log line the child writes after one principal's call never reaches another principal's call", async () => {
      const request = (token: string, id: number, name: string, args: Record<string, unknown> = {}) =>
        post(bridge, token, { id, method: "tools/call", params: { name, arguments: args, _meta: { ...meta({}), "io.modelcontextprotocol/logLevel": "debug" } } });
      assert.equal(textOf(((await (await request(ALICE, 1, "log_later", { owner: "alice" })).json()) as Body).result), "answered");
      const bob = await request(BOB, 2, "wait");
      const text = await bob.text();
      assert.match(text, /waited/);
      assert.doesNotMatch(text, /secret of alice/);
    });

    test("a question the child asks after one principal's call answered is never put to another principal", async () => {
      const request = (token: string, id: number, name: string, args: Record<string, unknown> = {}) =>
        call(bridge, token, toolsCall(id, name, args));
      assert.equal(textOf((await request(ALICE, 3, "ask_later", { owner: "alice" })).body.result), "answered");
      const bob = await request(BOB, 4, "wait");
      assert.doesNotMatch(JSON.stringify(bob.body), /question for alice/);
      assert.equal(textOf(bob.body.result), "waited");
    });
  });
}

describe("a listen stream whose legacy child exits", () => {
  const bridge = useDebugBridge((everythingServer) => ({ mcp_server: everything(everythingServer), auth: bearer(ALICE), session: { modern_pool_size: 1 } }));

  test("ends with an error response, so that the client listens again rather than waiting for updates a new child was never asked for", async () => {
    const controller = new AbortController();
    const response = await post(bridge, ALICE, { id: "listen-1", method: "subscriptions/listen", params: { notifications: { toolsListChanged: true, resourceSubscriptions: ["test://watched-resource"] }, _meta: meta({}) } }, { signal: controller.signal, accept: "text/event-stream" });
    assert.equal(response.status, 200);
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = "";
    const timeout = setTimeout(() => controller.abort(), 20_000);
    try {
      while (!text.includes("notifications/subscriptions/acknowledged")) {
        const { value, done } = await reader.read();
        assert.ok(!done, "the stream ended before its acknowledgement");
        text += decoder.decode(value, { stream: true });
      }
      const crash = await call(bridge, ALICE, toolsCall(1, "crash_during_input"));
      assert.equal(crash.body.result?.resultType, "input_required");
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
    } catch (error) {
      assert.fail(`the listen stream did not end when its child exited (${(error as Error).message})`);
    } finally {
      clearTimeout(timeout);
    }
    const last = JSON.parse(/data: (.*)\n\n$/.exec(text)![1]!) as Body;
    assert.equal(last.id, "listen-1");
    assert.equal(last.error?.code, -32000);
  });
});

describe("max_sessions_per_subject counts a subject's legacy sessions and modern children together", () => {
  const bridge = useDebugBridge((everythingServer) => ({
    mcp_server: everything(everythingServer),
    auth: bearer(ALICE, BOB),
    session: { max_sessions: 10, max_sessions_per_subject: 2 },
  }));

  test("a subject with two legacy sessions gets no modern child; another subject does", async () => {
    const clients: LegacyClient[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const client = new LegacyClient({ name: `legacy-${i}`, version: "1" });
        await client.connect(new LegacyTransport(new URL(bridge.url), { requestInit: { headers: { authorization: `Bearer ${ALICE}` } } }));
        clients.push(client);
      }
      const alice = await call(bridge, ALICE, { id: 1, method: "tools/list", params: { _meta: meta({}) } });
      assert.equal(alice.status, 503, JSON.stringify(alice.body));
      assert.match(alice.body.error?.message ?? "", /max_sessions_per_subject/);
      const bob = await call(bridge, BOB, { id: 2, method: "tools/list", params: { _meta: meta({}) } });
      assert.equal(bob.status, 200);
    } finally {
      await Promise.all(clients.map((client) => client.close()));
    }
  });
});
