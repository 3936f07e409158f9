/**
 * @module Multi Round-Trip Requests (basic/patterns/mrtr, 2026-07-28) against the legacy pattern
 * they replace: a legacy server asks its client with JSON-RPC requests (`elicitation/create`,
 * `sampling/createMessage`, `roots/list`) in the middle of a call; a modern server answers the call
 * with `resultType: "input_required"`, an `inputRequests` map and an opaque `requestState`, and
 * the client retries the call with `inputResponses` keyed like the requests. Both directions.
 */
import { ErrorCode, errorResponse, type JsonRpcId, type JsonRpcRequest, type JsonRpcResponse } from "../jsonrpc/message.ts";
import { isObject, type JsonObject } from "./envelope.ts";
import { INPUT_REQUEST_METHODS, McpErrorCode } from "./protocol.ts";

/** One entry of `inputRequests`: a server → client request without id. */
export interface InputRequest {
  method: string;
  params?: JsonObject;
}

export type InputRequests = Record<string, InputRequest>;
export type InputResponses = Record<string, JsonObject>;

/** Requests for input one round may carry: a server (or child) asking for more is refused, not obeyed. */
export const MAX_INPUT_REQUESTS = 16;

/** Whether a server → client request can travel as an `inputRequests` entry. */
export function isInputRequestMethod(method: string): boolean {
  return INPUT_REQUEST_METHODS.has(method);
}

/** Server side: the `inputRequests` map for child requests, each under the key given. */
export function toInputRequests(entries: ReadonlyArray<{ key: string; request: Pick<JsonRpcRequest, "method" | "params"> }>): InputRequests {
  const out: InputRequests = {};
  for (const { key, request } of entries) out[key] = request.params === undefined ? { method: request.method } : { method: request.method, params: request.params };
  return out;
}

/** The `input_required` result for a round (at least one of the two fields, as the spec requires). */
export function inputRequiredResult(inputRequests: InputRequests, requestState: string | undefined): JsonObject {
  return { resultType: "input_required", inputRequests, ...(requestState !== undefined && { requestState }) };
}

/**
 * The client capability an input request needs, in the `ClientCapabilities` shape: form
 * elicitation needs `elicitation.form` (a bare `elicitation: {}` counts), URL elicitation
 * `elicitation.url`, sampling with tools `sampling.tools`, roots `roots`.
 */
export function requiredCapability(request: Pick<InputRequest, "method" | "params">): JsonObject | undefined {
  switch (request.method) {
    case "elicitation/create":
      return request.params?.mode === "url" ? { elicitation: { url: {} } } : { elicitation: { form: {} } };
    case "sampling/createMessage":
      return request.params?.tools !== undefined || request.params?.toolChoice !== undefined ? { sampling: { tools: {} } } : { sampling: {} };
    case "roots/list":
      return { roots: {} };
    default:
      return undefined;
  }
}

/**
 * The part of `required` that `declared` lacks (undefined when nothing lacks), for
 * `data.requiredCapabilities` of -32021. A bare `elicitation: {}` declares form mode.
 */
export function missingCapabilities(required: JsonObject, declared: JsonObject | undefined): JsonObject | undefined {
  const missing: JsonObject = {};
  for (const [capability, requirement] of Object.entries(required)) {
    const have = declared?.[capability];
    if (!isObject(have)) {
      missing[capability] = requirement;
      continue;
    }
    if (!isObject(requirement)) continue;
    const bare = capability === "elicitation" && Object.keys(have).length === 0;
    const lacking: JsonObject = {};
    for (const [member, value] of Object.entries(requirement)) {
      if (have[member] === undefined && !(bare && member === "form")) lacking[member] = value;
    }
    if (Object.keys(lacking).length > 0) missing[capability] = lacking;
  }
  return Object.keys(missing).length > 0 ? missing : undefined;
}

/**
 * What the `inputRequests` of an `input_required` result ask of the client beyond `declared` (its
 * clientCapabilities), merged; undefined when it declared all of it. A server must not ask for what
 * the client did not declare (basic/patterns/mrtr).
 */
export function undeclaredAsked(inputRequests: unknown, declared: JsonObject | undefined): JsonObject | undefined {
  if (!isObject(inputRequests)) return undefined;
  let lacking: JsonObject | undefined;
  for (const ask of Object.values(inputRequests)) {
    const required = isObject(ask) && typeof ask.method === "string" ? requiredCapability({ method: ask.method, ...(isObject(ask.params) && { params: ask.params }) }) : undefined;
    const missing = required && missingCapabilities(required, declared);
    if (!missing) continue;
    lacking ??= {};
    for (const [capability, requirement] of Object.entries(missing)) {
      const before = lacking[capability];
      lacking[capability] = isObject(before) && isObject(requirement) ? { ...before, ...requirement } : requirement;
    }
  }
  return lacking;
}

/** The -32021 error naming what the client would have to declare. */
export function missingCapabilityError(requiredCapabilities: JsonObject): { code: number; message: string; data: unknown } {
  return {
    code: McpErrorCode.MissingRequiredClientCapability,
    message: `Missing required client capability: ${Object.keys(requiredCapabilities).join(", ")}`,
    data: { requiredCapabilities },
  };
}

