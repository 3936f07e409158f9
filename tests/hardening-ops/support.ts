/** Helpers shared by the hardening-ops tests: the scripted child, raw MCP over HTTP, polling. */
import { fileURLToPath } from "node:url";
import type { RunningBridge } from "../support/bridge.ts";
import { waitFor } from "../support/poll.ts";

export { waitFor };

export const SCRIPTED = fileURLToPath(new URL("../support/scripted-server.mjs", import.meta.url));
export const scripted = (extra: Record<string, unknown> = {}) => ({ command: process.execPath, args: [SCRIPTED], graceful_shutdown_timeout: "2s", ...extra });

export const JSON_HEADERS = { "content-type": "application/json", accept: "application/json, text/event-stream" };

/** A legacy child (tests/fixtures/misbehaving-server.mjs): raw_line writes `line` as written, test://known* URIs are subscribable, test://known-held only once released. */
export const misbehaving = { command: process.execPath, args: ["tests/fixtures/misbehaving-server.mjs"], env: { MODE: "legacy" } };

/** A request of a session over JSON; its parsed answer. */
export async function rpc(url: string, session: string, id: number, method: string, params: Record<string, unknown>) {
  const response = await fetch(url, {
    method: "POST",
    headers: { ...JSON_HEADERS, accept: "application/json", "mcp-session-id": session, "mcp-protocol-version": "2025-06-18" },
    body: JSON.stringify({ jsonrpc: "2.0", id, method, params }),
  });
  return (await response.json()) as { result?: unknown; error?: { code: number; message: string } };
}

export function initializeBody(protocolVersion = "2025-06-18", capabilities: Record<string, unknown> = {}) {
  return { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion, capabilities, clientInfo: { name: "raw", version: "1" } } };
}

/** POSTs an initialize; returns the response, its session id and its parsed JSON (when JSON). */
export async function initialize(url: string, headers: Record<string, string> = {}, protocolVersion = "2025-06-18") {
  const response = await fetch(url, { method: "POST", headers: { ...JSON_HEADERS, accept: "application/json", ...headers }, body: JSON.stringify(initializeBody(protocolVersion)) });
  const text = await response.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { response, status: response.status, session: response.headers.get("mcp-session-id") ?? "", body };
}

/** A tools/call over JSON. */
export async function callTool(url: string, session: string, id: number, name: string, args: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
  const response = await fetch(url, {
    method: "POST",
    headers: { ...JSON_HEADERS, accept: "application/json", "mcp-session-id": session, "mcp-protocol-version": "2025-06-18", ...headers },
    body: JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call", params: { name, arguments: args } }),
  });
  return { status: response.status, body: (await response.json()) as any };
}


/** Waits until the bridge's log contains `text` (or matches). */
export function logged(bridge: RunningBridge, pattern: string | RegExp): Promise<string> {
  return waitFor(() => {
    const logs = bridge.logs();
    const found = typeof pattern === "string" ? logs.includes(pattern) : pattern.test(logs);
    return found ? logs : undefined;
  }, `log ${pattern}`);
}
