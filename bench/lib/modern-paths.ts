/**
 * @module The requests of bench/modern.ts and bench/instructions.ts: tools/call `echo` on the
 * bridge's legacy path (one session), the same carrying a modern request's bytes, and the modern
 * (2026-07-28) path; every answer checked.
 */
import type http from "node:http";
import { callEcho, checkEcho, openSession, post, responseFor } from "./mcp-client.mjs";
import type { Running } from "./targets.ts";

const MODERN = "2026-07-28";

/**
 * The paths measured. `sized` is the legacy path carrying a modern request's bytes (its two extra
 * headers and a `_meta` of the same length under keys that claim no era; the legacy path forwards
 * them unread): modern ÷ sized is the bridge's own modern work, sized ÷ legacy what the 2026-07-28
 * protocol's larger requests cost every process on the way.
 */
export const PATHS = ["legacy", "sized", "modern"] as const;
export type Path = (typeof PATHS)[number];
export const PATH_LABELS: Record<Path, string> = { legacy: "legacy (one session)", sized: "legacy, modern-sized requests", modern: "modern (stateless)" };

/** One call of a path: `id` is its JSON-RPC id (unique per agent). Rejects when the answer is not the echo. */
export type PathCall = (agent: http.Agent, id: number) => Promise<void>;

export function modernHeaders(token: string | undefined, method: string, name: string): Record<string, string> {
  return {
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
    "mcp-protocol-version": MODERN,
    "mcp-method": method,
    "mcp-name": name,
    ...(token && { authorization: `Bearer ${token}` }),
  };
}

export function modernCall(id: number, name: string, args: Record<string, unknown>, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    jsonrpc: "2.0",
    id,
    method: "tools/call",
    params: { name, arguments: args, ...extra, _meta: { "io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": { elicitation: {} } } },
  });
}

/** Per target, built once, as the legacy load reuses its session's headers. */
const echoHeaders = new WeakMap<Running, Record<string, string>>();

export async function modernEcho(agent: http.Agent, target: Running, id: number, text: string): Promise<void> {
  let headers = echoHeaders.get(target);
  if (!headers) echoHeaders.set(target, (headers = modernHeaders(target.credentials.token, "tools/call", "echo")));
  const reply = await post(agent, target.url, modernCall(id, "echo", { text }), headers);
  const message = responseFor(reply, id);
  if (message.result?.content?.[0]?.text !== text || message.result?.resultType !== "complete") throw new Error(`modern echo came back wrong: ${reply.text.slice(0, 200)}`);
}

/** A modern `_meta` envelope's members under keys of the same length that make no era claim. */
function sameSizeMeta(): Record<string, unknown> {
  const meta = JSON.parse(modernCall(0, "echo", {})).params._meta as Record<string, unknown>;
  return Object.fromEntries(Object.entries(meta).map(([key, value]) => [key.replace("io.modelcontextprotocol/", "io.bench-same-size-meta/"), value]));
}

/** Each path's call against `target`; the legacy ones share one session, opened here over `agent`. */
export async function pathLoads(target: Running, agent: http.Agent): Promise<Record<Path, PathCall>> {
  const session = await openSession(agent, target.url, { token: target.credentials.token });
  const sizedHeaders = { ...session.headers, "mcp-method": "tools/call", "mcp-name": "echo" };
  const meta = sameSizeMeta();
  return {
    legacy: (agent, id) => callEcho(agent, target.url, session.headers, id, `t${id}`),
    sized: async (agent, id) => {
      const text = `t${id}`;
      const body = JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "echo", arguments: { text }, _meta: meta } });
      checkEcho(responseFor(await post(agent, target.url, body, sizedHeaders), id), text);
    },
    modern: (agent, id) => modernEcho(agent, target, id, `t${id}`),
  };
}

/**
 * Runs `call` on `connections` concurrent workers over `agent` (keep-alive) for `durationMs`
 * milliseconds; how many calls were answered. `ids.next` numbers them (JSON-RPC ids, unique per
 * agent), carried over between runs. Rejects with the first call that came back wrong.
 */
export async function callFor(call: PathCall, agent: http.Agent, connections: number, durationMs: number, ids: { next: number }): Promise<number> {
  let done = 0;
  const until = Date.now() + durationMs;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (Date.now() < until) {
        await call(agent, ids.next++);
        done++;
      }
    }),
  );
  return done;
}
