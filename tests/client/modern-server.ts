/** @module A 2026-07-28 (modern-only) remote server built with SDK v2 (`@modelcontextprotocol/server` 2.4), on loopback. */
import { serve } from "@hono/node-server";
import { createMcpHandler, fromJsonSchema, inputRequired, McpServer } from "@modelcontextprotocol/server";
import type { AddressInfo } from "node:net";
import * as z from "zod/v4";

export interface ModernServer {
  url: string;
  /** Request headers seen, per Mcp-Method. */
  headers: Array<Record<string, string>>;
  /** Every method POSTed. */
  methods: string[];
  /** Tools that saw their request cancelled. */
  cancelled: string[];
  close(): Promise<void>;
}

// Typed loosely: x-mcp-header is an extension keyword the JSON Schema types do not know.
const HEADERS_INPUT: Parameters<typeof fromJsonSchema>[0] = JSON.parse('{"type":"object","properties":{"region":{"type":"string","x-mcp-header":"Region"},"note":{"type":"string"}},"required":["region"]}');
const BAD_HEADERS_INPUT: Parameters<typeof fromJsonSchema>[0] = JSON.parse('{"type":"object","properties":{"score":{"type":"number","x-mcp-header":"Score"}}}');
const text = (value: string) => ({ content: [{ type: "text" as const, text: value }] });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function build(): McpServer {
  const server = new McpServer({ name: "sdk-v2-modern-server", version: "2.0.0" }, { capabilities: { tools: { listChanged: true }, resources: { subscribe: true }, logging: {} } });
  server.registerResource("note", "test://note", { mimeType: "text/plain" }, async (uri) => ({ contents: [{ uri: uri.href, text: "a note" }] }));
  server.registerTool("slow", {}, async (ctx) => {
    const signal = ctx.mcpReq.signal;
    // Progress first: the reply becomes an SSE stream, so cancelling means closing a stream being read.
    const progressToken = ctx.mcpReq._meta?.progressToken;
    if (progressToken !== undefined) await ctx.mcpReq.notify({ method: "notifications/progress", params: { progressToken, progress: 1 } });
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 60_000);
      signal.addEventListener("abort", () => {
        cancelled.push("slow");
        clearTimeout(timer);
        resolve();
      });
    });
    return text("finished");
  });
  server.registerTool("touch", {}, async () => {
    setImmediate(() => handler?.notify.resourceUpdated("test://note"));
    return text("touched");
  });
  server.registerTool("echo", { inputSchema: z.object({ text: z.string() }) }, async ({ text: value }) => text(value));
  server.registerTool("progress", {}, async (ctx) => {
    const progressToken = ctx.mcpReq._meta?.progressToken;
    for (const progress of [1, 2, 3]) {
      if (progressToken !== undefined) await ctx.mcpReq.notify({ method: "notifications/progress", params: { progressToken, progress, total: 3 } });
      await sleep(50);
    }
    return text("progressed");
  });
  server.registerTool("ask", {}, async (ctx) => {
    const name = ctx.mcpReq.inputResponses?.name as { content?: { name?: string } } | undefined;
    if (!name) {
      return inputRequired({ inputRequests: { name: inputRequired.elicit({ message: "name?", requestedSchema: { type: "object", properties: { name: { type: "string" } }, required: ["name"] } }) }, requestState: "round-1" });
    }
    const sampled = ctx.mcpReq.inputResponses?.sample as { content?: { text?: string } } | undefined;
    if (!sampled) {
      // A second round: the first answer travels in requestState, as the spec has servers do.
      return inputRequired({
        inputRequests: { name: inputRequired.elicit({ message: "again?", requestedSchema: { type: "object", properties: { name: { type: "string" } } } }), sample: inputRequired.createMessage({ messages: [{ role: "user", content: { type: "text", text: "hi" } }], maxTokens: 5 }) },
        requestState: "round-2",
      });
    }
    const state: unknown = ctx.mcpReq.requestState;
    return text(`${name.content?.name}/${sampled.content?.text}/${typeof state === "function" ? state() : state}`);
  });
  server.registerTool(
    "headers",
    { inputSchema: fromJsonSchema(HEADERS_INPUT) },
    async (args) => text(`region ${(args as { region: string }).region}`),
  );
  server.registerTool(
    "bad_headers",
    { inputSchema: fromJsonSchema(BAD_HEADERS_INPUT) },
    async () => text("must not be listed"),
  );
  server.registerTool("change", {}, async () => {
    // A fresh server serves each request: list changes go out on the handler's event bus.
    setImmediate(() => handler?.notify.toolsChanged());
    return text("changed");
  });
  return server;
}

let handler: ReturnType<typeof createMcpHandler> | undefined;
/** Tools whose request was cancelled (their reply stream closed), in order. */
const cancelled: string[] = [];

export async function startModernServer(): Promise<ModernServer> {
  handler = createMcpHandler(build, { legacy: "reject" });
  const served = handler;
  const headers: Array<Record<string, string>> = [];
  const methods: string[] = [];
  const server = serve({
    fetch: (request: Request) => {
      const method = request.headers.get("mcp-method");
      if (method) {
        methods.push(method);
        headers.push(Object.fromEntries(request.headers.entries()));
      }
      return served.fetch(request);
    },
    port: 0,
    hostname: "127.0.0.1",
  });
  await new Promise<void>((resolve) => (server.listening ? resolve() : server.once("listening", () => resolve())));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    headers,
    methods,
    cancelled,
    close: async () => {
      await served.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
    },
  };
}
