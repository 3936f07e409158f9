/**
 * @module One MCP session: the principal that owns it, its upstream (a child of its own or a share
 * of one), and the routing of every message between the child and the HTTP streams of the client.
 *
 * Routing rules (MCP Streamable HTTP):
 * - a response goes to the stream of the POST that carried its request, exactly once;
 * - progress goes to the stream of the request whose progressToken it names;
 * - other child → client messages relate to the call in flight: they go to the newest POST stream
 *   that can carry SSE, else to the standalone GET stream, else wait (bounded) until one opens;
 *   list_changed and resources/updated prefer the standalone stream.
 * - SSE events carry ids "<stream>.<seq>" and are kept in a bounded log for Last-Event-ID replay.
 */
import type { Principal } from "../auth/types.ts";
import { ErrorCode, errorResponse, idKey, isRequest, isResponse, type JsonRpcId, type JsonRpcMessage, type JsonRpcRequest } from "../jsonrpc/message.ts";
import type { Logger } from "../log/logger.ts";
import type { ConnectionInfo } from "../runtime/types.ts";
import { throttledLog, type ThrottledLog } from "../log/throttle.ts";
import { formatEvent, SseSink, sseHeaders } from "./sse.ts";

/** Where a session's messages to the MCP server go. */
export interface UpstreamLink {
  /** `raw` is the message as one line of JSON. */
  send(message: JsonRpcMessage, raw: string): void;
  /** The session is over; release the upstream (end a dedicated child, detach from a shared one). */
  close(): void;
  /** True while the MCP server's input is full: the POST is refused with 503 instead of buffered. */
  readonly congested?: boolean;
}

export interface SessionSettings {
  readTimeoutMs: number;
  /** The deadline of initialize: the child may still be starting (npx -y). */
  startupTimeoutMs: number;
  /** How long a disconnected SSE stream waits for a Last-Event-ID resume before its requests are cancelled. */
  resumeWindowMs: number;
  eventBufferSize: number;
  /** Characters of events kept for replay (a byte cap: JSON text is mostly ASCII). */
  eventBufferBytes: number;
  /** Unread bytes per SSE stream, and (half of it) UTF-8 bytes of the backlog. */
  streamBufferBytes: number;
  /** The SSE retry hint sent in priming events. */
  retryMs: number;
}

/** Protocol versions from which clients understand priming events (empty data with an id). */
const PRIMING_FROM_VERSION = "2025-11-25";
const STANDALONE_FIRST = /^notifications\/(?:(?:tools|resources|prompts)\/list_changed|resources\/updated)$/;
const MAX_BACKLOG = 1000;
const STANDALONE_STREAM = 0;
const utf8 = new TextEncoder();
/**
 * A POST whose client takes only SSE gets its stream when something must be streamed, or after
 * this long; a call answered sooner gets the whole stream as one response, which costs a fraction
 * of a live stream (one write instead of headers, priming, event and end).
 */
const SSE_OPEN_DELAY_MS = 20;

interface PendingRequest {
  id: JsonRpcId;
  method: string;
  stream: PostStream;
  deadline: number;
  progressToken?: string | number;
}

interface LoggedEvent {
  streamId: number;
  seq: number;
  raw: string;
}

/** The reply channel of one POST that carried requests. */
class PostStream {
  readonly pending = new Set<string | number>();
  /** undecided: nothing sent yet; answered as JSON if the client takes it, else as SSE. */
  mode: "undecided" | "json" | "sse";
  sink: SseSink | undefined;
  readonly collected: string[] = [];
  done = false;
  /** The legacy transport's one stream, which outlives this POST. */
  borrowedSink = false;
  /** Carries initialize: its answer decides whether the session exists at all. */
  initialize = false;
  resumeTimer: ReturnType<typeof setTimeout> | undefined;
  openTimer: ReturnType<typeof setTimeout> | undefined;
  /** Ends the POST's connection (ConnectionInfo.abort): for its stream, opened later. */
  abortConnection: (() => void) | undefined;
  readonly response: Promise<Response>;
  resolve!: (response: Response) => void;
  readonly openedAt = performance.now();

