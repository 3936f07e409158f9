/**
 * @module The HTTP+SSE transport of MCP 2024-11-05 (deprecated, still deployed), client side: a GET
 * opens the event stream, whose first `endpoint` event names where messages are POSTed; every
 * answer comes back on the stream. When the stream drops, the next message opens a new one and
 * replays the local client's initialize first, as for a Streamable HTTP session the server forgot.
 */
import { idKey, isNotification, isRequest, isResponse, type JsonRpcMessage, type JsonRpcRequest } from "../jsonrpc/message.ts";
import { excerpt } from "../log/sanitize.ts";
import { ClientTransportError, failedRequestResponse } from "./errors.ts";
import { contentType, parseMessages, quotedContentType, settleSkipped, statusError } from "./messages.ts";
import { readSse } from "./sse-reader.ts";
import { anySignal } from "../util/any-signal.ts";
import type { RemoteTransport, TransportContext } from "./transport.ts";

interface Waiter {
  resolve(): void;
  reject(error: unknown): void;
}

interface Connection {
  endpoint: string;
  closed: boolean;
  /** Closes the event stream: given up, it must not stay open beside the next one. */
  abandon(): void;
}

/**
 * A waiter for the answer to request `key`, settled from the event stream (#settle). The stream may
 * settle it — fail it, when it breaks or the server refuses — while the request's POST is still on
 * its way, before anyone awaits it: its rejection is observed at once, or it would end the process
 * as unhandled; the caller still awaits it and gets the error.
 */
function waiterFor(waiters: Map<string | number, Waiter>, key: string | number): Promise<void> {
  const answered = new Promise<void>((resolve, reject) => waiters.set(key, { resolve, reject }));
  answered.catch(() => {});
  return answered;
}

export class LegacySseTransport implements RemoteTransport {
  readonly #context: TransportContext;
  readonly #closing = new AbortController();
  readonly #waiters = new Map<string | number, Waiter>();
  #connection: Promise<Connection> | undefined;
  #initialize: JsonRpcRequest | undefined;
  #initialized = false;
  #replays = 0;
  /**
   * The HTTP status the Streamable HTTP initialize POST got when `auto` fell back to this transport
   * (undefined when HTTP+SSE was chosen, and once an event stream opened): a refused event stream
   * then means neither transport is at this URL, not that the SSE endpoint was missed.
   */
  #fallbackStatus: number | undefined;

  /** `fallbackStatus`: the status that made `auto` fall back here (see #fallbackStatus). */
  constructor(context: TransportContext, fallbackStatus?: number) {
    this.#context = context;
    this.#fallbackStatus = fallbackStatus;
  }

