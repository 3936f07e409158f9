import type { Agent } from "node:http";

export const PROTOCOL_VERSION: string;
export const ACCEPT: { both: string; json: string; sse: string };
export type Headers = Record<string, string | number>;
export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}
export interface JsonRpcMessage {
  jsonrpc: "2.0";
  id?: string | number | null;
  method?: string;
  params?: unknown;
  result?: any;
  error?: { code: number; message: string };
}
/** Sets how long a reply may take (5 s unless set). */
export function setReplyTimeout(ms: number): void;
export function post(agent: Agent, url: string, body: string, headers: Headers): Promise<Reply>;
export function replyMessages(contentType: string | undefined, text: string): JsonRpcMessage[];
export function responseFor(reply: Reply, id: string | number): JsonRpcMessage;
export function authHeaders(token?: string, apiKey?: string): Headers;
export function openSession(
  agent: Agent,
  url: string,
  options?: { token?: string; apiKey?: string; accept?: "both" | "json" | "sse" },
): Promise<{ sessionId: string | undefined; headers: Headers }>;
export function echoRequest(id: string | number, text: string): string;
export function checkEcho(message: JsonRpcMessage, text: string): void;
export function callEcho(agent: Agent, url: string, headers: Headers, id: string | number, text: string): Promise<void>;
export function deleteSession(agent: Agent, url: string, headers: Headers): Promise<void>;
