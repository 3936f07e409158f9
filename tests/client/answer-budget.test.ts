/**
 * @module Client mode's answer budget (client.max_answer_bytes_in_flight, the answers the bridge
 * holds at once) against a hostile remote server and a local client that does not read: answers
 * side by side, batches keeping large answers, a server's request or event past the budget. Apart
 * from hostile-remote.test.ts (whose helpers it shares, raw-local.ts) because these tests are most
 * of that file's time: the two files run side by side.
 *
 * Most bridges here run with an eighth of the default limits (see DEFAULT_REFUSED for the two
 * that do not), in the defaults' proportions: messages of
 * 64 units and 256 units held at once, a unit being 128 KiB (the defaults' unit is a MiB). The
 * tests move an eighth of the data they would at the defaults.
 */
import assert from "node:assert/strict";
import type { ServerResponse } from "node:http";
import { test } from "node:test";
import { writeConfig } from "../support/bridge.ts";
import { waitFor } from "./support.ts";
import { startRawServer } from "./sdk-servers.ts";
import { answerAsLegacy, endWithEachTest, INITIALIZE_RESULT, keepLargeAnswers, legacyServer, servers, startLocal, toolCall, type LegacyMessage } from "./raw-local.ts";

endWithEachTest();

const UNIT = 128 * 1024;
/** client.max_answer_bytes_in_flight, as the refusals name it. */
const BUDGET = 256 * UNIT;
const REFUSED = new RegExp(`answers held at once.*${BUDGET} bytes.*client\\.max_answer_bytes_in_flight`);
/**
 * The refusal at the default limits (256 MiB), for the two tests that run at them: their answers
 * are held while still being read, and at an eighth of the data the kernel's socket buffers (a few
 * MB not yet read) would be a share of the budget large enough to change what fits.
 */
const DEFAULT_REFUSED = /answers held at once.*268435456 bytes.*client\.max_answer_bytes_in_flight/;

/**
 * Arguments running client mode for `url` with a config file of the limits above (64 and 256
 * units); `settings` adds to the `client` section, `debug` logs at debug level.
 */
function limited(url: string, settings: Record<string, string> = {}, debug = false): string[] {
  const client = { url, max_message_size: 64 * UNIT, max_answer_bytes_in_flight: BUDGET, ...settings };
  return ["-c", writeConfig({ mode: "client", log: { level: debug ? "debug" : "warn" }, client })];
}

test("answers read side by side (JSON bodies and SSE events) adding up to more than the bridge may hold at once: those past the limit get an error naming it, the rest succeed, the bridge serves on", { timeout: 300_000 }, async () => {
  // Six answers of 63 units (each within the 64-unit message limit; 378 in all, against 256 held
  // at once), each padded with whitespace before its JSON: the bridge holds every padding it has read.
  const COUNT = 6;
  const padding = Buffer.alloc(63 * UNIT, " ");
  const flushed: Array<Promise<void>> = [];
  let allFlushed!: () => void;
  const everyPaddingSent = new Promise<void>((resolve) => (allFlushed = resolve));
  const server = await legacyServer((res, message) => {
    const sse = Number(message.id) % 2 === 0;
    res.writeHead(200, { "content-type": sse ? "text/event-stream" : "application/json" });
    if (sse) res.write("data: ");
    // Flushed to the socket (or refused by the bridge) means the bridge has read all but what the kernel buffers.
    flushed.push(new Promise<void>((resolve) => (res.write(padding, () => resolve()), res.once("close", resolve))));
    if (flushed.length === COUNT) void Promise.all(flushed).then(allFlushed);
    const answer = JSON.stringify({ jsonrpc: "2.0", id: message.id, result: {} });
    // The answers end only once every padding was sent: until then the bridge holds them side by side.
    void everyPaddingSent.then(() => res.end(sse ? `${answer}\n\n` : answer));
  });
  const local = startLocal(limited(server.url));
  await local.handshake();
  const ids = Array.from({ length: COUNT }, (_, i) => i + 1);
  for (const id of ids) local.send({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "big", arguments: {} } });
  const answers = await Promise.all(ids.map((id) => local.answer(id, 240_000)));
  const refused = answers.filter((answer) => answer.error);
  assert.ok(refused.length >= 1 && refused.length < COUNT, JSON.stringify(answers));
  for (const answer of refused) assert.match(answer.error.message, REFUSED, JSON.stringify(answer));
  for (const answer of answers.filter((answer) => !answer.error)) assert.deepEqual(answer.result, {});
  // The refused answers' bytes were released: another large answer fits.
  local.send({ jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "big", arguments: {} } });
  assert.deepEqual((await local.answer(7, 120_000)).result, {});
});

