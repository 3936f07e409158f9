/** @module Helpers of the hardening tests: the misbehaving fixture server, MCP calls over fetch, /proc. */
import { randomUUID } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../support/bridge.ts";

export const FIXTURE = join(ROOT, "tests", "hardening", "fixtures", "server.mjs");
export const PROTOCOL = "2025-06-18";

/**
 * mcp_server settings that run the fixture with `env`; `marker` is an argument only this test's
 * children carry, so /proc can find them (and their orphans) among everyone else's processes.
 */
export function fixtureServer(env: Record<string, string> = {}, extra: Record<string, unknown> = {}): { config: Record<string, unknown>; marker: string } {
  const marker = `hardening-${randomUUID()}`;
  return { marker, config: { command: process.execPath, args: [FIXTURE, marker], env, graceful_shutdown_timeout: "2s", ...extra } };
}

const initializeBody = (id: number | string = 0) =>
  JSON.stringify({ jsonrpc: "2.0", id, method: "initialize", params: { protocolVersion: PROTOCOL, capabilities: {}, clientInfo: { name: "hardening-test", version: "1" } } });

export interface Initialized {
  response: Response;
  session: string | null;
  body: string;
}

export async function initialize(url: string, headers: Record<string, string> = {}): Promise<Initialized> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers },
    body: initializeBody(),
  });
  const body = await response.text();
  const session = response.headers.get("mcp-session-id");
  if (session && response.ok) {
    await post(url, session, { jsonrpc: "2.0", method: "notifications/initialized" }, headers);
  }
  return { response, session, body };
}

/** POSTs one message in a session; the response is returned unread. */
export function post(url: string, session: string, message: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-session-id": session, "mcp-protocol-version": PROTOCOL, ...headers },
    body: typeof message === "string" ? message : JSON.stringify(message),
  });
}

export function callTool(url: string, session: string, id: number, name: string, args: Record<string, unknown> = {}, headers: Record<string, string> = {}): Promise<Response> {
  return post(url, session, { jsonrpc: "2.0", id, method: "tools/call", params: { name, arguments: args } }, headers);
}

/** Resident set size of a process in MiB (Linux /proc). */
export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return kib / 1024;
}

export interface ProcessInfo {
  pid: number;
  ppid: number;
  state: string;
}

/** Live (non-zombie) processes whose command line contains `marker`. */
export function processesWith(marker: string): ProcessInfo[] {
  const found: ProcessInfo[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      if (!cmdline.includes(marker)) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (fields[0] === "Z") continue;
      found.push({ pid: Number(entry), ppid: Number(fields[1]), state: fields[0]! });
    } catch {
      // Gone while we looked.
    }
  }
  return found;
}

export { waitFor } from "../support/poll.ts";

/** Counts the lines of `logs` that contain `text`. */
export function countLines(logs: string, text: string): number {
  return logs.split("\n").filter((line) => line.includes(text)).length;
}
