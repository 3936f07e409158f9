#!/usr/bin/env node
// A raw stdio MCP server for the bridge's end-to-end tests. It writes every message it receives to
// stderr as "recv <json>" (the bridge logs child stderr, so tests can see what reached the child),
// and offers tools that exercise the bridge's routing:
//   echo {text}         → the text
//   whoami              → the MCP_BRIDGE_* identity variables and whether secrets leaked into env
//   wait {ms}           → answers after ms (or never when ms is absent) unless cancelled
//   crash               → exits at once without answering
//   ask                 → sends sampling/createMessage to the client, answers with the client's reply
//   chatty {count}      → sends `count` progress notifications (when a token is given) and log messages, then answers
//   pretty              → answers over several lines of pretty-printed JSON split by a non-JSON line
//   big {bytes}         → a text of `bytes` x's (large responses)
//   late_progress       → answers, then sends a progress notification for its token (the request is over) and tools/list_changed
//   progress_on_cancel  → never answers; when cancelled, sends a progress notification for its token and tools/list_changed
import { createInterface } from "node:readline";

const send = (message) => process.stdout.write(JSON.stringify(message) + "\n");
const text = (value) => ({ content: [{ type: "text", text: typeof value === "string" ? value : JSON.stringify(value) }] });
const waiting = new Map();
/** progress_on_cancel calls: request id (as JSON) → progress token. */
const progressOnCancel = new Map();
/** Progress for a request that is over, then a list change every client's GET stream gets (the mark that it came after). */
const progressAfterTheEnd = (token) => {
  send({ jsonrpc: "2.0", method: "notifications/progress", params: { progressToken: token, progress: 99 } });
  send({ jsonrpc: "2.0", method: "notifications/tools/list_changed" });
};
const asked = new Map();
let nextAsk = 1;

function handle(message) {
  process.stderr.write(`recv ${JSON.stringify(message)}\n`);
  if (message.method === undefined) {
    const pending = asked.get(message.id);
    if (pending) {
      asked.delete(message.id);
      send({ jsonrpc: "2.0", id: pending, result: text(message.result ?? message.error) });
    }
    return;
  }
  if (message.method === "notifications/cancelled") {
    const timer = waiting.get(JSON.stringify(message.params?.requestId));
    if (timer !== undefined) clearTimeout(timer);
    const token = progressOnCancel.get(JSON.stringify(message.params?.requestId));
    if (token !== undefined) progressAfterTheEnd(token);
    process.stderr.write(`cancelled ${JSON.stringify(message.params?.requestId)}\n`);
    return;
  }
  if (message.id === undefined) return;
  const reply = (result) => send({ jsonrpc: "2.0", id: message.id, result });
  switch (message.method) {
    case "initialize":
      return reply({ protocolVersion: message.params?.protocolVersion ?? "2025-06-18", capabilities: { tools: {}, logging: {} }, serverInfo: { name: "scripted", version: "1.0.0" } });
    case "ping":
      return reply({});
    case "tools/list":
      return reply({ tools: ["echo", "whoami", "wait", "crash", "ask", "chatty", "pretty", "big", "late_progress", "progress_on_cancel"].map((name) => ({ name, inputSchema: { type: "object" } })) });
    case "tools/call":
      return callTool(message, reply);
    default:
      return send({ jsonrpc: "2.0", id: message.id, error: { code: -32601, message: "Method not found" } });
  }
}

function callTool(message, reply) {
  const args = message.params?.arguments ?? {};
  switch (message.params?.name) {
    case "echo":
      return reply(text(args.text ?? ""));
    case "whoami": {
      const identity = Object.fromEntries(Object.entries(process.env).filter(([key]) => key.startsWith("MCP_BRIDGE_")));
      return reply(text({ identity, envKeys: Object.keys(process.env).sort() }));
    }
    case "wait": {
      if (args.ms === undefined) return waiting.set(JSON.stringify(message.id), undefined);
      return waiting.set(JSON.stringify(message.id), setTimeout(() => reply(text("waited")), args.ms));
    }
    case "crash":
      return process.exit(3);
    case "ask": {
      const id = `ask-${nextAsk++}`;
      asked.set(id, message.id);
      return send({ jsonrpc: "2.0", id, method: "sampling/createMessage", params: { messages: [{ role: "user", content: { type: "text", text: "hello?" } }], maxTokens: 10 } });
    }
    case "chatty": {
      const token = message.params?._meta?.progressToken;
      for (let i = 1; i <= (args.count ?? 3); i++) {
        if (token !== undefined) send({ jsonrpc: "2.0", method: "notifications/progress", params: { progressToken: token, progress: i, total: args.count ?? 3 } });
        send({ jsonrpc: "2.0", method: "notifications/message", params: { level: "info", data: `step ${i}` } });
      }
      return reply(text("chatted"));
    }
    case "pretty":
      process.stdout.write("this line is not JSON\n");
      return process.stdout.write(JSON.stringify({ jsonrpc: "2.0", id: message.id, result: text("pretty") }) + "\n");
    case "big":
      return reply(text("x".repeat(args.bytes ?? 0)));
    case "late_progress":
      reply(text("done"));
      return progressAfterTheEnd(message.params?._meta?.progressToken);
    case "progress_on_cancel":
      return void progressOnCancel.set(JSON.stringify(message.id), message.params?._meta?.progressToken);
    default:
      return reply({ ...text("unknown tool"), isError: true });
  }
}

createInterface({ input: process.stdin }).on("line", (line) => {
  if (line.trim()) handle(JSON.parse(line));
});
