/** Server mode's streams under attack: Last-Event-ID resumption (replies that never were SSE, replays cut short, replays larger than the stream cap or not ASCII, a backlog of non-ASCII messages), session ids in logs, legacy clients that stop reading, request bodies that break off. */
import assert from "node:assert/strict";
import { connect } from "node:net";
import { describe, test } from "node:test";
import { startBridge } from "../support/bridge.ts";
import { brokenOffPost } from "../support/drip.ts";
import { fixtureServer } from "../hardening/support.ts";
import { initialize, JSON_HEADERS, logged, scripted, waitFor } from "./support.ts";

describe("Last-Event-ID naming a reply that is not an SSE stream", { timeout: 60_000 }, () => {
  test("the GET ends at once, and the JSON call it named is still cancelled when its client goes away", async () => {
    const bridge = await startBridge({ server: { mcp_server: scripted() } });
    try {
      const { session } = await initialize(bridge.url);
      const headers = { "mcp-session-id": session, "mcp-protocol-version": "2025-06-18" };
      // Stream 1 was initialize's; this call (never answered) is stream 2, its reply JSON only.
      const caller = new AbortController();
      const call = fetch(bridge.url, {
        method: "POST",
        signal: caller.signal,
        headers: { ...JSON_HEADERS, ...headers, accept: "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 31, method: "tools/call", params: { name: "wait", arguments: {} } }),
      }).catch((error: Error) => error);
      await logged(bridge, '\\"id\\":31,\\"method\\":\\"tools/call');
      // Before: the GET was attached to the JSON reply as if it were its stream, and stayed open forever.
      const resumed = await fetch(bridge.url, { headers: { ...headers, accept: "text/event-stream", "last-event-id": "2.0" } });
      assert.equal(resumed.status, 200);
      assert.doesNotMatch(await resumed.text(), /"id":31/);
      // Before: the GET counted as the call's stream, so the caller leaving did not cancel the call.
      caller.abort();
      assert.ok((await call) instanceof Error);
      await logged(bridge, "cancelled 31");
    } finally {
      await bridge.stop();
    }
  });
});

describe("Last-Event-ID replay", { timeout: 60_000 }, () => {
  test("a client that got only the first event of a replay resumes from it and still gets the rest", async () => {
    const bridge = await startBridge({ server: { mcp_server: scripted() } });
    try {
      const version = "2025-11-25";
      const { session } = await initialize(bridge.url, {}, version);
      const headers = { "mcp-session-id": session, "mcp-protocol-version": version };
      const call = await fetch(bridge.url, {
        method: "POST",
        headers: { ...JSON_HEADERS, ...headers, accept: "text/event-stream" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 40, method: "tools/call", params: { name: "chatty", arguments: { count: 2 } } }),
      });
      const primingId = firstEventId(await call.text());
      const resume = async (lastEventId: string) => (await fetch(bridge.url, { headers: { ...headers, accept: "text/event-stream", "last-event-id": lastEventId } })).text();
      const replay = await resume(primingId);
      assert.match(replay, /"id":40/);
      // The connection drops after the replay's first event: its id is all the client keeps.
      // Before: that was a new priming event numbered after every replayed one, so nothing more came back.
      assert.match(await resume(firstEventId(replay)), /"id":40/);
    } finally {
      await bridge.stop();
    }
  });
});

/**
 * A bridge whose streams are allowed 256 KiB of unread bytes, with a session open; `flood` is a
 * tools/call of the fixture's flood tool (`count` notifications of `size` times `char`, then the
 * answer) accepting `accept`, answered whole; `headers` name the session.
 */
