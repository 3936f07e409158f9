/**
 * @module The Streamable HTTP transport of the legacy era (MCP 2025-03-26 … 2025-11-25,
 * basic/transports §Streamable HTTP), client side: one POST per message with JSON or SSE
 * replies, the session id and protocol version after initialize, the GET stream with
 * Last-Event-ID resumption honouring `retry:`, streams resumed after a drop, and a new session
 * (the local client's initialize replayed) when the server forgets ours (404).
 */
import { isNotification, isRequest, isResponse, idKey, type JsonRpcMessage, type JsonRpcRequest } from "../jsonrpc/message.ts";
import { excerpt } from "../log/sanitize.ts";
import { anySignal } from "../util/any-signal.ts";
import { ClientTransportError, failedRequestResponse } from "./errors.ts";
import { contentType, parseMessages, quotedContentType, readBodyText, settleSkipped, statusError, type Received, type Source } from "./messages.ts";
import { redactSent } from "./remote-fetch.ts";
import { readSse } from "./sse-reader.ts";
import { SHUTDOWN_WAIT_MS, type RemoteTransport, type TransportContext } from "./transport.ts";

/** A message for the local client: as received (with its text), or the bridge's own (an error for a request). */
type Delivered = Pick<Received, "message"> & Partial<Pick<Received, "source">>;

/** Reconnection delay when the server has not sent `retry:` (ms). */
const DEFAULT_RETRY_MS = 1_000;
/** The shortest reconnection delay a server's `retry:` may ask for (ms): `retry: 0` on a stream that ends at once must not become a busy loop. */
const SHORTEST_RETRY_MS = 250;
/** Resumptions of one request's stream in a row that bring no new event before the request fails. */
const MAX_RESUMES_WITHOUT_PROGRESS = 3;
/** GET stream connection failures in a row before the bridge stops listening (requests still work). */
const MAX_LISTEN_FAILURES = 10;
/**
 * Sessions the GET stream may find forgotten (404) in a row, each replaced by a new one, with no
 * request answered nor server message between them, before the bridge stops listening: a server
 * that forgets the session whenever that stream ends must not be re-initialized about once a second for good.
 */
const MAX_LISTEN_REINITIALIZATIONS = 3;
/** Longest wait of requests for the GET stream to open (ms). */
const LISTEN_READY_MS = 2_000;

const ACCEPT_BOTH = "application/json, text/event-stream";
/** The longest Mcp-Session-Id taken from a server: ids are UUIDs or tokens, and each request carries it back. */
const MAX_SESSION_ID_CHARS = 1_024;
/** Characters of a refused session id quoted in the error. */
const QUOTED_SESSION_ID_CHARS = 40;


export class StreamableHttpTransport implements RemoteTransport {
  readonly #context: TransportContext;
  readonly #closing = new AbortController();
  #sessionId: string | undefined;
  #protocolVersion: string | undefined;
  /** The local client's initialize, replayed to open a new session. */
  #initialize: JsonRpcRequest | undefined;
  #reinitializing: Promise<void> | undefined;
  #reinitializations = 0;
  /** New sessions opened because the GET stream found ours forgotten, since a request was answered or a server message came (see MAX_LISTEN_REINITIALIZATIONS). */
  #listenReinitializations = 0;
  /** Stops the GET stream of the session it was opened for: a new session's must not run beside the old one's. */
  #listener: AbortController | undefined;
  /** Settles once the GET stream's answer arrived (or it failed, or LISTEN_READY_MS passed). */
  #listenReady: Promise<void> | undefined;

  constructor(context: TransportContext) {
    this.#context = context;
  }

  get sessionId(): string | undefined {
    return this.#sessionId;
  }

