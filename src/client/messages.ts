/** @module Turning the remote server's bodies into JSON-RPC messages, with limits: a hostile server gets an error, never our memory. */
import { envelopeProblem, inexactNumbersOnce, isResponse, MAX_NESTING_DEPTH, nestedTooDeep, type InexactFinder, type JsonRpcId, type JsonRpcMessage, type JsonRpcResponse } from "../jsonrpc/message.ts";
import { excerpt, quotedValue } from "../log/sanitize.ts";
import type { ThrottledLog } from "../log/throttle.ts";
import type { Held } from "./answer-budget.ts";
import { ClientTransportError } from "./errors.ts";
import { redactSent } from "./remote-fetch.ts";
import { SKIPPED_EDGE_CHARS, type SkippedEvent } from "./sse-reader.ts";
import type { TransportContext } from "./transport.ts";

/** The media type of `response` (lower case, without parameters); "" when it has none. */
export function contentType(response: Response): string {
  return (response.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
}

/**
 * The Content-Type of `response` as an error may quote it: as sent (a credential in it keeps its
 * case, so it is found), with the credentials its request carried redacted.
 */
export function quotedContentType(response: Response): string {
  const value = response.headers.get("content-type");
  return value === null || value.trim() === "" ? "none" : quotedValue(redactSent(response, value));
}

/**
 * Reads a body as text with a size limit (characters) and an idle timeout between chunks (ms).
 * With `held`, each chunk's bytes are held of the answer budget (the caller releases them once the
 * answer was delivered and taken), and the read fails as the budget does (ClientTransportError "capacity").
 */
export async function readBodyText(response: Response, limit: number, idleMs: number, signal?: AbortSignal, held?: Held): Promise<string> {
  const reader = response.body?.getReader();
  if (!reader) return "";
  const decoder = new TextDecoder();
  let text = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    for (;;) {
      const chunk = await new Promise<ReadableStreamReadResult<Uint8Array>>((resolve, reject) => {
        timer = setTimeout(() => reject(new ClientTransportError("timeout", `the response body stalled for ${idleMs} ms (client.timeout)`)), idleMs);
        if (signal?.aborted) reject(new ClientTransportError("closed", "the request was cancelled"));
        reader.read().then(resolve, reject);
      });
      clearTimeout(timer);
      if (chunk.done) break;
      held?.grow(chunk.value.byteLength);
      text += decoder.decode(chunk.value, { stream: true });
      if (text.length > limit) throw new ClientTransportError("protocol", `the response body exceeds ${limit} characters (client.max_message_size)`);
    }
    return text + decoder.decode();
  } catch (error) {
    clearTimeout(timer);
    await reader.cancel().catch(() => {});
    if (error instanceof ClientTransportError) throw error;
    throw new ClientTransportError(signal?.aborted ? "closed" : "network", `reading the response failed: ${(error as Error)?.message ?? String(error)}`, { cause: error });
  }
}

/** The text a message of the remote server came in. */
export interface Source {
  /** The JSON text it was parsed from (a body or an SSE event's data; a batch's, with the other messages). */
  text: string;
  /** Whether the message is all of `text`, as parsed (not in a batch, not redacted): it can be written on as received. */
  alone: boolean;
  /** The numbers of `text` a double does not carry (inexactNumbersIn), found on the first call and shared by every message of `text`. */
  inexact: () => InexactFinder | undefined;
}

/** A message of the remote server, with the text it came in. */
export interface Received {
  message: JsonRpcMessage;
  source: Source;
}

/**
 * Parses a JSON body or SSE data field of `response` into messages (a JSON array is a batch).
 * Envelopes that are not JSON-RPC are dropped with a warning (at debug level for the body of an
 * HTTP error, which is often the server's own error document, such as a 401's `{"error": …}`, and
 * whose status the caller reports); text that is not JSON at all is a protocol error quoting it,
 * the request's credentials redacted.
 */
