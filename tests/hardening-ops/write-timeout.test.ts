/**
 * @module server.write_timeout through the built CLI: a client that stops reading a large response
 * is closed (logged, counted), over HTTP and HTTPS; what is merely quiet or slow is not: a call
 * waiting for its MCP server, a quiet SSE stream, an idle kept-alive connection, a download that
 * keeps moving. "0s" turns it off; a bad value is a config error naming the key.
 */
import assert from "node:assert/strict";
import { connect as connectTcp, type Socket } from "node:net";
import { after, describe, test } from "node:test";
import { connect as connectTls } from "node:tls";
import { runCli, selfSignedTls, startBridge, useBridge, writeConfig, type RunningBridge } from "../support/bridge.ts";
import { callTool, initialize, initializeBody, logged, scripted, waitFor } from "./support.ts";

/** Larger than loopback's socket buffers (a few MB each way), so most of it waits in the bridge. */
const BIG = 16 * 1024 * 1024;
const STALLED = "connection closed: the client stopped reading its response";
const opened: Socket[] = [];
after(() => {
  for (const socket of opened) socket.destroy();
});

/** A raw connection to the bridge, TLS when its URL is https; `received` counts every byte read. */
async function open(url: string) {
  const { hostname, port, protocol } = new URL(url);
  const socket = protocol === "https:" ? connectTls({ host: hostname, port: Number(port), rejectUnauthorized: false }) : connectTcp({ host: hostname, port: Number(port) });
  opened.push(socket);
  const connection = { socket, received: 0, text: "", closed: false, error: undefined as string | undefined };
  socket.on("data", (chunk: Buffer) => {
    connection.received += chunk.length;
    // Only the start (status line, headers) and small answers are looked at.
    if (connection.text.length < 64 * 1024) connection.text += chunk.toString("latin1");
  });
  socket.on("error", (error: NodeJS.ErrnoException) => (connection.error = error.code ?? error.message));
  socket.on("close", () => (connection.closed = true));
  await new Promise<void>((resolve, reject) => {
    socket.once(protocol === "https:" ? "secureConnect" : "connect", resolve);
    socket.once("error", reject);
  });
  return connection;
}

/** Writes one HTTP/1.1 request on `socket` (kept alive). */
function send(socket: Socket, url: string, method: string, path: string, headers: Record<string, string> = {}, body = ""): void {
  const lines = [`${method} ${path} HTTP/1.1`, `host: ${new URL(url).host}`, ...Object.entries({ ...headers, "content-length": String(Buffer.byteLength(body)) }).map(([name, value]) => `${name}: ${value}`)];
  socket.write(`${lines.join("\r\n")}\r\n\r\n${body}`);
}

/** One request on a fresh connection (HTTP or HTTPS, any certificate): status, head and body of its answer. */
async function exchange(bridge: RunningBridge, method: string, headers: Record<string, string>, body: string) {
  const connection = await open(bridge.url);
  send(connection.socket, bridge.url, method, new URL(bridge.url).pathname, headers, body);
  const whole = await wholeResponse(connection);
  connection.socket.destroy();
  const head = connection.text.slice(0, connection.text.indexOf("\r\n\r\n"));
  return { status: Number(head.split(" ")[1]), head, body: JSON.parse(connection.text.slice(head.length + 4, whole)) };
}

const MCP_HEADERS = { "content-type": "application/json", accept: "application/json", "mcp-protocol-version": "2025-06-18" };

/** Opens a Streamable HTTP session; returns its id. */
async function openSession(bridge: RunningBridge): Promise<string> {
  const { head } = await exchange(bridge, "POST", MCP_HEADERS, JSON.stringify(initializeBody()));
  return /\r\nmcp-session-id: (\S+)/i.exec(head)![1]!;
}

