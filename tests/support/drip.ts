/**
 * @module A loopback HTTP server that answers 200 JSON, sends `head`, then one space every 100 ms
 * for ever: a body that never completes, for the timeouts that must cover reading it.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

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
