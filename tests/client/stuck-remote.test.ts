/**
 * @module Client mode against a remote server that stops answering the bridge's own requests (a
 * replayed initialize, an era probe) or fails them for a moment: every request of the local client
 * is still answered, with an error naming client.timeout at worst, a cancellation is never held
 * behind what it cancels, and once the server behaves again the bridge works, in the era the
 * server really speaks. Also: answers built to flood the bridge's memory, and credentials a server
 * copies into what the bridge repeats. The local client is a raw stdio pipe.
 */
import assert from "node:assert/strict";
import { request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import { test } from "node:test";
import { startModernServer } from "./modern-server.ts";
import { startRawServer, type TestServer } from "./sdk-servers.ts";
import { INITIALIZE, INITIALIZE_RESULT, endWithEachTest, servers, startLocal } from "./raw-local.ts";
import { waitFor } from "./support.ts";

endWithEachTest();

const TOKEN = "sk-live-9f8e7d6c5b4a39281706";
/** Long enough to hang on: every wait of these tests that is not the bridge's own is at most client.timeout (2 s) plus a margin. */
const ANSWERED_WITHIN_MS = 20_000;

const json = (res: ServerResponse, payload: unknown, headers: Record<string, string> = {}) => res.writeHead(200, { "content-type": "application/json", ...headers }).end(JSON.stringify(payload));

/** A legacy Streamable HTTP server: server/discover refused, sessions "s1", "s2"…; `hostile` may take a request first (true: it did). */
async function legacyServer(hostile: (req: IncomingMessage, res: ServerResponse, message: Record<string, any>) => boolean): Promise<TestServer> {
  let sessions = 0;
  const server = await startRawServer((req, res, body) => {
    if (req.method !== "POST") return void res.writeHead(405).end();
    const message = body as Record<string, any>;
    if (message.method === "server/discover") return void res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: message.id, error: { code: -32600, message: "Bad Request: no session" } }));
    if (hostile(req, res, message)) return;
    if (message.id === undefined) return void res.writeHead(202).end();
    if (message.method === "initialize") return json(res, { jsonrpc: "2.0", id: message.id, result: INITIALIZE_RESULT }, { "mcp-session-id": `s${++sessions}` });
    json(res, { jsonrpc: "2.0", id: message.id, result: message.method === "tools/list" ? { tools: [] } : {} });
  });
  servers.push(server);
  return server;
}

for (const how of ["never answers", "answers with an event stream that stays silent"] as const) {
  test(`Streamable HTTP: a server that forgot the session and ${how} the replayed initialize: the request gets an error after client.timeout, later ones work once it behaves`, { timeout: 60_000 }, async () => {
    let forgot = false;
    let hang = false;
    let initializes = 0;
    const server = await legacyServer((req, res, message) => {
      if (message.method === "initialize") {
        initializes++;
        if (!hang) return false;
        if (how !== "never answers") res.writeHead(200, { "content-type": "text/event-stream", "mcp-session-id": "s-hung" }).write(": hello\n\n");
        return true;
      }
      if (!forgot || req.headers["mcp-session-id"] !== "s1") return false;
      res.writeHead(404).end();
      return true;
    });
    const local = startLocal(["connect", server.url, "--timeout", "2s", "--transport", "streamable_http"]);
    await local.handshake();
    local.send({ jsonrpc: "2.0", id: 1, method: "tools/list" });
    assert.deepEqual((await local.answer(1)).result, { tools: [] });
    forgot = hang = true;
    local.send({ jsonrpc: "2.0", id: 2, method: "tools/list" });
    local.send({ jsonrpc: "2.0", id: 3, method: "ping" });
    for (const id of [2, 3]) {
      const failed = await local.answer(id, ANSWERED_WITHIN_MS);
      assert.match(failed.error?.message ?? "", /did not open a new session within 2000 ms \(client\.timeout\)/, JSON.stringify(failed));
    }
    hang = false;
    local.send({ jsonrpc: "2.0", id: 4, method: "tools/list" });
    assert.deepEqual((await local.answer(4, ANSWERED_WITHIN_MS)).result, { tools: [] }, local.stderr());
    assert.equal(initializes, 3, "the local client's, the one that went unanswered, and the one that opened the new session");
  });
}

