/** @module Reading HTTP bodies without letting a peer make us buffer without bound. */
import { InputTooLargeError, readAtMost } from "./bounded-read.ts";

/** Reads a request's or response's body as text, up to `limit` bytes; undefined when it is larger (the body is then cancelled). */
export async function readBodyLimited(message: Request | Response, limit: number): Promise<string | undefined> {
  if (!message.body) return "";
  try {
    // Web streams are async-iterable in Node and Deno (the DOM lib does not declare it); leaving the loop cancels the body.
    return new TextDecoder().decode(await readAtMost(message.body as unknown as AsyncIterable<Uint8Array>, limit));
  } catch (error) {
    if (error instanceof InputTooLargeError) return undefined;
    throw error;
  }
}