export function parseMessages(text: string, warnings: ThrottledLog, where: string, response: Response): Received[] {
  // Before parsing: a batch of a million tiny messages, each parsed and written to stdout on its own, took gigabytes its text (which the answer budget counts) does not show.
  if (arrayLongerThan(text, MAX_MESSAGES_PER_TEXT)) throw new ClientTransportError("protocol", `the server's ${where} is a batch of more than ${MAX_MESSAGES_PER_TEXT} messages (the bridge sends one message per request)`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ClientTransportError("protocol", `the server's ${where} is not JSON: ${excerpt(redactSent(response, text))}`);
  }
  // Written to stdout again, it would make JSON.stringify throw (and the answer be lost).
  if (nestedTooDeep(text, value)) throw new ClientTransportError("protocol", `the server's ${where} is nested deeper than ${MAX_NESTING_DEPTH} levels`);
  const batch = Array.isArray(value);
  const list: unknown[] = batch ? (value as unknown[]) : [value];
  // One finder for all the messages of a batch: each looking on its own would scan the whole text again.
  const inexact = inexactNumbersOnce(text);
  return list
    .filter((item): item is JsonRpcMessage => {
      const problem = envelopeProblem(item);
      if (problem) warnings.write(response.ok ? "warn" : "debug", "dropped a message from the remote server that is not JSON-RPC", { problem, where, ...(!response.ok && { status: response.status }) });
      return problem === undefined;
    })
    .map((message) => {
      const redacted = isResponse(message) && message.error !== undefined;
      return { message: redacted ? { ...message, error: redactedError(message.error!, response) } : message, source: { text, alone: !batch && !redacted, inexact } };
    });
}

/** Messages one JSON body or SSE event may hold (a JSON-RPC batch): the bridge sends one message per request, so an answer needs one. */
const MAX_MESSAGES_PER_TEXT = 100;

/** Whether `text` is a JSON array of more than `limit` elements, counted without parsing it (malformed text: whatever JSON.parse then says). */
function arrayLongerThan(text: string, limit: number): boolean {
  let i = 0;
  while (i < text.length && (text.charCodeAt(i) === 0x20 || text.charCodeAt(i) === 0x0a || text.charCodeAt(i) === 0x0d || text.charCodeAt(i) === 0x09)) i++;
  if (text.charCodeAt(i) !== 0x5b) return false;
  let depth = 0;
  let commas = 0;
  let inString = false;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) depth++;
    else if (c === 0x5d || c === 0x7d) depth--;
    // n elements have n - 1 commas between them.
    else if (c === 0x2c && depth === 1 && ++commas >= limit) return true;
  }
  return false;
}

/**
 * A server's JSON-RPC error with the credentials its request carried redacted in every string:
 * it goes to the local client, and a server may name the token it refuses even in a 200 answer.
 * Redacted as parsed strings, not as JSON text, so that no credential can break the JSON.
 */
function redactedError(error: NonNullable<JsonRpcResponse["error"]>, response: Response): NonNullable<JsonRpcResponse["error"]> {
  return JSON.parse(JSON.stringify(error), (_key, value: unknown) => (typeof value === "string" ? redactSent(response, value) : value)) as NonNullable<JsonRpcResponse["error"]>;
}

/** An error for a non-2xx answer, with a bounded excerpt of its body, the request's credentials redacted; `hint` (what to change) ends it. */
export async function statusError(response: Response, what: string, hint = ""): Promise<ClientTransportError> {
  const body = redactSent(response, await readBodyText(response, 4096, 5_000).catch(() => ""));
  let detail = "";
  try {
    const parsed = JSON.parse(body) as { error?: { message?: unknown } | string; error_description?: unknown; message?: unknown };
    const message = typeof parsed.error === "object" ? parsed.error?.message : parsed.error_description ?? parsed.message ?? parsed.error;
    if (typeof message === "string") detail = `: ${excerpt(message)}`;
  } catch {
    if (body.trim()) detail = `: ${excerpt(body)}`;
  }
  return new ClientTransportError("http", `${what} answered HTTP ${response.status}${detail}${hint}`, { status: response.status });
}