test("Streamable HTTP: the GET stream finds the session forgotten and the replay is never answered: the request waiting for it gets an error, later ones work once the server behaves", { timeout: 60_000 }, async () => {
  let phase: "normal" | "forgot" | "healthy" = "normal";
  let sessions = 0;
  const streams: ServerResponse[] = [];
  const server = await startRawServer((req, res, body) => {
    const message = body as Record<string, any> | undefined;
    const forgotten = phase !== "normal" && req.headers["mcp-session-id"] === "s1";
    if (req.method === "GET") {
      if (forgotten) return void res.writeHead(404).end();
      return void streams.push(res.writeHead(200, { "content-type": "text/event-stream" }));
    }
    if (req.method !== "POST" || !message) return void res.writeHead(405).end();
    if (message.method === "server/discover") return void res.writeHead(400).end();
    if (message.method === "initialize") {
      if (phase === "forgot") return;
      return json(res, { jsonrpc: "2.0", id: message.id, result: INITIALIZE_RESULT }, { "mcp-session-id": `s${++sessions}` });
    }
    if (forgotten) return void res.writeHead(404).end();
    if (message.id === undefined) return void res.writeHead(202).end();
    json(res, { jsonrpc: "2.0", id: message.id, result: {} });
  });
  servers.push(server);
  const local = startLocal(["connect", server.url, "--timeout", "2s", "--transport", "streamable_http"]);
  await local.handshake();
  await waitFor(() => streams.length > 0, "the GET stream");
  phase = "forgot";
  // The stream ends; reopened, it finds the session forgotten, and the bridge replays initialize on its own.
  streams[0]!.end();
  await waitFor(() => server.requests.filter((request) => request.startsWith("POST")).length >= 3, "the replayed initialize");
  local.send({ jsonrpc: "2.0", id: 1, method: "ping" });
  const failed = await local.answer(1, ANSWERED_WITHIN_MS);
  assert.match(failed.error?.message ?? "", /did not open a new session within 2000 ms \(client\.timeout\)/, JSON.stringify(failed));
  phase = "healthy";
  local.send({ jsonrpc: "2.0", id: 2, method: "ping" });
  assert.deepEqual((await local.answer(2, ANSWERED_WITHIN_MS)).result, {}, local.stderr());
});

test("HTTP+SSE: the event stream drops and the new stream never answers the replayed initialize: the request gets an error after client.timeout, later ones work", { timeout: 60_000 }, async () => {
  let hang = false;
  const streams: ServerResponse[] = [];
  const server = await startRawServer((req, res, body) => {
    const url = new URL(req.url!, "http://127.0.0.1");
    if (req.method === "GET" && url.pathname === "/sse") {
      res.writeHead(200, { "content-type": "text/event-stream" }).write(`event: endpoint\ndata: /messages?stream=${streams.push(res) - 1}\n\n`);
      return;
    }
    const message = body as Record<string, any>;
    res.writeHead(202).end();
    if (message?.id === undefined || (hang && message.method === "initialize")) return;
    const result = message.method === "initialize" ? INITIALIZE_RESULT : {};
    streams[Number(url.searchParams.get("stream"))]?.write(`event: message\ndata: ${JSON.stringify({ jsonrpc: "2.0", id: message.id, result })}\n\n`);
  });
  servers.push(server);
  const local = startLocal(["connect", server.url.replace(/\/mcp$/, "/sse"), "--timeout", "2s", "--transport", "sse"]);
  await local.handshake();
  local.send({ jsonrpc: "2.0", id: 1, method: "ping" });
  assert.deepEqual((await local.answer(1)).result, {});
  hang = true;
  streams[0]!.end();
  await new Promise((resolve) => setTimeout(resolve, 300));
  local.send({ jsonrpc: "2.0", id: 2, method: "ping" });
  const failed = await local.answer(2, ANSWERED_WITHIN_MS);
  assert.match(failed.error?.message ?? "", /did not answer the new session's initialize within 2000 ms \(client\.timeout\)/, JSON.stringify(failed));
  hang = false;
  local.send({ jsonrpc: "2.0", id: 3, method: "ping" });
  assert.deepEqual((await local.answer(3, ANSWERED_WITHIN_MS)).result, {}, local.stderr());
});

for (const transport of ["auto", "streamable_http"] as const) {
  test(`a cancelled first initialize the server never answered is let go (${transport}): the next initialize is served`, { timeout: 60_000 }, async () => {
    let hang = true;
    let closed = 0;
    const server = await legacyServer((req, _res, message) => {
      if (message.method !== "initialize" || !hang) return false;
      req.socket.on("close", () => closed++);
      return true;
    });
    const local = startLocal(["connect", server.url, "--timeout", "2s", "--transport", transport]);
    local.send({ ...INITIALIZE, id: 1 });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    // What the SDK's client does when its request times out, initialize included.
    local.send({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 1, reason: "timed out" } });
    await waitFor(() => closed > 0, "the hung initialize's connection closed by the bridge", ANSWERED_WITHIN_MS);
    hang = false;
    local.send({ ...INITIALIZE, id: 2 });
    assert.deepEqual((await local.answer(2, ANSWERED_WITHIN_MS)).result, INITIALIZE_RESULT, local.stderr());
    local.send({ jsonrpc: "2.0", method: "notifications/initialized" });
    local.send({ jsonrpc: "2.0", id: 3, method: "tools/list" });
    assert.deepEqual((await local.answer(3, ANSWERED_WITHIN_MS)).result, { tools: [] });
  });
}

