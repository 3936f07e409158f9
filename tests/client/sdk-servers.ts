/** @module Remote MCP servers for client-mode tests, built with SDK v1 on node:http (loopback, port 0). */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer, type ServerOptions as HttpsOptions } from "node:https";
import type { Socket } from "node:net";
import { randomUUID } from "node:crypto";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { SSEServerTransport } from "@modelcontextprotocol/sdk/server/sse.js";
import { InMemoryEventStore } from "@modelcontextprotocol/sdk/examples/shared/inMemoryEventStore.js";
import { z } from "zod";

export interface TestServer {
  url: string;
  /** Destroys every open connection (a network cut), leaving the server listening. */
  cutConnections(): void;
  /** Requests seen, as "METHOD path". */
  requests: string[];
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The tools every SDK test server offers. `hooks.cut` is called by the "cut" tool mid-call. */
export function buildMcpServer(hooks: { cut?: () => void } = {}): McpServer {
  const server = new McpServer({ name: "sdk-v1-test-server", version: "1.0.0" }, { capabilities: { logging: {} } });
  server.registerTool("echo", { inputSchema: { text: z.string() } }, async ({ text }) => ({ content: [{ type: "text", text }] }));
  server.registerTool("sleep", { inputSchema: { ms: z.number().int().min(0).max(60_000) } }, async ({ ms }) => {
    await sleep(ms);
    return { content: [{ type: "text", text: `slept ${ms} ms` }] };
  });
  server.registerTool("progress", {}, async (extra) => {
    for (const progress of [1, 2, 3]) {
      const token = extra._meta?.progressToken;
      if (token !== undefined) await extra.sendNotification({ method: "notifications/progress", params: { progressToken: token, progress, total: 3 } });
      // SDK v1 clients run notification handlers a microtask late but responses at once: a progress
      // notification read in the same chunk as the response is reported as unknown. Real tools
      // report progress while working; the pause keeps that shape.
      await sleep(50);
    }
    return { content: [{ type: "text", text: "progressed" }] };
  });
  server.registerTool("ask", {}, async () => {
    const elicited = await server.server.elicitInput({ message: "name?", requestedSchema: { type: "object", properties: { name: { type: "string" } }, required: ["name"] } });
    const sampled = await server.server.createMessage({ messages: [{ role: "user", content: { type: "text", text: "hi" } }], maxTokens: 10 });
    return { content: [{ type: "text", text: `${(elicited.content as { name: string }).name}/${(sampled.content as { text: string }).text}` }] };
  });
  server.registerTool("cut", {}, async (extra) => {
    const token = extra._meta?.progressToken;
    if (token !== undefined) await extra.sendNotification({ method: "notifications/progress", params: { progressToken: token, progress: 1 } });
    await sleep(100);
    hooks.cut?.();
    await sleep(300);
    return { content: [{ type: "text", text: "survived the cut" }] };
  });
  return server;
}

function listen(handler: (req: IncomingMessage, res: ServerResponse, body: unknown, text: string) => void | Promise<void>, tls?: HttpsOptions): Promise<{ server: Server; sockets: Set<Socket>; url: string; requests: string[] }> {
  const sockets = new Set<Socket>();
  const requests: string[] = [];
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    requests.push(`${req.method} ${req.url}`);
    let text = "";
    req.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
    req.on("end", () => {
      let body: unknown;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        body = undefined;
      }
      void Promise.resolve(handler(req, res, body, text)).catch(() => {
        if (!res.headersSent) res.writeHead(500).end();
      });
    });
  };
  const server: Server = tls ? createHttpsServer(tls, onRequest) : createServer(onRequest);
  server.on(tls ? "secureConnection" : "connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  const scheme = tls ? "https" : "http";
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ server, sockets, requests, url: `${scheme}://127.0.0.1:${(server.address() as { port: number }).port}` })));
}

/** The TestServer of a listening server whose MCP endpoint is at `path`. */
function testServer({ server, sockets, url, requests }: Awaited<ReturnType<typeof listen>>, path: string): TestServer {
  const cutConnections = () => {
    for (const socket of sockets) socket.destroy();
  };
  const close = () =>
    new Promise<void>((resolve) => {
      cutConnections();
      server.close(() => resolve());
    });
  return { url: `${url}${path}`, cutConnections, requests, close };
}

/**
 * An SDK v1 Streamable HTTP server with sessions and an event store (resumable streams), at /mcp;
 * HTTPS with `tls`; answering every POST with one JSON body (no SSE) with `enableJsonResponse`.
 */
export async function startStreamableServer(tls?: HttpsOptions, enableJsonResponse = false): Promise<TestServer> {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  let cut = () => {};
  const listening = await listen(async (req, res, body) => {
    const sessionId = req.headers["mcp-session-id"] as string | undefined;
    let transport = sessionId ? transports.get(sessionId) : undefined;
    if (!transport) {
      if (sessionId || req.method !== "POST") return void res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32001, message: "Session not found" } }));
      const created: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        eventStore: new InMemoryEventStore(),
        enableJsonResponse,
        onsessioninitialized: (id) => void transports.set(id, created),
      });
      created.onclose = () => created.sessionId && transports.delete(created.sessionId);
      await buildMcpServer({ cut: () => cut() }).connect(created);
      transport = created;
    }
    await transport.handleRequest(req, res, body);
  }, tls);
  const started = testServer(listening, "/mcp");
  cut = started.cutConnections;
  return started;
}

/** An SDK v1 legacy HTTP+SSE server: GET /sse, POST /messages?sessionId=. */
export async function startSseServer(): Promise<TestServer> {
  const transports = new Map<string, SSEServerTransport>();
  const listening = await listen(async (req, res, body) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    if (req.method === "GET" && path === "/sse") {
      const transport = new SSEServerTransport("/messages", res);
      transports.set(transport.sessionId, transport);
      res.on("close", () => transports.delete(transport.sessionId));
      await buildMcpServer().connect(transport);
      return;
    }
    if (req.method === "POST" && path === "/messages") {
      const transport = transports.get(new URL(req.url ?? "/", "http://x").searchParams.get("sessionId") ?? "");
      if (!transport) return void res.writeHead(404).end("unknown session");
      await transport.handlePostMessage(req, res, body);
      return;
    }
    res.writeHead(404).end("not found");
  });
  return testServer(listening, "/sse");
}

/** A server that answers every request with `respond` (garbage, hangs, errors); `body` is parsed from `text`, the request's body as sent. */
export async function startRawServer(respond: (req: IncomingMessage, res: ServerResponse, body: unknown, text: string) => void): Promise<TestServer> {
  return testServer(await listen(respond), "/mcp");
}
