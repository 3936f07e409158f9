/**
 * @module JSON-RPC 2.0 messages as MCP carries them, and the cheap structural checks the bridge
 * needs to route them. Payloads (params, result) are passed through untouched.
 */
import { quotedValue } from "../log/sanitize.ts";
import { nestedDeeperThan } from "../util/object.ts";
import { memoized } from "../util/memo.ts";

export type JsonRpcId = string | number;

export interface JsonRpcRequest {
  jsonrpc: "2.0";
  id: JsonRpcId;
  method: string;
  params?: Record<string, unknown>;
}

export interface JsonRpcNotification {
  jsonrpc: "2.0";
  method: string;
  params?: Record<string, unknown>;
}

export interface JsonRpcResponse {
  jsonrpc: "2.0";
  id: JsonRpcId | null;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

export type JsonRpcMessage = JsonRpcRequest | JsonRpcNotification | JsonRpcResponse;

/** JSON-RPC and MCP error codes the bridge itself produces. */
export const ErrorCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /** MCP's "connection closed" (the SDK's ErrorCode.ConnectionClosed). */
  ConnectionClosed: -32000,
  /** MCP's "request timeout" (the SDK's ErrorCode.RequestTimeout). */
  RequestTimeout: -32001,
} as const;

export function isRequest(message: JsonRpcMessage): message is JsonRpcRequest {
  return "method" in message && "id" in message && message.id !== undefined;
}

export function isNotification(message: JsonRpcMessage): message is JsonRpcNotification {
  return "method" in message && !("id" in message && message.id !== undefined);
}

export function isResponse(message: JsonRpcMessage): message is JsonRpcResponse {
  return !("method" in message);
}

function isId(value: unknown): value is JsonRpcId {
  return typeof value === "string" || (typeof value === "number" && Number.isInteger(value));
}

function isErrorObject(value: unknown): boolean {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const error = value as Record<string, unknown>;
  return Number.isInteger(error.code) && typeof error.message === "string";
}

/**
 * How deep a message may nest objects and arrays (Jackson's default too). JSON.parse takes any
 * depth, but serializing a message again (JSON.stringify) or walking it recursively runs out of
 * stack some thousands of levels down; no MCP message comes near this.
 */
export const MAX_NESTING_DEPTH = 1000;

/**
 * Whether a message parsed from `text` nests deeper than MAX_NESTING_DEPTH. Text shorter than
 * twice the limit cannot (each level takes an opening and a closing character): only longer
 * messages are walked.
 */
export function nestedTooDeep(text: string, message: unknown): boolean {
  return text.length > 2 * MAX_NESTING_DEPTH && nestedDeeperThan(message, MAX_NESTING_DEPTH);
}

/**
 * Checks the envelope of one message (not its payload). Returns a reason when it is not a valid
 * JSON-RPC 2.0 request, notification or response.
 */
export function envelopeProblem(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "a message must be a JSON object";
  const message = value as Record<string, unknown>;
  if (message.jsonrpc !== "2.0") return '"jsonrpc" must be "2.0"';
  if ("method" in message) {
    if (typeof message.method !== "string" || message.method === "") return '"method" must be a non-empty string';
    if ("id" in message && !isId(message.id)) return '"id" must be a string or an integer';
    if ("params" in message && (typeof message.params !== "object" || message.params === null)) return '"params" must be an object or array';
    return undefined;
  }
  if (!("id" in message) || !(isId(message.id) || message.id === null)) return "a response needs an id";
  if ("result" in message === "error" in message) return 'a response has exactly one of "result" and "error"';
  if ("error" in message && !isErrorObject(message.error)) return '"error" must be an object with an integer "code" and a string "message"';
  return undefined;
}

/**
 * Whether a parsed number is one the bridge can echo (an id, a progress token) as the peer means
 * it: finite, and an integer only within 2^53 - 1 in magnitude (a peer with 64-bit integers sends
 * 2^53 + 1 as written; a double reads it as 2^53, which the echo would carry and the peer could not match).
 */
