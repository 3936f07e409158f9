/**
 * @module Results and errors across the eras: modern results carry `resultType` (and, on cacheable
 * results, `ttlMs` and `cacheScope`); legacy results carry none of them. Resource-not-found is
 * -32002 in the legacy era and -32602 (with `data.uri`) in the modern one.
 */
import { responseLine, type JsonRpcId } from "../jsonrpc/message.ts";
import { jsonKindOf } from "../util/object.ts";
import { isObject, type JsonObject } from "./envelope.ts";
import { inputRequestsProblem } from "./mrtr.ts";
import { CACHEABLE_METHODS, INPUT_REQUIRED_METHODS, McpErrorCode } from "./protocol.ts";

export type CacheScope = "public" | "private";

/** How long, and for whom, a client may cache a list result (SEP-2549). */
export interface CacheHint {
  /** Milliseconds, a non-negative integer. */
  ttlMs: number;
  cacheScope: CacheScope;
}

/** Conservative: no caching, and never across users. */
export const DEFAULT_CACHE_HINT: CacheHint = { ttlMs: 0, cacheScope: "private" };

export interface JsonRpcError {
  code: number;
  message: string;
  data?: unknown;
}

/** Whether a result asks for input (MRTR): `resultType: "input_required"`. */
export function isInputRequired(result: unknown): boolean {
  return isObject(result) && result.resultType === "input_required";
}

/**
 * Legacy → modern: the result of `method` with `resultType: "complete"` when it has none, and
 * the cache fields on a cacheable result (values the server gave are kept when valid, else `hint`).
 * Undefined for what no modern result can be made of: a result that is not a JSON object (an
 * array, a string, a number, a boolean, null: a result is an object, and an empty one would read
 * as success), or a `resultType` other than "complete". A legacy peer has no MRTR: its result is
 * complete, and an `input_required` it writes would put questions to the client that no declared
 * capability allows, under a `requestState` the bridge never sealed (its own rounds come from the
 * peer's requests). The caller should answer an internal error then (see resultProblem).
 */
export function toModernResult(method: string, result: unknown, hint: CacheHint = DEFAULT_CACHE_HINT): JsonObject | undefined {
  if (!isObject(result)) return undefined;
  const out: JsonObject = { ...result };
  const type = out.resultType;
  if (type === undefined) out.resultType = "complete";
  else if (type !== "complete") return undefined;
  if (out.resultType === "complete" && CACHEABLE_METHODS.has(method)) {
    if (!(Number.isSafeInteger(out.ttlMs) && (out.ttlMs as number) >= 0)) out.ttlMs = hint.ttlMs;
    if (out.cacheScope !== "public" && out.cacheScope !== "private") out.cacheScope = hint.cacheScope;
  }
  return out;
}

/** Why toModernResult gave undefined for `result` of `method`, for the error the client gets. */
export function resultProblem(method: string, result: unknown): string {
  return isObject(result) ? `the MCP server answered ${method} with a result type other than complete, which a legacy server cannot have` : `the MCP server answered ${method} with a result that is not an object (${jsonKindOf(result)})`;
}

/**
 * Why a 2026-07-28 peer's result of `method` is not a modern result, or undefined when it is:
 * every result is an object carrying `resultType`, "complete" or "input_required" (the only kinds
 * of the revision), an "input_required" one as inputRequiredProblem says. A few property reads for
 * a complete result. The text names the problem, never the peer's values (they go to a client and
 * the log) but for a method that is no request for input (its first 100 characters).
 */
export function modernResultProblem(method: string, result: unknown): string | undefined {
  if (!isObject(result)) return resultProblem(method, result);
  const type = result.resultType;
  if (type === "complete") return undefined;
  if (type === undefined) return `the MCP server answered ${method} with a result without resultType, which protocol revision 2026-07-28 requires`;
  if (type !== "input_required") return `the MCP server answered ${method} with a resultType other than complete and input_required`;
  return inputRequiredProblem(method, result);
}

/**
 * Why an "input_required" result of `method` must not be put to a client, or undefined: only the
 * methods that may ask may have one (basic/patterns/mrtr §Supported Requests), with at least one of
 * `inputRequests` (an object of requests, each naming its `method`, at most MAX_INPUT_REQUESTS of
 * them, each a request for input: see inputRequestsProblem) and `requestState` (a string). Server
 * mode asks it of a child's answers, client mode of a remote server's: each entry may be a prompt
 * to a person.
 */
