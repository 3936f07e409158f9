/**
 * @module `client.transport`: Streamable HTTP, the legacy HTTP+SSE transport, or `auto` — Streamable
 * HTTP first, falling back to HTTP+SSE when the initialize POST gets 400, 404 or 405 (MCP
 * 2025-03-26 basic/transports §Backwards Compatibility).
 */
import type { JsonRpcMessage } from "../jsonrpc/message.ts";
import { ClientTransportError } from "./errors.ts";
import { StreamableHttpTransport } from "./streamable-http.ts";
import type { RemoteTransport, TransportContext } from "./transport.ts";

export type TransportChoice = "auto" | "streamable_http" | "sse";

export function selectTransport(choice: TransportChoice, context: TransportContext): RemoteTransport {
  if (choice === "streamable_http") return new StreamableHttpTransport(context);
  if (choice === "sse") throw new ClientTransportError("protocol", "the legacy HTTP+SSE transport is not available yet");
  return new StreamableHttpTransport(context);
}

export type { JsonRpcMessage };
