/** @module A Server-Sent Events response body that the session writes events and keep-alives into. */

const encoder = new TextEncoder();

/** One `message` event as text; `data` is a single line of JSON (or "" for a priming event). */
export function formatEvent(id: string | undefined, data: string, retryMs?: number): string {
  let text = "event: message\n";
  if (id !== undefined) text += `id: ${id}\n`;
  if (retryMs !== undefined) text += `retry: ${retryMs}\n`;
  return text + `data: ${data}\n\n`;
}

/**
 * A stream body with a byte cap on what waits for the client. The HTTP server takes the next chunk
 * only when the socket has drained, so a client that stops reading leaves events queued here; past
 * the cap the stream is aborted (the connection closes) rather than holding them without bound.
 */
export class SseSink {
  readonly body: ReadableStream<Uint8Array>;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #open = true;
  #overflowed = false;
  /** Called once when the client goes away, or stopped reading (not when the bridge closes the stream). */
  onClientGone: (() => void) | undefined;
  /** Called once, before onClientGone, when the stream was aborted because the client did not read. */
  onOverflow: (() => void) | undefined;
  /**
   * `maxQueuedBytes`: unread bytes allowed; one event is always accepted into an empty queue.
   * `abortConnection` ends the connection the stream goes out on (ConnectionInfo.abort), when the runtime can.
   */
  constructor(
    maxQueuedBytes: number,
    private readonly abortConnection?: () => void,
  ) {
    this.body = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.#controller = controller;
        },
        cancel: () => {
          if (!this.#open) return;
          this.#open = false;
          this.onClientGone?.();
        },
      },
      { highWaterMark: maxQueuedBytes, size: (chunk) => chunk.byteLength },
    );
  }

  get open(): boolean {
    return this.#open;
  }

  /** The stream was aborted because its client did not read (see onOverflow). */
  get overflowed(): boolean {
    return this.#overflowed;
  }

  /** A named event (the legacy transport's `endpoint`). */
  named(event: string, data: string): void {
    this.write(`event: ${event}\ndata: ${data}\n\n`);
  }

  /** A comment line: keeps proxies and idle timers from closing a quiet stream. */
  keepAlive(): void {
    this.write(": keep-alive\n\n");
  }

  close(): void {
    if (!this.#open) return;
    this.#open = false;
    try {
      this.#controller.close();
    } catch {
      // Already cancelled by the reader.
    }
  }

  /** Writes formatted events (see formatEvent). */
  write(text: string): void {
    if (!this.#open || text === "") return;
    if ((this.#controller.desiredSize ?? 0) <= 0) return this.#overflow();
    try {
      this.#controller.enqueue(encoder.encode(text));
    } catch {
      this.#open = false;
    }
  }

  #overflow(): void {
    this.#open = false;
    this.#overflowed = true;
    // Not close(): that would keep the queue until the client read it. Ending the connection makes
    // the HTTP server cancel the body (its queue goes) quietly; an errored body does the same, but
    // the Node adapter prints the error's stack to stderr, past the logger, for every such client.
    if (this.abortConnection) this.abortConnection();
    else {
      try {
        this.#controller.error(new Error("the client did not read its event stream"));
      } catch {
        // Already cancelled by the reader.
      }
    }
    this.onOverflow?.();
    this.onClientGone?.();
  }
}

/** A plain record, not Headers: the Node adapter writes a record straight into the response head. */
export function sseHeaders(extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...extra,
    "content-type": "text/event-stream",
    "cache-control": "no-cache, no-transform",
    // Tells nginx not to buffer the stream.
    "x-accel-buffering": "no",
  };
}