/** The SDK v2 fixture (a 2026-07-28 server), closed with each test's servers. */
async function modernFixture(): Promise<Awaited<ReturnType<typeof startModernServer>>> {
  const modern = await startModernServer();
  servers.push({ url: modern.url, requests: [], cutConnections: () => {}, close: () => modern.close() });
  return modern;
}

/**
 * A 2026-07-28 server (the SDK v2 fixture) behind a proxy that spoils the first `server/discover`
 * as `spoil` says and passes everything else.
 */
async function modernBehind(spoil: (res: ServerResponse) => void): Promise<{ url: string; discovers(): number }> {
  const target = new URL((await modernFixture()).url);
  let discovers = 0;
  const proxy = await startRawServer((req, res, _body, text) => {
    if (req.headers["mcp-method"] === "server/discover" && ++discovers === 1) return spoil(res);
    const upstream = httpRequest({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode!, answer.headers);
      answer.pipe(res);
    });
    upstream.end(text);
  });
  servers.push(proxy);
  return { url: proxy.url, discovers: () => discovers };
}

for (const [what, spoil] of [
  ["answered HTTP 500", (res: ServerResponse) => void res.writeHead(500).end("temporarily unavailable")],
  ["answered HTTP 502 with a page", (res: ServerResponse) => void res.writeHead(502, { "content-type": "text/html" }).end("<html>Bad Gateway</html>")],
  ["broke off its answer", (res: ServerResponse) => void res.writeHead(200, { "content-type": "application/json" }).write('{"jsonrpc":')],
] as const) {
  test(`a modern server whose first server/discover ${what}: that initialize fails saying so, the next one finds the server modern`, { timeout: 60_000 }, async () => {
    const server = await modernBehind(spoil);
    const local = startLocal(["connect", server.url, "--timeout", "2s"]);
    local.send({ ...INITIALIZE, id: 1 });
    const failed = await local.answer(1, ANSWERED_WITHIN_MS);
    assert.match(failed.error?.message ?? "", /server\/discover failed \(.*\), and legacy MCP did not answer either .*; the next initialize asks again/, JSON.stringify(failed));
    local.send({ ...INITIALIZE, id: 2 });
    const answer = await local.answer(2, ANSWERED_WITHIN_MS);
    assert.equal(answer.result?.serverInfo?.name, "sdk-v2-modern-server", JSON.stringify(answer));
    assert.equal(server.discovers(), 2);
    local.send({ jsonrpc: "2.0", method: "notifications/initialized" });
    local.send({ jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "echo", arguments: { text: "modern after all" } } });
    assert.equal((await local.answer(3, ANSWERED_WITHIN_MS)).result?.content?.[0]?.text, "modern after all", local.stderr());
  });
}

test("server/discover answered 503 with a Retry-After longer than client.timeout: not waited for (it was, three times), and the legacy server is served", { timeout: 60_000 }, async () => {
  let discovers = 0;
  const server = await legacyServer(() => false);
  // In front of it: server/discover always busy for 20 s.
  const busy = await startRawServer((req, res, body, text) => {
    if ((body as Record<string, any> | undefined)?.method === "server/discover") {
      discovers++;
      return void res.writeHead(503, { "retry-after": "20" }).end();
    }
    const upstream = httpRequest(server.url, { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode!, answer.headers);
      answer.pipe(res);
    });
    upstream.end(text);
  });
  servers.push(busy);
  const local = startLocal(["connect", busy.url, "--timeout", "2s"]);
  local.send({ ...INITIALIZE, id: 1 });
  // Held for 3 × 20 s before, past the SDK client's own 60 s timeout.
  assert.deepEqual((await local.answer(1, ANSWERED_WITHIN_MS)).result, INITIALIZE_RESULT, local.stderr());
  assert.equal(discovers, 1);
});

