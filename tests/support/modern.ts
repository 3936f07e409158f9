/**
 * @module Raw modern (2026-07-28) requests to a running bridge, the way a client without an SDK
 * sends them: the envelope in `params._meta`, the standard Mcp-* headers.
 */
import assert from "node:assert/strict";
import { request } from "node:http";
import { startBridge, useBridge, type RunningBridge } from "./bridge.ts";
import { buildFixtures } from "./fixtures.ts";

export const MODERN = "2026-07-28";

/**
 * The bridge's sealed `requestState` ("v1." and base64url) with one bit of its sealed bytes
 * flipped: always another state, whatever the original ends with.
 */
export function tamperedState(state: string): string {
  const bytes = Buffer.from(state.slice("v1.".length), "base64url");
  bytes[bytes.length >> 1]! ^= 1;
  return `v1.${bytes.toString("base64url")}`;
}

/** A JSON-RPC answer as the tests read it. */
export type Body = { id: unknown; result?: Record<string, any>; error?: { code: number; message: string; data?: any } };

export interface PostOptions {
  /** Added to (or replacing) the standard headers. */
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Sent as the body instead of the message. */
  raw?: string;
  accept?: string;
  /** The client's own address (127.x.y.z: another machine, as the bridge sees it); sent through node:http. */
  from?: string;
}

/**
 * A bridge (debug JSON logs) for the enclosing describe's tests, or the file's at top level (see
 * useBridge); `server` gets the built everything server's path and returns the config's `server` section.
 */
export function useDebugBridge(server: (everythingServer: string) => Record<string, unknown>): RunningBridge {
  return useBridge(async () => startBridge({ log: { level: "debug", format: "json" }, server: server((await buildFixtures()).everythingServer) }));
}

/** The `_meta` envelope of a modern request. */
export function meta(capabilities: Record<string, unknown> = { elicitation: {} }) {
  return { "io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": capabilities };
}

/** POSTs a modern request with its standard headers (Mcp-Name from `params.name` or `params.uri`). */
export function post(bridge: RunningBridge, token: string, message: Record<string, any>, options: PostOptions = {}): Promise<Response> {
  const name = message.params?.name ?? message.params?.uri;
  const headers: Record<string, string> = {
    authorization: `Bearer ${token}`,
    "content-type": "application/json",
    accept: options.accept ?? "application/json, text/event-stream",
    "mcp-protocol-version": MODERN,
    "mcp-method": message.method,
    ...(typeof name === "string" && { "mcp-name": name }),
    ...options.headers,
  };
  const body = options.raw ?? JSON.stringify({ jsonrpc: "2.0", ...message });
  if (options.from === undefined) return fetch(bridge.url, { method: "POST", signal: options.signal, headers, body });
  // fetch cannot choose its local address: the whole answer is read (a JSON answer: a stream would
  // not end), then handed over as a Response.
  return new Promise((resolve, reject) => {
    const sent = request(bridge.url, { method: "POST", headers, localAddress: options.from, signal: options.signal }, (answer) => {
      const chunks: Buffer[] = [];
      answer.on("data", (chunk: Buffer) => chunks.push(chunk));
      const status = answer.statusCode ?? 0;
      // A Response with a body cannot say 204, 205 or 304.
      answer.on("end", () => resolve(new Response([204, 205, 304].includes(status) ? null : Buffer.concat(chunks), { status, headers: answer.headers as Record<string, string> })));
      answer.on("error", reject);
    });
    sent.on("error", reject);
    sent.end(body);
  });
}

/** {@link post}, then the status and the JSON body. */
export async function call(bridge: RunningBridge, token: string, message: Record<string, any>, options: PostOptions = {}): Promise<{ status: number; body: Body }> {
  const response = await post(bridge, token, message, options);
  return { status: response.status, body: (await response.json()) as Body };
}

/** The first text block of a tool result, or "". */
export function textOf(result: Record<string, any> | undefined): string {
  return (result?.content as Array<{ type: string; text?: string }> | undefined)?.find((block) => block.type === "text")?.text ?? "";
}

/** Reads an SSE response event by event: `next()` is the next event's data, parsed; it fails when the stream ends first. */
export function eventReader(response: Response): { next(): Promise<Record<string, any>>; cancel(): Promise<void> } {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  return {
    async next() {
      for (;;) {
        const event = /data: (.*)\n\n/.exec(buffered);
        if (event) {
          buffered = buffered.slice(event.index + event[0].length);
          return JSON.parse(event[1]!) as Record<string, any>;
        }
        const { value, done } = await reader.read();
        assert.ok(!done, `the stream ended before its next event: ${buffered}`);
        buffered += decoder.decode(value, { stream: true });
      }
    },
    cancel: () => reader.cancel().catch(() => undefined),
  };
}

/**
 * Runs `body` with a signal that aborts after `ms` (a stream that never brings what is awaited
 * fails the test instead of hanging it) and once `body` is over (closing the streams it opened).
 */
export async function withStreams(body: (signal: AbortSignal) => Promise<void>, ms = 20_000): Promise<void> {
  const controller = new AbortController();
  const timeout = setTimeout(() => controller.abort(), ms);
  try {
    await body(controller.signal);
  } finally {
    clearTimeout(timeout);
    controller.abort();
  }
}

/**
 * A bridge for the enclosing describe's tests (see useBridge) in front of
 * tests/fixtures/misbehaving-server.mjs speaking `era` ("legacy" or "modern"), which answers as
 * its tools say, with `read_timeout` and bearer authentication accepting `token`.
 */
export function useMisbehavingBridge(era: string, readTimeout: string, token: string): RunningBridge {
  return useBridge(() =>
    startBridge({
      server: {
        mcp_server: { command: process.execPath, args: ["tests/fixtures/misbehaving-server.mjs"], env: { MODE: era }, read_timeout: readTimeout },
        auth: { type: "bearer", bearer: { valid_tokens: [token] } },
      },
    }),
  );
}
