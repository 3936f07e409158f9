/**
 * @module A loopback HTTP endpoint answering each request from its body: a token validation
 * endpoint, an introspection endpoint, a key set. While `state.down`, connections are cut.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

/** An answer: `json` serialized, or `text` as it is (for bodies that are not JSON); always labelled application/json. */
export interface EndpointAnswer {
  status: number;
  json?: unknown;
  text?: string;
}

export interface JsonEndpoint {
  /** http://127.0.0.1:port (no path: any path is answered alike). */
  origin: string;
  /** Set `down` to cut every connection, as an endpoint that went away. */
  state: { down: boolean };
  close(): void;
}

export async function startJsonEndpoint(handler: (body: string) => EndpointAnswer): Promise<JsonEndpoint> {
  const state = { down: false };
  const server = createServer((req, res) => {
    if (state.down) return void req.socket.destroy();
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      const answer = handler(body);
      res.writeHead(answer.status, { "content-type": "application/json" }).end(answer.text ?? (answer.json === undefined ? "" : JSON.stringify(answer.json)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    state,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}