  async send(message: JsonRpcMessage, signal?: AbortSignal, text?: string): Promise<void> {
    if (this.#closing.signal.aborted) throw new ClientTransportError("closed", "the bridge is shutting down");
    // Opened alongside notifications/initialized, before the requests that follow it: a server
    // sends requests not tied to a call (elicitation, sampling) on the GET stream, and drops them
    // when that stream is not open yet.
    if (isNotification(message) && message.method === "notifications/initialized") this.#listen();
    if (this.#reinitializing) {
      // What it cancels was sent in the session the server forgot, or waits for the new one and is
      // not sent once cancelled: nothing to tell the server, and waiting would hold the cancellation.
      if (isNotification(message) && message.method === "notifications/cancelled") return;
      await this.#reinitializing;
    }
    if (this.#listenReady && isRequest(message)) await this.#listenReady;
    const request = isRequest(message) ? message : undefined;
    if (request?.method === "initialize") {
      this.#initialize = request;
      // The local client starts over: its old session would live on at the server until it expired.
      if (this.#sessionId !== undefined) void this.#end(this.#sessionId);
      this.#sessionId = undefined;
      this.#stopListening();
    }
    const session = this.#sessionId;
    let response = await this.#post(message, session, signal, text);
    if (response.status === 404 && session !== undefined) {
      await response.body?.cancel().catch(() => {});
      // The server no longer knows the session (it restarted, or expired it): MCP says start a new one.
      await this.#reinitialize(session);
      response = await this.#post(message, this.#sessionId, signal, text);
    }
    if (request?.method === "initialize" && response.ok) this.#sessionId = await sessionIdOf(response, new URL(this.#context.url).host);
    await this.#consume(request, response, signal, (incoming, source) => {
      if (request?.method === "initialize" && isResponse(incoming) && idKey(incoming.id ?? "") === idKey(request.id)) {
        const version = (incoming.result as { protocolVersion?: unknown } | undefined)?.protocolVersion;
        if (typeof version === "string") this.#protocolVersion = version;
      }
      this.#context.deliver(incoming, source);
    });
    if (request) this.#listenReinitializations = 0;
  }

  async close(): Promise<void> {
    if (this.#closing.signal.aborted) return;
    this.#closing.abort();
    if (this.#sessionId !== undefined) await this.#end(this.#sessionId);
  }

  /** Ends a session at the server (DELETE), waiting at most SHUTDOWN_WAIT_MS; failures are only logged. */
  async #end(session: string): Promise<void> {
    try {
      const response = await this.#context.fetch(this.#context.url, { method: "DELETE", headers: this.#headers(session), signal: AbortSignal.timeout(SHUTDOWN_WAIT_MS) });
      await response.body?.cancel().catch(() => {});
      this.#context.logger.debug("session ended at the remote server", { status: response.status });
    } catch (error) {
      this.#context.logger.debug("DELETE of the session failed", { error });
    }
  }

  #headers(session: string | undefined, extra: Record<string, string> = {}): Record<string, string> {
    const headers: Record<string, string> = { ...extra };
    if (session !== undefined) headers["mcp-session-id"] = session;
    if (this.#protocolVersion !== undefined) headers["mcp-protocol-version"] = this.#protocolVersion;
    return headers;
  }

  /** POSTs `message`, as `text` when given (see RemoteTransport.send). */
  #post(message: JsonRpcMessage, session: string | undefined, signal?: AbortSignal, text?: string): Promise<Response> {
    const initialize = isRequest(message) && message.method === "initialize";
    const headers = this.#headers(initialize ? undefined : session, { accept: ACCEPT_BOTH, "content-type": "application/json" });
    if (initialize) delete headers["mcp-protocol-version"];
    // A request's JSON reply comes when the tool is done: waited for while the request is alive.
    return this.#context.fetch(this.#context.url, { method: "POST", headers, body: text ?? JSON.stringify(message), signal: anySignal(signal, this.#closing.signal) }, { awaitsAnswer: isRequest(message) });
  }

  /** Reads a POST's answer; for a request, until its response arrived, resuming a dropped SSE stream. */
  async #consume(request: JsonRpcRequest | undefined, response: Response, signal: AbortSignal | undefined, deliver: (message: JsonRpcMessage, source?: Source) => void): Promise<void> {
    const { timeout } = this.#context;
    const origin = new URL(this.#context.url).host;
    if (!response.ok) throw await statusError(response, origin);
    if (response.status === 202 || !request) {
      await response.body?.cancel().catch(() => {});
      return;
    }
    let answered = false;
    const watch = ({ message, source }: Delivered) => {
      if (isResponse(message) && message.id !== null && idKey(message.id) === idKey(request.id)) answered = true;
      deliver(message, source);
    };
    const type = contentType(response);
    if (type === "application/json") {
      const held = this.#context.answers.hold();
      let messages: Received[];
      try {
        messages = parseMessages(await readBodyText(response, this.#context.maxMessageChars, timeout, signal, held), this.#context.remoteWarnings, "JSON reply", response);
      } finally {
        // Handed on at once (delivery is synchronous): what keeps an answer holds it from here, so it never counts twice.
        held.release();
      }
      for (const received of messages) watch(received);
    } else if (type === "text/event-stream") {
      await this.#readRequestStream(response, signal, watch, () => answered);
    } else {
      await response.body?.cancel().catch(() => {});
      throw new ClientTransportError("protocol", `${origin} answered with content type ${quotedContentType(response)}, not JSON or an event stream`);
    }
    if (!answered) throw new ClientTransportError("closed", `${origin} ended the reply without answering the request`);
  }

  /** An SSE reply to a request; when it ends early and events had ids, resumed with GET + Last-Event-ID (2025-11-25 §Resumability). */
  async #readRequestStream(first: Response, signal: AbortSignal | undefined, deliver: (delivered: Delivered) => void, answered: () => boolean): Promise<void> {
    const { logger } = this.#context;
    const origin = new URL(this.#context.url).host;
    let lastEventId: string | undefined;
    let retryMs = DEFAULT_RETRY_MS;
    let response = first;
    let stale = 0;
    for (;;) {
      // Progress is a last event id other than the one resumed from: a server replaying the same events on every resumption (ignoring Last-Event-ID) would otherwise be resumed for ever.
      const resumedFrom = lastEventId;
      try {
        await readSse(
          response.body!,
          {
            onEvent: (event) => {
              if (event.id !== undefined) lastEventId = event.id;
              if (event.event !== "message" || event.data.trim() === "") return;
              for (const received of parseMessages(event.data, this.#context.remoteWarnings, "SSE event", response)) deliver(received);
            },
            // Past the answer budget: that message alone fails (a server's request is answered with the
            // error), the reply goes on; unless it may have been an answer whose id is lost: the call fails.
            onSkipped: (event, error) => {
              if (event.event !== "message") return;
              if (!settleSkipped(this.#context, event, error, (id) => deliver({ message: failedRequestResponse(id, error) }))) throw error;
            },
            onRetry: (ms) => (retryMs = this.#reconnectionTime(ms)),
          },
          { maxEventChars: this.#context.maxMessageChars, drained: this.#context.drained, answers: this.#context.answers, done: answered },
        );
      } catch (error) {
        if (signal?.aborted || this.#closing.signal.aborted) throw new ClientTransportError("closed", "the request was cancelled", { cause: error });
        if (error instanceof ClientTransportError) throw error;
        logger.debug("reply stream broke", { error });
      }
      if (answered()) return;
      if (lastEventId === undefined) throw new ClientTransportError("network", `${origin} closed the reply stream before answering, and it cannot be resumed (no event ids)`);
      stale = lastEventId !== resumedFrom ? 0 : stale + 1;
      if (stale >= MAX_RESUMES_WITHOUT_PROGRESS) throw new ClientTransportError("network", `${origin} closed the reply stream before answering; resuming it brought no new event ${stale} times`);
      await this.#context.sleep(retryMs, anySignal(signal, this.#closing.signal));
      if (signal?.aborted || this.#closing.signal.aborted) throw new ClientTransportError("closed", "the request was cancelled");
      response = await this.#context.fetch(this.#context.url, {
        method: "GET",
        headers: this.#headers(this.#sessionId, { accept: "text/event-stream", "last-event-id": lastEventId }),
        signal: anySignal(signal, this.#closing.signal),
      });
      if (!response.ok) throw await statusError(response, `${origin} (resuming the reply stream)`);
      if (contentType(response) !== "text/event-stream") {
        await response.body?.cancel().catch(() => {});
        throw new ClientTransportError("protocol", `${origin} resumed the reply stream with content type ${quotedContentType(response)}`);
      }
    }
  }

  /** A server's `retry:` (ms) as the bridge waits it: at least SHORTEST_RETRY_MS, at most client.retry.max_delay (a timer cannot hold more than 2^31 - 1 ms anyway). */
  #reconnectionTime(ms: number): number {
    return Math.max(SHORTEST_RETRY_MS, Math.min(this.#context.maxDelay, ms));
  }

  /** Opens the GET stream for server-initiated messages, and keeps it open while the session lives. */
  #listen(): void {
    if (this.#listener || this.#sessionId === undefined) return;
    const stop = new AbortController();
    this.#listener = stop;
    const signal = anySignal(this.#closing.signal, stop.signal)!;
    const session = this.#sessionId;
    const { logger } = this.#context;
    let ready!: () => void;
    this.#listenReady = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, Math.min(LISTEN_READY_MS, this.#context.timeout));
      ready = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    void (async () => {
      let lastEventId: string | undefined;
      let retryMs = DEFAULT_RETRY_MS;
      let failures = 0;
      /** Whether this session's GET stream was ever open: a 404 means a forgotten session only then. */
      let opened = false;
      try {
        while (!signal.aborted && this.#sessionId === session) {
          try {
            const response = await this.#context.fetch(this.#context.url, {
              method: "GET",
              headers: this.#headers(session, { accept: "text/event-stream", ...(lastEventId !== undefined && { "last-event-id": lastEventId }) }),
              signal,
            });
            ready();
            // A server without a GET stream may say 404 rather than 405 before the stream was ever
            // open: re-initializing would bring the same answer, in a loop.
            if (response.status === 405 || (response.status === 404 && !opened)) {
              await response.body?.cancel().catch(() => {});
              logger.debug(`the remote server offers no GET stream (HTTP ${response.status})`);
              return;
            }
            if (response.status === 404) {
              await response.body?.cancel().catch(() => {});
              if (++this.#listenReinitializations > MAX_LISTEN_REINITIALIZATIONS) {
                // A request that finds the session forgotten still opens a new one.
                logger.warn("stopped listening for server messages: the remote server forgets the session whenever its GET stream ends; requests still work", { sessions: MAX_LISTEN_REINITIALIZATIONS });
                return;
              }
              void this.#reinitialize(session).catch((error: unknown) => logger.warn("could not open a new session", { error }));
              return;
            }
            if (!response.ok) throw await statusError(response, "GET stream");
            if (contentType(response) !== "text/event-stream") {
              await response.body?.cancel().catch(() => {});
              throw new ClientTransportError("protocol", `the GET stream has content type ${quotedContentType(response)}`);
            }
            failures = 0;
            opened = true;
            await readSse(
              response.body!,
              {
                onEvent: (event) => {
                  if (event.id !== undefined) lastEventId = event.id;
                  if (event.event !== "message" || event.data.trim() === "") return;
                  this.#listenReinitializations = 0;
                  for (const { message, source } of parseMessages(event.data, this.#context.remoteWarnings, "GET stream event", response)) this.#context.deliver(message, source);
                },
                // Past the answer budget: this one message fails, the stream (the server's only way to the local client) goes on.
                onSkipped: (event, error) => {
                  if (event.event !== "message") return;
                  settleSkipped(this.#context, event, error, (id) => this.#context.deliver(failedRequestResponse(id, error)));
                },
                onRetry: (ms) => (retryMs = this.#reconnectionTime(ms)),
              },
              { maxEventChars: this.#context.maxMessageChars, drained: this.#context.drained, answers: this.#context.answers },
            );
          } catch (error) {
            ready();
            if (signal.aborted) return;
            failures++;
            logger.debug("GET stream failed", { error, failures });
            if (failures >= MAX_LISTEN_FAILURES) {
              logger.warn("stopped listening for server messages after repeated failures; requests still work", { error });
              return;
            }
          }
          const wait = failures === 0 ? retryMs : Math.min(this.#context.maxDelay, retryMs * 2 ** failures);
          await this.#context.sleep(wait, signal);
        }
      } finally {
        ready();
        if (this.#listener === stop) this.#listener = undefined;
      }
    })();
  }

  #stopListening(): void {
    this.#listener?.abort();
    this.#listener = undefined;
  }

  /** Opens a new session by replaying the local client's initialize; concurrent callers share one attempt. */
  #reinitialize(stale: string): Promise<void> {
    if (this.#reinitializing) return this.#reinitializing;
    if (this.#sessionId !== stale) return Promise.resolve();
    const initialize = this.#initialize;
    if (!initialize) return Promise.reject(new ClientTransportError("closed", "the remote server ended the session before it was initialized"));
    const { logger, timeout } = this.#context;
    const origin = new URL(this.#context.url).host;
    // The bridge's own request, which every request of the local client waits for: bounded, head
    // and body, by client.timeout. Failed, the next request finds the session unknown and tries again.
    const deadline = AbortSignal.timeout(timeout);
    this.#reinitializing = (async () => {
      logger.info("the remote server no longer knows the session; opening a new one", { server: origin });
      const replay: JsonRpcRequest = { ...initialize, id: `mcp-bridge-reinitialize-${++this.#reinitializations}` };
      const response = await this.#post(replay, undefined, deadline);
      if (!response.ok) throw await statusError(response, `${origin} (new session)`);
      const session = await sessionIdOf(response, origin);
      let result: Record<string, unknown> | undefined;
      await this.#consume(replay, response, deadline, (message, source) => {
        if (isResponse(message) && message.id === replay.id) {
          if (message.error) throw new ClientTransportError("http", `${origin} refused the new session: ${excerpt(message.error.message)}`);
          result = message.result as Record<string, unknown>;
        } else if (!isResponse(message)) this.#context.deliver(message, source);
      });
      if (typeof result?.protocolVersion === "string" && result.protocolVersion !== this.#protocolVersion) {
        logger.warn("the new session negotiated another protocol version", { was: this.#protocolVersion, now: excerpt(redactSent(response, result.protocolVersion)) });
        this.#protocolVersion = result.protocolVersion;
      }
      this.#sessionId = session;
      this.#stopListening();
      const initialized = await this.#post({ jsonrpc: "2.0", method: "notifications/initialized" }, session);
      await initialized.body?.cancel().catch(() => {});
      this.#listen();
    })()
      .catch((error: unknown) => {
        if (!deadline.aborted || this.#closing.signal.aborted) throw error;
        throw new ClientTransportError("timeout", `${origin} did not open a new session within ${timeout} ms (client.timeout): the bridge's initialize went unanswered; the next request tries again`, { cause: error });
      })
      .finally(() => {
        this.#reinitializing = undefined;
      });
    return this.#reinitializing;
  }
}

/**
 * The Mcp-Session-Id an initialize answer assigns, if any. The spec (basic/transports §Session
 * Management) allows only visible ASCII (0x21–0x7E); anything else would be sent back altered (the
 * header's bytes read as Latin-1) or refused by the HTTP stack on every later request.
 * @throws ClientTransportError "protocol" naming the problem, the id quoted in part with its
 * invalid characters escaped; the answer's body is cancelled.
 */
async function sessionIdOf(response: Response, origin: string): Promise<string | undefined> {
  const session = response.headers.get("mcp-session-id");
  if (session === null) return undefined;
  const problem = !/^[\x21-\x7e]*$/.test(session) ? "holds characters other than visible ASCII (0x21-0x7E)" : session.length > MAX_SESSION_ID_CHARS ? `is longer than ${MAX_SESSION_ID_CHARS} characters` : session === "" ? "is empty" : undefined;
  if (problem === undefined) return session;
  await response.body?.cancel().catch(() => {});
  // Header values are bytes (read as Latin-1): what is not visible ASCII is shown as \xNN. Redacted
  // before it is cut: a server may have put the token it was sent into the id.
  const shown = [...redactSent(response, session).slice(0, QUOTED_SESSION_ID_CHARS)].map((char) => (/[\x21-\x7e]/.test(char) ? char : `\\x${char.charCodeAt(0).toString(16).padStart(2, "0")}`)).join("");
  const more = session.length > QUOTED_SESSION_ID_CHARS ? `… (${session.length} characters)` : "";
  throw new ClientTransportError("protocol", `${origin}'s Mcp-Session-Id ${problem}, so the session cannot be used (MCP basic/transports §Session Management): "${shown}${more}"`);
}