test("batches each keeping a large answer while their other request is slow: past the answer budget the large ones become an error naming it, the rest succeed", { timeout: 300_000 }, async () => {
  // Five batches of a 60-unit answer and a slow one, read one after another: each batch keeps its
  // large answer until the slow one comes, 300 units in all against 256 held at once.
  const COUNT = 5;
  const big = "x".repeat(60 * UNIT);
  const slow: Array<() => void> = [];
  const server = await legacyServer((res, message) => {
    const reply = (result: object) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: message.id, result }));
    if ((message as { params?: { name?: string } }).params?.name === "slow") return void slow.push(() => reply({ content: [] }));
    reply({ content: [{ type: "text", text: big }] });
  });
  const local = startLocal(limited(server.url, {}, true));
  await local.handshake();
  await keepLargeAnswers(local, COUNT);
  await waitFor(() => slow.length === COUNT, "the slow requests");
  for (const answer of slow) answer();
  const lines = (await waitFor(() => {
    const complete = local.lines().filter((line) => line.startsWith("["));
    return complete.length === COUNT && complete;
  }, "the batches' answers", 120_000)) as string[];
  const answers = lines.flatMap((line) => JSON.parse(line) as Array<{ id: number; result?: { content: Array<{ text: string }> }; error?: { message: string } }>).filter((answer) => answer.id < 200);
  const refused = answers.filter((answer) => answer.error);
  assert.ok(refused.length >= 1 && refused.length < COUNT, JSON.stringify(answers.map((answer) => answer.error ?? answer.id)));
  for (const answer of refused) assert.match(answer.error!.message, REFUSED);
  for (const answer of answers.filter((answer) => !answer.error)) assert.equal(answer.result?.content[0]?.text.length, big.length);
  // Released once written: another batch with a large answer fits.
  local.send([toolCall(301, "big")]);
  await waitFor(() => local.stdout().includes('[{"jsonrpc":"2.0","id":301,"result"'), "the later batch's answer", 120_000);
});

test("a local client not reading stdout while large answers come one after another: past the answer budget they become an error naming it, not a pile in stdout's buffer", { timeout: 300_000 }, async () => {
  // Seven answers of 50 units, each read alone (the next is sent once the last was taken), all
  // written towards a local client that reads nothing until the last was sent: 350 units to queue.
  const COUNT = 7;
  const big = "x".repeat(50 * UNIT);
  let previous = Promise.resolve();
  let sent = 0;
  const server = await legacyServer((res, message) => {
    const body = JSON.stringify({ jsonrpc: "2.0", id: message.id, result: { content: [{ type: "text", text: big }] } });
    previous = previous.then(() => new Promise<void>((resolve) => res.writeHead(200, { "content-type": "application/json" }).end(body, () => (sent++, resolve()))));
  });
  const local = startLocal(limited(server.url));
  await local.handshake();
  local.stopReading();
  const ids = Array.from({ length: COUNT }, (_, i) => i + 1);
  for (const id of ids) local.send({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "big", arguments: {} } });
  await waitFor(() => sent === COUNT, "every answer sent", 120_000);
  local.startReading();
  const lines = (await waitFor(() => {
    const complete = local.lines();
    return complete.length === COUNT + 1 && complete;
  }, "the answers", 120_000)) as string[];
  const answers = lines.map((line) => JSON.parse(line) as { id: number; result?: { content: Array<{ text: string }> }; error?: { message: string } }).filter((answer) => answer.id !== 0);
  assert.deepEqual(answers.map((answer) => answer.id).sort((a, b) => a - b), ids);
  const refused = answers.filter((answer) => answer.error);
  assert.ok(refused.length >= 1 && refused.length < COUNT, JSON.stringify(answers.map((answer) => answer.error ?? answer.id)));
  for (const answer of refused) assert.match(answer.error!.message, REFUSED);
  for (const answer of answers.filter((answer) => !answer.error)) assert.equal(answer.result?.content[0]?.text.length, big.length);
  local.send({ jsonrpc: "2.0", id: 8, method: "ping" });
  await waitFor(() => local.stdout().includes('{"jsonrpc":"2.0","id":8,"result":{}}'), "the later answer");
});