export function inputRequiredProblem(method: string, result: JsonObject): string | undefined {
  if (!INPUT_REQUIRED_METHODS.has(method)) return `the MCP server answered ${method} with input_required, which only ${[...INPUT_REQUIRED_METHODS].join(", ")} may be answered with`;
  const { inputRequests, requestState } = result;
  if (requestState !== undefined && typeof requestState !== "string") return `the MCP server answered ${method} with input_required whose requestState is not a string`;
  if (inputRequests !== undefined) {
    if (!isObject(inputRequests)) return `the MCP server answered ${method} with input_required whose inputRequests is not an object`;
    for (const key in inputRequests) {
      const request = inputRequests[key];
      if (!isObject(request) || typeof request.method !== "string") return `the MCP server answered ${method} with input_required whose inputRequests has an entry that is not a request`;
    }
    const asking = inputRequestsProblem(inputRequests);
    if (asking !== undefined) return `the MCP server answered ${method} with input_required that ${asking}`;
  }
  if ((inputRequests === undefined || Object.keys(inputRequests).length === 0) && requestState === undefined) {
    return `the MCP server answered ${method} with input_required without inputRequests or requestState (it needs at least one)`;
  }
  return undefined;
}

const RESULT_HEAD = ',"result":{';

/**
 * Legacy → modern, as text: the line of a plain result (no `resultType`, a method without cache
 * fields) with `resultType: "complete"` put first, spliced from the peer's own line instead of
 * serialized again; `afterId` is that line after its `{"jsonrpc":"2.0","id":N`, as afterIdOf gives
 * it (never with a repeated `"result"`, which could be the one parsed). What toModernResult would
 * give, but for large results at a fraction of the cost. Undefined when the answer is not of that
 * shape (translate it with toModernResult then).
 */
export function completeResultLine(id: JsonRpcId, method: string, result: unknown, afterId: string): string | undefined {
  if (CACHEABLE_METHODS.has(method) || !isObject(result) || result.resultType !== undefined || !afterId.startsWith(RESULT_HEAD)) return undefined;
  const rest = afterId.slice(RESULT_HEAD.length);
  // The object's first member, if any, follows JSON whitespace (no "\r": see StdioChild).
  let first = 0;
  while (rest.charCodeAt(first) === 32 || rest.charCodeAt(first) === 9) first++;
  return responseLine(id, `${RESULT_HEAD}"resultType":"complete"${rest.charCodeAt(first) === 125 /* } */ ? "" : ","}${rest}`);
}

/** Modern → legacy: a complete result without `resultType`, `ttlMs` and `cacheScope`. Not for `input_required`. */
export function toLegacyResult(result: unknown): JsonObject {
  const out: JsonObject = isObject(result) ? { ...result } : {};
  delete out.resultType;
  delete out.ttlMs;
  delete out.cacheScope;
  return out;
}

/**
 * Legacy → modern error: -32002 (resource not found) becomes -32602. With `uri` (the URI a
 * `resources/read` asked for), a not-found error without data gets `data: { uri }`, as SEP-2164
 * asks; a -32602 counts as not-found when its message says so (what SDK v1 servers send).
 */
export function toModernError(error: JsonRpcError, uri?: string): JsonRpcError {
  const notFound = error.code === McpErrorCode.ResourceNotFound || (uri !== undefined && error.code === -32602 && error.data === undefined && /not found/i.test(error.message));
  if (!notFound) return error;
  return { ...error, code: -32602, ...(uri !== undefined && error.data === undefined && { data: { uri } }) };
}

/**
 * Modern → legacy error: on `resources/read`, -32602 whose data is exactly `{ uri }` is how the
 * modern era says "resource not found"; legacy clients expect -32002.
 */
export function toLegacyError(method: string, error: JsonRpcError): JsonRpcError {
  if (method !== "resources/read" || error.code !== -32602) return error;
  const data = error.data;
  if (!isObject(data) || typeof data.uri !== "string" || Object.keys(data).length !== 1) return error;
  return { ...error, code: McpErrorCode.ResourceNotFound };
}

/**
 * The HTTP status of a modern JSON response that carries `error`: 404 for method-not-found,
 * 400 for the errors the spec gives 400 (-32020, -32021, -32022), else 200 (in-band).
 */
export function httpStatusOfError(code: number): number {
  if (code === -32601) return 404;
  if (code === McpErrorCode.HeaderMismatch || code === McpErrorCode.MissingRequiredClientCapability || code === McpErrorCode.UnsupportedProtocolVersion) return 400;
  return 200;
}
