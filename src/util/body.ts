/** @module Reading HTTP bodies without letting a peer make us buffer without bound. */
import { InputTooLargeError, readAtMost } from "./bounded-read.ts";

/**
 * A request body did not arrive whole: the client went away mid-body, or did not send it within
 * server.read_timeout. The client's doing, not the bridge's: the app answers 408 and logs no error.
 */
export class BodyNotReceivedError extends Error {
  constructor(options?: { cause?: unknown }) {
    super("the request body did not arrive whole", options);
    this.name = "BodyNotReceivedError";
  }
}

/**
 * Reads a request's or response's body as text, up to `limit` bytes; undefined when it is larger
 * (the body is then cancelled). A request body that breaks off throws BodyNotReceivedError.
 */
export async function readBodyLimited(message: Request | Response, limit: number): Promise<string | undefined> {
  if (!message.body) return "";
  try {
    // Web streams are async-iterable in Node and Deno (the DOM lib does not declare it); leaving the loop cancels the body.
    return new TextDecoder().decode(await readAtMost(message.body as unknown as AsyncIterable<Uint8Array>, limit));
  } catch (error) {
    if (error instanceof InputTooLargeError) return undefined;
    throw message instanceof Request ? asBodyNotReceived(error) : error;
  }
}

/** A request's whole body as text, when the HTTP server bounds it (a Content-Length it enforces); see BodyNotReceivedError. */
export async function readRequestText(request: Request): Promise<string> {
  try {
    return await request.text();
  } catch (error) {
    throw asBodyNotReceived(error);
  }
}

function asBodyNotReceived(error: unknown): BodyNotReceivedError {
  return error instanceof BodyNotReceivedError ? error : new BodyNotReceivedError({ cause: error });
}