const JSON_STRING = String.raw`"(?:[^"\\]|\\.)*"`;
const JSON_SCALAR = String.raw`(?:${JSON_STRING}|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)`;
/** One member of an object read from its start: a scalar value (complete: followed by `,` or `}`), or the opening of an object or array. */
const LEADING_MEMBER = new RegExp(String.raw`\s*(${JSON_STRING})\s*:\s*(?:(${JSON_SCALAR})\s*[,}]|[[{])`, "y");
/** The members with scalar values an object ends with. */
const TRAILING_MEMBERS = new RegExp(String.raw`[,{](?:\s*${JSON_STRING}\s*:\s*${JSON_SCALAR}\s*,)*\s*${JSON_STRING}\s*:\s*${JSON_SCALAR}\s*\}\s*$`);

/** What is learnt of one message of a skipped event. */
interface SkippedMessage {
  kind: "request" | "notification" | "response" | "unknown";
  id?: JsonRpcId;
}

function skippedMessage(members: Record<string, unknown>): SkippedMessage {
  const id = typeof members.id === "string" || typeof members.id === "number" ? members.id : undefined;
  const kind = "method" in members ? (id === undefined ? "notification" : "request") : "result" in members || "error" in members ? "response" : "unknown";
  return { kind, ...(id !== undefined && { id }) };
}

/**
 * The messages of a skipped event, from its data's edges: all of them when the data is that
 * short, else the one object's top-level members with scalar values at its start and at its end
 * (where servers put `jsonrpc`, `id` and `method`, around the large `params` or `result`), and the
 * key of the first large one. Matched from the ends of the text, where a JSON reader's state is known.
 */
function skippedMessages(event: SkippedEvent): SkippedMessage[] {
  if (event.head.length < SKIPPED_EDGE_CHARS) {
    try {
      const value: unknown = JSON.parse(event.head);
      return (Array.isArray(value) ? value : [value]).map((item) => skippedMessage(typeof item === "object" && item !== null ? (item as Record<string, unknown>) : {}));
    } catch {
      return [{ kind: "unknown" }];
    }
  }
  const open = /^\s*\{/.exec(event.head);
  if (!open) return [{ kind: "unknown" }];
  const members: Record<string, unknown> = {};
  try {
    LEADING_MEMBER.lastIndex = open[0].length;
    for (let found = LEADING_MEMBER.exec(event.head); found; found = LEADING_MEMBER.exec(event.head)) {
      members[JSON.parse(found[1]!) as string] = found[2] === undefined ? {} : JSON.parse(found[2]);
      if (found[2] === undefined) break;
    }
    const trailing = TRAILING_MEMBERS.exec(event.tail);
    if (trailing) Object.assign(members, JSON.parse(`{${trailing[0].slice(1)}`));
  } catch {
    // An escape JSON does not know: not a message to learn from.
    return [{ kind: "unknown" }];
  }
  return [skippedMessage(members)];
}

/**
 * Settles what an event skipped for the answer budget (`error`, ClientTransportError "capacity")
 * carried, as far as its edges tell: the remote server's request is answered with `error`
 * (context.refuse), a response becomes `error` for its request (`answered(id)`), a notification
 * is dropped with a throttled warning. Returns false when it may have held a response whose id
 * could not be learnt (also warned of): whoever waits on the stream for it would wait for ever.
 */
export function settleSkipped(context: Pick<TransportContext, "refuse" | "remoteWarnings">, event: SkippedEvent, error: unknown, answered: (id: JsonRpcId) => void): boolean {
  let learnt = true;
  for (const message of skippedMessages(event)) {
    if (message.kind === "request" && message.id !== undefined) context.refuse(message.id, error);
    else if ((message.kind === "response" || message.kind === "unknown") && message.id !== undefined) answered(message.id);
    else {
      learnt &&= message.kind === "notification";
      context.remoteWarnings.write("warn", "dropped a message from the remote server: it would take the answers held at once past their limit", { kind: message.kind, error });
    }
  }
  return learnt;
}
