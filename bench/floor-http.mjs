#!/usr/bin/env node
// The plain-Node floor: ~100 lines of node:http that forward POSTed JSON-RPC to ONE stdio child
// and send the child's answer back, as JSON (or as one SSE event when the client accepts only
// text/event-stream). No auth, no sessions beyond handing out an id, no checks beyond JSON.parse.
// Ids are rewritten so that many connections can share the child. This is what a bridge costs at
// the least on this machine; a real bridge adds sessions, auth, routing and logging on top of it.
//   node bench/floor-http.mjs [--port 0] -- <command> [args...]   prints "listening url=…" on stderr
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import http from "node:http";

const argv = process.argv.slice(2);
const dash = argv.indexOf("--");
const options = dash === -1 ? argv : argv.slice(0, dash);
const command = dash === -1 ? ["node", "bench/fixtures/echo-server.mjs"] : argv.slice(dash + 1);
const port = Number(options[options.indexOf("--port") + 1] ?? 0) || 0;

const child = spawn(command[0], command.slice(1), { stdio: ["pipe", "pipe", "inherit"] });
child.on("exit", (code) => {
  console.error(`child exited (${code})`);
  process.exit(1);
});

const pending = new Map(); // internal id → { id, res, sse, headers }
let nextId = 1;
let buffered = "";
child.stdout.setEncoding("utf8");
child.stdout.on("data", (chunk) => {
  buffered += chunk;
  let start = 0;
  for (let nl = buffered.indexOf("\n"); nl !== -1; nl = buffered.indexOf("\n", start)) {
    const line = buffered.slice(start, nl);
    start = nl + 1;
    let message;
    try {
      message = JSON.parse(line);
    } catch {
      continue;
    }
    const waiting = pending.get(message.id);
    if (!waiting) continue; // child → client requests and notifications are out of scope here
    pending.delete(message.id);
    message.id = waiting.id;
    send(waiting, JSON.stringify(message));
  }
  buffered = buffered.slice(start);
});

function send({ res, sse, headers }, json) {
  if (sse) {
    res.writeHead(200, { ...headers, "content-type": "text/event-stream", "cache-control": "no-cache" });
    res.end(`event: message\ndata: ${json}\n\n`);
  } else {
    res.writeHead(200, { ...headers, "content-type": "application/json", "content-length": Buffer.byteLength(json) });
    res.end(json);
  }
}

function fail(res, status, text) {
  res.writeHead(status, { "content-type": "text/plain" });
  res.end(text);
}

const server = http.createServer({ keepAliveTimeout: 120_000 }, (req, res) => {
  if (req.method === "DELETE") return fail(res, 200, "");
  if (req.method !== "POST") return fail(res, 405, "POST only");
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    let message;
    try {
      message = JSON.parse(chunks.length === 1 ? chunks[0].toString("utf8") : Buffer.concat(chunks).toString("utf8"));
    } catch {
      return fail(res, 400, "not JSON");
    }
    if (message === null || typeof message !== "object" || Array.isArray(message)) return fail(res, 400, "one JSON-RPC object per POST");
    if (message.id === undefined || message.method === undefined) {
      child.stdin.write(JSON.stringify(message) + "\n"); // notifications (and stray responses) go through
      res.writeHead(202);
      return res.end();
    }
    const accept = req.headers.accept ?? "";
    const sse = !accept.includes("application/json") && accept.includes("text/event-stream");
    const headers = message.method === "initialize" ? { "mcp-session-id": randomUUID() } : {};
    const internal = nextId++;
    pending.set(internal, { id: message.id, res, sse, headers });
    message.id = internal;
    child.stdin.write(JSON.stringify(message) + "\n");
  });
});

server.listen(port, "127.0.0.1", () => {
  console.error(`listening url=http://127.0.0.1:${server.address().port}/mcp`);
});
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    child.removeAllListeners("exit");
    child.kill("SIGTERM");
    server.close();
    process.exit(0);
  });
}
