/**
 * @module Reading a Server-Sent Events body (HTML Living Standard §9.2.6, "Interpreting an event
 * stream") as MCP uses it: events with data, id and retry. An event larger than the limit ends
 * the stream with an error instead of growing a buffer without bound.
 */

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

/** A stream parser: feed it text in any chunking, it calls `onEvent` for each complete event. */
export function createSseParser(handlers: SseHandlers, maxEventChars: number): { push(text: string): void } {
  let buffer = "";
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
      if (dataChars > maxEventChars) throw new Error(`an SSE event exceeds ${maxEventChars} characters`);
      data.push(value);
    } else if (name === "event") event = value;
    else if (name === "id" && !value.includes("\0")) id = value;
    else if (name === "retry" && /^\d+$/.test(value)) handlers.onRetry?.(Number(value));
  };
  return {
    push(text) {
      buffer += text;
      let start = 0;
      for (;;) {
        const match = /\r\n|\r|\n/g;
        match.lastIndex = start;
        const found = match.exec(buffer);
        // A lone "\r" at the very end may be the first half of "\r\n": wait for more.
        if (!found || (found[0] === "\r" && found.index === buffer.length - 1)) break;
        field(buffer.slice(start, found.index));
        start = found.index + found[0].length;
      }
      buffer = buffer.slice(start);
      if (buffer.length > maxEventChars) throw new Error(`an SSE line exceeds ${maxEventChars} characters`);
    },
  };
}

/**
 * Reads `body` to its end, calling the handlers for each event. Resolves when the server ends
 * the stream; rejects when the connection breaks or an event is too large.
 */
export async function readSse(body: ReadableStream<Uint8Array>, handlers: SseHandlers, maxEventChars: number): Promise<void> {
  const parser = createSseParser(handlers, maxEventChars);
  const decoder = new TextDecoder();
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parser.push(decoder.decode(value, { stream: true }));
    }
    parser.push(decoder.decode());
  } catch (error) {
    await reader.cancel().catch(() => {});
    throw error;
  }
}