export function isExactNumber(value: number): boolean {
  return Number.isFinite(value) && (!Number.isInteger(value) || Number.isSafeInteger(value));
}

/**
 * Why a request's id would not come back as sent where the bridge writes the answer from the parsed
 * message, or undefined (see isExactNumber).
 */
export function inexactIdProblem(request: JsonRpcRequest): string | undefined {
  return typeof request.id === "number" && !isExactNumber(request.id) ? '"id" must be a string or an integer (at most 2^53 - 1 in magnitude: send a larger one as a string)' : undefined;
}

/**
 * Whether text may hold a number a double cannot carry: an integer of 16 digits or more where a
 * value begins, or a positive exponent of 3 digits (past a double's range). A cheap test before the
 * scan, run on every message serialized again. A run of 16 digits is looked for first: spelled out,
 * not `\d{16}`, V8 looks ahead and skips where it would try every `:`, `,`, `[` and digit (4–6 times
 * faster on request bodies, measured); only text that has one (a long number, or digits in a
 * string) is tested for where it begins. Both are looked for in one pass first (EITHER).
 */
function mayHoldInexact(text: string): boolean {
  return EITHER.test(text) && ((SIXTEEN_DIGITS.test(text) && LONG_INTEGER_VALUE.test(text)) || LARGE_EXPONENT.test(text));
}
const SIXTEEN_DIGITS_SOURCE = "\\d".repeat(16);
const SIXTEEN_DIGITS = new RegExp(SIXTEEN_DIGITS_SOURCE);
const LONG_INTEGER_VALUE = /[:,[]\s*-?\d{16}/;
const LARGE_EXPONENT = /\d[eE]\+?\d{3}/;
/** SIXTEEN_DIGITS or LARGE_EXPONENT in one pass, still skipping ahead: most text has neither, and is read once, not twice. */
const EITHER = new RegExp(`${SIXTEEN_DIGITS_SOURCE}|${LARGE_EXPONENT.source}`);

/** A character of a JSON number token: a digit, "-", "+", ".", "e" or "E". */
function isNumberChar(code: number): boolean {
  return (code >= 48 && code <= 57) || code === 45 || code === 43 || code === 46 || code === 101 || code === 69;
}

/**
 * The numbers of JSON `text` (outside strings) that a double does not carry as written: integers
 * without fraction or exponent past 2^53 - 1 in magnitude (a double rounds them: 12345678901234567890
 * is read as 12345678901234567000), and numbers past a double's range (JSON.stringify writes null).
 * As parsed, for finding them in the parsed value.
 */
function inexactNumbersOf(text: string): Set<number> {
  const found = new Set<number>();
  for (let at = 0; at < text.length; at++) {
    const char = text.charCodeAt(at);
    if (char === 34 /* " */) {
      for (at++; at < text.length && text.charCodeAt(at) !== 34; at++) if (text.charCodeAt(at) === 92 /* \ */) at++;
    } else if (char === 45 /* - */ || (char >= 48 && char <= 57)) {
      const start = at;
      while (at + 1 < text.length && isNumberChar(text.charCodeAt(at + 1))) at++;
      const token = text.slice(start, at + 1);
      const value = Number(token);
      const integer = !/[.eE]/.test(token);
      if (integer ? !Number.isSafeInteger(value) : !Number.isFinite(value)) found.add(value);
    }
  }
  return found;
}

/** Where a number a double does not carry is in a value parsed from one JSON text (inexactNumbersIn), as a problem naming it. */
export type InexactFinder = (value: unknown, path?: string) => string | undefined;

/** A key written into a path as it is; any other is quoted (escaped and cut: a peer's key may hold controls, or be 100 KB). */
const PLAIN_KEY = /^[A-Za-z0-9_$-]{1,64}$/;
/** Characters of a path in a problem (it goes into errors to the peer): the head and tail of a longer one are kept. */
const MAX_PATH_CHARS = 200;

/** A member's place in the walk: the path is only written for the one found. */
interface Place {
  value: unknown;
  parent: Place | undefined;
  /** Its key in the parent, or its index; undefined for the top. */
  key: string | number | undefined;
}

function pathOf(place: Place, path: string): string {
  const steps: string[] = [];
  for (let at: Place | undefined = place; at?.key !== undefined; at = at.parent) {
    const key = at.key;
    steps.push(typeof key === "number" ? `[${key}]` : PLAIN_KEY.test(key) ? `.${key}` : `[${quotedValue(key)}]`);
  }
  const written = `${path}${steps.reverse().join("")}`.replace(/^\./, "");
  const half = MAX_PATH_CHARS / 2;
  return written.length > MAX_PATH_CHARS ? `${written.slice(0, half)}…${written.slice(-half)}` : written;
}

/**
 * The finder of numbers a double does not carry as written (see inexactNumbersOf; RFC 7493 §2.2:
 * such numbers are not interoperable) in values parsed from JSON `text`, or undefined when `text`
 * holds none. Built once per text, then used for each message parsed from it (the items of a
 * batch): the text is scanned once, not once per item. Costs one regex test unless
 * `text` may hold such a number (mayHoldInexact). The finder tells why `value` would not reach its
 * reader as written if serialized again, naming where it is under `path`
 * ("params.arguments.account"; a key other than letters, digits, `_`, `$` and `-` quoted, the
 * whole cut to MAX_PATH_CHARS), or undefined.
 */
export function inexactNumbersIn(text: string): InexactFinder | undefined {
  if (!mayHoldInexact(text)) return undefined;
  const inexact = inexactNumbersOf(text);
  if (inexact.size === 0) return undefined;
  return (value, path = "") => {
    // Depth is bounded by nestedTooDeep already; a stack, not recursion, all the same.
    const pending: Place[] = [{ value, parent: undefined, key: undefined }];
    while (pending.length > 0) {
      const place = pending.pop()!;
      const next = place.value;
      if (typeof next === "number" && inexact.has(next)) {
        return `the number at ${pathOf(place, path) || "the top"} is an integer past 2^53 - 1 in magnitude, or past a double's range, which would be passed on as another number: send it as a string`;
      }
      if (Array.isArray(next)) next.forEach((member, index) => pending.push({ value: member, parent: place, key: index }));
      else if (typeof next === "object" && next !== null) for (const [key, member] of Object.entries(next)) pending.push({ value: member, parent: place, key });
    }
    return undefined;
  };
}

/**
 * inexactNumbersIn(text), built on the first call and kept: for the messages parsed from one text,
 * which each may need it (or none, and then the text is not even tested).
 */
export function inexactNumbersOnce(text: string): () => InexactFinder | undefined {
  let built = false;
  let finder: InexactFinder | undefined;
  return () => {
    if (!built) {
      finder = inexactNumbersIn(text);
      built = true;
    }
    return finder;
  };
}

/** inexactNumbersIn(text) for one value parsed from `text`: why it would not reach its reader as written if serialized again, or undefined. */
export function inexactNumberProblem(text: string, value: unknown, path = ""): string | undefined {
  return inexactNumbersIn(text)?.(value, path);
}

export function errorResponse(id: JsonRpcId | null, code: number, message: string, data?: unknown): JsonRpcResponse {
  return { jsonrpc: "2.0", id, error: data === undefined ? { code, message } : { code, message, data } };
}

/** How a compactly serialized response line begins, up to its id. */
const RESPONSE_HEAD = '{"jsonrpc":"2.0","id":';

/**
 * What can make a reader take another id or outcome than the bridge routed a message by: the
 * routing keys (`"id"`, `"result"`, `"error"`; a string value spelled so is a false alarm, which
 * only costs a serialization) and a `\u` escape of an ASCII letter (0x40-0x7F), which could spell
 * one. In JSON text no two of these overlap (a `"` inside a string is escaped), so one pass finds
 * every occurrence: on a short line several `indexOf` passes cost about four times as much.
 */
const ROUTING_TEXT = /"(?:id|result|error)"|\\u00[4-7]/g;

/**
 * Whether a peer's message `text` (one message, not a batch, valid JSON) may be passed on as
 * written under the same id: it names `"id"` once and, a response, `"result"` or `"error"` once,
 * and spells no ASCII letter with a `\u` escape, so that its reader takes the id and outcome the
 * bridge routed it by (see afterIdOf). Else it must be serialized again from what was parsed.
 */
export function passableAsWritten(text: string, response: boolean): boolean {
  let ids = 0;
  let outcomes = 0;
  // `test`, not `exec`: no match array per key. Told apart by the character before the match's
  // end: `"id"` ends in d", `"result"` in t", `"error"` in r", an escape in a digit.
  for (ROUTING_TEXT.lastIndex = 0; ROUTING_TEXT.test(text); ) {
    const kind = text.charCodeAt(ROUTING_TEXT.lastIndex - 2);
    if (kind === 100 /* d */) ids++;
    else if (kind === 116 /* t */ || kind === 114 /* r */) outcomes++;
    else return false;
    if (ids > 1 || (response && outcomes > 1)) return false;
  }
  return ids === 1 && (!response || outcomes === 1);
}

/**
 * A response line under another id: `afterId` is the rest of a compact line after its
 * `{"jsonrpc":"2.0","id":N` (what a forwarder has when it only renumbers a peer's answer).
 */
export function responseLine(id: JsonRpcId, afterId: string): string {
  // A number id is written as JSON.stringify would (ids are finite), without its fixed cost.
  return `${RESPONSE_HEAD}${typeof id === "number" ? String(id) : JSON.stringify(id)}${afterId}`;
}

/**
 * The rest of a peer's response `line` after its `{"jsonrpc":"2.0","id":<id>`, for responseLine:
 * when the line begins exactly so, names no other `"id"`, and names `"result"` once and no
 * `"error"`, or `"error"` once and no `"result"`. JSON.parse keeps the last of repeated keys
 * (other parsers may keep the first), and a key may be spelled with `\u` escapes: a line that could
 * repeat a key (the names further on, most often nested, or an escaped ASCII letter) is undefined:
 * it must be serialized again from what was parsed, so that a client reads what the bridge read.
 * So is an id spelled otherwise (`1.0`, `1e0`).
 */
export function afterIdOf(line: string, id: number): string | undefined {
  // Compared in place: the head as one string would be built and flattened for every answer.
  const digits = String(id);
  const end = RESPONSE_HEAD.length + digits.length;
  if (!line.startsWith(RESPONSE_HEAD) || !line.startsWith(digits, RESPONSE_HEAD.length) || line.charCodeAt(end) !== 44 /* , */) return undefined;
  // The head names "id" once, no outcome, and escapes nothing: what it is followed by decides, as for any passed on as written.
  return passableAsWritten(line, true) ? line.slice(end) : undefined;
}

/**
 * The keys of a client's message the bridge acts on (its method, the tool it names for per-method
 * and per-tool scopes, its params and id), or a `\u` escape of an ASCII character (0x40-0x7F: a
 * key spelled so hides from a plain search). One pass finds them all, as ROUTING_TEXT does: an
 * `indexOf` per key costs about four times as much on a request.
 */
const DECIDING_TEXT = /"(?:id|method|params|name)"|\\u00[4-7]/g;

/**
 * Whether a client's compact message `text` may go to the child as received rather than serialized
 * again from what was parsed (which keeps its numbers' spelling and saves a serialization).
 * JSON.parse keeps the last of repeated keys; a child whose parser keeps the first would run another
 * method or tool than the one the bridge authorized. So, as for afterIdOf, text naming a deciding
 * key more than once (anywhere, nested too: a false alarm only costs a serialization), or with a
 * `\u` escape of an ASCII character from 0x40 on, is not.
 */
export function forwardableAsReceived(text: string): boolean {
  let seen = 0;
  for (DECIDING_TEXT.lastIndex = 0; DECIDING_TEXT.test(text); ) {
    const end = DECIDING_TEXT.lastIndex;
    // Told apart by the characters before the closing quote: i|d", o|d", m|s", m|e"; an escape ends in a digit.
    const last = text.charCodeAt(end - 2);
    const key = last === 100 /* d */ ? (text.charCodeAt(end - 3) === 105 /* i */ ? 1 : 2) : last === 115 /* s */ ? 4 : last === 101 /* e */ ? 8 : 0;
    if (key === 0 || seen & key) return false;
    seen |= key;
  }
  return true;
}

/** A key as lenient readers match it: up to a NUL (a C string), in any case, ſ as s (Go's Unicode case folding). */
function foldedKey(key: string): string {
  return key.split("\0")[0]!.toUpperCase().toLowerCase();
}

/** Each key by its folded form. */
const byFoldedKey = (keys: string[]) => new Map(keys.map((key) => [foldedKey(key), key]));

/**
 * Keys the bridge reads, where it reads them (by folded form): a message's envelope, its params
 * (the tool, the resource of a subscription, the request a cancellation names, the version asked)
 * and params._meta.
 */
const READ_KEYS = {
  message: byFoldedKey(["jsonrpc", "id", "method", "params", "result", "error"]),
  params: byFoldedKey(["name", "uri", "requestId", "protocolVersion", "_meta"]),
  meta: byFoldedKey(["progressToken"]),
};

/** Printable ASCII without capitals: text folding leaves as it is (the common key, looked up without folding). */
const FOLDS_TO_ITSELF = /^[\x20-\x40\x5b-\x7e]*$/;
/** Printable ASCII: folding keeps its length, so such a key longer than every read key is none of them. */
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
const LONGEST_READ_KEY = Math.max(...Object.values(READ_KEYS).flatMap((keys) => [...keys.keys()].map((key) => key.length)));

/**
 * The form of a key to look up among read keys (folded, see foldedKey), or undefined for one that
 * can be none of them. Remembered: every message repeats the same few keys, each otherwise tested
 * with a regular expression or two.
 */
const lookupForm = memoized((name): string | undefined => {
  // _meta's namespaced keys ("io.modelcontextprotocol/protocolVersion") on every modern request.
  if (name.length > LONGEST_READ_KEY && PRINTABLE_ASCII.test(name)) return undefined;
  return FOLDS_TO_ITSELF.test(name) ? name : foldedKey(name);
});

function lookalikeIn(object: unknown, readKeys: ReadonlyMap<string, string>): [string, string] | undefined {
  if (typeof object !== "object" || object === null || Array.isArray(object)) return undefined;
  for (const name of Object.keys(object)) {
    const form = lookupForm(name);
    const read = form === undefined ? undefined : readKeys.get(form);
    if (read !== undefined && read !== name) return [name, read];
  }
  return undefined;
}

/**
 * A key of a client's message that a child may take for a key the bridge reads, with that key:
 * `["Method", "method"]`; else undefined. JSON.parse tells "Method" from "method", but cJSON's
 * cJSON_GetObjectItem takes the first key equal in any case and reads it as a C string (up to a
 * NUL), and Go's encoding/json folds case the Unicode way ("paramſ" is "params") and keeps the
 * last: a child would run another method or tool, cancel or unsubscribe for another session (a
 * shared child), than the bridge decided on. Serializing again keeps such keys: the message must
 * be refused.
 */
export function lookalikeKey(message: unknown): [string, string] | undefined {
  const params = (message as { params?: unknown } | undefined)?.params;
  const meta = (params as { _meta?: unknown } | undefined)?._meta;
  return lookalikeIn(message, READ_KEYS.message) ?? lookalikeIn(params, READ_KEYS.params) ?? lookalikeIn(meta, READ_KEYS.meta);
}

/** A map key for an id: 1 and "1" are different ids. */
export function idKey(id: JsonRpcId): string | number {
  return typeof id === "number" ? id : `s:${id}`;
}
