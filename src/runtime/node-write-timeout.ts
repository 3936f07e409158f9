/**
 * @module server.write_timeout on Node (nginx's send_timeout): a response whose client stopped
 * taking bytes is closed once `writeTimeout` passes with none taken. A response that is merely
 * quiet (waiting for the MCP server, an SSE stream between keep-alive comments) is never cut.
 *
 * Built on Node's socket inactivity timer (node 20, lib/net.js and lib/_http_server.js):
 * - `socket.setTimeout` arms a timer that every write handed to libuv and every read refreshes;
 *   once fired it stays quiet until the next such activity re-arms it.
 * - `Socket.prototype._onTimeout` swallows the event while libuv's write queue for the socket
 *   shrinks (the kernel takes bytes of a large write), so on a TCP socket the event with bytes
 *   pending means a whole `writeTimeout` without progress.
 * - With a 'timeout' listener on the response, Node leaves the socket to it; without one (an idle
 *   kept-alive connection, whose timer Node sets to keepAliveTimeout after each response) Node
 *   destroys it as before. Node resets the timer to `server.timeout` (0 here) when the next request
 *   on a kept-alive connection arrives, before 'request' is emitted.
 * A plain connection is closed after one to two timeouts of stall; a TLS one, whose progress is
 * read here at each firing, after two to three.
 */
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Socket } from "node:net";

/**
 * Bytes libuv still holds for the kernel on a TCP socket: Node's private `_handle.writeQueueSize`
 * (the value its own `_onTimeout` compares); 0 when absent.
 */
function kernelQueue(socket: Socket): number {
  return (socket as unknown as { _handle?: { writeQueueSize?: number } | null })._handle?.writeQueueSize ?? 0;
}

/**
 * Closes connections whose response has bytes pending (`writableLength` > 0) and made no progress
 * for `writeTimeout` ms, telling `onStalled` the peer address. Nothing when `writeTimeout` is 0.
 */
export function closeStalledResponses(server: Server, writeTimeout: number, onStalled: (address: string) => void): void {
  if (writeTimeout <= 0) return;
  /** TLS: the TCP socket's queue when the timer last fired with bytes pending. */
  const lastQueue = new WeakMap<Socket, number>();
  const onTimeout = (socket: Socket) => {
    // Nothing pending: the response is only quiet. The next write re-arms the timer.
    if (socket.writableLength === 0) {
      lastQueue.delete(socket);
      return;
    }
    // A TLS socket's own queue (TLSWrap's) does not move while the kernel drains one large write,
    // so Node's progress check cannot see it: the TCP socket below (its _parent) can.
    const tcp = "encrypted" in socket ? (socket as unknown as { _parent?: Socket | null })._parent : undefined;
    if (tcp) {
      const queue = kernelQueue(tcp);
      if (queue !== lastQueue.get(socket)) {
        lastQueue.set(socket, queue);
        socket.setTimeout(writeTimeout);
        return;
      }
    }
    onStalled(socket.remoteAddress ?? "");
    socket.destroy();
  };
  server.on("request", (request: IncomingMessage, response: ServerResponse) => {
    // Armed already for a pipelined request; Node set it to 0 for a kept-alive connection's next one.
    if (request.socket.timeout !== writeTimeout) request.socket.setTimeout(writeTimeout);
    response.on("timeout", onTimeout);
  });
}
