/**
 * @module The last lines a child wrote to stderr, kept so that its exit can be logged with its
 * cause (a stack trace, "command not found") at warn, where `child stderr` lines are info.
 */

import { redactedHead, redactedTail, redactionMargin } from "../log/sanitize.ts";

const MAX_LINES = 10;
const MAX_CHARS = 2000;

export class StderrTail {
  #lines: string[] = [];
  #partial = "";
  readonly #decoder = new TextDecoder();
  readonly #secrets: readonly string[];
  /** Kept of an unfinished line beyond MAX_CHARS: a secret the cut splits is still found whole. */
  readonly #margin: number;

  /** `secrets`: values that never appear in the tail (the child's credentials, see redactValues). */
  constructor(secrets: readonly string[] = []) {
    this.#secrets = secrets;
    this.#margin = redactionMargin(secrets);
  }

  push(chunk: Uint8Array): void {
    const parts = (this.#partial + this.#decoder.decode(chunk, { stream: true })).split("\n");
    // One more than redactedTail takes whole: a partial cut here is cut again there, its split secret dropped.
    this.#partial = parts.pop()!.slice(-(MAX_CHARS + this.#margin + 1));
    for (const line of parts) if (line.trim()) this.#lines.push(redactedHead(line, this.#secrets, MAX_CHARS));
    if (this.#lines.length > MAX_LINES) this.#lines = this.#lines.slice(-MAX_LINES);
  }

  /** The tail as one string (lines joined by "\n"), at most MAX_CHARS, the newest kept, secrets redacted. */
  text(): string {
    const lines = this.#partial.trim() ? [...this.#lines, redactedTail(this.#partial, this.#secrets, MAX_CHARS)] : this.#lines;
    // Cutting the redacted lines can only cut a "[redacted]".
    return lines.join("\n").slice(-MAX_CHARS);
  }
}