async function floodSession(): Promise<{ bridge: Awaited<ReturnType<typeof startBridge>>; headers: Record<string, string>; flood(id: number, accept: string, args: { count: number; size: number; char?: string }): Promise<string> }> {
  const { config } = fixtureServer();
  const bridge = await startBridge({ server: { mcp_server: config, session: { stream_buffer_size: "256KiB" } } });
  const { session } = await initialize(bridge.url);
  const headers = { "mcp-session-id": session, "mcp-protocol-version": "2025-06-18" };
  const flood = async (id: number, accept: string, args: { count: number; size: number; char?: string }) => {
    const call = await fetch(bridge.url, { method: "POST", headers: { ...JSON_HEADERS, ...headers, accept }, body: JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "flood", arguments: args } }) });
    const text = await call.text();
    assert.match(text, new RegExp(`"id":${id}`));
    return text;
  };
  return { bridge, headers, flood };
}

/** A flood (see floodSession) on an SSE reply, resumed from its first event: the replay, which must come whole. */
async function replayOfFlood(args: { count: number; size: number; char?: string }): Promise<string> {
  const { bridge, headers, flood } = await floodSession();
  try {
    // Read as they come (each reaches the bridge in its own read of the pipe), then the answer.
    const live = await flood(50, "text/event-stream", args);
    const resumed = await fetch(bridge.url, { headers: { ...headers, accept: "text/event-stream", "last-event-id": firstEventId(live) } });
    const replay = await resumed.text();
    assert.match(replay, /"id":50/);
    return replay;
  } finally {
    await bridge.stop();
  }
}

describe("Last-Event-ID replay larger than session.stream_buffer_size", { timeout: 60_000 }, () => {
  test("is delivered whole: the replay is the log's own bounded bytes, not a client falling behind", async () => {
    // 368 KiB to replay (23 messages of 16 KiB, then the answer).
    // Before: the replay overflowed the new stream, which was aborted before the answer (and so on at every retry).
    const replay = await replayOfFlood({ count: 24, size: 16_384 });
    assert.equal(countMatches(replay, /"method":"notifications\/message"/g), 23);
  });

  test("of text that is not ASCII is delivered whole: its room is counted in bytes, as the stream's cap is", async () => {
    // 720 KiB of UTF-8 to replay, 240 Ki characters (15 messages of 16,384 "€", 3 bytes each).
    // Before: room was made for 240 Ki bytes on top of the 256 KiB cap; the replay overflowed it (at every retry).
    const replay = await replayOfFlood({ count: 16, size: 16_384, char: "€" });
    assert.equal(countMatches(replay, /"method":"notifications\/message"/g), 15);
  });
});

describe("the backlog of server messages sent while no stream was open", { timeout: 60_000 }, () => {
  test("of text that is not ASCII reaches the GET stream that opens: it is held to half of stream_buffer_size in bytes, not characters", async () => {
    const { bridge, headers, flood } = await floodSession();
    try {
      // A JSON-only reply carries no events: the 16 messages of 16,384 "€" (48 KiB each) wait in the backlog.
      await flood(52, "application/json", { count: 16, size: 16_384, char: "€" });
      const stream = await fetch(bridge.url, { headers: { ...headers, accept: "text/event-stream" } });
      const reader = stream.body!.pipeThrough(new TextDecoderStream()).getReader();
      let text = "";
      // Before: the backlog held 128 Ki characters, 384 KiB of UTF-8, written at once into a stream
      // allowed 256 KiB: the stream was aborted at once ("terminated") and the backlog lost.
      while (countMatches(text, /"method":"notifications\/message"/g) < 2) {
        const { done, value } = await reader.read();
        assert.ok(!done, "the stream ended before the backlog came");
        text += value;
      }
      await reader.cancel();
    } finally {
      await bridge.stop();
    }
  });
});

function countMatches(text: string, pattern: RegExp): number {
  return [...text.matchAll(pattern)].length;
}

/** The id of the first event of an SSE text. */
function firstEventId(text: string): string {
  return /^id: (\S+)$/m.exec(text)![1]!;
}

