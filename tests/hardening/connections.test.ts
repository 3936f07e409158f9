/**
 * @module Issue 9 §1, connections: a socket that sends nothing is closed, slow heads and bodies
 * are cut, and the total and per-address caps keep /health answering while sockets are hoarded.
 */
import assert from "node:assert/strict";
import { get } from "node:http";
import { connect, type Socket } from "node:net";
import { after, describe, test } from "node:test";
import { CLI, startBridge } from "../support/bridge.ts";
import { fixtureServer, waitFor } from "./support.ts";

const opened: Socket[] = [];
after(() => {
  for (const socket of opened) socket.destroy();
});

/** Opens a TCP connection from `localAddress`; `closed` turns true when the bridge closes it. */
async function open(url: string, localAddress = "127.0.0.1"): Promise<{ socket: Socket; closed: () => boolean }> {
  const { port, hostname } = new URL(url);
  const socket = connect({ port: Number(port), host: hostname, localAddress });
  opened.push(socket);
  let closed = false;
  socket.on("close", () => (closed = true));
  socket.on("error", () => {});
  socket.on("data", () => {});
  await new Promise<void>((resolve) => {
    socket.once("connect", resolve);
    socket.once("close", () => resolve());
  });
  return { socket, closed: () => closed };
}

/** GET /health from another loopback address (Linux routes all of 127/8 to lo). */
function healthFrom(origin: string, localAddress: string): Promise<number> {
  const { port } = new URL(origin);
  return new Promise((resolve, reject) => {
    const request = get({ host: "127.0.0.1", port: Number(port), path: "/health", localAddress, timeout: 15_000, agent: false }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on("timeout", () => request.destroy(new Error("/health did not answer")));
    request.on("error", reject);
  });
}

describe("connections", () => {
  test("sockets that never send a byte are closed after header_timeout", async () => {
    const bridge = await startBridge({ server: { mcp_server: fixtureServer().config, header_timeout: "1s" } });
    try {
      const sockets = await Promise.all(Array.from({ length: 10 }, () => open(bridge.url)));
      await waitFor(() => sockets.every((socket) => socket.closed()), "every idle socket to be closed");
    } finally {
      await bridge.stop();
    }
  });

  test("slow headers are cut, on a new connection and on a kept-alive one", async () => {
    const bridge = await startBridge({ server: { mcp_server: fixtureServer().config, header_timeout: "1s" } });
    const trickle: ReturnType<typeof setInterval>[] = [];
    try {
      const fresh = await open(bridge.url);
      fresh.socket.write("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n");
      trickle.push(setInterval(() => fresh.closed() || fresh.socket.write("X"), 200));

      const kept = await open(bridge.url);
      let answered = "";
      kept.socket.on("data", (chunk: Buffer) => (answered += chunk));
      kept.socket.write("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
      await waitFor(() => answered.includes("HTTP/1.1 200"), "the first answer");
      kept.socket.write("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n");
      trickle.push(setInterval(() => kept.closed() || kept.socket.write("X"), 200));

      await waitFor(() => fresh.closed() && kept.closed(), "both slow sockets to be closed");
    } finally {
      for (const timer of trickle) clearInterval(timer);
      await bridge.stop();
    }
  });

  test("a slow body is cut after read_timeout", async () => {
    const bridge = await startBridge({ server: { mcp_server: fixtureServer().config, read_timeout: "2s" } });
    let timer: ReturnType<typeof setInterval> | undefined;
    try {
      const slow = await open(bridge.url);
      slow.socket.write("POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: application/json\r\nContent-Length: 100000\r\n\r\n{");
      timer = setInterval(() => slow.closed() || slow.socket.write(" "), 200);
      await waitFor(() => slow.closed(), "the slow body's connection to be closed");
    } finally {
      clearInterval(timer);
      await bridge.stop();
    }
  });

  test("max_connections: idle sockets at the cap make way for clients that send requests; logged without a flood", async () => {
    const bridge = await startBridge({ server: { mcp_server: fixtureServer().config, max_connections: 20, max_connections_per_address: 1000, header_timeout: "2m" } });
    try {
      const sockets: Array<Awaited<ReturnType<typeof open>>> = [];
      // Ten connections idle after one request (kept alive), then thirty that never send one.
      for (let i = 0; i < 10; i++) {
        const kept = await open(bridge.url);
        let answer = "";
        kept.socket.on("data", (chunk: Buffer) => (answer += chunk));
        kept.socket.write("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        await waitFor(() => answer.includes("\r\n\r\n"), "a kept-alive answer");
        sockets.push(kept);
      }
      for (let i = 0; i < 30; i++) sockets.push(await open(bridge.url));
      await waitFor(() => sockets.slice(0, 20).every((socket) => socket.closed()), "the oldest idle connections to be closed");
      assert.ok(sockets.slice(20).every((socket) => !socket.closed()), "the newest 20 stay open");
      // The cap is full of idle sockets; a client that sends a request is still served.
      assert.equal(await healthFrom(bridge.origin, "127.0.0.2"), 200);
      assert.match(bridge.logs(), /connection refused.*reason=max_connections/);
      assert.ok(bridge.logs().split("\n").filter((line) => line.includes("connection refused")).length <= 11, "one summary, not a line per connection");
    } finally {
      await bridge.stop();
    }
  });

  test("one address hoarding sockets cannot take /health down (per-address cap, few file descriptors)", async () => {
    // 256 file descriptors: without a per-address cap, 300 idle sockets exhaust them and the
    // bridge can accept nothing more, /health included.
    const bridge = await startBridge(
      { server: { mcp_server: fixtureServer().config } },
      { launcher: { command: "/bin/sh", args: ["-c", 'ulimit -n 256 && exec "$0" "$@"', process.execPath, CLI], env: { PATH: process.env.PATH ?? "" } } },
    );
    try {
      const sockets: Array<Awaited<ReturnType<typeof open>>> = [];
      for (let i = 0; i < 300; i++) sockets.push(await open(bridge.url));
      await waitFor(() => sockets.filter((socket) => socket.closed()).length >= 300 - 128, "connections past the per-address cap to be closed");
      assert.equal(await healthFrom(bridge.origin, "127.0.0.2"), 200);
      assert.match(bridge.logs(), /reason=max_connections_per_address/);
    } finally {
      await bridge.stop();
    }
  });

  test("behind a trusted proxy, the cap applies per forwarded client, and the proxy itself is not capped", async () => {
    const bridge = await startBridge({ server: { mcp_server: fixtureServer().config, trusted_proxies: ["127.0.0.1/32"], max_connections_per_address: 3, session: { max_sessions: 10 } } });
    const streams: Array<ReadableStreamDefaultReader<Uint8Array>> = [];
    try {
      const openSse = (client: string) => fetch(`${bridge.origin}/sse`, { headers: { accept: "text/event-stream", "x-forwarded-for": client } });
      for (let i = 0; i < 3; i++) {
        const response = await openSse("203.0.113.5");
        assert.equal(response.status, 200);
        streams.push(response.body!.getReader());
      }
      const refused = await openSse("203.0.113.5");
      assert.equal(refused.status, 429);
      assert.ok(refused.headers.get("retry-after"));
      // The proxy's connections from 127.0.0.1 (three streams, and this one) are not refused.
      const other = await openSse("203.0.113.6");
      assert.equal(other.status, 200, "another client behind the same proxy is served");
      streams.push(other.body!.getReader());
      await streams.shift()!.cancel();
      await waitFor(async () => {
        const again = await openSse("203.0.113.5");
        if (again.status !== 200) return false;
        streams.push(again.body!.getReader());
        return true;
      }, "the closed stream to free its slot");
    } finally {
      for (const reader of streams) await reader.cancel().catch(() => {});
      await bridge.stop();
    }
  });
  test("behind a trusted proxy, one IPv6 client's addresses share its /64's cap, so it cannot take every connection", async () => {
    // Six connections in all: without the /64 bucket, one client naming a new address of its /64 per stream takes them all.
    const bridge = await startBridge({ server: { mcp_server: fixtureServer().config, trusted_proxies: ["127.0.0.1/32"], max_connections: 6, max_connections_per_address: 3, session: { max_sessions: 10 } } });
    const streams: Array<ReadableStreamDefaultReader<Uint8Array>> = [];
    try {
      const openSse = (client: string) => fetch(`${bridge.origin}/sse`, { headers: { accept: "text/event-stream", "x-forwarded-for": client } });
      const statuses: number[] = [];
      for (let i = 1; i <= 6; i++) {
        const response = await openSse(`2001:db8:5:7::${i}`);
        statuses.push(response.status);
        if (response.status === 200) streams.push(response.body!.getReader());
        else await response.arrayBuffer();
      }
      assert.deepEqual(statuses, [200, 200, 200, 429, 429, 429]);
      const other = await openSse("198.51.100.7").catch((error: Error) => error);
      assert.ok(other instanceof Response, `another client behind the same proxy is served (got ${String(other)})`);
      assert.equal(other.status, 200);
      streams.push(other.body!.getReader());
    } finally {
      for (const reader of streams) await reader.cancel().catch(() => {});
      await bridge.stop();
    }
  });
});
