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

/** `admit` refused the body's next bytes (readBodyLimited); the body was cancelled. */
export class BodyNotAdmittedError extends Error {
  constructor() {
    super("the body's next bytes were not admitted");
    this.name = "BodyNotAdmittedError";
  }
}

/**
 * Reads a request's or response's body as text, up to `limit` bytes; undefined when it is larger
 * (the body is then cancelled). A request body that breaks off throws BodyNotReceivedError.
 * `admit(received)`, when given, is asked before each chunk is kept, with the bytes received so
 * far (that chunk included); false cancels the body and throws BodyNotAdmittedError.
 */
export async function readBodyLimited(message: Request | Response, limit: number, admit?: (received: number) => boolean): Promise<string | undefined> {
  if (!message.body) return "";
  // Web streams are async-iterable in Node and Deno (the DOM lib does not declare it); leaving the loop cancels the body.
  const body = message.body as unknown as AsyncIterable<Uint8Array>;
  try {
    return new TextDecoder().decode(await readAtMost(admit ? admitted(body, admit) : body, limit));
  } catch (error) {
    if (error instanceof InputTooLargeError) return undefined;
    if (error instanceof BodyNotAdmittedError) throw error;
    throw message instanceof Request ? asBodyNotReceived(error) : error;
  }
}

async function* admitted(body: AsyncIterable<Uint8Array>, admit: (received: number) => boolean): AsyncIterable<Uint8Array> {
  let received = 0;
  for await (const chunk of body) {
    received += chunk.length;
    if (!admit(received)) throw new BodyNotAdmittedError();
    yield chunk;
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
