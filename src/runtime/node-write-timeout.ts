/**
 * @module server.write_timeout on Node (nginx's send_timeout): a response whose client stopped
 * taking bytes is closed once `writeTimeout` passes with none taken. A response that is merely
 * quiet (waiting for the MCP server, an SSE stream between keep-alive comments) is never cut.
 *
 * One check every `writeTimeout` over the connections that have sent a request: a connection whose
 * bytes pending at two checks in a row are the same, with no byte taken between them, is closed.
 * Node's socket inactivity timer cannot tell this: every byte the client sends (a blank line
 * between requests) refreshes it, so a client could stall a response forever by trickling bytes.
 * Progress is read from Node's streams (node 20, lib/net.js):
 * - bytes of completed writes: `bytesWritten` (dispatched and buffered) less `writableLength`
 *   (buffered and in flight); a write the application adds counts in both.
 * - bytes of the write in flight that libuv still holds: Node's private `_handle.writeQueueSize`,
 *   on the TCP socket (a TLS socket's `_parent`: its own queue does not move while the kernel
 *   drains one large encrypted write).
 * A connection is closed one to two `writeTimeout`s after its client took its last byte.
 */
import type { IncomingMessage, Server } from "node:http";
import type { Socket } from "node:net";

/**
 * Bytes libuv still holds for the kernel on a TCP socket: Node's private `_handle.writeQueueSize`
 * (the value its own `_onTimeout` compares); 0 when absent.
 */
function kernelQueue(socket: Socket): number {
  return (socket as unknown as { _handle?: { writeQueueSize?: number } | null })._handle?.writeQueueSize ?? 0;
}

/** Where `socket`'s pending response stands, as a key that changes whenever its client takes bytes; undefined when nothing is pending. */
function progressOf(socket: Socket): string | undefined {
  const pending = socket.writableLength;
  if (pending === 0) return undefined;
  const tcp = "encrypted" in socket ? ((socket as unknown as { _parent?: Socket | null })._parent ?? socket) : socket;
  return `${(socket.bytesWritten ?? 0) - pending}/${kernelQueue(tcp)}`;
}

/**
 * Closes connections whose response has bytes pending (`writableLength` > 0) and made no progress
 * for `writeTimeout` ms (at most a timer's range, as the config's durations are), telling
 * `onStalled` the peer address. Nothing when `writeTimeout` is 0.
 */
export function closeStalledResponses(server: Server, writeTimeout: number, onStalled: (address: string) => void): void {
  if (writeTimeout <= 0) return;
  /** Connections that sent a request → their progress at the last check. */
  const watched = new Map<Socket, string | undefined>();
  const timer = setInterval(() => {
    for (const [socket, last] of watched) {
      const now = progressOf(socket);
      if (now === undefined || now !== last) {
        watched.set(socket, now);
        continue;
      }
      watched.delete(socket);
      onStalled(socket.remoteAddress ?? "");
      socket.destroy();
    }
  }, writeTimeout);
  timer.unref();
  server.once("close", () => clearInterval(timer));
  server.on("request", (request: IncomingMessage) => {
    const socket = request.socket;
    if (watched.has(socket) || socket.destroyed) return;
    watched.set(socket, undefined);
    socket.once("close", () => watched.delete(socket));
  });
}
