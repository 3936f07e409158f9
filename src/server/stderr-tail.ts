/**
 * @module The last lines a child wrote to stderr, kept so that its exit can be logged with its
 * cause (a stack trace, "command not found") at warn, where `child stderr` lines are info.
 */

const MAX_LINES = 10;
const MAX_CHARS = 2000;

export class StderrTail {
  #lines: string[] = [];
  #partial = "";
  readonly #decoder = new TextDecoder();

  push(chunk: Uint8Array): void {
    const parts = (this.#partial + this.#decoder.decode(chunk, { stream: true })).split("\n");
    this.#partial = parts.pop()!.slice(-MAX_CHARS);
    for (const line of parts) if (line.trim()) this.#lines.push(line.slice(0, MAX_CHARS));
    if (this.#lines.length > MAX_LINES) this.#lines = this.#lines.slice(-MAX_LINES);
  }

  /** The tail as one string (lines joined by "\n"), at most MAX_CHARS, the newest kept. */
  text(): string {
    const lines = this.#partial.trim() ? [...this.#lines, this.#partial] : this.#lines;
    return lines.join("\n").slice(-MAX_CHARS);
  }
}
