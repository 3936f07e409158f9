/** @module Reading HTTP bodies without letting a peer make us buffer without bound. */
/** Reads a request's or response's body as text, up to `limit` bytes; undefined when it is larger. */
export async function readBodyLimited(message: Request | Response, limit: number): Promise<string | undefined> {
  const reader = message.body?.getReader();
  if (!reader) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > limit) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.length;
  }
  return new TextDecoder().decode(all);
}
