/**
 * Numbers past 2^53 that a 64-bit client writes (9007199254740993) and a double reads as another
 * (9007199254740992): where the bridge writes an answer from the parsed message, in shared mode
 * and in legacy sessions, such an id or progress token is refused, never echoed changed.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { startBridge, type RunningBridge } from "../support/bridge.ts";
import { call, meta, post, textOf } from "../support/modern.ts";
import { initialize, JSON_HEADERS, logged, misbehaving, scripted, waitFor } from "./support.ts";

/** 2^53 + 1 as written, and the number a double reads it as. */
const BIG = "9007199254740993";
const ROUNDED = "9007199254740992";
/** A number a double reads as 12345678901234567000, and how it reads when serialized again. */
const INEXACT = "12345678901234567890";
const INEXACT_ROUNDED = /12345678901234567000/;

/** raw_line's line: the child's own ping with an id past 2^53, then the call's answer. */
const PING_THEN_ANSWER = `{"jsonrpc":"2.0","id":${BIG},"method":"ping"}\n{"jsonrpc":"2.0","id":ID,"result":{"content":[{"type":"text","text":"pinged"}]}}`;

/** What the bridge answered the child's ping with, as the child received it. */
async function pingAnswer(bridge: RunningBridge): Promise<string> {
  const logs = await logged(bridge, /answer to the server: /);
  return logs.split("\n").find((line) => line.includes("answer to the server: "))!;
}

/** POSTs `text` as written to a session; returns the status and the whole body as text. */
async function postRaw(url: string, session: string, text: string) {
  const response = await fetch(url, { method: "POST", headers: { ...JSON_HEADERS, "mcp-session-id": session, "mcp-protocol-version": "2025-06-18" }, body: text });
  return { status: response.status, text: await response.text() };
}