  constructor(
    readonly streamId: number,
    readonly acceptsJson: boolean,
    readonly acceptsSse: boolean,
    readonly batch: boolean,
    readonly headers: Record<string, string>,
  ) {
    this.mode = acceptsSse ? "undecided" : "json";
    this.response = new Promise((resolve) => {
      this.resolve = resolve;
    });
  }

  get canCarryEvents(): boolean {
    // Until initialize succeeds there is no session to stream for: its events wait in the backlog.
    return !this.done && !this.initialize && this.mode !== "json" && this.acceptsSse;
  }
}

export class Session {
  readonly id: string;
  readonly principal: Principal | undefined;
  lastActivity = performance.now();
  /** Negotiated in initialize; until then the version the client asked for. */
  protocolVersion: string;
  /**
   * Told whether the MCP server answered initialize (true) or let it time out (false), for /ready;
   * a refusal answers the client's request and says nothing about the server starting.
   */
  onStart: ((started: boolean) => void) | undefined;
  #link: UpstreamLink | undefined;
  readonly #settings: SessionSettings;
  readonly #logger: Logger;
  readonly #pending = new Map<string | number, PendingRequest>();
  readonly #progress = new Map<string | number, PendingRequest>();
  readonly #streams = new Map<number, PostStream>();
  readonly #childRequests = new Set<string | number>();
  readonly #events: LoggedEvent[] = [];
  #eventChars = 0;
  /** Server messages while no stream is open, with their UTF-8 size: a new stream takes them at once. */
  #backlog: Array<{ raw: string; bytes: number }> = [];
  #backlogBytes = 0;
  /** A drop was logged since the backlog last drained: one line per episode, not per message. */
  #backlogDropping = false;
  #standalone: SseSink | undefined;
  #nextStreamId = STANDALONE_STREAM + 1;
  #seq = 0;
  #closed = false;
  #legacy = false;
  #initialized = false;
  readonly #onEnd: (session: Session, reason: string) => void;
  readonly #drops: ThrottledLog;
  /** Calls the child did not answer in time: the operator's only sign of a hung or slow server. */
  readonly #timeouts: ThrottledLog;

  constructor(id: string, principal: Principal | undefined, protocolVersion: string, settings: SessionSettings, logger: Logger, onEnd: (session: Session, reason: string) => void) {
    this.id = id;
    this.principal = principal;
    this.protocolVersion = protocolVersion;
    this.#settings = settings;
    this.#logger = logger;
    this.#onEnd = onEnd;
    this.#drops = throttledLog(logger, "stream limits", { burst: 5, windowMs: 60_000 }, { session: id.slice(0, 8) });
    this.#timeouts = throttledLog(logger, "request timeouts", { burst: 5, windowMs: 60_000 }, { session: id.slice(0, 8) });
  }

  attach(link: UpstreamLink): void {
    this.#link = link;
  }

