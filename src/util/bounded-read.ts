/** @module Reading a stream with a bound (a file, stdin, an HTTP body): a device, a pipe or a peer that goes on must not fill memory. */

/**
 * The most read of a file a config names (PEM keys and certificates, a login template, a token
 * file): far beyond any real one, while a wrong path (/dev/zero, a huge log) costs little.
 */
export const MAX_CONFIGURED_FILE_BYTES = 8 * 1024 * 1024;

/** More bytes arrived than the reader takes. `code` is "EFBIG", as the kernel names a file too large. */
export class InputTooLargeError extends Error {
  readonly code = "EFBIG";
  constructor(readonly maxBytes: number) {
    super(`more than ${maxBytes} bytes`);
    this.name = "InputTooLargeError";
  }
}

/**
 * The bytes of `source` up to its end, or up to and without its first "\n" when `firstLine`.
 * Throws InputTooLargeError once more than `maxBytes` have arrived before that point; the source
 * is then left (the iterator's return() closes a file or stops reading stdin).
 */
export async function readAtMost(source: AsyncIterable<Uint8Array>, maxBytes: number, firstLine = false): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of source) {
    const newline = firstLine ? chunk.indexOf(0x0a) : -1;
    const part = newline >= 0 ? chunk.subarray(0, newline) : chunk;
    length += part.length;
    if (length > maxBytes) throw new InputTooLargeError(maxBytes);
    chunks.push(part);
    if (newline >= 0) break;
  }
  const bytes = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

/** UTF-8 text of `bytes`; a TypeError when they are not UTF-8 (a Latin-1 or UTF-16 file), never a silent U+FFFD. */
export function decodeUtf8(bytes: Uint8Array): string {
  return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
}