describe("numbers past 2^53 the bridge would write back changed", () => {
  test("shared mode: a request id past 2^53 is refused naming the limit, not answered under the remapped-back number", async () => {
    const bridge = await startBridge({ server: { mcp_server: scripted(), session: { mode: "shared" } } });
    try {
      const { session } = await initialize(bridge.url);
      const refused = await postRaw(bridge.url, session, `{"jsonrpc":"2.0","id":${BIG},"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}`);
      assert.equal(refused.status, 400, refused.text);
      assert.equal(JSON.parse(refused.text).error.code, -32600);
      assert.match(refused.text, /at most 2\^53 - 1 in magnitude/);
      assert.ok(!refused.text.includes(ROUNDED), refused.text);
      // A string id of the same digits is fine.
      const fine = await postRaw(bridge.url, session, `{"jsonrpc":"2.0","id":"${BIG}","method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}`);
      assert.equal(fine.status, 200, fine.text);
      assert.ok(fine.text.includes(`"id":"${BIG}"`), fine.text);
    } finally {
      await bridge.stop();
    }
  });

  test("shared mode: a progress token past 2^53 is refused Invalid Params, not carried back as the number a double reads", async () => {
    const bridge = await startBridge({ server: { mcp_server: scripted(), session: { mode: "shared" } } });
    try {
      const { session } = await initialize(bridge.url);
      const refused = await postRaw(bridge.url, session, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"chatty","arguments":{"count":2},"_meta":{"progressToken":${BIG}}}}`);
      assert.ok(!refused.text.includes(ROUNDED), refused.text);
      assert.match(refused.text, /"code":-32602/);
      assert.match(refused.text, /progressToken/);
    } finally {
      await bridge.stop();
    }
  });

  test("legacy /sse + /messages: a request id past 2^53 is refused, where a timeout would have answered it under the number a double reads", async () => {
    const bridge = await startBridge({ server: { mcp_server: scripted({ read_timeout: "1s" }) } });
    const controller = new AbortController();
    try {
      const stream = await fetch(`${bridge.origin}/sse`, { headers: { accept: "text/event-stream" }, signal: controller.signal });
      const reader = stream.body!.pipeThrough(new TextDecoderStream()).getReader();
      let events = "";
      void (async () => {
        for (let read = await reader.read(); !read.done; read = await reader.read()) events += read.value;
      })().catch(() => {});
      const endpoint = await waitFor(() => /event: endpoint\ndata: (\S+)/.exec(events)?.[1], "the endpoint event");
      const post = (text: string) => fetch(new URL(endpoint, bridge.origin), { method: "POST", headers: { "content-type": "application/json" }, body: text });
      await post(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2024-11-05", capabilities: {}, clientInfo: { name: "raw", version: "1" } } }));
      await waitFor(() => events.includes('"id":1,'), "the initialize answer");
      await post(JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }));
      // wait without ms never answers: only the bridge's timeout would.
      const refused = await post(`{"jsonrpc":"2.0","id":${BIG},"method":"tools/call","params":{"name":"wait","arguments":{}}}`);
      const body = await refused.text();
      assert.equal(refused.status, 400, body);
      assert.match(body, /at most 2\^53 - 1 in magnitude/);
      // A call that times out after it: its answer is the sign that the refused one would have had its own by now.
      await post(JSON.stringify({ jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "wait", arguments: {} } }));
      await waitFor(() => events.includes('"id":3,'), "the timeout of call 3");
      assert.ok(!events.includes(ROUNDED), events);
    } finally {
      controller.abort();
      await bridge.stop();
    }
  });

  test("a child's own request with an id past 2^53 (shared mode, and a legacy child behind a modern client): refused with a null id, never answered under the number a double reads", async () => {
    const shared = await startBridge({ server: { mcp_server: misbehaving, session: { mode: "shared" } } });
    try {
      const { session } = await initialize(shared.url);
      const answer = await postRaw(shared.url, session, JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "raw_line", arguments: { line: PING_THEN_ANSWER } } }));
      assert.match(answer.text, /pinged/);
      const line = await pingAnswer(shared);
      assert.ok(!line.includes(ROUNDED), line);
      assert.match(line, /\\"id\\":null.*at most 2\^53 - 1 in magnitude/);
    } finally {
      await shared.stop();
    }
    const token = "alice-token-0123456789";
    const modern = await startBridge({ server: { mcp_server: misbehaving, auth: { type: "bearer", bearer: { valid_tokens: [token] } } } });
    try {
      const answer = await call(modern, token, { id: 1, method: "tools/call", params: { name: "raw_line", arguments: { line: PING_THEN_ANSWER }, _meta: meta() } });
      assert.match(JSON.stringify(answer.body), /pinged/);
      const line = await pingAnswer(modern);
      assert.ok(!line.includes(ROUNDED), line);
      assert.match(line, /\\"id\\":null.*at most 2\^53 - 1 in magnitude/);
    } finally {
      await modern.stop();
    }
  });

  test("a number past 2^53 in params reaches the child as written where the line is forwarded as received, and is refused naming where it is wherever the message would be serialized again", async () => {
    const line = (account: string, text = "hi") => `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"text":"${text}","account":${account}}}}`;
    const refusedAt = (answer: { status: number; text: string }, where: string) => {
      assert.equal(answer.status, 400, answer.text);
      assert.equal(JSON.parse(answer.text).error.code, -32602);
      assert.ok(answer.text.includes(`the number at ${where} is an integer past 2^53 - 1`), answer.text);
      assert.match(answer.text, /send it as a string/);
    };
    const perSession = await startBridge({ server: { mcp_server: scripted() } });
    try {
      const { session } = await initialize(perSession.url);
      assert.equal((await postRaw(perSession.url, session, line(BIG))).status, 200, "a compact line goes to the child as written");
      // Pretty-printed (or batched), the body is serialized again on its way.
      refusedAt(await postRaw(perSession.url, session, JSON.stringify(JSON.parse(line("0")), null, 2).replace('"account": 0', `"account": ${BIG}`)), "params.arguments.account");
      // Past a double's range it would have been written as null.
      refusedAt(await postRaw(perSession.url, session, JSON.stringify(JSON.parse(line("0")), null, 2).replace('"account": 0', '"account": 1e400')), "params.arguments.account");
    } finally {
      await perSession.stop();
    }
    const shared = await startBridge({ server: { mcp_server: scripted(), session: { mode: "shared" } } });
    try {
      const { session } = await initialize(shared.url);
      refusedAt(await postRaw(shared.url, session, line(BIG)), "params.arguments.account");
      assert.equal((await postRaw(shared.url, session, line(`"${BIG}"`))).status, 200, "as a string it is fine");
    } finally {
      await shared.stop();
    }
    const token = "alice-token-0123456789";
    const modern = await startBridge({ server: { mcp_server: misbehaving, auth: { type: "bearer", bearer: { valid_tokens: [token] } } } });
    try {
      const message = { jsonrpc: "2.0", id: 8, method: "tools/call", params: { name: "raw_line", arguments: { line: "", account: 0 }, _meta: meta() } };
      const raw = JSON.stringify(message).replace('"account":0', `"account":${BIG}`);
      const response = await post(modern, token, message, { raw });
      refusedAt({ status: response.status, text: await response.text() }, "params.arguments.account");
      // As a string, the digits are no number: the call goes through to the child.
      const answered = '{"jsonrpc":"2.0","id":ID,"result":{"content":[{"type":"text","text":"done"}]}}';
      const asString = await call(modern, token, { ...message, id: 9, params: { ...message.params, arguments: { line: answered, account: BIG } } });
      assert.equal(asString.status, 200, JSON.stringify(asString.body));
      assert.equal(textOf(asString.body.result), "done");
      // A modern notification is acted on by nobody (closing a stream cancels): accepted, forwarded nowhere.
      const notification = { jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 0, _meta: meta() } };
      const cancelled = await post(modern, token, notification, { raw: JSON.stringify(notification, null, 2).replace('"requestId": 0', `"requestId": ${BIG}`) });
      assert.equal(cancelled.status, 202, await cancelled.text());
    } finally {
      await modern.stop();
    }
  });

  test("a number past 2^53 in a child's answer reaches the client as written where the line is passed on under another id, and is an internal error naming where it is wherever the answer would be serialized again", async () => {
    const big = (line: string) => line.replace("BIG", "12345678901234567890");
    // Compact and in the usual key order: passed on as written under the client's id.
    const asWritten = big('{"jsonrpc":"2.0","id":ID,"result":{"content":[{"type":"text","text":"n"}],"account":BIG}}');
    // Keys in another order: the bridge must serialize it again.
    const reordered = big('{"id":ID,"jsonrpc":"2.0","result":{"content":[{"type":"text","text":"n"}],"account":BIG}}');
    const raw = (line: string, id: number, extra: Record<string, unknown> = {}) => ({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "raw_line", arguments: { line }, ...extra } });
    const shared = await startBridge({ server: { mcp_server: misbehaving, session: { mode: "shared" } } });
    try {
      const { session } = await initialize(shared.url);
      const kept = await postRaw(shared.url, session, JSON.stringify(raw(asWritten, 2)));
      assert.ok(kept.text.includes('"account":12345678901234567890'), kept.text);
      const refused = await postRaw(shared.url, session, JSON.stringify(raw(reordered, 3)));
      assert.match(refused.text, /"code":-32603.*the number at result\.account is an integer past 2\^53 - 1/, refused.text);
    } finally {
      await shared.stop();
    }
    const token = "alice-token-0123456789";
    const modern = await startBridge({ server: { mcp_server: misbehaving, auth: { type: "bearer", bearer: { valid_tokens: [token] } } } });
    try {
      const kept = await post(modern, token, raw(asWritten, 4, { _meta: meta() }));
      const keptText = await kept.text();
      assert.ok(keptText.includes('"account":12345678901234567890'), keptText);
      const refused = await call(modern, token, raw(reordered, 5, { _meta: meta() }));
      assert.equal(refused.body.error?.code, -32603, JSON.stringify(refused.body));
      assert.match(refused.body.error?.message ?? "", /the number at result\.account is an integer past 2\^53 - 1/);
    } finally {
      await modern.stop();
    }
  });

  test("a number past 2^53 in what a child sends besides its answers (progress in shared mode and to modern clients, a line ending in a carriage return, a request for input): as written, or dropped or refused naming where, never another number", async () => {
    const progressThenAnswer = `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":TOKEN,"progress":2,"total":${INEXACT}}}\n{"jsonrpc":"2.0","id":ID,"result":{"content":[{"type":"text","text":"done"}]}}`;
    const progressCall = (id: number, extra: Record<string, unknown> = {}) => ({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "raw_line", arguments: { line: progressThenAnswer }, _meta: { progressToken: "p", ...extra } } });
    const shared = await startBridge({ server: { mcp_server: misbehaving, session: { mode: "shared" } } });
    try {
      const { session } = await initialize(shared.url);
      const answer = await postRaw(shared.url, session, JSON.stringify(progressCall(2)));
      assert.match(answer.text, /done/);
      assert.ok(!INEXACT_ROUNDED.test(answer.text), answer.text);
      assert.match(await logged(shared, /dropped a progress notification/), /params\.total/);
      // A carriage return in the child's line (JSON whitespace, a line end in SSE) no longer makes it serialized again.
      const crlf = await postRaw(shared.url, session, JSON.stringify({ jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "raw_line", arguments: { line: `{"jsonrpc":"2.0","id":ID,\r"result":{"content":[],"account":${INEXACT}}}` } } }));
      assert.ok(crlf.text.includes(`"account":${INEXACT}`), crlf.text);
    } finally {
      await shared.stop();
    }
    const token = "alice-token-0123456789";
    const modern = await startBridge({ server: { mcp_server: misbehaving, auth: { type: "bearer", bearer: { valid_tokens: [token] } } } });
    try {
      const text = await (await post(modern, token, progressCall(4, meta()))).text();
      assert.match(text, /done/);
      assert.ok(!INEXACT_ROUNDED.test(text), text);
      assert.match(await logged(modern, /dropped a notification of the MCP server/), /params\.total/);
      // The child asks for input holding one: it would go to the client in inputRequests, serialized again.
      const ask = `{"jsonrpc":"2.0","id":"ask-ID","method":"elicitation/create","params":{"message":"n?","requestedSchema":{"type":"object","properties":{"n":{"type":"integer","maximum":${INEXACT}}}}}}`;
      const asked = await call(modern, token, { jsonrpc: "2.0", id: 5, method: "tools/call", params: { name: "ask_raw", arguments: { line: ask }, _meta: meta() } });
      assert.ok(!INEXACT_ROUNDED.test(JSON.stringify(asked.body)), JSON.stringify(asked.body));
      assert.match(textOf(asked.body.result), /"code":-32602.*the number at params\.requestedSchema\.properties\.n\.maximum is an integer past 2\^53 - 1/);
    } finally {
      await modern.stop();
    }
  });

  test("a child flooding a modern client's call with notifications holding a number past 2^53: each dropped, the log says so a few times, not once per notification", async () => {
    const COUNT = 200;
    const progress = `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":TOKEN,"progress":2,"total":${INEXACT}}}`;
    const line = `${Array.from({ length: COUNT }, () => progress).join("\n")}\n{"jsonrpc":"2.0","id":ID,"result":{"content":[{"type":"text","text":"done"}]}}`;
    const token = "alice-token-0123456789";
    const modern = await startBridge({ server: { mcp_server: misbehaving, auth: { type: "bearer", bearer: { valid_tokens: [token] } } } });
    try {
      const text = await (await post(modern, token, { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "raw_line", arguments: { line }, _meta: { progressToken: "p", ...meta() } } })).text();
      assert.match(text, /done/);
      assert.ok(!INEXACT_ROUNDED.test(text), text);
      await logged(modern, /dropped a notification of the MCP server/);
      const warned = modern.logs().split("\n").filter((entry) => entry.includes("dropped a notification of the MCP server")).length;
      assert.ok(warned >= 1 && warned <= 10, `${warned} warnings for ${COUNT} notifications`);
    } finally {
      await modern.stop();
    }
  });

  test("a number past 2^53 in a child's initialize answer, written again for each shared session and as a modern client's server/discover: an internal error naming where, never another number", async () => {
    const child = { ...misbehaving, env: { ...misbehaving.env, INIT_RESULT: `{"protocolVersion":"2025-06-18","capabilities":{"tools":{}},"serverInfo":{"name":"m","version":"1","build":${INEXACT}}}` } };
    const shared = await startBridge({ server: { mcp_server: child, session: { mode: "shared" } } });
    try {
      const { body } = await initialize(shared.url);
      assert.equal(body.error?.code, -32603, JSON.stringify(body));
      assert.match(body.error?.message ?? "", /the number at result\.serverInfo\.build is an integer past 2\^53 - 1/);
    } finally {
      await shared.stop();
    }
    const token = "alice-token-0123456789";
    const modern = await startBridge({ server: { mcp_server: child, auth: { type: "bearer", bearer: { valid_tokens: [token] } } } });
    try {
      const { body } = await call(modern, token, { jsonrpc: "2.0", id: 1, method: "server/discover", params: { _meta: meta() } });
      assert.equal(body.error?.code, -32603, JSON.stringify(body));
      assert.match(body.error?.message ?? "", /the number at result\.serverInfo\.build is an integer past 2\^53 - 1/);
    } finally {
      await modern.stop();
    }
  });
});