  get legacy(): boolean {
    return this.#legacy;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The MCP server answered initialize with a result. */
  get initialized(): boolean {
    return this.#initialized;
  }

  /** Requests awaiting the child's reply. */
  get inFlight(): number {
    return this.#pending.size;
  }

  get hasOpenStream(): boolean {
    return this.#standalone?.open === true || this.#streams.size > 0;
  }

  /**
   * Forwards a POST's messages to the child. Answers 202 when it carried no requests; otherwise
   * the response resolves with JSON or an SSE stream, as the client's Accept header allows.
   */
  handlePost(
    messages: JsonRpcMessage[],
    raws: string[],
    accept: { json: boolean; sse: boolean },
    batch: boolean,
    connection: Pick<ConnectionInfo, "onClientGone" | "abort"> | undefined,
    headers: Record<string, string> = {},
  ): Promise<Response> | Response {
    this.lastActivity = performance.now();
    if (this.#link?.congested) {
      this.#drops.write("warn", "the MCP server is not reading its input; POST refused with 503");
      return congestedResponse(null);
    }
    const requests = messages.filter(isRequest);
    for (const request of requests) {
      if (this.#pending.has(idKey(request.id))) {
        return jsonRpcErrorResponse(400, errorResponse(request.id, ErrorCode.InvalidRequest, `request id ${JSON.stringify(request.id)} is already in flight in this session`));
      }
    }
    const legacy = this.#legacy;
    const stream = requests.length > 0 ? new PostStream(this.#nextStreamId++, accept.json && !legacy, accept.sse || legacy, batch, headers) : undefined;
    if (stream) {
      this.#streams.set(stream.streamId, stream);
      stream.initialize = requests.some((request) => request.method === "initialize");
      const deadline = performance.now() + (stream.initialize ? Math.max(this.#settings.readTimeoutMs, this.#settings.startupTimeoutMs) : this.#settings.readTimeoutMs);
      for (const request of requests) this.#track(request, stream, deadline);
      if (legacy) {
        stream.mode = "sse";
        stream.sink = this.#standalone;
        stream.borrowedSink = true;
      } else {
        if (!stream.acceptsJson && !stream.initialize) stream.openTimer = setTimeout(() => this.#openSse(stream), SSE_OPEN_DELAY_MS);
        stream.abortConnection = connection?.abort;
        connection?.onClientGone(() => this.#clientGone(stream));
      }
    }
    for (let i = 0; i < messages.length; i++) this.#fromClient(messages[i]!, raws[i]!);
    return stream && !legacy ? stream.response : new Response(null, { status: 202, headers });
  }

  /**
   * The 2024-11-05 HTTP+SSE transport: one GET stream carries everything the server sends, opened
   * with an `endpoint` event naming where to POST; the session ends when that stream closes.
   */
  openLegacyStream(endpoint: string, abortConnection?: () => void): Response {
    const sink = this.#newSink(0, abortConnection);
    this.#legacy = true;
    this.#standalone = sink;
    sink.onClientGone = () => this.terminate(sink.overflowed ? "the client stopped reading its SSE stream (session.stream_buffer_size)" : "the client closed its SSE stream");
    sink.named("endpoint", endpoint);
    return new Response(sink.body, { headers: sseHeaders() });
  }

  /** Opens the standalone GET stream, or resumes a stream after Last-Event-ID. */
  handleGet(lastEventId: string | undefined, abortConnection?: () => void): Response {
    this.lastActivity = performance.now();
    const resumed = lastEventId ? parseEventId(lastEventId) : undefined;
    const streamId = resumed?.streamId ?? STANDALONE_STREAM;
    // Only a reply that went out as SSE can be resumed: one still undecided or sent as JSON comes on
    // its POST's own response, and a GET attached to it would never be closed nor fed.
    const found = streamId === STANDALONE_STREAM ? undefined : this.#streams.get(streamId);
    const post = found?.mode === "sse" ? found : undefined;
    // A new GET stream takes over from the open one: a client that reconnects learns of its dropped
    // stream before the bridge does (the socket's close arrives later, or never through some
    // proxies), and refusing it until then would leave the session without server messages.
    if (streamId === STANDALONE_STREAM) this.#standalone?.close();
    const replay: string[] = [];
    let replayBytes = 0;
    if (resumed) {
      for (const event of this.#events) {
        if (event.streamId !== streamId || event.seq <= resumed.seq) continue;
        const text = formatEvent(`${event.streamId}.${event.seq}`, event.raw);
        replay.push(text);
        // The sink counts encoded bytes: counted in characters, non-ASCII text would overflow it.
        replayBytes += utf8.encode(text).byteLength;
      }
    }
    // The replay is written at once, before the client can read any of it: room for it comes on top
    // of stream_buffer_size, which is for falling behind after it. It is bounded by the log, which
    // counts event_buffer_bytes in UTF-16 units: up to three bytes each once encoded.
    const sink = this.#newSink(replayBytes, abortConnection);
    const response = new Response(sink.body, { headers: sseHeaders({ "mcp-session-id": this.id }) });
    for (const event of replay) sink.write(event);
    // After the replay: its id is the newest, and a client that keeps it resumes after every replayed event.
    sink.write(this.#priming(streamId));
    if (post) {
      post.sink?.close();
      post.sink = sink;
      clearTimeout(post.resumeTimer);
      sink.onClientGone = () => this.#clientGone(post);
      if (post.pending.size === 0) this.#finish(post);
    } else if (streamId === STANDALONE_STREAM) {
      this.#standalone = sink;
      sink.onClientGone = () => {
        if (this.#standalone === sink) this.#standalone = undefined;
      };
      const backlog = this.#backlog;
      this.#backlog = [];
      this.#backlogBytes = 0;
      this.#backlogDropping = false;
      for (const { raw } of backlog) this.#writeEvent(sink, STANDALONE_STREAM, raw);
    } else {
      // The stream finished before the client came back: what was logged is all there is.
      sink.close();
    }
    return response;
  }

  /** A message from the child. */
  receive(message: JsonRpcMessage, raw: string): void {
    if (this.#closed) return;
    if (isResponse(message)) {
      const key = message.id === null ? undefined : idKey(message.id);
      const pending = key === undefined ? undefined : this.#pending.get(key);
      if (!pending || key === undefined) {
        this.#logger.debug("child answered an id that is not in flight; dropped", { id: message.id });
        return;
      }
      this.#untrack(key, pending);
      if (pending.method === "initialize") {
        if ("error" in message) return this.#initializeFailed(pending.stream, raw, "the MCP server refused initialize");
        this.#initialized = true;
        this.onStart?.(true);
        this.#noteInitialized(message.result);
      }
      this.#deliverResponse(pending.stream, raw);
      return;
    }
    if (isRequest(message)) {
      this.#childRequests.add(idKey(message.id));
      // Questions nobody answers must not pile up: the oldest is forgotten (its late answer is dropped).
      if (this.#childRequests.size > MAX_BACKLOG) this.#childRequests.delete(this.#childRequests.values().next().value!);
    }
    if (message.method === "notifications/progress") {
      const token = (message.params as { progressToken?: string | number } | undefined)?.progressToken;
      const owner = token === undefined ? undefined : this.#progress.get(token);
      if (owner) {
        owner.deadline = performance.now() + this.#settings.readTimeoutMs;
        if (owner.stream.canCarryEvents) return this.#deliverEvent(owner.stream, raw);
      }
    }
    this.#route(message.method, raw);
  }

  /**
   * Answers requests that waited too long with a JSON-RPC error and tells the child to stop. An
   * initialize is never cancelled (MCP forbids it): the session and its child end instead.
   */
  expireRequests(now: number): void {
    for (const [key, pending] of this.#pending) {
      if (pending.deadline > now) continue;
      this.#untrack(key, pending);
      const initialize = pending.method === "initialize";
      if (!initialize) this.#cancelUpstream(pending.id, "request timed out");
      const waited = initialize ? Math.max(this.#settings.readTimeoutMs, this.#settings.startupTimeoutMs) : this.#settings.readTimeoutMs;
      const raw = JSON.stringify(errorResponse(pending.id, ErrorCode.RequestTimeout, `the MCP server did not answer within ${waited} ms`));
      if (initialize) {
        this.onStart?.(false);
        this.#initializeFailed(pending.stream, raw, "the MCP server did not answer initialize in time (mcp_server.startup_timeout)");
      } else {
        this.#timeouts.write("warn", "the MCP server did not answer in time (server.mcp_server.read_timeout): the client got RequestTimeout", { method: pending.method, waited_ms: waited });
        this.#deliverResponse(pending.stream, raw);
      }
    }
  }

  /**
   * Liveness of long calls: a POST still waiting for its answer whose client accepts SSE, and that
   * has waited half of `intervalMs`, gets its response head now (as an SSE stream), so the next
   * keep-alive reaches it and neither a proxy's idle timeout nor a client's header timeout ends a
   * live call. Initialize is left alone: its answer decides whether the session exists.
   */
  showLiveness(intervalMs: number): void {
    const now = performance.now();
    for (const stream of this.#streams.values()) {
      if (stream.mode !== "undecided" || !stream.acceptsSse || now - stream.openedAt < intervalMs / 2) continue;
      if ([...stream.pending].some((key) => this.#pending.get(key)?.method === "initialize")) continue;
      this.#openSse(stream);
    }
  }

  /**
   * Sends a keep-alive comment on every open stream of this session. An open stream keeps a
   * Streamable HTTP session alive; a legacy session lives on its POSTs, since its one stream is
   * always open (even when a HEAD or a vanished client opened it).
   */
  keepAlive(): void {
    if (this.#standalone?.open) this.#standalone.keepAlive();
    for (const stream of this.#streams.values()) if (stream.sink?.open) stream.sink.keepAlive();
    if (this.hasOpenStream && !this.#legacy) this.lastActivity = performance.now();
  }

  /** Whether the session has been idle longer than `timeoutMs` and may be ended. */
  idle(now: number, timeoutMs: number): boolean {
    if (this.inFlight > 0 || now - this.lastActivity <= timeoutMs) return false;
    return this.#legacy || !this.hasOpenStream;
  }

  /** Ends the session: pending requests get an error at once, streams close, the upstream is released. */
  terminate(reason: string): void {
    if (this.#closed) return;
    for (const [key, pending] of this.#pending) {
      this.#untrack(key, pending);
      if (pending.stream.initialize) delete pending.stream.headers["mcp-session-id"];
      this.#deliverResponse(pending.stream, JSON.stringify(errorResponse(pending.id, ErrorCode.ConnectionClosed, reason)));
    }
    this.#closed = true;
    this.#standalone?.close();
    for (const stream of this.#streams.values()) this.#finish(stream);
    this.#link?.close();
    this.#onEnd(this, reason);
  }

  #track(request: JsonRpcRequest, stream: PostStream, deadline: number): void {
    const key = idKey(request.id);
    const progressToken = (request.params?._meta as { progressToken?: string | number } | undefined)?.progressToken;
    const pending: PendingRequest = { id: request.id, method: request.method, stream, deadline, progressToken };
    this.#pending.set(key, pending);
    stream.pending.add(key);
    if (progressToken !== undefined) this.#progress.set(progressToken, pending);
  }

  #untrack(key: string | number, pending: PendingRequest): void {
    this.#pending.delete(key);
    pending.stream.pending.delete(key);
    if (pending.progressToken !== undefined) this.#progress.delete(pending.progressToken);
  }

  #fromClient(message: JsonRpcMessage, raw: string): void {
    if (isResponse(message)) {
      // Only answers to what the child asked are passed on.
      const key = message.id === null ? undefined : idKey(message.id);
      if (key === undefined || !this.#childRequests.delete(key)) {
        this.#logger.debug("client answered an id the server did not ask; dropped", { id: message.id });
        return;
      }
    } else if (message.method === "notifications/cancelled") {
      const requestId = (message.params as { requestId?: JsonRpcId } | undefined)?.requestId;
      const key = requestId === undefined ? undefined : idKey(requestId);
      const pending = key === undefined ? undefined : this.#pending.get(key);
      if (pending && key !== undefined) {
        this.#untrack(key, pending);
        if (pending.stream.pending.size === 0) this.#finish(pending.stream);
      }
    }
    this.#link?.send(message, raw);
  }

  #route(method: string, raw: string): void {
    if (STANDALONE_FIRST.test(method) && this.#standalone?.open) return this.#writeEvent(this.#standalone, STANDALONE_STREAM, raw);
    let target: PostStream | undefined;
    for (const stream of this.#streams.values()) if (stream.canCarryEvents) target = stream;
    if (target) return this.#deliverEvent(target, raw);
    if (this.#standalone?.open) return this.#writeEvent(this.#standalone, STANDALONE_STREAM, raw);
    // In bytes, as the stream's cap counts: in characters, non-ASCII text would not fit the new stream.
    const bytes = utf8.encode(raw).byteLength;
    this.#backlog.push({ raw, bytes });
    this.#backlogBytes += bytes;
    // Half the stream's cap: the whole backlog goes into a new stream at once, with SSE framing added.
    while (this.#backlog.length > MAX_BACKLOG || (this.#backlogBytes > this.#settings.streamBufferBytes / 2 && this.#backlog.length > 0)) {
      if (!this.#backlogDropping) {
        this.#backlogDropping = true;
        this.#drops.write("warn", "no stream open for server messages and the backlog is full (session.stream_buffer_size); oldest dropped until a GET stream opens");
      }
      this.#backlogBytes -= this.#backlog.shift()!.bytes;
    }
  }

  /** A request or notification for a POST stream; switches an undecided stream to SSE. */
  #deliverEvent(stream: PostStream, raw: string): void {
    if (stream.mode === "undecided") this.#openSse(stream);
    this.#writeEvent(stream.sink, stream.streamId, raw);
  }

  #deliverResponse(stream: PostStream, raw: string): void {
    if (stream.done) return;
    const last = stream.pending.size === 0;
    if (stream.initialize && stream.mode === "undecided") {
      // Held until the verdict: a failed initialize must not hand out the session id.
      stream.collected.push(raw);
      if (last) this.#finish(stream);
      return;
    }
    if (stream.mode === "sse") {
      this.#writeEvent(stream.sink, stream.streamId, raw);
    } else {
      stream.collected.push(raw);
    }
    if (last) this.#finish(stream);
  }

  #openSse(stream: PostStream): void {
    if (stream.mode !== "undecided" || stream.done) return;
    clearTimeout(stream.openTimer);
    const sink = this.#newSink(0, stream.abortConnection);
    stream.mode = "sse";
    stream.sink = sink;
    sink.onClientGone = () => this.#clientGone(stream);
    stream.resolve(new Response(sink.body, { headers: sseHeaders(stream.headers) }));
    sink.write(this.#priming(stream.streamId));
    for (const raw of stream.collected.splice(0)) this.#writeEvent(sink, stream.streamId, raw);
  }

  #finish(stream: PostStream): void {
    if (stream.done) return;
    stream.done = true;
    clearTimeout(stream.resumeTimer);
    clearTimeout(stream.openTimer);
    this.#streams.delete(stream.streamId);
    if (stream.mode === "sse") {
      if (!stream.borrowedSink) stream.sink?.close();
      return;
    }
    if (stream.collected.length === 0) return stream.resolve(new Response(null, { status: 202, headers: stream.headers }));
    if (stream.acceptsJson) {
      const body = stream.batch ? `[${stream.collected.join(",")}]` : stream.collected[0]!;
      return stream.resolve(new Response(body, { status: 200, headers: { ...stream.headers, "content-type": "application/json" } }));
    }
    let events = this.#priming(stream.streamId);
    for (const raw of stream.collected) events += this.#nextEvent(stream.streamId, raw);
    stream.resolve(new Response(events, { status: 200, headers: sseHeaders(stream.headers) }));
  }

  /**
   * The client went away from a POST stream. An SSE stream may come back with Last-Event-ID within
   * the resume window; anything else cannot, so its requests are cancelled at the child at once.
   */
  #clientGone(stream: PostStream): void {
    if (stream.done || stream.pending.size === 0) return;
    // Nobody will learn this session's id: end it (initialize itself is never cancelled).
    if (stream.initialize) return this.terminate("the client went away during initialize");
    const resumable = stream.mode === "sse";
    if (resumable) stream.sink = undefined;
    const cancel = () => {
      if (stream.done || stream.sink) return;
      for (const key of [...stream.pending]) {
        const pending = this.#pending.get(key);
        if (!pending) continue;
        this.#untrack(key, pending);
        this.#cancelUpstream(pending.id, "client disconnected");
      }
      this.#finish(stream);
    };
    if (resumable) stream.resumeTimer = setTimeout(cancel, this.#settings.resumeWindowMs);
    else cancel();
  }

  #cancelUpstream(requestId: JsonRpcId, reason: string): void {
    const notification = { jsonrpc: "2.0" as const, method: "notifications/cancelled", params: { requestId, reason } };
    this.#link?.send(notification, JSON.stringify(notification));
  }

  /** The event a stream starts with, so the client can resume before the first message (2025-11-25). */
  #priming(streamId: number): string {
    return this.protocolVersion >= PRIMING_FROM_VERSION ? formatEvent(`${streamId}.${this.#seq}`, "", this.#settings.retryMs) : "";
  }

  /** The next event of a stream, kept for Last-Event-ID replay. */
  #nextEvent(streamId: number, raw: string): string {
    const seq = ++this.#seq;
    // A legacy (HTTP+SSE) stream cannot be resumed: its client reconnects to a new session.
    if (!this.#legacy && this.#settings.eventBufferSize > 0 && raw.length <= this.#settings.eventBufferBytes) {
      this.#events.push({ streamId, seq, raw });
      this.#eventChars += raw.length;
      while (this.#events.length > this.#settings.eventBufferSize || this.#eventChars > this.#settings.eventBufferBytes) {
        this.#eventChars -= this.#events.shift()!.raw.length;
      }
    }
    return formatEvent(`${streamId}.${seq}`, raw);
  }

  #writeEvent(sink: SseSink | undefined, streamId: number, raw: string): void {
    sink?.write(this.#nextEvent(streamId, raw));
  }

  /**
   * A stream whose client stops reading is closed at session.stream_buffer_size, and that is logged.
   * `replayBytes`: room for a Last-Event-ID replay written at once, on top of that cap.
   */
  #newSink(replayBytes = 0, abortConnection?: () => void): SseSink {
    const sink = new SseSink(this.#settings.streamBufferBytes + replayBytes, abortConnection);
    sink.onOverflow = () => this.#drops.write("warn", "an SSE client stopped reading; its stream was closed at session.stream_buffer_size", { limit: this.#settings.streamBufferBytes });
    return sink;
  }

  /** initialize failed: the client gets `raw` (the error) without a session id, and nothing is left behind. */
  #initializeFailed(stream: PostStream, raw: string, reason: string): void {
    delete stream.headers["mcp-session-id"];
    this.#deliverResponse(stream, raw);
    this.#logger.warn("initialize failed; the session and its MCP server end", { reason });
    this.terminate(reason);
  }

  #noteInitialized(result: unknown): void {
    const version = (result as { protocolVersion?: unknown } | undefined)?.protocolVersion;
    if (typeof version === "string") this.protocolVersion = version;
  }
}

function parseEventId(text: string): { streamId: number; seq: number } | undefined {
  const match = /^(\d{1,9})\.(\d{1,15})$/.exec(text);
  return match ? { streamId: Number(match[1]), seq: Number(match[2]) } : undefined;
}

/** Retry-After (seconds) when the MCP server's input is full. */
const CONGESTED_RETRY_AFTER = 1;

/** 503 for a request that would go to a child whose stdin holds more than mcp_server.stdin_buffer_size unread. */
export function congestedResponse(id: JsonRpcId | null): Response {
  return jsonRpcErrorResponse(503, errorResponse(id, ErrorCode.InternalError, "Service Unavailable: the MCP server is not keeping up with its input; retry later"), {
    "retry-after": String(CONGESTED_RETRY_AFTER),
  });
}

export function jsonRpcErrorResponse(status: number, body: JsonRpcMessage, headers?: Record<string, string>): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
}
