/**
 * @module Reading a Server-Sent Events body (HTML Living Standard §9.2.6, "Interpreting an event
 * stream") as MCP uses it: events with data, id and retry. An event larger than the limit ends
 * the stream with an error instead of growing a buffer without bound.
 */
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
 * so a line trickled in many chunks costs time linear in its length.
 *
 * @throws ClientTransportError "protocol" when a line or an event's data exceeds `maxEventChars`.
 */
export function createSseParser(handlers: SseHandlers, maxEventChars: number): { push(text: string): void } {
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
  };
}

/**
 * Reads `body` to its end, calling the handlers for each event. Resolves when the server ends
 * the stream, or once `done()` is true after a chunk (the stream is then closed: a reply stream
 * the server keeps open after its answer must not hold the request, nor a socket); rejects when
 * the connection breaks, or (ClientTransportError "protocol") an event is too large.
 * Each chunk is read once `drained` settles: what the events are delivered to sets the pace, and
 * the server's flood waits in its own buffers (TCP flow control), not in ours.
 */
export async function readSse(body: ReadableStream<Uint8Array>, handlers: SseHandlers, maxEventChars: number, drained: () => Promise<void>, done?: () => boolean): Promise<void> {
  const parser = createSseParser(handlers, maxEventChars);
  const decoder = new TextDecoder();
  const reader = body.getReader();
  try {
    for (;;) {
      await drained();
      const chunk = await reader.read();
      if (chunk.done) break;
      parser.push(decoder.decode(chunk.value, { stream: true }));
      if (done?.()) {
        await reader.cancel().catch(() => {});
        return;
      }
    }
    parser.push(decoder.decode());
  } catch (error) {
    await reader.cancel().catch(() => {});
    throw error;
  }
}
