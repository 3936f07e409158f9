/**
 * @module Bodies that never complete, for the timeouts that must cover reading them: a loopback
 * HTTP server that answers 200 JSON, sends `head`, then one space every 100 ms for ever; and a
 * client that announces a request body and sends only its start.
 */
import { once } from "node:events";
import { createServer } from "node:http";
import { connect, type AddressInfo, type Socket } from "node:net";

export interface DrippingServer {
  /** http://127.0.0.1:port (no path: any path is answered alike). */
  origin: string;
  close(): void;
}

export async function startDrippingJsonServer(head: string): Promise<DrippingServer> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" }).write(head);
    const drip = setInterval(() => res.write(" "), 100);
    res.on("close", () => clearInterval(drip));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

/** POSTs a head announcing `declared` body bytes and sends only `sent` of them; the socket is returned open. */
export async function brokenOffPost(url: string, declared: number, sent: string): Promise<{ socket: Socket; received: () => string }> {
  const { hostname, port, pathname } = new URL(url);
  const socket = connect(Number(port), hostname);
  let received = "";
  socket.on("data", (chunk) => (received += chunk));
  socket.on("error", () => {});
  await once(socket, "connect");
  socket.write(`POST ${pathname} HTTP/1.1\r\nhost: ${hostname}:${port}\r\ncontent-type: application/json\r\naccept: application/json\r\ncontent-length: ${declared}\r\n\r\n${sent}`);
  return { socket, received: () => received };
}
