/** @module The error a request to the remote server fails with, and how it reaches the local client. */
import { ErrorCode, errorResponse, type JsonRpcId, type JsonRpcResponse } from "../jsonrpc/message.ts";

/**
 * - `unreachable`: no connection (refused, DNS, TLS, proxy) — nothing was processed.
 * - `network`: the connection broke after sending.
 * - `timeout`: no answer in time.
 * - `http`: the server answered with an HTTP error status.
 * - `protocol`: the server's answer was not MCP (wrong content type, bad JSON, oversized).
 * - `closed`: the server ended a stream without answering, or the bridge is shutting down.
 * - `capacity`: the answer would take the bridge past a limit of all answers together (MAX_ANSWER_BYTES).
 */
export type ClientErrorCode = "unreachable" | "network" | "timeout" | "http" | "protocol" | "closed" | "capacity";

export class ClientTransportError extends Error {
  readonly code: ClientErrorCode;
  readonly status: number | undefined;
  constructor(code: ClientErrorCode, message: string, options: { status?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = "ClientTransportError";
    this.code = code;
    this.status = options.status;
  }
}

/** The JSON-RPC error the local client gets for a request that failed on the way to the remote server. */
export function failedRequestResponse(id: JsonRpcId | null, error: unknown): JsonRpcResponse {
  if (error instanceof ClientTransportError) {
    const code = error.code === "timeout" ? ErrorCode.RequestTimeout : error.code === "protocol" || error.code === "capacity" ? ErrorCode.InternalError : ErrorCode.ConnectionClosed;
    return errorResponse(id, code, `mcp-bridge: ${error.message}`, { reason: error.code, ...(error.status !== undefined && { status: error.status }) });
  }
  return errorResponse(id, ErrorCode.InternalError, `mcp-bridge: ${error instanceof Error ? error.message : String(error)}`);
}