test("a server's request for the local client arriving on a reply stream while answers being read hold most of the answer budget: the server gets an error answer naming the limit, not silence", { timeout: 300_000 }, async () => {
  // Four JSON answers of 60 MiB the server starts and never ends hold 240 MiB of the 256 MiB
  // budget; a request of 50 MiB on a call's event stream cannot be read beside them: skipped, and
  // refused to the server (before, the whole call failed and the request went unanswered).
  const partial = Buffer.from(`{"jsonrpc":"2.0","id":0,"result":{"content":[{"type":"text","text":"${"x".repeat(60 * 1024 * 1024)}`);
  let stalled = 0;
  let refusal: { id?: unknown; error?: { message?: string } } | undefined;
  const server = await legacyServer((res, message) => {
    if (message.method === undefined) {
      // The local side's answer to the server's request.
      if (message.id === "srv-ask-1") refusal = message as typeof refusal;
      return void res.writeHead(202).end();
    }
    if ((message as { params?: { name?: string } }).params?.name === "ask") {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(`data: ${JSON.stringify({ jsonrpc: "2.0", id: "srv-ask-1", method: "ping", params: { _meta: { pad: "y".repeat(50 * 1024 * 1024) } } })}\n\n`);
      return;
    }
    res.writeHead(200, { "content-type": "application/json" });
    res.write(partial, () => stalled++);
  });
  const local = startLocal(["connect", server.url]);
  await local.handshake();
  for (const id of [1, 2, 3, 6]) local.send({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "stall", arguments: {} } });
  await waitFor(() => stalled === 4, "the answers started", 120_000);
  local.send({ jsonrpc: "2.0", id: 4, method: "tools/call", params: { name: "ask", arguments: {} } });
  await waitFor(() => refusal !== undefined, "the server's request answered", 120_000);
  assert.match(refusal!.error?.message ?? "", DEFAULT_REFUSED, JSON.stringify(refusal));
  assert.ok(!local.stdout().includes("srv-ask-1"), "the request did not reach the local client");
  local.send({ jsonrpc: "2.0", id: 5, method: "ping" });
  await waitFor(() => local.stdout().includes('{"jsonrpc":"2.0","id":5,"result":{}}'), "a later answer");
});

/** A big answer of `chars` characters to `id`, as a batch of the local client's keeps it. */
const bigAnswer = (id: number | string, chars: number) => JSON.stringify({ jsonrpc: "2.0", id, result: { content: [{ type: "text", text: "x".repeat(chars) }] } });

test("HTTP+SSE: events past the answer budget on the one event stream (a notification, an answer, a server's request): each alone fails, named by the limit; the stream and the requests waiting on it go on", { timeout: 300_000 }, async () => {
  // Four batches keep an answer of 50 units each until their slow request is answered: 200 of the
  // 256 units of the budget. Then three events of 60 units (each within the 64-unit message limit)
  // come on the stream every request shares, then small answers.
  const BATCHES = 4;
  const big = 50 * UNIT;
  const pad = "y".repeat(60 * UNIT);
  let stream: ServerResponse | undefined;
  let gets = 0;
  const slow: Array<() => void> = [];
  let refusal: { id?: unknown; error?: { message?: string; data?: { reason?: string } } } | undefined;
  const server = await startRawServer((req, res, body) => {
    if (req.method === "GET") {
      // A second stream would be a session lost: refused, so that nothing can pass for the first one.
      if (++gets > 1) return void res.writeHead(503).end();
      stream = res.writeHead(200, { "content-type": "text/event-stream" });
      return void stream.write("event: endpoint\ndata: /messages\n\n");
    }
    res.writeHead(202).end();
    const message = body as { id?: number | string; method?: string; params?: { name?: string } };
    const send = (payload: string) => stream!.write(`data: ${payload}\n\n`);
    if (message.method === undefined) {
      if (message.id === "srv-ask-1") refusal = message as typeof refusal;
      return;
    }
    if (message.id === undefined) return;
    if (message.method === "initialize") return void send(JSON.stringify({ jsonrpc: "2.0", id: message.id, result: INITIALIZE_RESULT }));
    if (message.method === "ping") return void send(JSON.stringify({ jsonrpc: "2.0", id: message.id, result: {} }));
    const name = message.params?.name;
    if (name === "big") return void send(bigAnswer(message.id, big));
    if (name === "slow") return void slow.push(() => send(JSON.stringify({ jsonrpc: "2.0", id: message.id, result: { content: [] } })));
    // Each with its id where servers put it: the TypeScript SDK's last, others' first.
    send(JSON.stringify({ method: "notifications/message", params: { level: "info", data: pad }, jsonrpc: "2.0" }));
    send(JSON.stringify({ result: { content: [{ type: "text", text: pad }] }, jsonrpc: "2.0", id: message.id }));
    send(JSON.stringify({ jsonrpc: "2.0", id: "srv-ask-1", method: "ping", params: { _meta: { pad } } }));
  });
  servers.push(server);
  const local = startLocal(limited(server.url, { transport: "sse" }, true));
  await local.handshake();
  await keepLargeAnswers(local, BATCHES);
  await waitFor(() => slow.length === BATCHES, "the slow requests");
  local.send(toolCall(50, "oversized"));
  const failed = await local.answer(50, 120_000);
  assert.match(failed.error?.message ?? "", REFUSED, JSON.stringify(failed));
  assert.equal(failed.error?.data?.reason, "capacity");
  await waitFor(() => refusal !== undefined, "the server's request answered", 120_000);
  assert.match(refusal!.error?.message ?? "", REFUSED, JSON.stringify(refusal));
  assert.equal(refusal!.error?.data?.reason, "capacity");
  assert.match(local.stderr(), /dropped a message from the remote server: it would take the answers held at once past their limit.*kind=notification/);
  assert.ok(!local.stdout().includes("srv-ask-1") && !local.stdout().includes("notifications/message"), "a skipped message reached the local client");
  // The stream goes on: a new request is answered on it, and so are those that waited all along.
  local.send({ jsonrpc: "2.0", id: 60, method: "ping" });
  assert.deepEqual((await local.answer(60, 60_000)).result, {});
  for (const answer of slow) answer();
  const lines = (await waitFor(() => {
    const complete = local.lines().filter((line) => line.startsWith("["));
    return complete.length === BATCHES && complete;
  }, "the batches' answers", 120_000)) as string[];
  for (const answers of lines.map((line) => JSON.parse(line) as Array<{ id: number; result?: { content: Array<{ text: string }> }; error?: unknown }>)) {
    assert.equal(answers.length, 2);
    assert.equal(answers.find((answer) => answer.id < 200)?.result?.content[0]?.text.length, big, JSON.stringify(answers.map((answer) => answer.error ?? answer.id)));
    assert.deepEqual(answers.find((answer) => answer.id > 200)?.result, { content: [] });
  }
  assert.equal(gets, 1);
});

