/**
 * @module Writes made during one turn of the event loop, joined into one. A child's stdin under
 * load gets many messages per write system call instead of one each; a call per message was the
 * largest cost in the bridge's profile. setImmediate runs after the turn's I/O callbacks, on Node
 * and on Deno alike.
 */
export interface CoalescingWriter {
  write(text: string): void;
  /** Writes what is queued now (before closing the stream). */
  flush(): void;
  /** Length of the text queued for the next write. */
  readonly queuedLength: number;
}

export function coalescingWriter(writeNow: (text: string) => void): CoalescingWriter {
  let queued = "";
  const flush = () => {
    if (queued === "") return;
    const text = queued;
    queued = "";
    writeNow(text);
  };
  return {
    write(text) {
      if (queued === "") setImmediate(flush);
      queued += text;
    },
    flush,
    get queuedLength() {
      return queued.length;
    },
  };
}
