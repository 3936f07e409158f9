/**
 * @module Issue 9 §1, the OOM kinds: every byte the bridge holds for someone else is capped — the
 * SSE replay log, the child's stdin, a stream nobody reads, the backlog, a child's unfinished line.
 * Attacks are sized in tens of MB against tight caps; outcomes are asserted, never timings.
 */
import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { connect, type Socket } from "node:net";
import { describe, test } from "node:test";
import { startBridge } from "../support/bridge.ts";
import { callTool, countLines, fixtureServer, initialize, post, PROTOCOL, rssMiB, waitFor } from "./support.ts";

const MiB = 1024 * 1024;

interface UnreadConnection {
  socket: Socket;
  /** Reads nothing until `overflowed()` holds, then reads to the connection's end: the bytes that reached the client. */
  readAfter(overflowed: () => boolean): Promise<number>;
}

/** A connection to the bridge at `url` that sends `request` (raw HTTP) and then reads nothing. */
async function unreadConnection(url: string, request: string): Promise<UnreadConnection> {
  const { port, hostname } = new URL(url);
  const socket = connect(Number(port), hostname);
  await new Promise((resolve) => socket.once("connect", resolve));
  socket.pause();
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  socket.write(request);
  return {
    socket,
    async readAfter(overflowed) {
      await waitFor(() => overflowed() || undefined, "the overflow to be logged");
      let received = 0;
      socket.on("data", (chunk: Buffer) => (received += chunk.length));
      socket.resume();
      await closed;
      return received;
    },
  };
}

