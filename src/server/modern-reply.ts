/**
 * @module The HTTP response to one modern request. It starts undecided: a request answered
 * before anything else is sent gets a JSON body; the first notification about it (progress, log,
 * a listen stream's acknowledgement) turns it into an SSE stream, when the client accepts one.
 * Modern streams carry no event ids: the 2026-07-28 transport has no resumption, and a closed
 * stream cancels its request.
 */
import type { JsonRpcMessage, JsonRpcResponse } from "../jsonrpc/message.ts";
import { httpStatusOfError } from "../mcp/results.ts";
import { formatEvent, SseSink, sseHeaders } from "./sse.ts";

export class ModernReply {
  readonly response: Promise<Response>;
  #resolve!: (response: Response) => void;
  #sink: SseSink | undefined;
  #done = false;
  #keepAlive: ReturnType<typeof setInterval> | undefined;
  readonly #acceptsJson: boolean;
  readonly #acceptsSse: boolean;
  readonly #keepAliveMs: number;
  readonly #maxQueuedBytes: number;
  #gone = false;
  #onClientGone: (() => void) | undefined;
  /** Called once when the reply is over, answered or abandoned. */
  onEnd: (() => void) | undefined;
  /** Called once when its stream was ended because the client did not read it (before the reply's clientGone). */
  onOverflow: (() => void) | undefined;

  /**
   * `maxQueuedBytes`: unread bytes allowed on the response stream (session.stream_buffer_size);
   * `abortConnection` ends the connection when its client stops reading (ConnectionInfo.abort).
   */
  constructor(accept: { json: boolean; sse: boolean }, keepAliveMs: number, maxQueuedBytes: number, readonly abortConnection?: () => void) {
    this.#acceptsJson = accept.json;
    this.#acceptsSse = accept.sse;
    this.#keepAliveMs = keepAliveMs;
    this.#maxQueuedBytes = maxQueuedBytes;
    this.response = new Promise((resolve) => (this.#resolve = resolve));
  }

  get done(): boolean {
    return this.#done;
  }

  /**
   * Called once if the client goes away before the reply is complete; at once when set after it
   * went (a call that waited for a child must not start for a client that is gone).
   */
  get onClientGone(): (() => void) | undefined {
    return this.#onClientGone;
  }

  set onClientGone(listener: (() => void) | undefined) {
    this.#onClientGone = listener;
    if (this.#gone) listener?.();
  }

  /** The HTTP connection went away (the runtime's signal, before any stream existed). */
  clientGone(): void {
    if (this.#done) return;
    this.#done = true;
    this.#gone = true;
    clearInterval(this.#keepAlive);
    this.#onClientGone?.();
    this.onEnd?.();
  }

  /** A message about the request before its response; dropped when the client takes only JSON. */
  event(message: JsonRpcMessage): void {
    if (this.#done || !this.#acceptsSse) return;
    this.#openStream();
    this.#sink!.write(formatEvent(undefined, JSON.stringify(message)));
  }

  /**
   * The final response: the stream's last event, or the JSON body (status by error code). `line`
   * is `response` as one line of JSON when the caller has it already (see completeResultLine).
   */
  finish(response: JsonRpcResponse, headers: Record<string, string> = {}, line?: string): void {
    if (this.#done) return;
    this.#done = true;
    clearInterval(this.#keepAlive);
    this.onEnd?.();
    const raw = line ?? JSON.stringify(response);
    if (this.#sink) {
      this.#sink.write(formatEvent(undefined, raw));
      this.#sink.close();
      return;
    }
    const status = response.error ? httpStatusOfError(response.error.code) : 200;
    if (this.#acceptsJson || !this.#acceptsSse) {
      this.#resolve(new Response(raw, { status, headers: { ...headers, "content-type": "application/json" } }));
      return;
    }
    this.#resolve(new Response(formatEvent(undefined, raw), { status, headers: sseHeaders(headers) }));
  }

  #openStream(): void {
    if (this.#sink) return;
    const sink = new SseSink(this.#maxQueuedBytes, this.abortConnection);
    sink.onOverflow = () => this.onOverflow?.();
    this.#sink = sink;
    sink.onClientGone = () => this.clientGone();
    if (this.#keepAliveMs > 0) this.#keepAlive = setInterval(() => sink.keepAlive(), this.#keepAliveMs);
    this.#resolve(new Response(sink.body, { status: 200, headers: sseHeaders() }));
  }
}
