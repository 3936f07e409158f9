/**
 * @module Reading a Server-Sent Events body (HTML Living Standard §9.2.6, "Interpreting an event
 * stream") as MCP uses it: events with data, id and retry. An event larger than the limit ends
 * the stream with an error instead of growing a buffer without bound.
 */
import type { AnswerBudget } from "./answer-budget.ts";
import { ClientTransportError } from "./errors.ts";

export interface SseEvent {
  /** The `event:` field; "message" when absent. */
  event: string;
  data: string;
  /** The `id:` field of this event, if it had one. */
  id?: string;
}

export interface SseHandlers {
  onEvent(event: SseEvent): void;
  /** A `retry:` field: the reconnection time the server asks for (ms). */
  onRetry?(ms: number): void;
}

/**
 * A stream parser: feed it text in any chunking, it calls `onEvent` for each complete event. Each
 * chunk is scanned once: an unfinished line is kept as its pieces and joined when its end comes,
 * so a line trickled in many chunks costs time linear in its length. `holding` says whether it
 * keeps part of an event (an unfinished line, or data lines awaiting their blank line).
 *
 * @throws ClientTransportError "protocol" when a line or an event's data exceeds `maxEventChars`.
 */
export function createSseParser(handlers: SseHandlers, maxEventChars: number): { push(text: string): void; readonly holding: boolean } {
  /** The unfinished line, in the pieces it came in. */
  let pending: string[] = [];
  let pendingChars = 0;
  /** The last chunk ended with "\r": a "\n" opening the next one is the second half of that line end. */
  let afterCarriageReturn = false;
  let data: string[] = [];
  let dataChars = 0;
  let event = "";
  let id: string | undefined;
  const dispatch = () => {
    if (data.length > 0) handlers.onEvent({ event: event || "message", data: data.join("\n"), ...(id !== undefined && { id }) });
    data = [];
    dataChars = 0;
    event = "";
    id = undefined;
  };
  const field = (line: string) => {
    if (line === "") return dispatch();
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const name = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (name === "data") {
      dataChars += value.length;
      if (dataChars > maxEventChars) throw new ClientTransportError("protocol", `an SSE event exceeds ${maxEventChars} characters`);
      data.push(value);
    } else if (name === "event") event = value;
    else if (name === "id" && !value.includes("\0")) id = value;
    else if (name === "retry" && /^\d+$/.test(value)) handlers.onRetry?.(Number(value));
  };
  return {
    push(text) {
      if (text === "") return;
      let start = afterCarriageReturn && text.startsWith("\n") ? 1 : 0;
      afterCarriageReturn = false;
      const lineEnd = /\r\n|\r|\n/g;
      lineEnd.lastIndex = start;
      for (let found = lineEnd.exec(text); found; found = lineEnd.exec(text)) {
        const tail = text.slice(start, found.index);
        const line = pending.length > 0 ? pending.join("") + tail : tail;
        pending = [];
        pendingChars = 0;
        start = lineEnd.lastIndex;
        afterCarriageReturn = found[0] === "\r" && start === text.length;
        field(line);
      }
      if (start < text.length) {
        pending.push(text.slice(start));
        pendingChars += text.length - start;
        if (pendingChars > maxEventChars) throw new ClientTransportError("protocol", `an SSE line exceeds ${maxEventChars} characters`);
      }
    },
    get holding() {
      return pending.length > 0 || data.length > 0;
    },
  };
}

export interface SseReadOptions {
  /** The longest line, and the most data of one event (characters). */
  maxEventChars: number;
  /** Settles once what was delivered has been taken: awaited before each chunk. */
  drained: () => Promise<void>;
  /** The budget the stream's unfinished event is held of, in bytes as received. */
  answers: AnswerBudget;
  /** True once the stream has brought what it was read for. */
  done?: () => boolean;
}

/**
 * Reads `body` to its end, calling the handlers for each event. Resolves when the server ends
 * the stream, or once `done()` is true after a chunk (the stream is then closed: a reply stream
 * the server keeps open after its answer must not hold the request, nor a socket); rejects when
 * the connection breaks, or (ClientTransportError "protocol") an event is too large, or
 * ("capacity") its unfinished event would take the answer budget past its limit.
 * Each chunk is read once `drained` settles: what the events are delivered to sets the pace, and
 * the server's flood waits in its own buffers (TCP flow control), not in ours.
 */
export async function readSse(body: ReadableStream<Uint8Array>, handlers: SseHandlers, options: SseReadOptions): Promise<void> {
  let dispatched = false;
  const parser = createSseParser(
    {
      ...handlers,
      onEvent: (event) => {
        dispatched = true;
        handlers.onEvent(event);
      },
    },
    options.maxEventChars,
  );
  const decoder = new TextDecoder();
  const reader = body.getReader();
  const held = options.answers.hold();
  /** Bytes of the event the parser keeps unfinished; after an event ended in a chunk, that chunk's bytes bound what is left. */
  let unfinished = 0;
  try {
    for (;;) {
      await options.drained();
      const chunk = await reader.read();
      if (chunk.done) break;
      const bytes = chunk.value.byteLength;
      held.grow(bytes);
      dispatched = false;
      parser.push(decoder.decode(chunk.value, { stream: true }));
      unfinished = !parser.holding ? 0 : dispatched ? bytes : unfinished + bytes;
      held.shrinkTo(unfinished);
      if (options.done?.()) {
        await reader.cancel().catch(() => {});
        return;
      }
    }
    parser.push(decoder.decode());
  } catch (error) {
    await reader.cancel().catch(() => {});
    throw error;
  } finally {
    held.release();
  }
}
