/**
 * @module Newline-delimited JSON framing for stdio: bytes in, one line at a time out, whatever the
 * chunk boundaries. A line longer than the limit is dropped (and reported), never buffered forever.
 */

const NEWLINE = 0x0a;

export interface LineSplitter {
  push(chunk: Uint8Array): void;
  /** Emits what is left without a trailing newline (at end of stream). */
  flush(): void;
}

export function createLineSplitter(onLine: (line: string) => void, onOversized: (length: number) => void, maxLineBytes: number): LineSplitter {
  const decoder = new TextDecoder();
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  let discarding = false;

  const emit = (bytes: Uint8Array) => {
    let text = decoder.decode(bytes);
    if (text.endsWith("\r")) text = text.slice(0, -1);
    if (text.trim() !== "") onLine(text);
  };

  const take = (tail: Uint8Array): Uint8Array => {
    if (pending.length === 0) return tail;
    const all = new Uint8Array(pendingBytes + tail.length);
    let offset = 0;
    for (const part of pending) {
      all.set(part, offset);
      offset += part.length;
    }
    all.set(tail, offset);
    pending = [];
    pendingBytes = 0;
    return all;
  };

  return {
    push(chunk) {
      let start = 0;
      for (let newline = chunk.indexOf(NEWLINE); newline !== -1; newline = chunk.indexOf(NEWLINE, start)) {
        const piece = chunk.subarray(start, newline);
        start = newline + 1;
        if (discarding) {
          discarding = false;
          continue;
        }
        if (pendingBytes + piece.length > maxLineBytes) {
          onOversized(pendingBytes + piece.length);
          pending = [];
          pendingBytes = 0;
          continue;
        }
        emit(take(piece));
      }
      if (start < chunk.length && !discarding) {
        const rest = chunk.slice(start);
        if (pendingBytes + rest.length > maxLineBytes) {
          onOversized(pendingBytes + rest.length);
          pending = [];
          pendingBytes = 0;
          discarding = true;
        } else {
          pending.push(rest);
          pendingBytes += rest.length;
        }
      }
    },
    flush() {
      if (pendingBytes > 0 && !discarding) emit(take(new Uint8Array(0)));
      pending = [];
      pendingBytes = 0;
      discarding = false;
    },
  };
}
