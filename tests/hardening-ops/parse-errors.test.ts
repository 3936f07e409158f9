/**
 * @module Requests Node's HTTP parser refuses before the app sees them: a header section past the
 * limit, a request line that is not HTTP, Content-Length with Transfer-Encoding (a smuggling
 * attempt). They used to get Node's bare status line with no body; every other refusal of the
 * bridge has a JSON body saying what was wrong. A refusal must never be written into a response
 * already under way on the same connection.
 */
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { ECHO_SERVER, startBridge, useBridge } from "../support/bridge.ts";
import { waitFor } from "../support/poll.ts";

/** A raw connection to the bridge: what it received so far, and when it closed. */
function rawConnection(port: number): { socket: Socket; received: () => string; receiving: (pattern: RegExp) => Promise<boolean>; closing: (ms?: number) => Promise<string> } {
  let received = "";
  const socket = connect(port, "127.0.0.1");
  socket.on("data", (chunk) => (received += chunk.toString("latin1")));
  socket.on("error", () => {});
  const closed = new Promise((resolve) => socket.on("close", resolve));
  const receiving = (pattern: RegExp) => waitFor(() => pattern.test(received), `${pattern} from the bridge`);
  /** Waits for the bridge to close the connection (at most `ms`), closes it, and gives all it received. */
  const closing = async (ms = 10_000) => {
    await Promise.race([closed, sleep(ms)]);
    socket.destroy();
    return received;
  };
  return { socket, received: () => received, receiving, closing };
}

/** Sends `raw` on a new connection; resolves to all it received once the bridge closed it (or after `ms`). */
async function exchange(port: number, raw: string, ms = 10_000): Promise<string> {
  const connection = rawConnection(port);
  connection.socket.write(raw);
  return connection.closing(ms);
}

function bodyOf(received: string): Record<string, string> {
  const [head, body] = received.split("\r\n\r\n", 2);
  assert.match(head!, /\r\ncontent-type: application\/json\r\n/i, received.slice(0, 300));
  return JSON.parse(body!);
}