  async send(message: JsonRpcMessage, signal?: AbortSignal, text?: string): Promise<void> {
    if (this.#closing.signal.aborted) throw new ClientTransportError("closed", "the bridge is shutting down");
    if (isRequest(message) && message.method === "initialize") this.#initialize = message;
    if (isNotification(message) && message.method === "notifications/initialized") this.#initialized = true;
    const connection = await this.#connect();
    if (!isRequest(message)) return this.#post(connection, message, signal, text);
    const key = idKey(message.id);
    const answered = waiterFor(this.#waiters, key);
    const onAbort = () => this.#settle(key, new ClientTransportError("closed", "the request was cancelled"));
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      await this.#post(connection, message, signal);
      await answered;
    } catch (error) {
      this.#waiters.delete(key);
      throw error;
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }

  async close(): Promise<void> {
    this.#closing.abort();
    for (const key of [...this.#waiters.keys()]) this.#settle(key, new ClientTransportError("closed", "the bridge is shutting down"));
  }

  #settle(key: string | number, error?: unknown): void {
    const waiter = this.#waiters.get(key);
    if (!waiter) return;
    this.#waiters.delete(key);
    if (error === undefined) waiter.resolve();
    else waiter.reject(error);
  }

  /** POSTs `message`, as `text` when given (see RemoteTransport.send). */
  async #post(connection: Connection, message: JsonRpcMessage, signal?: AbortSignal, text?: string): Promise<void> {
    const response = await this.#context.fetch(connection.endpoint, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: text ?? JSON.stringify(message),
      signal: anySignal(signal, this.#closing.signal),
    });
    if (!response.ok) throw await statusError(response, new URL(connection.endpoint).host);
    await response.body?.cancel().catch(() => {});
  }

  /** The open stream, or a new one (with the local client's initialize replayed when it had initialized before). */
  #connect(): Promise<Connection> {
    const current = this.#connection;
    if (current) {
      return current.then(
        (connection) => (connection.closed ? this.#open() : connection),
        () => this.#open(),
      );
    }
    return this.#open();
  }

  #open(): Promise<Connection> {
    const replay = this.#connection !== undefined && this.#initialized ? this.#initialize : undefined;
    const opening = this.#openStream().then(async (connection) => {
      if (replay) {
        await this.#replayInitialize(connection, replay).catch((error: unknown) => {
          connection.abandon();
          throw error;
        });
      }
      return connection;
    });
    this.#connection = opening;
    return opening;
  }

  /** Replays the local client's initialize on a new stream; its answer is waited for at most client.timeout (every message waits for it). */
  async #replayInitialize(connection: Connection, initialize: JsonRpcRequest): Promise<void> {
    const { timeout } = this.#context;
    const origin = new URL(this.#context.url).host;
    this.#context.logger.info("the event stream was lost; opening a new session", { server: origin });
    const replay: JsonRpcRequest = { ...initialize, id: `mcp-bridge-reinitialize-${++this.#replays}` };
    const key = idKey(replay.id);
    const answered = waiterFor(this.#waiters, key);
    const timer = setTimeout(() => this.#settle(key, new ClientTransportError("timeout", `${origin} did not answer the new session's initialize within ${timeout} ms (client.timeout); the next message tries again`)), timeout);
    try {
      await this.#post(connection, replay);
      await answered;
    } finally {
      clearTimeout(timer);
      this.#waiters.delete(key);
    }
    await this.#post(connection, { jsonrpc: "2.0", method: "notifications/initialized" });
  }

  async #openStream(): Promise<Connection> {
    const { logger, url } = this.#context;
    const abandon = new AbortController();
    const response = await this.#context.fetch(url, { method: "GET", headers: { accept: "text/event-stream" }, signal: anySignal(this.#closing.signal, abandon.signal) });
    if (!response.ok) {
      // Chosen explicitly, the usual cause is a Streamable HTTP URL (…/mcp) given to the HTTP+SSE transport, whose URL is its event stream's.
      const hint =
        this.#fallbackStatus !== undefined
          ? ` (neither Streamable HTTP nor HTTP+SSE answered at this URL: the initialize POST got HTTP ${this.#fallbackStatus}, the event stream GET HTTP ${response.status}; check the URL's path)`
          : [400, 404, 405].includes(response.status)
            ? " (no HTTP+SSE event stream at this URL: that transport's URL is the server's SSE endpoint, often ending in /sse)"
            : "";
      throw await statusError(response, `${new URL(url).host} (event stream)`, hint);
    }
    this.#fallbackStatus = undefined;
    if (contentType(response) !== "text/event-stream") {
      await response.body?.cancel().catch(() => {});
      throw new ClientTransportError("protocol", `${new URL(url).host} answered the event stream GET with content type ${quotedContentType(response)}`);
    }
    return new Promise<Connection>((resolve, reject) => {
      let connection: Connection | undefined;
      const timer = setTimeout(() => {
        reject(new ClientTransportError("timeout", `the event stream sent no endpoint event within ${this.#context.timeout} ms (client.timeout)`));
        abandon.abort();
      }, this.#context.timeout);
      readSse(
        response.body!,
        {
          onEvent: (event) => {
            if (event.event === "endpoint") {
              const endpoint = new URL(event.data.trim(), url);
              // The token goes wherever messages are POSTed: never to another origin than the one configured.
              if (endpoint.origin !== new URL(url).origin) {
                throw new ClientTransportError("protocol", `the endpoint event names another origin (${endpoint.origin})`);
              }
              if (!connection) {
                connection = { endpoint: endpoint.href, closed: false, abandon: () => abandon.abort() };
                clearTimeout(timer);
                resolve(connection);
              }
              return;
            }
            if (event.event !== "message" || event.data.trim() === "") return;
            for (const { message, source } of parseMessages(event.data, this.#context.remoteWarnings, "SSE event", response)) {
              if (isResponse(message) && message.id !== null && typeof message.id === "string" && message.id.startsWith("mcp-bridge-reinitialize-")) {
                this.#settle(idKey(message.id), message.error ? new ClientTransportError("http", `the server refused the new session: ${excerpt(message.error.message)}`) : undefined);
                continue;
              }
              this.#context.deliver(message, source);
              if (isResponse(message) && message.id !== null) this.#settle(idKey(message.id));
            }
          },
          // Past the answer budget: the stream is every request's, so only the event's own message fails.
          onSkipped: (event, error) => {
            if (event.event === "endpoint") throw error;
            if (event.event !== "message") return;
            const learnt = settleSkipped(this.#context, event, error, (id) => {
              if (typeof id === "string" && id.startsWith("mcp-bridge-reinitialize-")) return this.#settle(idKey(id), error);
              this.#context.deliver(failedRequestResponse(id, error));
              this.#settle(idKey(id));
            });
            // Its request would wait for ever: the stream ends instead, failing every request on it with the error.
            if (!learnt) throw error;
          },
        },
        { maxEventChars: this.#context.maxMessageChars, drained: this.#context.drained, answers: this.#context.answers },
      )
        .catch((error: unknown) => {
          if (!this.#closing.signal.aborted && !abandon.signal.aborted) logger.warn("the event stream broke", { error });
          return error;
        })
        .then((error) => {
          clearTimeout(timer);
          if (connection) connection.closed = true;
          else reject(error instanceof ClientTransportError ? error : new ClientTransportError("network", "the event stream ended before its endpoint event"));
          // Requests awaiting an answer on this stream will not get one.
          const why = error instanceof ClientTransportError && (error.code === "capacity" || error.code === "protocol") ? error : new ClientTransportError("network", "the event stream ended before the answer arrived");
          for (const key of [...this.#waiters.keys()]) this.#settle(key, why);
        });
    });
  }
}
