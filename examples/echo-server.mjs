#!/usr/bin/env node
// A small stdio MCP server with no dependencies, so `npm start` works on a fresh clone: newline-
// delimited JSON-RPC on stdin/stdout, tools `echo`, `add` and `time`.
import { createInterface } from "node:readline";

const TOOLS = [
  { name: "echo", description: "Returns the text it is given.", inputSchema: { type: "object", properties: { text: { type: "string" } }, required: ["text"] } },
  { name: "add", description: "Adds two numbers.", inputSchema: { type: "object", properties: { a: { type: "number" }, b: { type: "number" } }, required: ["a", "b"] } },
  { name: "time", description: "The server's current time (ISO 8601).", inputSchema: { type: "object", properties: {} } },
];

const send = (message) => process.stdout.write(JSON.stringify(message) + "\n");
const text = (value) => ({ content: [{ type: "text", text: String(value) }] });

function call(name, args = {}) {
  switch (name) {
    case "echo":
      return text(args.text ?? "");
    case "add":
      return text(Number(args.a) + Number(args.b));
    case "time":
      return text(new Date().toISOString());
    default:
      return { ...text(`unknown tool: ${name}`), isError: true };
  }
}

function handle(message) {
  if (message.id === undefined || message.method === undefined) return; // notifications, responses
  const reply = (result) => send({ jsonrpc: "2.0", id: message.id, result });
  switch (message.method) {
    case "initialize":
      return reply({
        protocolVersion: message.params?.protocolVersion ?? "2025-06-18",
        capabilities: { tools: {} },
        serverInfo: { name: "mcp-bridge-example-echo", version: "1.0.0" },
      });
    case "ping":
      return reply({});
    case "tools/list":
      return reply({ tools: TOOLS });
    case "tools/call":
      return reply(call(message.params?.name, message.params?.arguments));
    default:
      return send({ jsonrpc: "2.0", id: message.id, error: { code: -32601, message: `Method not found: ${message.method}` } });
  }
}

createInterface({ input: process.stdin }).on("line", (line) => {
  if (!line.trim()) return;
  try {
    handle(JSON.parse(line));
  } catch {
    send({ jsonrpc: "2.0", id: null, error: { code: -32700, message: "Parse error" } });
  }
});
