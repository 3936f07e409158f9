/**
 * @module `client.transport` and the era of the remote server. With `auto` or `streamable_http`,
 * the first request decides the era once for the process (the one origin it talks to): a modern
 * probe (`server/discover`) first, legacy Streamable HTTP when the answer is not modern
 * (Streamable HTTP 2026-07-28 §Backward Compatibility); `auto` then falls back further to the
 * HTTP+SSE transport when the initialize POST gets 400, 404 or 405. `sse` is HTTP+SSE only.
 */
import { ErrorCode, errorResponse, isNotification, isRequest, type JsonRpcMessage, type JsonRpcRequest } from "../jsonrpc/message.ts";
import { excerpt } from "../log/sanitize.ts";
import { hasEnvelopeClaim, isObject, type InitializeParams } from "../mcp/envelope.ts";
import { ClientTransportError } from "./errors.ts";
import { LegacySseTransport } from "./legacy-sse.ts";
import { discoverRequest, ModernTransport, probeEra } from "./modern.ts";
import { StreamableHttpTransport } from "./streamable-http.ts";
import type { RemoteTransport, TransportContext } from "./transport.ts";

export type TransportChoice = "auto" | "streamable_http" | "sse";

/** Legacy Streamable HTTP until the first initialize POST is refused with 400, 404 or 405; HTTP+SSE from then on. */
class LegacyWithFallback implements RemoteTransport {
  readonly #context: TransportContext;
  #current: RemoteTransport;
  /** Set once the first initialize went through (or fell back): the choice is not revisited. */
  #decided = false;

  constructor(context: TransportContext) {
    this.#context = context;
    this.#current = new StreamableHttpTransport(context);
  }

  async send(message: JsonRpcMessage, signal?: AbortSignal, text?: string): Promise<void> {
    const current = this.#current;
    try {
      await current.send(message, signal, text);
      if (isRequest(message) && message.method === "initialize") this.#decided = true;
    } catch (error) {
      const refused = error instanceof ClientTransportError && error.code === "http" && [400, 404, 405].includes(error.status ?? 0);
      if (this.#decided || !refused || !isRequest(message) || message.method !== "initialize") throw error;
      const status = (error as ClientTransportError).status;
      this.#context.logger.info("the server refused Streamable HTTP; trying the legacy HTTP+SSE transport", { status });
      this.#decided = true;
      this.#current = new LegacySseTransport(this.#context, status);
      await this.#current.send(message, signal, text);
    }
  }

  close(): Promise<void> {
    return this.#current.close();
  }
}

/**
 * Decides the era on the local client's first request, then routes everything to that era's
 * transport. A legacy choice holds once a legacy initialize went through: until then an initialize
 * that fails (the server was modern after all, and its server/discover failed for a moment) undoes
 * it, and the next one probes again.
 */
class EraTransport implements RemoteTransport {
  readonly #context: TransportContext;
  readonly #fallback: boolean;
  #chosen: RemoteTransport | undefined;
  /** The legacy transport chosen, no initialize through it yet (see the class). */
  #provisional = false;
  #deciding: Promise<void> | undefined;

  constructor(context: TransportContext, fallback: boolean) {
    this.#context = context;
    this.#fallback = fallback;
  }

  #legacy(): RemoteTransport {
    return this.#fallback ? new LegacyWithFallback(this.#context) : new StreamableHttpTransport(this.#context);
  }

