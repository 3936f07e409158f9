/**
 * @module Reading a Server-Sent Events body (HTML Living Standard §9.2.6, "Interpreting an event
 * stream") as MCP uses it: events with data, id and retry. An event larger than the limit ends
 * the stream with an error instead of growing a buffer without bound; on a stream several
 * exchanges share, an event past the answer budget is skipped (read, not held) and the stream goes on.
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

/** Characters of a skipped event's data kept from its start and from its end, to learn its message's id. */
export const SKIPPED_EDGE_CHARS = 1_024;

/** An event read past without being held: what is left of it to tell whom it was for. */
export interface SkippedEvent {
  /** The `event:` field; "message" when absent. */
  event: string;
  /** The first SKIPPED_EDGE_CHARS characters of its data. */
  head: string;
  /** The last SKIPPED_EDGE_CHARS characters of its data (all of it when it is that short). */
  tail: string;
}

export interface SseHandlers {
  onEvent(event: SseEvent): void;
  /** A `retry:` field: the reconnection time the server asks for (ms). */
  onRetry?(ms: number): void;
  /**
   * With this handler, readSse skips an event that would take the answer budget past its limit
   * (`error`, ClientTransportError "capacity") instead of ending the stream: for a stream shared by
   * several exchanges, where one answer too many must not end the others. Called once the skipped
   * event ended; throwing ends the stream with that error.
   */
  onSkipped?(event: SkippedEvent, error: unknown): void;
}

/**
 * A stream parser: feed it text in any chunking, it calls `onEvent` for each complete event. Each
 * chunk is scanned once: an unfinished line is kept as its pieces and joined when its end comes,
 * so a line trickled in many chunks costs time linear in its length. `holding` says whether it
 * keeps part of an event (an unfinished line, or data lines awaiting their blank line).
 *
 * `skip(error)` drops what it keeps of the event under way and reads the rest of it keeping only
 * its edges, for `onSkipped`; `holding` is then false until another event begins.
 *
 * @throws ClientTransportError "protocol" when a line or an event's data exceeds `maxEventChars`.
 */