/** A tools/call of the scripted child's `big` tool, answered as one JSON body of about BIG bytes. */
function sendBigCall(socket: Socket, bridge: RunningBridge, session: string): void {
  const body = JSON.stringify({ jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "big", arguments: { bytes: BIG } } });
  send(socket, bridge.url, "POST", new URL(bridge.url).pathname, { "content-type": "application/json", accept: "application/json", "mcp-session-id": session, "mcp-protocol-version": "2025-06-18" }, body);
}

/** A new connection that asks for the big answer and does not read it. */
async function stalledCall(bridge: RunningBridge, session: string) {
  const connection = await open(bridge.url);
  connection.socket.pause();
  sendBigCall(connection.socket, bridge, session);
  return connection;
}

/** Reads like a slow client: a short pause after every 256 KiB, so the transfer takes seconds but never stops. */
function readSlowly(connection: Awaited<ReturnType<typeof open>>): void {
  let next = 256 * 1024;
  connection.socket.on("data", () => {
    if (connection.received < next) return;
    next = connection.received + 256 * 1024;
    connection.socket.pause();
    setTimeout(() => connection.socket.resume(), 100);
  });
}

/** The Content-Length of the response at the start of `text` plus its head, once the head is in. */
function responseLength(text: string): number | undefined {
  const end = text.indexOf("\r\n\r\n");
  if (end < 0) return undefined;
  const length = /\r\ncontent-length: (\d+)/i.exec(text.slice(0, end));
  assert.ok(length, `a Content-Length in ${text.slice(0, end)}`);
  return end + 4 + Number(length[1]);
}

function count(text: string, part: string): number {
  return text.split(part).length - 1;
}

/** Resolves with the length of the response once all of it has been read; -1 when the connection closes first. */
function wholeResponse(connection: Awaited<ReturnType<typeof open>>, timeoutMs?: number): Promise<number> {
  return waitFor(() => {
    const length = responseLength(connection.text);
    return length !== undefined && connection.received >= length ? length : connection.closed ? -1 : undefined;
  }, "the whole response", timeoutMs);
}

/** Asks for /health on `connection`, waits `idleMs`, and asks again on the same connection. */
async function healthTwice(bridge: RunningBridge, connection: Awaited<ReturnType<typeof open>>, idleMs: number): Promise<void> {
  send(connection.socket, bridge.url, "GET", "/health");
  await waitFor(() => count(connection.text, "HTTP/1.1 200") === 1, "the first answer");
  await new Promise((resolve) => setTimeout(resolve, idleMs));
  assert.equal(connection.closed, false);
  send(connection.socket, bridge.url, "GET", "/health");
  await waitFor(() => count(connection.text, "HTTP/1.1 200") === 2, "the second answer on the same connection");
  assert.equal(connection.closed, false);
}

/** Runs `body` against a bridge of its own, stopped afterwards. */
async function withBridge(config: Parameters<typeof startBridge>[0], body: (bridge: RunningBridge) => Promise<void>): Promise<void> {
  const bridge = await startBridge(config);
  try {
    await body(bridge);
  } finally {
    await bridge.stop();
  }
}