test("a GET stream with events past the answer budget (a server's request, a notification): each alone is dropped, the request answered with an error naming the limit; the stream goes on", { timeout: 300_000 }, async () => {
  // Four JSON answers of 60 MiB the server starts and never ends hold 240 MiB of the 256 MiB budget.
  const partial = Buffer.from(`{"jsonrpc":"2.0","id":0,"result":{"content":[{"type":"text","text":"${"x".repeat(60 * 1024 * 1024)}`);
  const pad = "y".repeat(30 * 1024 * 1024);
  let stream: ServerResponse | undefined;
  let stalled = 0;
  let refusal: { id?: unknown; error?: { message?: string; data?: { reason?: string } } } | undefined;
  const server = await startRawServer((req, res, body) => {
    if (req.method === "GET") {
      res.writeHead(200, { "content-type": "text/event-stream" }).flushHeaders();
      // Only the first GET stream carries anything: a reopened one must not stand in for it.
      stream ??= res;
      return;
    }
    if (req.method !== "POST") return void res.writeHead(405).end();
    const message = body as LegacyMessage & { params?: { name?: string } };
    if (message.method === undefined) {
      if (message.id === "srv-ask-1") refusal = message as typeof refusal;
      return void res.writeHead(202).end();
    }
    if (message.method !== "tools/call") return answerAsLegacy(res, message);
    res.writeHead(200, { "content-type": "application/json" });
    res.write(partial, () => stalled++);
  });
  servers.push(server);
  const local = startLocal(["connect", server.url, "--timeout", "300s"]);
  await local.handshake();
  await waitFor(() => stream, "the GET stream");
  for (const id of [1, 2, 3, 4]) local.send({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "stall", arguments: {} } });
  await waitFor(() => stalled === 4, "the answers started", 120_000);
  stream!.write(`data: ${JSON.stringify({ jsonrpc: "2.0", id: "srv-ask-1", method: "ping", params: { _meta: { pad } } })}\n\n`);
  stream!.write(`data: ${JSON.stringify({ method: "notifications/message", params: { level: "info", data: pad }, jsonrpc: "2.0" })}\n\n`);
  stream!.write(`data: ${JSON.stringify({ jsonrpc: "2.0", id: "srv-ask-2", method: "ping" })}\n\n`);
  await waitFor(() => refusal !== undefined, "the server's request answered", 120_000);
  assert.match(refusal!.error?.message ?? "", DEFAULT_REFUSED, JSON.stringify(refusal));
  assert.equal(refusal!.error?.data?.reason, "capacity");
  // The stream went on: the next message of the server's reaches the local client.
  await waitFor(() => local.stdout().includes('"id":"srv-ask-2"'), "the server's later request", 120_000);
  assert.ok(!local.stdout().includes("srv-ask-1") && !local.stdout().includes("notifications/message"), "a skipped message reached the local client");
  assert.match(local.stderr(), /dropped a message from the remote server: it would take the answers held at once past their limit.*kind=notification/);
});