describe("session ids in the log", { timeout: 60_000 }, () => {
  test("are never written whole, at debug either: with authentication off the id is all it takes to use a session", async () => {
    const bridge = await startBridge({ log: { level: "debug" }, server: { mcp_server: scripted() } });
    try {
      const { session } = await initialize(bridge.url);
      const headers = { ...JSON_HEADERS, "mcp-session-id": session, "mcp-protocol-version": "2025-06-18" };
      // An answer to a question the server never asked: dropped, and logged at debug.
      const stray = await fetch(bridge.url, { method: "POST", headers, body: JSON.stringify({ jsonrpc: "2.0", id: 999, result: {} }) });
      assert.equal(stray.status, 202);
      await logged(bridge, "client answered an id the server did not ask");
      assert.ok(bridge.logs().includes(`session=${session.slice(0, 8)}`), "the session is named by its first 8 characters");
      // Before: the debug line carried session=<the whole id>.
      assert.ok(!bridge.logs().includes(session), "the whole session id is in the log");
    } finally {
      await bridge.stop();
    }
  });
});

describe("a legacy HTTP+SSE client that stops reading its stream", { timeout: 60_000 }, () => {
  test("loses its session at stream_buffer_size, and the log says why (before: as if it had closed the stream)", async () => {
    const bridge = await startBridge({ server: { mcp_server: scripted(), session: { stream_buffer_size: "1MiB" } } });
    const { hostname, port } = new URL(bridge.origin);
    const socket = connect(Number(port), hostname);
    try {
      let text = "";
      socket.on("data", (chunk) => (text += chunk));
      socket.on("error", () => {});
      socket.write(`GET /sse HTTP/1.1\r\nhost: ${hostname}:${port}\r\naccept: text/event-stream\r\n\r\n`);
      const endpoint = new URL(await waitFor(() => /data: (\/messages\?sessionId=\S+)\r?\n/.exec(text)?.[1], "the endpoint event"), bridge.origin);
      socket.pause();
      const send = (message: unknown) => fetch(endpoint, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(message) });
      assert.equal((await send({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2024-11-05", capabilities: {}, clientInfo: { name: "raw", version: "1" } } })).status, 202);
      // Big answers nobody reads, until the session is gone.
      await waitFor(async () => (await send({ jsonrpc: "2.0", id: Date.now(), method: "tools/call", params: { name: "big", arguments: { bytes: 512 * 1024 } } })).status === 404, "the session to end");
      await logged(bridge, /session ended .*reason="the client stopped reading its SSE stream \(session\.stream_buffer_size\)"/);
      // The connection is ended: the client sees it close, and no error's stack reaches stderr past the logger.
      await new Promise<void>((resolve) => (socket.destroyed ? resolve() : socket.once("close", () => resolve()).resume()));
      assert.doesNotMatch(bridge.logs(), /did not read its event stream|\n\s+at /, "no stack trace on stderr");
    } finally {
      socket.destroy();
      await bridge.stop();
    }
  });
});

describe("a request body that breaks off", { timeout: 60_000 }, () => {
  test("a client that goes away mid-body, or drips it past read_timeout, is no error of the bridge's: nothing logged at error", async () => {
    const bridge = await startBridge({ log: { level: "debug" }, server: { mcp_server: scripted(), read_timeout: "1s" } });
    try {
      const gone = await brokenOffPost(bridge.url, 1000, '{"jsonrpc":');
      gone.socket.destroy();
      await logged(bridge, /request body broken off|request failed/);
      const dripping = await brokenOffPost(bridge.url, 1000, '{"jsonrpc":');
      // Node's own 408 (its requestTimeout) with a JSON body, as the bridge's refusals have (before: none).
      await waitFor(() => /^HTTP\/1\.1 408 [^]*"error":"request_timeout"/.test(dripping.received()), "408 with a JSON body for the dripped body");
      dripping.socket.destroy();
      await logged(bridge, /(request body broken off|request failed)[^]*(request body broken off|request failed)/);
      // Before: "ERROR request failed … error=aborted", a line per attacker's connection.
      assert.doesNotMatch(bridge.logs(), /ERROR/);
    } finally {
      await bridge.stop();
    }
  });
});