/** A stalled client is closed, a moving one is not; shared by the HTTP and HTTPS bridges. */
function stallTests(bridge: RunningBridge) {
  test("a client that stops reading a large response is closed, logged once, and the bridge goes on serving", async () => {
    const session = await openSession(bridge);
    const before = count(bridge.logs(), STALLED);
    const connection = await stalledCall(bridge, session);
    // Never read: the bridge must give up on it (before this change it kept it open forever).
    await waitFor(() => count(bridge.logs(), STALLED) > before, "the write timeout's warning");
    assert.match(bridge.logs().split("\n").find((line) => line.includes(STALLED))!, /remote=127\.0\.0\.1/);
    connection.socket.resume();
    await waitFor(() => connection.closed, "the connection to close");
    const whole = responseLength(connection.text);
    assert.ok(whole === undefined || connection.received < whole, `the response was cut (${connection.received} of ${whole} bytes)`);
    assert.equal(count(bridge.logs(), STALLED), before + 1, "one warning per closed connection");
    const call = { jsonrpc: "2.0", id: 8, method: "tools/call", params: { name: "echo", arguments: { text: "still here" } } };
    const { status, body } = await exchange(bridge, "POST", { ...MCP_HEADERS, "mcp-session-id": session }, JSON.stringify(call));
    assert.equal(status, 200);
    assert.equal(body.result.content[0].text, "still here");
  });

  test("a client that stops reading but keeps sending bytes (blank lines between requests) is still closed", async () => {
    const session = await openSession(bridge);
    const before = count(bridge.logs(), STALLED);
    const connection = await stalledCall(bridge, session);
    // Each byte the bridge reads is activity on the socket; none of it is taking the response.
    const trickle = setInterval(() => connection.socket.writable && connection.socket.write("\r\n"), 200);
    try {
      await waitFor(() => count(bridge.logs(), STALLED) > before, "the write timeout's warning");
    } finally {
      clearInterval(trickle);
    }
    connection.socket.resume();
    await waitFor(() => connection.closed, "the connection to close");
  });

  test("a slow download that keeps moving is not cut, however long it takes", async () => {
    const session = await openSession(bridge);
    const connection = await open(bridge.url);
    readSlowly(connection);
    sendBigCall(connection.socket, bridge, session);
    const whole = await wholeResponse(connection, 120_000);
    assert.equal(connection.closed, false, `the connection was closed after ${connection.received} bytes (${connection.error})`);
    assert.equal(connection.received, whole);
    assert.match(connection.text, /^HTTP\/1\.1 200 /);
  });
}