test("a modern server's rounds waiting for the local client's input, each with a large requestState: they count against the answer budget, so the call past it fails naming it, and an answered round gives its share back", { timeout: 120_000 }, async () => {
  // Each call is answered with input_required and a requestState of 60 units: five waiting rounds
  // would hold 300 of the 256 units (before, what waited for a person was not counted, and a
  // server could fill the heap with rounds nobody answers).
  const state = "s".repeat(60 * UNIT);
  const server = await startRawServer((_req, res, body) => {
    const message = body as { id?: number | string; method: string; params?: { inputResponses?: unknown } };
    if (message.id === undefined) return void res.writeHead(202).end();
    const result =
      message.method === "server/discover"
        ? { supportedVersions: ["2026-07-28"], capabilities: { tools: {} }, resultType: "complete", ttlMs: 0, cacheScope: "public" }
        : message.params?.inputResponses
          ? { resultType: "complete", content: [] }
          : { resultType: "input_required", inputRequests: { name: { method: "elicitation/create", params: { message: "name?", requestedSchema: { type: "object", properties: {} } } } }, requestState: state };
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: message.id, result }));
  });
  servers.push(server);
  const local = startLocal(limited(server.url));
  await local.handshake({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: { elicitation: {} }, clientInfo: { name: "raw", version: "1" } } });
  const questions = () => local.lines().filter((line) => line.includes('"method":"elicitation/create"'));
  for (let id = 1; id <= 4; id++) {
    local.send({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "ask", arguments: {} } });
    await waitFor(() => questions().length === id, `call ${id}'s question`);
  }
  local.send({ jsonrpc: "2.0", id: 5, method: "tools/call", params: { name: "ask", arguments: {} } });
  assert.match((await local.answer(5)).error?.message ?? "", REFUSED);
  // The first round answered, its share is free again: another call waits for its answer as the others do.
  local.send({ jsonrpc: "2.0", id: JSON.parse(questions()[0]!).id, result: { action: "accept", content: {} } });
  assert.deepEqual((await local.answer(1)).result, { content: [] });
  local.send({ jsonrpc: "2.0", id: 6, method: "tools/call", params: { name: "ask", arguments: {} } });
  await waitFor(() => questions().length === 5, "call 6's question");
});

test("an answer larger than half the answer budget, set as low as client.max_message_size: delivered whole (a JSON body, an SSE event, in a batch), not refused as if held twice on its way to stdout", { timeout: 120_000 }, async () => {
  // The budget equals the message limit (64 units; the lowest the cross-key rule allows), and each
  // answer takes 40 of it. Before, the body an answer was read from stayed held while its line for
  // stdout (or its batch's array) was held too: 80 units, refused.
  const big = "x".repeat(40 * UNIT);
  const server = await legacyServer((res, message) => {
    const answer = JSON.stringify({ jsonrpc: "2.0", id: message.id, result: { content: [{ type: "text", text: big }] } });
    if (Number(message.id) % 2 === 0) res.writeHead(200, { "content-type": "text/event-stream" }).end(`data: ${answer}\n\n`);
    else res.writeHead(200, { "content-type": "application/json" }).end(answer);
  });
  const local = startLocal(limited(server.url, { max_answer_bytes_in_flight: `${(64 * UNIT) / 1024}KiB` }));
  await local.handshake();
  for (const id of [1, 2]) {
    local.send(toolCall(id, "big"));
    const answer = await local.answer(id, 60_000);
    assert.equal(answer.result?.content[0]?.text.length, big.length, `${id % 2 === 0 ? "SSE event" : "JSON body"}: ${JSON.stringify(answer.error)}`);
  }
  for (const id of [3, 4]) {
    local.send([toolCall(id, "big"), { jsonrpc: "2.0", id: id + 100, method: "ping" }]);
    const line = (await waitFor(() => local.lines().find((text) => text.startsWith("[") && text.includes(`"id":${id + 100},`)), `the batch with ${id}`, 60_000)) as string;
    const answer = (JSON.parse(line) as Array<{ id: number; result?: { content: Array<{ text: string }> }; error?: unknown }>).find((item) => item.id === id);
    assert.equal(answer?.result?.content[0]?.text.length, big.length, `a batch's ${id % 2 === 0 ? "SSE event" : "JSON body"}: ${JSON.stringify(answer?.error)}`);
  }
});