  async send(message: JsonRpcMessage, signal?: AbortSignal, text?: string): Promise<void> {
    if (this.#deciding) {
      // What it cancels is the request deciding (aborted once this returns) or one waiting behind it, not sent yet.
      if (isNotification(message) && message.method === "notifications/cancelled") return;
      await this.#deciding.catch(() => {});
    }
    if (this.#chosen) return this.#provisional && isRequest(message) && message.method === "initialize" ? this.#initializeLegacy(message, signal, text) : this.#chosen.send(message, signal, text);
    if (!isRequest(message)) {
      this.#context.logger.debug("dropped a notification sent before the first request", { message: "method" in message ? message.method : "response" });
      return;
    }
    let release!: () => void;
    this.#deciding = new Promise<void>((resolve) => (release = resolve));
    try {
      await this.#decide(message, signal);
    } finally {
      release();
      this.#deciding = undefined;
    }
  }

  async #decide(request: JsonRpcRequest, signal?: AbortSignal): Promise<void> {
    const { logger } = this.#context;
    if (request.method === "initialize") {
      // A local client's initialize without params still gets an answer (the legacy server's own, or the translation's).
      const params = (isObject(request.params) ? request.params : {}) as InitializeParams;
      const probe = await probeEra(this.#context, discoverRequest(params), signal);
      if (probe.era === "modern") {
        if (probe.answer.error) throw new ClientTransportError("protocol", `the server refused server/discover: ${excerpt(probe.answer.error.message)}`);
        // The local client's initialize is answered from it, serialized again.
        const inexact = probe.source.inexact()?.(probe.answer);
        if (inexact) throw new ClientTransportError("protocol", `the server's answer to server/discover: ${inexact}`);
        logger.info("the remote server speaks MCP 2026-07-28; translating for the local client");
        const modern = new ModernTransport(this.#context, this.#context.ask, probe.answer.result as Record<string, unknown>, params);
        this.#choose(modern, false);
        return modern.send(request, signal);
      }
      logger.info("the remote server speaks a legacy MCP version", { reason: probe.reason });
      this.#choose(this.#legacy(), true);
      return this.#initializeLegacy(request, signal, undefined, probe.failed ? probe.reason : undefined);
    }
    if (request.method === "server/discover" || hasEnvelopeClaim(request.params)) {
      // A modern local client (stdio §Backward Compatibility: it probes with server/discover).
      const probe = await probeEra(this.#context, request, signal);
      if (probe.era === "modern") {
        logger.info("modern local client and modern remote server: passing through");
        this.#choose(new ModernTransport(this.#context, this.#context.ask, {}, undefined), false);
        this.#context.deliver(probe.answer, probe.source);
        return;
      }
      logger.info("the remote server speaks a legacy MCP version; the local client must initialize", { reason: probe.reason });
      this.#choose(this.#legacy(), true);
      // Not a modern error: a dual-era local client falls back to initialize.
      this.#context.deliver(errorResponse(request.id, ErrorCode.MethodNotFound, "Method not found: the remote server speaks a legacy version of MCP; send initialize"));
      return;
    }
    // Nothing to decide the era by (the local client has not initialized): sent once as legacy MCP
    // would send it (the server's answer says what is wrong), deciding nothing.
    const once = this.#legacy();
    try {
      await once.send(request, signal);
    } finally {
      void once.close();
    }
  }

  #choose(transport: RemoteTransport, provisional: boolean): void {
    this.#chosen = transport;
    this.#provisional = provisional;
  }

  /**
   * An initialize through the provisionally chosen legacy transport: the choice holds when it goes
   * through, and is undone when it fails. `probeFailure`: why the probe before it failed, told with the error.
   */
  async #initializeLegacy(request: JsonRpcRequest, signal: AbortSignal | undefined, text?: string, probeFailure?: string): Promise<void> {
    const legacy = this.#chosen!;
    try {
      await legacy.send(request, signal, text);
      if (this.#chosen === legacy) this.#provisional = false;
    } catch (error) {
      // Undone only while provisional: another initialize may have gone through meanwhile.
      if (this.#chosen === legacy && this.#provisional) {
        this.#chosen = undefined;
        void legacy.close();
      }
      if (probeFailure === undefined || !(error instanceof ClientTransportError)) throw error;
      throw new ClientTransportError(error.code, `server/discover failed (${probeFailure}), and legacy MCP did not answer either (${error.message}); the next initialize asks again`, { status: error.status, cause: error });
    }
  }

  async close(): Promise<void> {
    await this.#chosen?.close();
  }
}

export function selectTransport(choice: TransportChoice, context: TransportContext): RemoteTransport {
  if (choice === "sse") return new LegacySseTransport(context);
  return new EraTransport(context, choice === "auto");
}