describe("server.write_timeout over HTTP", () => {
  const bridge = useBridge(() =>
    startBridge({
      server: {
        mcp_server: scripted(),
        write_timeout: "1s",
        idle_timeout: "60s",
        sse_keepalive_interval: "10s",
        metrics_listen: "127.0.0.1:0",
        // Room for a whole large message per stream, so the socket, not this cap, is what stalls.
        session: { stream_buffer_size: "64MiB" },
      },
    }),
  );
  stallTests(bridge);

  // After the first test, which closed one.
  test("the closed connection is counted in /metrics", async () => {
    const metricsUrl = /metrics served url=(\S+)/.exec(await logged(bridge, "metrics served"))![1]!;
    const metrics = await (await fetch(metricsUrl)).text();
    assert.match(metrics, /^mcp_bridge_write_timeouts_total [1-9]/m);
  });

  test("a call whose MCP server answers after longer than write_timeout gets its answer", async () => {
    const { session } = await initialize(bridge.url);
    const { status, body } = await callTool(bridge.url, session, 2, "wait", { ms: 2500 });
    assert.equal(status, 200);
    assert.equal(body.result.content[0].text, "waited");
  });

  test("a quiet legacy SSE stream stays open past write_timeout and still delivers", async () => {
    const connection = await open(bridge.url);
    send(connection.socket, bridge.url, "GET", "/sse", { accept: "text/event-stream" });
    const endpoint = await waitFor(() => /data: (\/messages\?sessionId=\S+)/.exec(connection.text)?.[1], "the endpoint event");
    // No keep-alive comment for 10 s: nothing at all is sent for 2.5 s.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    assert.equal(connection.closed, false);
    const response = await fetch(`${bridge.origin}${endpoint}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2024-11-05", capabilities: {}, clientInfo: { name: "raw", version: "1" } } }),
    });
    assert.equal(response.status, 202);
    await waitFor(() => connection.text.includes('"serverInfo":{"name":"scripted"'), "the initialize result on the stream");
    assert.equal(connection.closed, false);
  });

  test("a stream quiet past write_timeout is still closed when its client then stops reading", async () => {
    const connection = await open(bridge.url);
    send(connection.socket, bridge.url, "GET", "/sse", { accept: "text/event-stream" });
    const endpoint = await waitFor(() => /data: (\/messages\?sessionId=\S+)/.exec(connection.text)?.[1], "the endpoint event");
    connection.socket.pause();
    // The timer fires while the stream is quiet (nothing pending); the large message must re-arm it.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const before = count(bridge.logs(), STALLED);
    const post = (message: Record<string, unknown>) => fetch(`${bridge.origin}${endpoint}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(message) });
    assert.equal((await post({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2024-11-05", capabilities: {}, clientInfo: { name: "raw", version: "1" } } })).status, 202);
    assert.equal((await post({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "big", arguments: { bytes: BIG } } })).status, 202);
    await waitFor(() => count(bridge.logs(), STALLED) > before, "the write timeout's warning");
    connection.socket.resume();
    await waitFor(() => connection.closed, "the stream to close");
  });

  test("a kept-alive connection idle for longer than write_timeout is still usable", async () => {
    await healthTwice(bridge, await open(bridge.url), 2500);
  });
});

describe("server.write_timeout over HTTPS", () => {
  const bridge = useBridge(() => startBridge({ server: { mcp_server: scripted(), write_timeout: "1s", tls: selfSignedTls() } }));
  stallTests(bridge);
});

describe("server.write_timeout settings", () => {
  test('"0s" turns it off: a client that stops reading is left alone', async () => {
    await withBridge({ server: { mcp_server: scripted(), write_timeout: "0s" } }, async (bridge) => {
      const session = await openSession(bridge);
      const connection = await stalledCall(bridge, session);
      await new Promise((resolve) => setTimeout(resolve, 3000));
      assert.equal(count(bridge.logs(), STALLED), 0);
      connection.socket.resume();
      const whole = await wholeResponse(connection);
      assert.equal(connection.received, whole);
    });
  });

  test("idle_timeout still closes an idle kept-alive connection", async () => {
    await withBridge({ server: { mcp_server: scripted(), write_timeout: "1s", idle_timeout: "1s" } }, async (bridge) => {
      const connection = await open(bridge.url);
      send(connection.socket, bridge.url, "GET", "/health");
      await waitFor(() => connection.text.includes("HTTP/1.1 200"), "the answer");
      await waitFor(() => connection.closed, "the idle connection to close");
    });
  });

  test('idle_timeout "0s" (no idle limit): a kept-alive connection idle past write_timeout is not closed by it', async () => {
    await withBridge({ server: { mcp_server: scripted(), write_timeout: "1s", idle_timeout: "0s" } }, async (bridge) => healthTwice(bridge, await open(bridge.url), 2500));
  });

  test("connections it closed no longer count against max_connections_per_address (HTTPS)", async () => {
    const config = { server: { mcp_server: scripted(), write_timeout: "1s", max_connections_per_address: 2, session: { stream_buffer_size: "64MiB" }, tls: selfSignedTls() } };
    await withBridge(config, async (bridge) => {
      const session = await openSession(bridge);
      for (let round = 1; round <= 3; round++) {
        const connection = await stalledCall(bridge, session);
        await waitFor(() => count(bridge.logs(), STALLED) >= round, "the write timeout's warning");
        connection.socket.resume();
        await waitFor(() => connection.closed, "the connection to close");
      }
      const call = { jsonrpc: "2.0", id: 9, method: "tools/call", params: { name: "echo", arguments: { text: "still welcome" } } };
      const { status, body } = await exchange(bridge, "POST", { ...MCP_HEADERS, "mcp-session-id": session }, JSON.stringify(call));
      assert.equal(status, 200);
      assert.equal(body.result.content[0].text, "still welcome");
    });
  });

  test("a value that is not a duration is a config error naming the key", async () => {
    const path = writeConfig({ mode: "server", server: { mcp_server: scripted(), write_timeout: "soon" } });
    const { code, stderr } = await runCli(["check-config", "-c", path]);
    assert.equal(code, 2);
    assert.match(stderr, /server\.write_timeout/);
    assert.match(stderr, /duration/);
  });
});