describe("a first request head that does not arrive within header_timeout", { timeout: 60_000 }, () => {
  const bridge = useBridge(() => startBridge({ server: { mcp_server: { command: process.execPath, args: [ECHO_SERVER] }, header_timeout: "1s" } }));

  test("a partial head: 408 with a JSON body, then the connection closes", async () => {
    // Before: the bridge's own first-request timer closed the connection at header_timeout, before
    // Node's check (on its interval) could answer: nothing came back.
    const received = await exchange(Number(new URL(bridge.origin).port), "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    assert.match(received, /^HTTP\/1\.1 408 /, JSON.stringify(received));
    assert.equal(bodyOf(received).error, "request_timeout");
  });
});

describe("requests the HTTP parser refuses", { timeout: 60_000 }, () => {
  const bridge = useBridge(() => startBridge({ server: { mcp_server: { command: process.execPath, args: [ECHO_SERVER] } } }));
  const port = () => Number(new URL(bridge.origin).port);

  test("a header section past the limit: 431 with a JSON body naming the limit; the bridge serves on", async () => {
    const received = await exchange(port(), `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: ${"a".repeat(20_000)}\r\n\r\n`);
    assert.match(received, /^HTTP\/1\.1 431 /);
    const body = bodyOf(received);
    assert.equal(body.error, "request_header_fields_too_large");
    assert.match(body.error_description!, /16384 bytes/);
    assert.doesNotMatch(received, /aaaa/, "nothing of the request is repeated");
    assert.equal((await fetch(`${bridge.origin}/health`)).status, 200);
  });

  test("a request line that is not HTTP, and Content-Length with Transfer-Encoding: 400 with a JSON body", async () => {
    for (const raw of ["SOMETHING ELSE\r\n\r\n", "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"]) {
      const received = await exchange(port(), raw);
      assert.match(received, /^HTTP\/1\.1 400 /, JSON.stringify(received));
      assert.equal(bodyOf(received).error, "invalid_request");
    }
  });

  test("no Host header (HTTP/1.1, HTTP/1.0, HTTP/0.9), a Host that is not a host, a target with a backslash: 400 with a JSON body saying which", async () => {
    const cases: [string, RegExp][] = [
      ["GET /health HTTP/1.1\r\nConnection: close\r\n\r\n", /no Host header/],
      ["GET /health HTTP/1.0\r\n\r\n", /no Host header/],
      ["GET /health\r\n\r\n", /no Host header/],
      ["GET /health HTTP/1.1\r\nHost: a b\r\nConnection: close\r\n\r\n", /Host header or target is not valid/],
      [`GET /a\\b HTTP/1.1\r\nHost: 127.0.0.1:${port()}\r\nConnection: close\r\n\r\n`, /Host header or target is not valid/],
    ];
    for (const [raw, description] of cases) {
      // Before: a bare 400 (Node's own Host check for HTTP/1.1, the adapter's for the others).
      const received = await exchange(port(), raw);
      assert.match(received, /^HTTP\/1\.1 400 /, JSON.stringify(received));
      const body = bodyOf(received);
      assert.equal(body.error, "invalid_request", raw);
      assert.match(body.error_description!, description, raw);
      assert.doesNotMatch(received, /a b|a\\b/, "nothing of the request is repeated");
    }
    assert.equal((await fetch(`${bridge.origin}/health`)).status, 200);
  });

  test("garbage after a request whose response is a stream under way: the connection closes, nothing is written into the stream", async () => {
    const { socket, received, receiving, closing } = rawConnection(port());
    socket.write("GET /sse HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n");
    await receiving(/event: endpoint/);
    assert.match(received(), /^HTTP\/1\.1 200 [^]*event: endpoint/, "the legacy SSE stream is open");
    socket.write("SOMETHING ELSE\r\n\r\n");
    assert.doesNotMatch(await closing(), /HTTP\/1\.1 400/, "no status line inside the event stream");
  });

  test("a request pipelined behind a stream under way, then garbage: nothing is written into the stream", async () => {
    const { socket, received, receiving, closing } = rawConnection(port());
    const host = `Host: 127.0.0.1:${port()}\r\n`;
    socket.write(`GET /sse HTTP/1.1\r\n${host}Accept: text/event-stream\r\n\r\n`);
    await receiving(/event: endpoint/);
    assert.match(received(), /^HTTP\/1\.1 200 [^]*event: endpoint/, "the legacy SSE stream is open");
    // Before: the pipelined request's response (queued behind the stream, not started) was taken
    // for the connection's, and the 400 went into the event stream.
    socket.write(`GET /health HTTP/1.1\r\n${host}\r\nSOMETHING ELSE\r\n\r\n`);
    assert.doesNotMatch(await closing(), /HTTP\/1\.1 400/, "no status line inside the event stream");
    assert.equal((await fetch(`${bridge.origin}/health`)).status, 200);
  });

  test("on a keep-alive connection whose last response is done: the refusal is answered", async () => {
    const host = `Host: 127.0.0.1:${port()}\r\n`;
    const { socket, received, receiving, closing } = rawConnection(port());
    socket.write(`GET /health HTTP/1.1\r\n${host}\r\n`);
    await receiving(/\r\n\r\n\{[^]*\}$/);
    assert.match(received(), /^HTTP\/1\.1 200 /, "the first request is answered");
    const first = received().length;
    // Before: the finished response was taken for one under way, and the connection closed unanswered.
    socket.write(`GET /health HTTP/1.1\r\n${host}X-Padding: ${"a".repeat(20_000)}\r\n\r\n`);
    const second = (await closing()).slice(first);
    assert.match(second, /^HTTP\/1\.1 431 /, JSON.stringify(second));
    assert.equal(bodyOf(second).error, "request_header_fields_too_large");
  });
});