/**
 * A retried request's MRTR fields (`inputResponses`, `requestState`) and its params without them.
 * Every input-capable call asks: the two tests are spelled out, with no closure to allocate.
 */
export function readRetry(params: JsonObject | undefined): { inputResponses?: unknown; requestState?: unknown; params: JsonObject | undefined } {
  if (!params || !("inputResponses" in params || "requestState" in params)) return { params };
  const { inputResponses, requestState, ...rest } = params;
  return { inputResponses, requestState, params: rest };
}

/**
 * Server side: the JSON-RPC responses to send the child for its pending requests (`key` → the
 * child's request id), from a retry's `inputResponses`. Keys the client did not answer (or
 * answered with something that is not a result object) are `missing`; extra keys are ignored.
 */
export function answersFromInputResponses(pending: ReadonlyArray<{ key: string; id: JsonRpcId }>, inputResponses: unknown): { answers: JsonRpcResponse[]; missing: string[] } {
  const answers: JsonRpcResponse[] = [];
  const missing: string[] = [];
  const given = isObject(inputResponses) ? inputResponses : {};
  for (const { key, id } of pending) {
    const value = Object.hasOwn(given, key) ? given[key] : undefined;
    if (isObject(value)) answers.push({ jsonrpc: "2.0", id, result: value });
    else missing.push(key);
  }
  return { answers, missing };
}

/**
 * Why a round's `inputRequests` must not be put to a client (completing "the server …"; see
 * inputRequiredProblem), or undefined: more than MAX_INPUT_REQUESTS of them (each may be a prompt to a person), or a
 * method that is no request for input (the spec allows only INPUT_REQUEST_METHODS).
 */
export function inputRequestsProblem(inputRequests: unknown): string | undefined {
  if (!isObject(inputRequests)) return undefined;
  const entries = Object.values(inputRequests);
  if (entries.length > MAX_INPUT_REQUESTS) return `asked for ${entries.length} inputs at once; at most ${MAX_INPUT_REQUESTS}`;
  const other = entries.find((entry) => isObject(entry) && typeof entry.method === "string" && !isInputRequestMethod(entry.method)) as { method: string } | undefined;
  return other && `asked the client for ${other.method.slice(0, 100)}, which is no request for input`;
}

/** Client side: `inputRequests` as JSON-RPC requests for a legacy client, each with a fresh id. */
export function requestsFromInputRequests(inputRequests: unknown, nextId: () => JsonRpcId): Array<{ key: string; request: JsonRpcRequest }> {
  if (!isObject(inputRequests)) return [];
  const out: Array<{ key: string; request: JsonRpcRequest }> = [];
  for (const [key, entry] of Object.entries(inputRequests)) {
    if (!isObject(entry) || typeof entry.method !== "string") continue;
    const request: JsonRpcRequest = { jsonrpc: "2.0", id: nextId(), method: entry.method };
    if (isObject(entry.params)) request.params = entry.params;
    out.push({ key, request });
  }
  return out;
}

/**
 * Client side: `inputResponses` from a legacy client's answers. An error answer has no place in
 * `inputResponses`; it is reported in `failed` (the caller decides: abandon the call, or retry
 * without that key so the server asks again).
 */
export function inputResponsesFromAnswers(answers: ReadonlyArray<{ key: string; response: JsonRpcResponse }>): { inputResponses: InputResponses; failed: Array<{ key: string; error: NonNullable<JsonRpcResponse["error"]> }> } {
  const answered: Array<[string, JsonObject]> = [];
  const failed: Array<{ key: string; error: NonNullable<JsonRpcResponse["error"]> }> = [];
  for (const { key, response } of answers) {
    if (response.error) failed.push({ key, error: response.error });
    else if (isObject(response.result)) answered.push([key, response.result]);
    else failed.push({ key, error: { code: -32603, message: "the answer carried no result object" } });
  }
  // The server names the keys: fromEntries makes each an own member ("__proto__" too, where an assignment would set the prototype and drop the answer).
  return { inputResponses: Object.fromEntries(answered), failed };
}

/** Client side: the params of a retry: the original params plus `inputResponses` and the echoed `requestState`. */
export function retryParams(params: JsonObject | undefined, inputResponses: InputResponses | undefined, requestState: string | undefined): JsonObject {
  const { params: base } = readRetry(params);
  return { ...base, ...(inputResponses !== undefined && { inputResponses }), ...(requestState !== undefined && { requestState }) };
}

/**
 * The answer to a retry whose `requestState` is refused: InvalidParams (-32602) with
 * `data: {reason: "invalid_request_state", detail}`; `why`, when given, is added to the message.
 */
export function invalidRequestState(id: JsonRpcId, detail: string, why?: string): JsonRpcResponse {
  return errorResponse(id, ErrorCode.InvalidParams, `Invalid or expired requestState${why ? `: ${why}` : ""}`, { reason: "invalid_request_state", detail });
}