export function createSseParser(handlers: SseHandlers, maxEventChars: number): { push(text: string): void; skip(error: unknown): void; readonly holding: boolean } {
  /** The unfinished line, in the pieces it came in. */
  let pending: string[] = [];
  let pendingChars = 0;
  /** The last chunk ended with "\r": a "\n" opening the next one is the second half of that line end. */
  let afterCarriageReturn = false;
  let data: string[] = [];
  let dataChars = 0;
  let event = "";
  let id: string | undefined;
  /** The event being skipped: its edges, and the field of its current line (learnt from the line's start). */
  let skipping: { error: unknown; head: string; tail: string; lines: number; lineStart: string; lineChars: number; name?: string | null } | undefined;
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
      if (dataChars > maxEventChars) throw new ClientTransportError("protocol", `an SSE event exceeds ${maxEventChars} characters (client.max_message_size)`);
      data.push(value);
    } else if (name === "event") event = value;
    else if (name === "id" && !value.includes("\0")) id = value;
    else if (name === "retry" && /^\d+$/.test(value)) handlers.onRetry?.(Number(value));
  };
  /** Adds data of the skipped event (a data line's value, or part of it) to its edges. */
  const skipData = (value: string) => {
    const skipped = skipping!;
    dataChars += value.length;
    if (dataChars > maxEventChars) throw new ClientTransportError("protocol", `an SSE event exceeds ${maxEventChars} characters (client.max_message_size)`);
    if (skipped.head.length < SKIPPED_EDGE_CHARS) skipped.head += value.slice(0, SKIPPED_EDGE_CHARS - skipped.head.length);
    skipped.tail = (skipped.tail + value.slice(-SKIPPED_EDGE_CHARS)).slice(-SKIPPED_EDGE_CHARS);
  };
  /** A piece of a line of the skipped event; `ends` when the line ends with it. Keeps only the line's start until its field is known. */
  const skipPiece = (piece: string, ends: boolean) => {
    const skipped = skipping!;
    skipped.lineChars += piece.length;
    if (skipped.name === undefined) {
      skipped.lineStart += piece.slice(0, SKIPPED_EDGE_CHARS);
      const colon = skipped.lineStart.indexOf(":");
      if (colon >= 0 || ends || skipped.lineStart.length >= SKIPPED_EDGE_CHARS) {
        // A field named by more than SKIPPED_EDGE_CHARS characters is none MCP uses: ignored.
        skipped.name = colon >= 0 ? skipped.lineStart.slice(0, colon) : ends ? skipped.lineStart : null;
        const value = colon < 0 ? "" : skipped.lineStart.slice(colon + 1).replace(/^ /, "");
        if (skipped.name === "data") {
          if (skipped.lines++ > 0) skipData("\n");
          skipData(value + piece.slice(SKIPPED_EDGE_CHARS));
        } else if (skipped.name === "event") event = value;
      }
    } else if (skipped.name === "data") skipData(piece);
    if (!ends) return;
    if (skipped.lineChars === 0) {
      skipping = undefined;
      const edges = { event: event || "message", head: skipped.head, tail: skipped.tail };
      dispatch();
      if (skipped.lines > 0) handlers.onSkipped?.(edges, skipped.error);
      return;
    }
    skipped.lineStart = "";
    skipped.lineChars = 0;
    delete skipped.name;
  };
  return {
    skip(error) {
      if (skipping) return;
      const kept = data;
      const line = pending;
      skipping = { error, head: "", tail: "", lines: 0, lineStart: "", lineChars: 0 };
      data = [];
      dataChars = 0;
      pending = [];
      pendingChars = 0;
      for (const value of kept) {
        if (skipping.lines++ > 0) skipData("\n");
        skipData(value);
      }
      for (const piece of line) skipPiece(piece, false);
    },
    push(text) {
      if (text === "") return;
      let start = afterCarriageReturn && text.startsWith("\n") ? 1 : 0;
      afterCarriageReturn = false;
      const lineEnd = /\r\n|\r|\n/g;
      lineEnd.lastIndex = start;
      for (let found = lineEnd.exec(text); found; found = lineEnd.exec(text)) {
        const tail = text.slice(start, found.index);
        start = lineEnd.lastIndex;
        afterCarriageReturn = found[0] === "\r" && start === text.length;
        if (skipping) {
          skipPiece(tail, true);
          continue;
        }
        const line = pending.length > 0 ? pending.join("") + tail : tail;
        pending = [];
        pendingChars = 0;
        field(line);
      }
      if (start < text.length && skipping) skipPiece(text.slice(start), false);
      else if (start < text.length) {
        pending.push(text.slice(start));
        pendingChars += text.length - start;
        if (pendingChars > maxEventChars) throw new ClientTransportError("protocol", `an SSE line exceeds ${maxEventChars} characters (client.max_message_size)`);
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
 * ("capacity") its unfinished event would take the answer budget past its limit — unless the
 * handlers have `onSkipped`: then such an event is skipped (see SseHandlers.onSkipped).
 * Each chunk is read once `drained` settles: what the events are delivered to sets the pace, and
 * the server's flood waits in its own buffers (TCP flow control), not in ours.
 */
export async function readSse(body: ReadableStream<Uint8Array>, handlers: SseHandlers, options: SseReadOptions): Promise<void> {
  /** The bytes of the event the parser keeps unfinished (after an event ended in a chunk, that chunk's bytes bound what is left). */
  const held = options.answers.hold();
  let dispatched = false;
  const parser = createSseParser(
    {
      ...handlers,
      onEvent: (event) => {
        dispatched = true;
        // Handed on at once: what keeps the message (stdout's line, a batch's array) holds it from here, so it never counts twice.
        held.shrinkTo(0);
        handlers.onEvent(event);
      },
    },
    options.maxEventChars,
  );
  const decoder = new TextDecoder();
  const reader = body.getReader();
  try {
    for (;;) {
      await options.drained();
      const chunk = await reader.read();
      if (chunk.done) break;
      const bytes = chunk.value.byteLength;
      let refused = false;
      try {
        held.grow(bytes);
      } catch (error) {
        if (!handlers.onSkipped) throw error;
        // The event under way does not fit: it is read on, not held, and the stream goes on.
        parser.skip(error);
        held.shrinkTo(0);
        refused = true;
      }
      dispatched = false;
      parser.push(decoder.decode(chunk.value, { stream: true }));
      if (!parser.holding) held.shrinkTo(0);
      else if (dispatched || refused) {
        // Another event began in the chunk, after one handed on or skipped: held like any, or skipped too.
        try {
          held.grow(bytes);
        } catch (error) {
          if (!handlers.onSkipped) throw error;
          parser.skip(error);
        }
      }
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
