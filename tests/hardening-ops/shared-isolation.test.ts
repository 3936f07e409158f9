/** §2 Users never see each other in shared mode: server→client requests, per-client negotiation, recovery after crashes. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CreateMessageRequestSchema, ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { startBridge } from "../support/bridge.ts";
import { callTool, initialize, JSON_HEADERS, logged, misbehaving, rpc, scripted, waitFor } from "./support.ts";

async function samplingClient(url: string, name: string, asked: string[]) {
  const client = new Client({ name, version: "1" }, { capabilities: { sampling: {} } });
  client.setRequestHandler(CreateMessageRequestSchema, async () => {
    asked.push(name);
    return { role: "assistant", content: { type: "text", text: `answer from ${name}` }, model: name };
  });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

describe("shared mode keeps users apart", () => {
  test("a server→client request reaches no user: the child gets an error naming per_session, and no client's answer becomes another's result", async () => {
    const bridge = await startBridge({ server: { mcp_server: scripted(), session: { mode: "shared" } } });
    const asked: string[] = [];
    const a = await samplingClient(bridge.url, "A", asked);
    const b = await samplingClient(bridge.url, "B", asked);
    try {
      // A is busy with a long call while B's tool asks for sampling: both the busy session and
      // the asking one are candidates a guessing router would pick.
      const aBusy = a.callTool({ name: "wait", arguments: { ms: 3000 } });
      const results = await Promise.all([b.callTool({ name: "ask", arguments: {} }), a.callTool({ name: "ask", arguments: {} })]);
      for (const result of results) {
        const text = (result.content as Array<{ text: string }>)[0]!.text;
        assert.match(text, /per_session/);
        assert.doesNotMatch(text, /answer from/);
      }
      await aBusy;
      assert.deepEqual(asked, []);
      // A child that keeps asking does not get a log line each time.
      for (let i = 0; i < 15; i++) await b.callTool({ name: "ask", arguments: {} });
      const refusals = bridge.logs().split("\n").filter((line) => line.includes("server-to-client request; refused")).length;
      assert.ok(refusals > 0 && refusals <= 10, `${refusals} refusals logged`);
      // The child was told no client can be asked anything.
      const initLine = bridge.logs().split("\n").find((line) => line.includes("child stderr") && line.includes('\\"method\\":\\"initialize\\"'))!;
      assert.match(initLine, /\\"capabilities\\":\{\}/);
      assert.doesNotMatch(initLine, /sampling/);
    } finally {
      await a.close();
      await b.close();
      await bridge.stop();
    }
  });

  test("each client gets its own protocol version, and an old client gets no priming events", async () => {
    const bridge = await startBridge({ server: { mcp_server: scripted(), session: { mode: "shared" } } });
    try {
      const newer = await initialize(bridge.url, {}, "2025-11-25");
      assert.equal(newer.body.result.protocolVersion, "2025-11-25");
      const older = await initialize(bridge.url, {}, "2024-11-05");
      assert.equal(older.body.result.protocolVersion, "2024-11-05");
      const middle = await initialize(bridge.url, {}, "2025-03-26");
      assert.equal(middle.body.result.protocolVersion, "2025-03-26");
      // An unknown version gets the one the child speaks.
      const unknown = await initialize(bridge.url, {}, "1999-01-01");
      assert.equal(unknown.body.result.protocolVersion, "2025-11-25");

      // A POST that accepts only SSE: the 2024-11-05 session's stream starts with its message, not a priming event.
      const sse = async (session: string, version: string) => {
        const response = await fetch(bridge.url, {
          method: "POST",
          headers: { ...JSON_HEADERS, accept: "text/event-stream", "mcp-session-id": session, "mcp-protocol-version": version },
          body: JSON.stringify({ jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "echo", arguments: { text: "hi" } } }),
        });
        return response.text();
      };
      assert.doesNotMatch(await sse(older.session, "2024-11-05"), /data: \n/);
      assert.match(await sse(newer.session, "2025-11-25"), /data: \n/);
    } finally {
      await bridge.stop();
    }
  });

  test("progress for a request that is over (answered or cancelled) reaches no client: the hub forgets its token", async () => {
    const bridge = await startBridge({ server: { mcp_server: scripted(), session: { mode: "shared" } } });
    const client = new Client({ name: "late", version: "1" });
    const errors: string[] = [];
    client.onerror = (error) => errors.push(error.message);
    let changes = 0;
    client.setNotificationHandler(ToolListChangedNotificationSchema, async () => void changes++);
    try {
      await client.connect(new StreamableHTTPClientTransport(new URL(bridge.url)));
      // The child sends the progress, then a list change: once the change is in, the progress would have been too.
      const result = await client.callTool({ name: "late_progress", arguments: {} }, undefined, { onprogress: () => {} });
      assert.equal((result.content as Array<{ text: string }>)[0]!.text, "done");
      await waitFor(() => changes === 1, "the list change sent after the late progress");
      const cancel = new AbortController();
      const cancelled = client.callTool({ name: "progress_on_cancel", arguments: {} }, undefined, { onprogress: () => {}, signal: cancel.signal });
      await logged(bridge, /recv .*progress_on_cancel/);
      cancel.abort();
      await assert.rejects(cancelled);
      await waitFor(() => changes === 2, "the list change sent after the progress for the cancelled call");
      assert.deepEqual(errors.filter((message) => /progress/i.test(message)), []);
    } finally {
      await client.close();
      await bridge.stop();
    }
  });

  test("one session's resource subscriptions are bounded: past 1000 URIs, or a URI past 8192 characters, it gets an error naming the limit, and unsubscribing makes room", async () => {
    const bridge = await startBridge({ server: { mcp_server: misbehaving, session: { mode: "shared" } } });
    try {
      const subscription = (session: string, id: number, method: string, uri: string) => rpc(bridge.url, session, id, method, { uri });
      const { session } = await initialize(bridge.url);
      for (let batch = 0; batch < 1000; batch += 50) {
        const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => subscription(session, 10 + batch + i, "resources/subscribe", `test://known-${batch + i}`)));
        assert.deepEqual(answers.filter((answer) => answer.error), []);
      }
      const refused = await subscription(session, 2000, "resources/subscribe", "test://known-1000");
      assert.equal(refused.error?.code, -32600);
      assert.match(refused.error!.message, /subscribed to 1000 resources already .*unsubscribe from one first/);
      // One it holds already is no new one; unsubscribing makes room; another session has its own.
      assert.deepEqual((await subscription(session, 2001, "resources/subscribe", "test://known-7")).result, {});
      assert.deepEqual((await subscription(session, 2002, "resources/unsubscribe", "test://known-7")).result, {});
      assert.deepEqual((await subscription(session, 2003, "resources/subscribe", "test://known-1000")).result, {});
      const other = await initialize(bridge.url);
      assert.deepEqual((await subscription(other.session, 2, "resources/subscribe", "test://known-1001")).result, {});
      // A URI too long to keep is refused by the hub; one the child refuses is no subscription, for anybody.
      const long = await subscription(other.session, 3, "resources/subscribe", `test://known-${"x".repeat(9000)}`);
      assert.equal(long.error?.code, -32602);
      assert.match(long.error!.message, /URIs of at most 8192 characters/);
      const third = await initialize(bridge.url);
      assert.equal((await subscription(other.session, 4, "resources/subscribe", "test://missing")).error?.code, -32002);
      assert.equal((await subscription(third.session, 2, "resources/subscribe", "test://missing")).error?.code, -32002, "the child is asked again, not answered for by the hub");
    } finally {
      await bridge.stop();
    }
  });

  test("a subscribe while another session's is still with the child gets the child's answer, not the hub's {}: refused for the one, refused for both", async () => {
    const bridge = await startBridge({ server: { mcp_server: misbehaving, session: { mode: "shared" } } });
    try {
      const subscribe = (session: string, id: number) => rpc(bridge.url, session, id, "resources/subscribe", { uri: "test://known-held" });
      const a = await initialize(bridge.url);
      const b = await initialize(bridge.url);
      const first = subscribe(a.session, 2);
      await logged(bridge, "subscribe asked: test://known-held");
      const second = subscribe(b.session, 2);
      await waitFor(() => bridge.logs().split("subscribe asked: test://known-held").length > 2, "the second session's subscribe at the child");
      await callTool(bridge.url, a.session, 3, "release_subscribes", { refuse: true });
      assert.equal((await first).error?.code, -32002);
      assert.equal((await second).error?.code, -32002, "the hub did not answer for the child");
    } finally {
      await bridge.stop();
    }
  });

  test("crashing inputs spend the restart budget, /health says so, and the budget recovers without a restart of the bridge", async () => {
    const bridge = await startBridge({
      server: { mcp_server: scripted({ restart_delay: "100ms", max_restarts: 1, restart_window: "3s" }), session: { mode: "shared" } },
    });
    try {
      const crashOnce = async () => {
        const session = await waitFor(async () => {
          const started = await initialize(bridge.url);
          return started.status === 200 ? started.session : undefined;
        }, "a session");
        const crashed = await callTool(bridge.url, session, 2, "crash");
        assert.ok(crashed.body.error);
      };
      await crashOnce();
      await crashOnce();
      // Two failures within the window with a budget of one: failed, and /health tells the truth.
      const health = await fetch(`${bridge.origin}/health`);
      assert.equal(health.status, 503);
      const body = (await health.json()) as Record<string, unknown>;
      assert.equal(body.mcp_server, "failed");
      const refused = await initialize(bridge.url);
      assert.equal(refused.status, 503);
      assert.ok(Number(refused.response.headers.get("retry-after")) >= 1);
      // The budget recovers: a new session works again, and /health is ok.
      const session = await waitFor(async () => {
        const started = await initialize(bridge.url);
        return started.status === 200 ? started.session : undefined;
      }, "the shared child to come back");
      assert.equal((await callTool(bridge.url, session, 3, "echo", { text: "back" })).body.result.content[0].text, "back");
      assert.equal((await fetch(`${bridge.origin}/health`)).status, 200);
    } finally {
      await bridge.stop();
    }
  });
});