describe("memory stays bounded", () => {
  test("SSE replay log: big results to an SSE-only client do not pile up (default event_buffer_bytes)", async () => {
    // A heap far smaller than what is sent: before the byte cap the replay log kept every event
    // (up to event_buffer_size of them) and the bridge died of a heap OOM.
    const { config } = fixtureServer();
    const bridge = await startBridge({ server: { mcp_server: config } }, { env: { NODE_OPTIONS: "--max-old-space-size=96" } });
    try {
      const { session } = await initialize(bridge.url);
      assert.ok(session);
      const text = "z".repeat(3 * MiB);
      for (let i = 1; i <= 40; i++) {
        const response = await callTool(bridge.url, session, i, "echo", { text }, { accept: "text/event-stream" });
        assert.equal(response.status, 200);
        const body = await response.text();
        assert.ok(body.includes(`"id":${i}`), `answer ${i} arrived`);
      }
      const health = await fetch(`${bridge.origin}/health`);
      assert.equal(health.status, 200);
      assert.equal(bridge.process.exitCode, null, "the bridge is still running");
    } finally {
      await bridge.stop();
    }
  });

  test("legacy HTTP+SSE sessions keep no replay log (they cannot resume): big results to many of them do not pile up", async () => {
    // One shared child, so forty sessions cost no processes. Before, each legacy session kept its
    // last event_buffer_bytes of events for a Last-Event-ID its transport has no way to send.
    const { config } = fixtureServer();
    const bridge = await startBridge({ server: { mcp_server: config, session: { mode: "shared" } } }, { env: { NODE_OPTIONS: "--max-old-space-size=96" } });
    const streams: AbortController[] = [];
    try {
      const text = "z".repeat(3 * MiB);
      for (let i = 1; i <= 40; i++) {
        const controller = new AbortController();
        streams.push(controller);
        const stream = await fetch(`${bridge.origin}/sse`, { headers: { accept: "text/event-stream" }, signal: controller.signal });
        assert.equal(stream.status, 200, `stream ${i} opened`);
        const reader = stream.body!.getReader();
        let received = "";
        const until = async (pattern: RegExp) => {
          while (!pattern.test(received)) {
            const { value, done } = await reader.read();
            assert.ok(!done, `stream ${i} ended early`);
            received += new TextDecoder().decode(value);
          }
        };
        await until(/data: (\S+)\n/);
        const endpoint = new URL(/data: (\S+)\n/.exec(received)![1]!, bridge.origin);
        const send = async (message: unknown) => assert.equal((await fetch(endpoint, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(message) })).status, 202);
        await send({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2024-11-05", capabilities: {}, clientInfo: { name: "legacy", version: "1" } } });
        await until(/"id":1,/);
        await send({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "echo", arguments: { text } } });
        await until(/"id":2,/);
      }
      assert.equal((await fetch(`${bridge.origin}/health`)).status, 200);
      assert.equal(bridge.process.exitCode, null, "the bridge is still running");
    } finally {
      for (const controller of streams) controller.abort();
      await bridge.stop();
    }
  });

  test("child stdin: a child that stops reading gets no unbounded buffer; POSTs get 503 with Retry-After", async (t) => {
    const { config } = fixtureServer({}, { stdin_buffer_size: "1MiB" });
    const bridge = await startBridge({ server: { mcp_server: config } });
    try {
      const { session } = await initialize(bridge.url);
      assert.ok(session);
      const stalled = await callTool(bridge.url, session, 1, "stall");
      assert.equal(stalled.status, 200);
      await stalled.text();
      const before = rssMiB(bridge.process.pid!);
      const notification = JSON.stringify({ jsonrpc: "2.0", method: "notifications/message", params: { level: "info", data: "n".repeat(4 * MiB) } });
      const statuses: number[] = [];
      let retryAfter: string | null = null;
      for (let i = 0; i < 60; i++) {
        const response = await post(bridge.url, session, notification);
        statuses.push(response.status);
        if (response.status === 503) {
          retryAfter = response.headers.get("retry-after");
          assert.match(await response.text(), /not keeping up/);
        } else await response.body?.cancel();
      }
      assert.ok(statuses.includes(503), `some POSTs are refused (got ${[...new Set(statuses)].join(",")})`);
      assert.ok(retryAfter !== null && Number(retryAfter) > 0, "the 503 says when to retry");
      const grown = rssMiB(bridge.process.pid!) - before;
      // Garbage not yet collected shows too; what is kept would be the 240 MiB sent.
      t.diagnostic(`RSS grew ${grown.toFixed(1)} MiB for 240 MiB sent`);
      assert.ok(grown < 120, `RSS grew ${grown.toFixed(0)} MiB for 240 MiB sent`);
      assert.equal((await fetch(`${bridge.origin}/health`)).status, 200);
    } finally {
      await bridge.stop();
    }
  });

  test("a GET stream whose client never reads is closed at stream_buffer_size, logged once", async () => {
    const { config } = fixtureServer();
    const bridge = await startBridge({ server: { mcp_server: config, session: { stream_buffer_size: "1MiB" } } });
    let reader: UnreadConnection | undefined;
    try {
      const { session } = await initialize(bridge.url);
      assert.ok(session);
      const url = new URL(bridge.url);
      reader = await unreadConnection(bridge.url, `GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nAccept: text/event-stream\r\nMcp-Session-Id: ${session}\r\nMcp-Protocol-Version: ${PROTOCOL}\r\n\r\n`);
      // A JSON-only POST cannot carry events: the notifications go to the GET stream (60 MiB).
      for (let round = 0; round < 3; round++) {
        const flood = await callTool(bridge.url, session, 10 + round, "flood", { count: 40, size: 512 * 1024 }, { accept: "application/json" });
        assert.equal(flood.status, 200);
        await flood.text();
      }
      const received = await reader.readAfter(() => bridge.logs().includes("stopped reading"));
      assert.ok(received < 30 * MiB, `the stream was cut short (${(received / MiB).toFixed(1)} MiB of 60 reached the client)`);
      assert.equal(countLines(bridge.logs(), "stopped reading"), 1, "one log line, not one per message");
      // The connection is ended, not the response body errored: the HTTP adapter printed that error's stack, past the logger.
      assert.doesNotMatch(bridge.logs(), /did not read its event stream|\n\s+at /, "no stack trace on stderr");
    } finally {
      reader?.socket.destroy();
      await bridge.stop();
    }
  });

  test("a 2026-07-28 call's response stream whose client never reads is ended at stream_buffer_size, without a stack trace on stderr", async () => {
    const { config } = fixtureServer();
    const bridge = await startBridge({ server: { mcp_server: config, session: { stream_buffer_size: "1MiB" } } });
    let reader: UnreadConnection | undefined;
    try {
      const url = new URL(bridge.url);
      const meta = { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}, "io.modelcontextprotocol/logLevel": "info" };
      // 40 log notifications of 512 KiB about the call, on its own response stream.
      const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "flood", arguments: { count: 40, size: 512 * 1024 }, _meta: meta } });
      reader = await unreadConnection(
        bridge.url,
        `POST ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\nMcp-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/call\r\nMcp-Name: flood\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      const received = await reader.readAfter(() => bridge.logs().includes("stopped reading"));
      assert.ok(received < 10 * MiB, `the stream was cut short (${(received / MiB).toFixed(1)} MiB of 20 reached the client)`);
      assert.doesNotMatch(bridge.logs(), /did not read its event stream|\n\s+at /, "no stack trace on stderr");
    } finally {
      reader?.socket.destroy();
      await bridge.stop();
    }
  });

  test("the backlog (no stream open) keeps at most stream_buffer_size, and says so once", async () => {
    const { config } = fixtureServer();
    const bridge = await startBridge({ server: { mcp_server: config, session: { stream_buffer_size: "1MiB" } } });
    try {
      const { session } = await initialize(bridge.url);
      assert.ok(session);
      const flood = await callTool(bridge.url, session, 1, "flood", { count: 60, size: 100 * 1024 }, { accept: "application/json" });
      await flood.text();
      const stream = await fetch(bridge.url, { headers: { accept: "text/event-stream", "mcp-session-id": session, "mcp-protocol-version": PROTOCOL } });
      assert.equal(stream.status, 200);
      // A last small notification marks the end of what the backlog delivered.
      const marker = await callTool(bridge.url, session, 2, "flood", { count: 1, size: 5 }, { accept: "application/json" });
      await marker.text();
      const reader = stream.body!.getReader();
      const decoder = new TextDecoder();
      let text = "";
      while (!text.includes('"0 xxxxx"')) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
      await reader.cancel();
      const delivered = (text.match(/"data":"\d+ x/g) ?? []).length - 1;
      assert.ok(delivered > 0 && delivered <= 6, `the backlog held ${delivered} of 60 events of 100 KiB`);
      assert.equal(countLines(bridge.logs(), "backlog is full"), 1, "one log line, not one per message");
    } finally {
      await bridge.stop();
    }
  });

  test("a child's unfinished stdout line is dropped at max_message_size, logged once", async (t) => {
    const { config } = fixtureServer({}, { max_message_size: "1MiB" });
    const bridge = await startBridge({ server: { mcp_server: config } });
    try {
      const { session } = await initialize(bridge.url);
      assert.ok(session);
      const before = rssMiB(bridge.process.pid!);
      const response = await callTool(bridge.url, session, 1, "longline", { bytes: 160 * MiB }, { accept: "application/json" });
      assert.equal(response.status, 200);
      assert.match(await response.text(), /long line written/);
      const grown = rssMiB(bridge.process.pid!) - before;
      // Garbage not yet collected shows too; what is kept would be the 160 MiB line (twice, joined).
      t.diagnostic(`RSS grew ${grown.toFixed(1)} MiB for a 160 MiB line`);
      assert.ok(grown < 80, `RSS grew ${grown.toFixed(0)} MiB for a 160 MiB line`);
      assert.equal(countLines(bridge.logs(), "longer than mcp_server.max_message_size"), 1);
    } finally {
      await bridge.stop();
    }
  });

  /**
   * A bridge with `max_body_bytes_in_flight: 16MiB` and a session, for `body`: `openBody(from)`
   * opens a POST from local address `from` that declares `bodyBytes` of body and sends only its
   * start (`answered` collects the status lines of those answered); `postMessage()` POSTs a 2 MiB
   * notification from 127.0.0.1 and gives its status and Retry-After.
   */
  async function withBodyBudget(
    bodyBytes: number,
    body: (bridge: { openBody(from: string): Socket; answered: Map<Socket, string>; sockets: Socket[]; postMessage(): Promise<{ status: number; retryAfter: string | null }> }) => Promise<void>,
  ): Promise<void> {
    const { config } = fixtureServer();
    const bridge = await startBridge({ server: { mcp_server: config, max_body_size: `${bodyBytes / MiB}MiB`, max_body_bytes_in_flight: "16MiB" } });
    const sockets: Socket[] = [];
    try {
      const { session } = await initialize(bridge.url);
      assert.ok(session);
      const url = new URL(bridge.url);
      const head = `POST ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\nAccept: application/json\r\nMcp-Session-Id: ${session}\r\nMcp-Protocol-Version: ${PROTOCOL}\r\nContent-Length: ${bodyBytes}\r\n\r\n`;
      const answered = new Map<Socket, string>();
      const openBody = (localAddress: string) => {
        const socket = connect({ port: Number(url.port), host: url.hostname, localAddress });
        sockets.push(socket);
        socket.on("error", () => {});
        socket.on("data", (chunk: Buffer) => answered.set(socket, chunk.toString("latin1").split("\r\n")[0]!));
        socket.write(head + '{"jsonrpc":"2.0","method":"notifications/message","params":{"data":"');
        return socket;
      };
      const postMessage = async () => {
        const response = await post(bridge.url, session, JSON.stringify({ jsonrpc: "2.0", method: "notifications/message", params: { data: "x".repeat(2 * MiB) } }));
        await response.body?.cancel();
        return { status: response.status, retryAfter: response.headers.get("retry-after") };
      };
      await body({ openBody, answered, sockets, postMessage });
    } finally {
      for (const socket of sockets) socket.destroy();
      await bridge.stop();
    }
  }

  test("request bodies received at once share max_body_bytes_in_flight; past it POSTs get 503 with Retry-After", async () => {
    await withBodyBudget(8 * MiB, async ({ openBody, answered, sockets, postMessage }) => {
      // Two large bodies in progress (started, not finished), from two clients, take the whole budget.
      const from = new Map([[openBody("127.0.0.2"), "127.0.0.2"], [openBody("127.0.0.3"), "127.0.0.3"]]);
      await waitFor(async () => {
        // Any answer means this body was refused: on a busy machine a probe below can take its place first.
        for (const socket of [...answered.keys()]) {
          answered.delete(socket);
          socket.destroy();
          from.set(openBody(from.get(socket)!), from.get(socket)!);
        }
        const third = await postMessage();
        return third.status === 503 && third.retryAfter !== null;
      }, "both bodies to be in progress");
      for (const socket of sockets) socket.destroy();
      await waitFor(async () => (await postMessage()).status === 202, "the budget to come back");
    });
  });

  test("one client's bodies hold at most a quarter of max_body_bytes_in_flight beyond its first: large bodies sent slowly by one client do not turn everyone else's POSTs away", async () => {
    await withBodyBudget(4 * MiB, async ({ openBody, answered, postMessage }) => {
      // Four bodies of 4 MiB from one client would be the whole budget: its share takes one.
      for (let i = 0; i < 4; i++) openBody("127.0.0.2");
      await waitFor(() => answered.size === 3, "three of the client's four bodies to be refused");
      assert.deepEqual([...answered.values()], ["HTTP/1.1 503 Service Unavailable", "HTTP/1.1 503 Service Unavailable", "HTTP/1.1 503 Service Unavailable"]);
      assert.equal((await postMessage()).status, 202);
    });
  });

  /** An answer to a chunked POST: status, Retry-After and body. */
  interface Answer {
    status: number;
    retryAfter: string | undefined;
    body: string;
  }

  /**
   * A POST in `session` whose body is sent chunked (no Content-Length, as a proxy that re-chunks
   * or a streaming client sends it) from local address `from`, piece by piece: `send(text)` writes
   * a piece, `end(text)` the last; `abort()` breaks the body off. `answer` settles once the bridge
   * answers, which may be before the body ends.
   */
  function chunkedPost(url: string, session: string, from: string) {
    const request = httpRequest(url, {
      method: "POST",
      agent: false,
      localAddress: from,
      headers: { "content-type": "application/json", accept: "application/json", "mcp-session-id": session, "mcp-protocol-version": PROTOCOL, "transfer-encoding": "chunked" },
    });
    const answer = new Promise<Answer>((resolve, reject) => {
      request.on("error", reject);
      request.on("response", (response) => {
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => (body += chunk));
        response.on("end", () => resolve({ status: response.statusCode!, retryAfter: response.headers["retry-after"], body }));
        response.on("error", reject);
      });
    });
    // An aborted body's answer is a rejection nobody waits for.
    answer.catch(() => {});
    request.flushHeaders();
    return { answer, send: (text: string) => void request.write(text), end: (text: string) => void request.end(text), abort: () => void request.destroy() };
  }

  const NOTIFICATION_START = '{"jsonrpc":"2.0","method":"notifications/message","params":{"data":"';
  const NOTIFICATION_END = '"}}';

  test("request bodies without Content-Length reserve max_body_bytes_in_flight as they arrive: ten small chunked POSTs held open at once by one client all get through at the default limits", async () => {
    // Before, each reserved max_body_size (16 MiB) up front and the client's share of the default
    // 256 MiB (a quarter beyond its first body) took four: the fifth and later got 503.
    const { config } = fixtureServer();
    const bridge = await startBridge({ server: { mcp_server: config } });
    try {
      const { session } = await initialize(bridge.url);
      assert.ok(session);
      const bodies = Array.from({ length: 10 }, () => chunkedPost(bridge.url, session, "127.0.0.2"));
      for (const body of bodies) body.send(NOTIFICATION_START);
      // One answered round trip from the same client while all ten are held open.
      const probe = chunkedPost(bridge.url, session, "127.0.0.2");
      probe.end(NOTIFICATION_START + NOTIFICATION_END);
      assert.equal((await probe.answer).status, 202);
      for (const body of bodies) body.send("a few bytes");
      for (const body of bodies) body.end(NOTIFICATION_END);
      assert.deepEqual((await Promise.all(bodies.map((body) => body.answer))).map((answer) => answer.status), Array(10).fill(202));
    } finally {
      await bridge.stop();
    }
  });

  /**
   * A bridge whose max_body_size and max_body_bytes_in_flight are both 4 MiB (a client's share:
   * 1 MiB beyond its first body) and a session, for `body`: `chunked(from)` opens a chunked POST;
   * `postWholeBudget(from)` POSTs a notification declaring exactly 4 MiB, which fits only when no
   * body holds any of the budget, and gives its status (undefined when the connection closed first).
   */
  async function withChunkedBudget(body: (bridge: { chunked(from: string): ReturnType<typeof chunkedPost>; postWholeBudget(from: string): Promise<number | undefined> }) => Promise<void>): Promise<void> {
    const { config } = fixtureServer();
    const bridge = await startBridge({ server: { mcp_server: config, max_body_size: "4MiB", max_body_bytes_in_flight: "4MiB" } });
    try {
      const { session } = await initialize(bridge.url);
      assert.ok(session);
      const whole = NOTIFICATION_START + "x".repeat(4 * MiB - NOTIFICATION_START.length - NOTIFICATION_END.length) + NOTIFICATION_END;
      const postWholeBudget = (from: string) =>
        new Promise<number | undefined>((resolve) => {
          const request = httpRequest(bridge.url, {
            method: "POST",
            agent: false,
            localAddress: from,
            headers: { "content-type": "application/json", accept: "application/json", "mcp-session-id": session, "mcp-protocol-version": PROTOCOL, "content-length": String(whole.length) },
          });
          // Refused unread, the body may meet a closed connection (EPIPE) before the answer is read.
          request.on("error", () => resolve(undefined));
          request.on("response", (response) => {
            response.resume();
            resolve(response.statusCode!);
          });
          request.end(whole);
        });
      await body({ chunked: (from) => chunkedPost(bridge.url, session, from), postWholeBudget });
    } finally {
      await bridge.stop();
    }
  }

  test("a chunked body that outgrows its client's share of max_body_bytes_in_flight mid-stream gets 503 with Retry-After, and gives all it held back", async () => {
    await withChunkedBudget(async ({ chunked, postWholeBudget }) => {
      const held = chunked("127.0.0.2");
      held.send(NOTIFICATION_START);
      // While another of its bodies is open, the client may hold 1 MiB: this one is cut off past it.
      const growing = chunked("127.0.0.2");
      growing.send(NOTIFICATION_START + "x".repeat(2 * MiB));
      const refused = await growing.answer;
      assert.equal(refused.status, 503);
      assert.equal(refused.retryAfter, "1");
      assert.match((JSON.parse(refused.body) as { error: { message: string } }).error.message, /max_body_bytes_in_flight/);
      // The same client's next body fits beside the one still open: the refused one holds nothing.
      const next = chunked("127.0.0.2");
      next.end(NOTIFICATION_START + "x".repeat(MiB / 2) + NOTIFICATION_END);
      assert.equal((await next.answer).status, 202);
      held.end(NOTIFICATION_END);
      assert.equal((await held.answer).status, 202);
      // Nothing is held any more: another client's body the size of the whole budget fits.
      assert.equal(await postWholeBudget("127.0.0.3"), 202);
      // A client's only body may still grow past its share, as a declared one may.
      const alone = chunked("127.0.0.2");
      alone.end(NOTIFICATION_START + "x".repeat(3 * MiB) + NOTIFICATION_END);
      assert.equal((await alone.answer).status, 202);
    });
  });

  test("a chunked body past max_body_size still gets 413 (its reservation stops at max_body_size), and gives back what it reserved", async () => {
    await withChunkedBudget(async ({ chunked, postWholeBudget }) => {
      const oversized = chunked("127.0.0.2");
      oversized.send(NOTIFICATION_START + "x".repeat(5 * MiB));
      const refused = await oversized.answer;
      assert.equal(refused.status, 413);
      assert.match(refused.body, /Payload Too Large/);
      assert.equal(await postWholeBudget("127.0.0.3"), 202);
    });
  });

  test("a chunked body that breaks off mid-stream gives back what it reserved", async () => {
    await withChunkedBudget(async ({ chunked, postWholeBudget }) => {
      const broken = chunked("127.0.0.2");
      broken.send(NOTIFICATION_START + "x".repeat(2 * MiB));
      await waitFor(async () => (await postWholeBudget("127.0.0.3")) === 503, "the body to hold part of the budget");
      broken.abort();
      await waitFor(async () => (await postWholeBudget("127.0.0.3")) === 202, "the budget to come back whole");
    });
  });
});