for (const [format, reply] of [
  ["a JSON body", (res: ServerResponse, payload: string) => res.writeHead(200, { "content-type": "application/json" }).end(payload)],
  ["one SSE event", (res: ServerResponse, payload: string) => res.writeHead(200, { "content-type": "text/event-stream" }).end(`event: message\ndata: ${payload}\n\n`)],
] as const) {
  test(`an answer that is ${format} of 500,000 tiny messages is refused before it is parsed or written, and the bridge keeps serving`, { timeout: 60_000 }, async () => {
    const server = await legacyServer((_req, res, message) => {
      if (message.method !== "tools/call") return false;
      const flood = `{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"x"}},`.repeat(500_000);
      reply(res, `[${flood}{"jsonrpc":"2.0","id":${message.id},"result":{"content":[]}}]`);
      return true;
    });
    const local = startLocal(["connect", server.url, "--timeout", "2s", "--transport", "streamable_http"]);
    await local.handshake();
    local.send({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "flood", arguments: {} } });
    const refused = await local.answer(1, ANSWERED_WITHIN_MS);
    assert.match(refused.error?.message ?? "", /is a batch of more than 100 messages/, JSON.stringify(refused).slice(0, 500));
    assert.ok(!local.lines().some((line) => line.includes("notifications/message")), "none of the flood reached the local client");
    local.send({ jsonrpc: "2.0", id: 2, method: "ping" });
    assert.deepEqual((await local.answer(2)).result, {});
  });
}

test("a server that copies the token into a refused Mcp-Session-Id: the token reaches neither stderr nor the local client", { timeout: 60_000 }, async () => {
  const server = await startRawServer((req, res, body) => {
    const message = body as Record<string, any>;
    const token = (req.headers.authorization ?? "").replace(/^Bearer /, "");
    if (message?.method === "server/discover") return void res.writeHead(400).end();
    // Too long to be used, its head the token the bridge sent.
    if (message?.method === "initialize") return json(res, { jsonrpc: "2.0", id: message.id, result: INITIALIZE_RESULT }, { "mcp-session-id": `${token}-${"x".repeat(2000)}` });
    res.writeHead(400).end();
  });
  servers.push(server);
  const local = startLocal(["connect", server.url, "--timeout", "2s", "--transport", "streamable_http", "--token-env", "REMOTE_TOKEN", "--log-level", "debug"], { REMOTE_TOKEN: TOKEN });
  local.send({ ...INITIALIZE, id: 1 });
  const refused = await local.answer(1, ANSWERED_WITHIN_MS);
  assert.match(refused.error?.message ?? "", /Mcp-Session-Id is longer than 1024 characters.*\[redacted\]/, JSON.stringify(refused));
  assert.ok(!local.stdout().includes(TOKEN), local.stdout());
  assert.ok(!local.stderr().includes(TOKEN), local.stderr());
});

test("a modern server that copies the token into the method of a request it may not send: the warning names the method with the token redacted", { timeout: 60_000 }, async () => {
  const server = await startRawServer((req, res, body) => {
    const message = body as Record<string, any>;
    const reply = (result: unknown) => json(res, { jsonrpc: "2.0", id: message.id, result });
    if (message?.method === "server/discover") return reply({ supportedVersions: ["2026-07-28"], capabilities: { tools: {} }, _meta: { "io.modelcontextprotocol/serverInfo": { name: "copycat", version: "1" } }, resultType: "complete" });
    if (message?.method !== "tools/call") return reply({ resultType: "complete", tools: [] });
    // Modern servers ask through input_required: a request on a reply stream is dropped, and said so.
    const asked = { jsonrpc: "2.0", id: 5, method: `ask/${req.headers.authorization}` };
    res.writeHead(200, { "content-type": "text/event-stream" }).end(`data: ${JSON.stringify(asked)}\n\ndata: ${JSON.stringify({ jsonrpc: "2.0", id: message.id, result: { resultType: "complete", content: [] } })}\n\n`);
  });
  servers.push(server);
  const local = startLocal(["connect", server.url, "--timeout", "2s", "--token-env", "REMOTE_TOKEN"], { REMOTE_TOKEN: TOKEN });
  await local.handshake();
  local.send({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "ask", arguments: {} } });
  assert.deepEqual((await local.answer(1, ANSWERED_WITHIN_MS)).result, { content: [] });
  await waitFor(() => /dropped a request the modern server sent on a reply stream/.test(local.stderr()), "the warning");
  assert.match(local.stderr(), /method="ask\/Bearer \[redacted\]"/, local.stderr());
  assert.ok(!local.stderr().includes(TOKEN) && !local.stdout().includes(TOKEN));
});

test("a request before any initialize gets the server's answer and decides no era: the initialize after it finds a modern server modern", { timeout: 60_000 }, async () => {
  const modern = await modernFixture();
  const local = startLocal(["connect", modern.url, "--timeout", "2s"]);
  local.send({ jsonrpc: "2.0", id: 1, method: "tools/list" });
  // Sent as a legacy request without a session, which a 2026-07-28 server refuses.
  assert.ok((await local.answer(1, ANSWERED_WITHIN_MS)).error, local.stderr());
  local.send({ ...INITIALIZE, id: 2 });
  assert.equal((await local.answer(2, ANSWERED_WITHIN_MS)).result?.serverInfo?.name, "sdk-v2-modern-server", local.stderr());
});
