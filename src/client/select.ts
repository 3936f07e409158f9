/**
 * @module `client.transport`: Streamable HTTP, the legacy HTTP+SSE transport, or `auto` — Streamable
 * HTTP first, falling back to HTTP+SSE when the initialize POST gets 400, 404 or 405 (MCP
 * 2025-03-26 basic/transports §Backwards Compatibility).
 */
import { isRequest, type JsonRpcMessage } from "../jsonrpc/message.ts";
import { ClientTransportError } from "./errors.ts";
import { LegacySseTransport } from "./legacy-sse.ts";
import { StreamableHttpTransport } from "./streamable-http.ts";
import type { RemoteTransport, TransportContext } from "./transport.ts";

export type TransportChoice = "auto" | "streamable_http" | "sse";

/** Streamable HTTP until the first initialize POST is refused with 400, 404 or 405; HTTP+SSE from then on. */
class AutoTransport implements RemoteTransport {
  readonly #context: TransportContext;
  #current: RemoteTransport;
  /** Set once the first initialize went through (or fell back): the choice is not revisited. */
  #decided = false;

  constructor(context: TransportContext) {
    this.#context = context;
    this.#current = new StreamableHttpTransport(context);
  }

  async send(message: JsonRpcMessage, signal?: AbortSignal): Promise<void> {
    const current = this.#current;
    try {
      await current.send(message, signal);
      if (isRequest(message) && message.method === "initialize") this.#decided = true;
    } catch (error) {
      const refused = error instanceof ClientTransportError && error.code === "http" && [400, 404, 405].includes(error.status ?? 0);
      if (this.#decided || !refused || !isRequest(message) || message.method !== "initialize") throw error;
      this.#context.logger.info("the server refused Streamable HTTP; trying the legacy HTTP+SSE transport", { status: (error as ClientTransportError).status });
      this.#decided = true;
      this.#current = new LegacySseTransport(this.#context);
      await this.#current.send(message, signal);
    }
  }

  close(): Promise<void> {
    return this.#current.close();
  }
}

export function selectTransport(choice: TransportChoice, context: TransportContext): RemoteTransport {
  if (choice === "streamable_http") return new StreamableHttpTransport(context);
  if (choice === "sse") return new LegacySseTransport(context);
  return new AutoTransport(context);
}
