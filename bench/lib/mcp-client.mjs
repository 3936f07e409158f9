// A minimal MCP Streamable HTTP client for benchmarks: node:http, a caller-supplied keep-alive
// Agent, JSON or SSE replies, and strict checks of every reply. No SDK: the client must cost as
// little as possible and the same for every target.
import http from "node:http";

export const PROTOCOL_VERSION = "2025-06-18";
export const ACCEPT = {
  both: "application/json, text/event-stream",
  json: "application/json",
  sse: "text/event-stream",
};

let replyTimeoutMs = 5000;
/** Sets how long a reply may take (5 s unless set): a target under valgrind needs longer. */
export function setReplyTimeout(ms) {
  replyTimeoutMs = ms;
}

const targets = new Map();
/** host/port/path of a URL, parsed once: http.request(url) would parse it on every call. */
function target(url) {
  let found = targets.get(url);
  if (!found) {
    const parsed = new URL(url);
    found = { hostname: parsed.hostname, port: Number(parsed.port) || 80, path: parsed.pathname + parsed.search };
    targets.set(url, found);
  }
  return found;
}

/**
 * POSTs `body` (a string); resolves { status, headers, text }. Rejects on socket errors.
 * `headers` must carry content-type; content-length is set on it (the object is reused per session).
 */
export function post(agent, url, body, headers) {
  const { hostname, port, path } = target(url);
  headers["content-length"] = Buffer.byteLength(body);
  return new Promise((resolve, reject) => {
    const request = http.request(
      { hostname, port, path, method: "POST", agent, headers },
      (response) => {
        const chunks = [];
        response.on("data", (chunk) => chunks.push(chunk));
        response.on("end", () => {
          resolve({ status: response.statusCode, headers: response.headers, text: chunks.length === 1 ? chunks[0].toString("utf8") : Buffer.concat(chunks).toString("utf8") });
        });
        response.on("error", reject);
      },
    );
    request.on("error", reject);
    // A reply that never comes is an error, not a hang: the socket is dropped after replyTimeoutMs.
    const timeoutMs = replyTimeoutMs;
    request.setTimeout(timeoutMs, () => request.destroy(new Error(`no reply within ${timeoutMs} ms`)));
    request.end(body);
  });
}

/**
 * The JSON-RPC messages of a reply: the body itself for JSON, the `data:` of every non-empty
 * event for SSE (priming events carry no data).
 */
export function replyMessages(contentType, text) {
  if (contentType && contentType.startsWith("text/event-stream")) {
    const messages = [];
    for (const block of text.split("\n\n")) {
      let data;
      for (const line of block.split("\n")) {
        if (line.startsWith("data:")) data = (data === undefined ? "" : data + "\n") + line.slice(line[5] === " " ? 6 : 5);
      }
      if (data) messages.push(JSON.parse(data));
    }
    return messages;
  }
  if (!text) return [];
  const body = JSON.parse(text);
  return Array.isArray(body) ? body : [body];
}

/** The response to request `id` in a reply, or throws with what was wrong. */
export function responseFor(reply, id) {
  if (reply.status !== 200) throw new Error(`HTTP ${reply.status}: ${reply.text.slice(0, 200)}`);
  const messages = replyMessages(reply.headers["content-type"], reply.text);
  const message = messages.find((m) => m.id === id && m.method === undefined);
  if (!message) throw new Error(`no response with id ${id} in reply: ${reply.text.slice(0, 200)}`);
  if (message.error) throw new Error(`JSON-RPC error ${message.error.code}: ${message.error.message}`);
  return message;
}

export function authHeaders(token, apiKey) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (apiKey) headers["x-api-key"] = apiKey;
  return headers;
}

/** initialize + notifications/initialized; resolves the session id (undefined if the server is stateless). */
export async function openSession(agent, url, { token, apiKey, accept = "both" } = {}) {
  const base = { "content-type": "application/json", accept: ACCEPT[accept], ...authHeaders(token, apiKey) };
  const init = JSON.stringify({
    jsonrpc: "2.0",
    id: 0,
    method: "initialize",
    params: { protocolVersion: PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: "mcp-bridge-bench", version: "1" } },
  });
  const reply = await post(agent, url, init, { ...base });
  const result = responseFor(reply, 0).result;
  if (!result?.protocolVersion) throw new Error("initialize result has no protocolVersion");
  const sessionId = reply.headers["mcp-session-id"];
  const headers = { ...base, "mcp-protocol-version": PROTOCOL_VERSION };
  if (sessionId) headers["mcp-session-id"] = sessionId;
  const note = await post(agent, url, JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }), { ...headers });
  if (note.status !== 202 && note.status !== 200) throw new Error(`notifications/initialized: HTTP ${note.status} ${note.text.slice(0, 200)}`);
  return { sessionId, headers };
}

export function echoRequest(id, text) {
  return JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "echo", arguments: { text } } });
}

/** Checks an echo response: the id and the text must come back unchanged. */
export function checkEcho(message, text) {
  const content = message.result?.content;
  if (!Array.isArray(content) || content.length !== 1 || content[0].type !== "text" || content[0].text !== text) {
    throw new Error(`echo came back wrong: ${JSON.stringify(message).slice(0, 200)}`);
  }
}

/** One verified echo call. */
export async function callEcho(agent, url, headers, id, text) {
  const reply = await post(agent, url, echoRequest(id, text), headers);
  checkEcho(responseFor(reply, id), text);
}

export async function deleteSession(agent, url, headers) {
  if (!headers["mcp-session-id"]) return;
  await new Promise((resolve) => {
    const request = http.request(url, { method: "DELETE", agent, headers }, (response) => {
      response.resume();
      response.on("end", resolve);
    });
    request.on("error", resolve);
    request.setTimeout(1000, () => request.destroy());
    request.end();
  });
}
