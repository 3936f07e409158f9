/**
 * @module The remote server speaks MCP 2026-07-28 (the "modern" era: no session, no initialize,
 * per-request `_meta`, MRTR, `subscriptions/listen`). A legacy local client is served by
 * translation: its initialize is answered from `server/discover`, its session becomes the `_meta`
 * envelope of every request, `input_required` rounds become elicitation / sampling / roots
 * requests on stdio, `resources/subscribe` and list changes ride one `subscriptions/listen`
 * stream, and `resultType` and cache fields are stripped. A modern local client is passed through.
 */
import { errorResponse, ErrorCode, idKey, isNotification, isRequest, isResponse, type JsonRpcMessage, type JsonRpcRequest, type JsonRpcResponse } from "../jsonrpc/message.ts";
import { excerpt, quotedValue } from "../log/sanitize.ts";
import { toolParamHeaders } from "../mcp/client-headers.ts";
import { initializeFromDiscover, negotiateLegacyVersion } from "../mcp/discover.ts";
import { envelopeFromInitializeParams, isObject, LOG_LEVELS, metaOf, withEnvelope, type InitializeParams, type JsonObject, type LogLevel } from "../mcp/envelope.ts";
import { PLAIN_HEADER_VALUE, rememberTool, requestHeaders, type ParamHeader } from "../mcp/era.ts";
import { inputResponsesFromAnswers, missingCapabilities, requestsFromInputRequests, requiredCapability, retryParams } from "../mcp/mrtr.ts";
import { LEGACY_VERSIONS, McpErrorCode, MetaKey, MODERN_VERSIONS } from "../mcp/protocol.ts";
import { inputRequiredProblem, isInputRequired, resultProblem, toLegacyError, toLegacyResult } from "../mcp/results.ts";
import { VERSION } from "../version.ts";
import { ClientTransportError } from "./errors.ts";
import { contentType, parseMessages, quotedContentType, readBodyText, type Received, type Source } from "./messages.ts";
import { redactSent } from "./remote-fetch.ts";
import { readSse } from "./sse-reader.ts";
import { anySignal } from "../util/any-signal.ts";
import type { Held } from "./answer-budget.ts";
import type { AskLocal, RemoteTransport, TransportContext } from "./transport.ts";

/** The modern revision the bridge speaks to remote servers. */
export const MODERN_VERSION = MODERN_VERSIONS[0];
/**
 * Resources a legacy local client may be subscribed to at once: each subscription reopens the one
 * `subscriptions/listen` stream with all of them, so without a bound a client subscribing to ever
 * new URIs grows the bridge's memory and every reopening without end.
 */
const MAX_RESOURCE_SUBSCRIPTIONS = 1_000;
/** `input_required` rounds one call may take before the bridge gives up on it. */
const MAX_ROUNDS = 16;
/** Errors only a modern server sends: their presence identifies one (versioning §Backward Compatibility). */
const MODERN_ERRORS = new Set<number>([McpErrorCode.HeaderMismatch, McpErrorCode.MissingRequiredClientCapability, McpErrorCode.UnsupportedProtocolVersion]);

const ACCEPT_BOTH = "application/json, text/event-stream";

/**
 * Sends one modern request and returns its response, delivering the notifications that come
 * before it. A non-2xx answer that carries a JSON-RPC error is returned as that error (a modern
 * server answers 400/404 with one); anything else is a ClientTransportError.
 */
export async function modernCall(context: TransportContext, request: JsonRpcRequest, headers: Record<string, string>, signal?: AbortSignal, onNotification?: (message: JsonRpcMessage, source: Source, redact: (text: string) => string) => void): Promise<ModernAnswer> {
  const { timeout } = context;
  // A tool call's answer comes when the tool is done; server/discover answers from what the server
  // is, and one held past client.timeout, head or body, is no modern server (era detection must not stall).
  const awaitsAnswer = request.method !== "server/discover";
  const bodyDeadline = awaitsAnswer ? undefined : new AbortController();
  const bounded = anySignal(signal, bodyDeadline?.signal);
  const response = await context.fetch(
    context.url,
    { method: "POST", headers: { ...headers, accept: ACCEPT_BOTH, "content-type": "application/json" }, body: JSON.stringify(request), signal: bounded },
    { awaitsAnswer },
  );
  const timer = bodyDeadline && setTimeout(() => bodyDeadline.abort(), timeout);
  try {
    return await readAnswer(context, request, response, bounded, onNotification);
  } catch (error) {
    if (bodyDeadline?.signal.aborted && !signal?.aborted) throw new ClientTransportError("closed", `${new URL(context.url).host} did not finish answering ${request.method} within ${timeout} ms (client.timeout)`, { cause: error });
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A modern server's answer under the request's id, with the text it came in: `source.alone` only
 * when that text is the answer alone and under that id (it can be written on as received).
 */
export interface ModernAnswer {
  response: JsonRpcResponse;
  source: Source;
  /** `text` of the answer (a value the bridge quotes in an error) with the credentials its request carried redacted. */
  redact(text: string): string;
}

/** The response to `request` in `response` (JSON or an event stream), the notifications before it delivered. */
async function readAnswer(context: TransportContext, request: JsonRpcRequest, response: Response, signal: AbortSignal | undefined, onNotification?: (message: JsonRpcMessage, source: Source, redact: (text: string) => string) => void): Promise<ModernAnswer> {
  const { timeout } = context;
  const origin = new URL(context.url).host;
  const type = contentType(response);
  let answer: ModernAnswer | undefined;
  const redact = (text: string) => redactSent(response, text);
  const take = ({ message, source }: Received) => {
    if (isResponse(message)) {
      if (message.id === null) answer = { response: { ...message, id: request.id }, source: { ...source, alone: false }, redact };
      else if (idKey(message.id) === idKey(request.id)) answer = { response: message, source, redact };
      return;
    }
    if (isRequest(message)) {
      // Modern servers MUST NOT send requests on a reply stream (MRTR replaced them).
      context.remoteWarnings.write("warn", "dropped a request the modern server sent on a reply stream", { method: excerpt(redact(message.method)) });
      return;
    }
    onNotification?.(message, source, redact);
  };
  if (type === "application/json") {
    const held = context.answers.hold();
    let messages: Received[];
    try {
      const body = await readBodyText(response, context.maxMessageChars, timeout, signal, held);
      // An error answer (a 401 naming the token it refuses) must not carry the request's credentials on to the local client.
      const text = response.ok ? body : redactSent(response, body);
      if (!response.ok && text.trim() === "") throw new ClientTransportError("http", `${origin} answered HTTP ${response.status}`, { status: response.status });
      try {
        messages = parseMessages(text, context.remoteWarnings, "JSON reply", response);
      } catch (error) {
        if (!response.ok) throw new ClientTransportError("http", `${origin} answered HTTP ${response.status}`, { status: response.status });
        throw error;
      }
    } finally {
      // Handed on at once (delivery is synchronous): what keeps an answer holds it from here, so it never counts twice.
      held.release();
    }
    for (const message of messages) take(message);
  } else if (response.ok && type === "text/event-stream") {
    try {
      await readSse(
        response.body!,
        {
          onEvent: (event) => {
            if (event.event !== "message" || event.data.trim() === "") return;
            for (const received of parseMessages(event.data, context.remoteWarnings, "SSE event", response)) take(received);
          },
        },
        { maxEventChars: context.maxMessageChars, drained: context.drained, answers: context.answers, done: () => answer !== undefined },
      );
    } catch (error) {
      if (signal?.aborted) throw new ClientTransportError("closed", "the request was cancelled", { cause: error });
      if (error instanceof ClientTransportError) throw error;
      if (!answer) throw new ClientTransportError("network", `${origin} broke the reply stream before answering`, { cause: error });
    }
  } else {
    await response.body?.cancel().catch(() => {});
    if (!response.ok) throw new ClientTransportError("http", `${origin} answered HTTP ${response.status}`, { status: response.status });
    throw new ClientTransportError("protocol", `${origin} answered with content type ${quotedContentType(response)}, not JSON or an event stream`);
  }
  if (!answer) {
    if (!response.ok) throw new ClientTransportError("http", `${origin} answered HTTP ${response.status}`, { status: response.status });
    throw new ClientTransportError("closed", `${origin} ended the reply without answering the request`);
  }
  return answer;
}

/** The probe's verdict; a legacy one with `failed` came of a failure (5xx, a reply that broke off), which says nothing of the era. */
export type ProbeOutcome = { era: "modern"; answer: JsonRpcResponse; source: Source } | { era: "legacy"; reason: string; failed?: boolean };

/**
 * Which era the remote server speaks, from a `server/discover` request (the bridge's, or a modern
 * local client's own): a result listing a modern version, or a recognised modern error, means
 * modern; anything else legacy (Streamable HTTP 2026-07-28 §Backward Compatibility), `failed` when
 * it was no answer at all (5xx, a reply that broke off or stopped). Connection failures, no answer
 * within client.timeout and refused authentication propagate as errors.
 */
export async function probeEra(context: TransportContext, request: JsonRpcRequest, signal?: AbortSignal, attempt = 1): Promise<ProbeOutcome> {
  const version = metaOf(request.params)?.[MetaKey.protocolVersion];
  let answer: JsonRpcResponse;
  let source: Source;
  let redact: (text: string) => string;
  try {
    ({ response: answer, source, redact } = await modernCall(context, request, requestHeaders(request.method, request.params, typeof version === "string" ? version : MODERN_VERSION), signal));
  } catch (error) {
    // Refused authentication says nothing of the era either: the initialize fails with it, and the next one asks again.
    if (error instanceof ClientTransportError && (error.code === "http" || error.code === "protocol" || error.code === "closed") && error.status !== 401 && error.status !== 403) {
      return { era: "legacy", reason: error.message, failed: error.code === "closed" || (error.status ?? 0) >= 500 };
    }
    throw error;
  }
  if (answer.error) {
    const data = answer.error.data as { supported?: unknown } | undefined;
    // Versioning §Protocol Version Negotiation: retry with a version from `supported` (once; ours, when listed).
    if (answer.error.code === McpErrorCode.UnsupportedProtocolVersion && attempt === 1 && Array.isArray(data?.supported) && data.supported.includes(version ?? MODERN_VERSION)) {
      return probeEra(context, request, signal, attempt + 1);
    }
    if (answer.error.code === McpErrorCode.UnsupportedProtocolVersion && Array.isArray(data?.supported) && !data.supported.some((supported) => (MODERN_VERSIONS as readonly unknown[]).includes(supported))) {
      return { era: "legacy", reason: `the server supports ${excerpt(redact(data.supported.join(", ")))}` };
    }
    if (MODERN_ERRORS.has(answer.error.code)) return { era: "modern", answer, source };
    return { era: "legacy", reason: `server/discover answered error ${answer.error.code}` };
  }
  const result = answer.result;
  // Any other method answered under a modern envelope was served modern.
  if (request.method !== "server/discover") return { era: "modern", answer, source };
  if (isObject(result) && Array.isArray(result.supportedVersions) && result.supportedVersions.some((supported) => (MODERN_VERSIONS as readonly unknown[]).includes(supported))) return { era: "modern", answer, source };
  return { era: "legacy", reason: "server/discover's result lists no modern version" };
}

/** The bridge's own `server/discover` for a legacy local client's initialize. */
export function discoverRequest(initialize: InitializeParams): JsonRpcRequest {
  return { jsonrpc: "2.0", id: "mcp-bridge-discover", method: "server/discover", params: withEnvelope(undefined, envelopeFromInitializeParams(initialize, MODERN_VERSION)) };
}

/** A modern result for a legacy client: no resultType or cache fields, no serverInfo in `_meta` (initialize told it). */
function legacyResult(result: unknown): JsonObject {
  const out = toLegacyResult(result);
  if (isObject(out._meta) && MetaKey.serverInfo in out._meta) {
    const { [MetaKey.serverInfo]: _serverInfo, ...rest } = out._meta;
    if (Object.keys(rest).length > 0) out._meta = rest;
    else delete out._meta;
  }
  return out;
}

/** The id of the bridge's one `subscriptions/listen` request (the `subscriptionId` its notifications carry). */
const LISTEN_ID = "mcp-bridge-listen";
const LIST_CHANGED = new Set(["notifications/tools/list_changed", "notifications/prompts/list_changed", "notifications/resources/list_changed"]);

export class ModernTransport implements RemoteTransport {
  readonly #context: TransportContext;
  readonly #ask: AskLocal;
  readonly #discover: JsonObject;
  /** The legacy local client's last initialize (what every request's `_meta` is made of); undefined for a modern local client, which sends its own. */
  #initialize: InitializeParams | undefined;
  readonly #closing = new AbortController();
  #logLevel: LogLevel | undefined;
  /** Tool name → its `Mcp-Param-*` declarations, from the last tools/list. */
  readonly #toolHeaders = new Map<string, ParamHeader[]>();
  readonly #resourceSubscriptions = new Set<string>();
  #listen: AbortController | undefined;
  /** Set once a listen stream went unacknowledged for client.timeout (see #openListen). */
  #unacknowledged = false;
  #nextAskId = 0;

  constructor(context: TransportContext, ask: AskLocal, discover: JsonObject, initialize: InitializeParams | undefined) {
    this.#context = context;
    this.#ask = ask;
    this.#discover = discover;
    this.#initialize = initialize;
  }

  /** The legacy local client's initialize answered from the server's `server/discover` result. */
  initializeResult(requestedVersion: unknown): JsonObject {
    const result = initializeFromDiscover(this.#discover, negotiateLegacyVersion(requestedVersion, LEGACY_VERSIONS), { name: "mcp-bridge", version: VERSION });
    // logging/setLevel is answered by the bridge and becomes each request's logLevel.
    return { ...result, capabilities: { ...result.capabilities, logging: {} } };
  }

  async send(message: JsonRpcMessage, signal?: AbortSignal): Promise<void> {
    if (this.#closing.signal.aborted) throw new ClientTransportError("closed", "the bridge is shutting down");
    if (!isRequest(message)) {
      // No client → server notifications travel over modern HTTP: cancellation is closing the stream.
      if (isNotification(message) && message.method === "notifications/initialized") void this.#openListen();
      return;
    }
    // Every request carries its method in Mcp-Method: a name no header holds (a control or non-ASCII character, spaces at its ends) cannot be sent.
    if (message.method === "" || !PLAIN_HEADER_VALUE.test(message.method)) {
      return this.#context.deliver(errorResponse(message.id, ErrorCode.InvalidRequest, `mcp-bridge: the method ${quotedValue(message.method)} cannot be sent to a modern server: its Mcp-Method header holds visible ASCII and inner spaces only`));
    }
    const legacy = this.#initialize !== undefined;
    if (legacy) {
      const local = await this.#answerLocally(message);
      if (local) return this.#context.deliver(local);
    }
    if (legacy) return this.#context.deliver(await this.#translated(message, signal));
    const { response, source } = await this.#passThrough(message, signal);
    this.#context.deliver(response, source);
  }

  async close(): Promise<void> {
    this.#closing.abort();
    this.#listen?.abort();
  }

  /** Methods a legacy local client sends that the modern era has no request for. */
  async #answerLocally(request: JsonRpcRequest): Promise<JsonRpcResponse | undefined> {
    const ok = (result: JsonObject = {}): JsonRpcResponse => ({ jsonrpc: "2.0", id: request.id, result });
    switch (request.method) {
      case "initialize":
        // A client initializing again (a new session, in legacy terms) may declare other capabilities: later requests carry these.
        this.#initialize = (isObject(request.params) ? request.params : {}) as InitializeParams;
        return ok(this.initializeResult(request.params?.protocolVersion));
      case "logging/setLevel": {
        const level = request.params?.level;
        // Sent as every later request's logLevel: one the server refuses would fail them all.
        if (!(LOG_LEVELS as readonly unknown[]).includes(level)) return errorResponse(request.id, ErrorCode.InvalidParams, `level must be one of ${LOG_LEVELS.join(", ")}`);
        this.#logLevel = level as LogLevel;
        return ok();
      }
      case "resources/subscribe":
      case "resources/unsubscribe": {
        const uri = request.params?.uri;
        if (typeof uri !== "string") return errorResponse(request.id, ErrorCode.InvalidParams, "uri must be a string");
        if (request.method === "resources/subscribe" && !this.#resourceSubscriptions.has(uri) && this.#resourceSubscriptions.size >= MAX_RESOURCE_SUBSCRIPTIONS) {
          return errorResponse(request.id, ErrorCode.InvalidRequest, `mcp-bridge: already subscribed to ${MAX_RESOURCE_SUBSCRIPTIONS} resources; unsubscribe from one first`);
        }
        if (request.method === "resources/subscribe") this.#resourceSubscriptions.add(uri);
        else this.#resourceSubscriptions.delete(uri);
        // Answered once the server acknowledged the new filter: updates after the answer are not missed.
        await this.#openListen();
        return ok();
      }
      default:
        return undefined;
    }
  }

  #headersFor(method: string, params: JsonObject | undefined, version: string): Record<string, string> {
    const name = method === "tools/call" && typeof params?.name === "string" ? params.name : undefined;
    return requestHeaders(method, params, version, name === undefined ? [] : (this.#toolHeaders.get(name) ?? []));
  }

  /** Keeps a tool's `Mcp-Param-*` declarations, only for tools that have some (bounded: see rememberTool). */
  #remember(name: string, declarations: ParamHeader[]): void {
    if (declarations.length === 0) this.#toolHeaders.delete(name);
    else rememberTool(this.#toolHeaders, name, declarations);
  }

  /**
   * tools/list: tools with invalid `x-mcp-header` annotations are excluded, the valid ones
   * remembered. `redact`: the answer's (ModernAnswer.redact), for what the warning quotes of it.
   */
  #filterTools(method: string, response: JsonRpcResponse, redact: (text: string) => string): JsonRpcResponse {
    if (method !== "tools/list" || !isObject(response.result) || !Array.isArray(response.result.tools)) return response;
    const tools = response.result.tools.filter((tool: unknown) => {
      if (!isObject(tool) || typeof tool.name !== "string") return false;
      const checked = toolParamHeaders(tool.inputSchema);
      if ("problem" in checked) {
        this.#context.remoteWarnings.write("warn", "excluded a tool with an invalid x-mcp-header", { tool: redact(tool.name), reason: redact(checked.problem) });
        return false;
      }
      this.#remember(tool.name, checked.declarations);
      return true;
    });
    return { ...response, result: { ...response.result, tools } };
  }

  /** A modern local client's request, its answer as the server wrote it (source) but for tools/list, whose excluded tools make it serialized again. */
  async #passThrough(request: JsonRpcRequest, signal?: AbortSignal): Promise<ModernAnswer> {
    const version = metaOf(request.params)?.[MetaKey.protocolVersion];
    const headers = this.#headersFor(request.method, request.params, typeof version === "string" ? version : MODERN_VERSION);
    const answer = await modernCall(this.#context, request, headers, anySignal(signal, this.#closing.signal), (message, source) => this.#context.deliver(message, source));
    if (request.method !== "tools/list") return answer;
    return { ...answer, response: this.#filterTools(request.method, answer.response, answer.redact), source: { ...answer.source, alone: false } };
  }

  /**
   * A legacy request as a modern one, `input_required` rounds answered through the local client.
   * Each answer is serialized again (translated, or its input requests put to the local client):
   * one holding a number a double does not carry ends the call with an Internal Error naming where.
   */
  async #translated(request: JsonRpcRequest, signal?: AbortSignal): Promise<JsonRpcResponse> {
    // A round's requestState and input requests wait in memory while the local client answers (a
    // person may take minutes): they count against the answer budget, as the body they came in did.
    const waiting = this.#context.answers.hold();
    try {
      return await this.#rounds(request, waiting, signal);
    } finally {
      waiting.release();
    }
  }

  async #rounds(request: JsonRpcRequest, waiting: Held, signal?: AbortSignal): Promise<JsonRpcResponse> {
    const envelope = envelopeFromInitializeParams(this.#initialize!, MODERN_VERSION, this.#logLevel);
    const base = request.params;
    let params = base;
    for (let round = 0; ; round++) {
      const modernParams = withEnvelope(params, envelope);
      // MRTR: a retry is a new request, with a new JSON-RPC id; the local client keeps its own.
      const id = round === 0 ? request.id : `mcp-bridge-retry-${++this.#nextAskId}`;
      const { response, source, redact } = await modernCall(
        this.#context,
        { ...request, id, params: modernParams },
        this.#headersFor(request.method, params, MODERN_VERSION),
        anySignal(signal, this.#closing.signal),
        (message, source) => this.#context.deliver(message, source),
      );
      const inexact = source.inexact()?.(response);
      if (inexact) return errorResponse(request.id, ErrorCode.InternalError, `mcp-bridge: the server's answer to ${request.method}: ${inexact}`);
      // A server that answers, even "method not found", is alive: what a legacy client's ping asks.
      if (request.method === "ping" && response.error?.code === ErrorCode.MethodNotFound) return { jsonrpc: "2.0", id: request.id, result: {} };
      if (response.error) return { ...response, id: request.id, error: toLegacyError(request.method, response.error) };
      // An empty result would read as success (a tool call with no content): what is not an object is an error.
      if (!isObject(response.result)) return errorResponse(request.id, ErrorCode.InternalError, `mcp-bridge: ${resultProblem(request.method, response.result)}`);
      const resultType = response.result.resultType;
      // A result of a kind the legacy client has no word for, stripped of its resultType, would read as an empty success.
      if (resultType !== undefined && resultType !== "complete" && resultType !== "input_required") {
        return errorResponse(request.id, ErrorCode.InternalError, `mcp-bridge: the server answered ${request.method} with resultType ${quotedValue(typeof resultType === "string" ? redact(resultType) : resultType)}, which a legacy client cannot be given`);
      }
      if (!isInputRequired(response.result)) return this.#filterTools(request.method, { ...response, id: request.id, result: legacyResult(response.result) }, redact);
      if (round + 1 >= MAX_ROUNDS) return errorResponse(request.id, ErrorCode.InternalError, `mcp-bridge: the server asked for input ${MAX_ROUNDS} times in a row; giving up`);
      const result = response.result as JsonObject;
      const problem = inputRequiredProblem(request.method, result);
      if (problem) return errorResponse(request.id, ErrorCode.InternalError, `mcp-bridge: ${problem}`);
      const requestState = typeof result.requestState === "string" ? result.requestState : undefined;
      waiting.shrinkTo(0);
      waiting.grow((requestState?.length ?? 0) + JSON.stringify(result.inputRequests ?? null).length);
      const asks = requestsFromInputRequests(result.inputRequests, () => `mcp-bridge-input-${++this.#nextAskId}`);
      // The local client is never asked what it did not declare it can answer (a legacy server must not ask either).
      const declared = isObject(this.#initialize!.capabilities) ? this.#initialize!.capabilities : undefined;
      for (const { request: ask } of asks) {
        const required = requiredCapability({ method: ask.method, params: ask.params });
        const missing = required && missingCapabilities(required, declared);
        if (missing) {
          return errorResponse(request.id, ErrorCode.InternalError, `mcp-bridge: the server asked for ${quotedValue(ask.method)}, which needs client capabilities the local client did not declare (${Object.keys(missing).join(", ")}); a server must not ask for them (MCP basic/patterns/mrtr)`, { requiredCapabilities: missing });
        }
      }
      // Shutting down ends the questions too: the call gets its error while stdout is still read.
      const asked = anySignal(signal, this.#closing.signal);
      const outcomes = await Promise.all(asks.map(async ({ key, request: ask }) => ({ key, answer: await this.#ask({ method: ask.method, params: ask.params }, asked) })));
      const answers: Array<{ key: string; response: JsonRpcResponse }> = [];
      for (const { key, answer } of outcomes) {
        // The bridge's own error (it could not ask, or would not pass the answer on) stands as it is.
        if ("failure" in answer) return errorResponse(request.id, answer.failure.code, answer.failure.message, answer.failure.data);
        answers.push({ key, response: answer.response });
      }
      const { inputResponses, failed } = inputResponsesFromAnswers(answers);
      if (failed.length > 0) {
        const { key, error } = failed[0]!;
        // The local client's own error would read as the call's: -32601 from a client without a handler would say the tool does not exist.
        const method = asks.find((ask) => ask.key === key)?.request.method;
        return errorResponse(request.id, ErrorCode.InternalError, `mcp-bridge: the local client refused the server's request for input (${quotedValue(method)}): ${error.code} ${quotedValue(error.message)}`, { inputError: error });
      }
      params = retryParams(base, asks.length > 0 ? inputResponses : undefined, requestState);
    }
  }

  /**
   * Whether a message on the listen stream is what it was opened for: a list change or a resource
   * update (its uri may be a sub-resource of the one subscribed to: MCP server/resources), of this
   * subscription (a `subscriptionId` of another is not; none is taken as this one's). A progress or
   * log notification has no request of the local client's to belong to there.
   */
  #listened(message: JsonRpcMessage): boolean {
    if (!isNotification(message)) return false;
    const subscription = metaOf(message.params)?.[MetaKey.subscriptionId];
    if (subscription !== undefined && subscription !== LISTEN_ID) return false;
    return message.method === "notifications/resources/updated" || LIST_CHANGED.has(message.method);
  }

  /**
   * One `subscriptions/listen` stream for what the legacy client can hear: list changes and
   * subscribed resources. Resolves once the server acknowledged it, or gave up (bounded by `timeout`).
   */
  #openListen(): Promise<void> {
    if (this.#initialize === undefined || this.#closing.signal.aborted) return Promise.resolve();
    const capabilities = isObject(this.#discover.capabilities) ? this.#discover.capabilities : {};
    const listChanged = (name: string) => isObject(capabilities[name]) && (capabilities[name] as JsonObject).listChanged === true;
    const notifications: JsonObject = {
      ...(listChanged("tools") && { toolsListChanged: true }),
      ...(listChanged("prompts") && { promptsListChanged: true }),
      ...(listChanged("resources") && { resourcesListChanged: true }),
      ...(this.#resourceSubscriptions.size > 0 && { resourceSubscriptions: [...this.#resourceSubscriptions] }),
    };
    this.#listen?.abort();
    if (Object.keys(notifications).length === 0) return Promise.resolve();
    const controller = new AbortController();
    this.#listen = controller;
    const signal = anySignal(controller.signal, this.#closing.signal)!;
    const { logger } = this.#context;
    let acknowledged!: () => void;
    const ready = new Promise<void>((resolve) => {
      // A server that left a listen stream unacknowledged is not waited for again until it acknowledges one: each resources/subscribe would wait client.timeout.
      const timer = this.#unacknowledged ? undefined : setTimeout(() => ((this.#unacknowledged = true), resolve()), this.#context.timeout);
      if (timer === undefined) resolve();
      acknowledged = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    void (async () => {
      let failures = 0;
      while (!signal.aborted) {
        const envelope = envelopeFromInitializeParams(this.#initialize!, MODERN_VERSION);
        const params = withEnvelope({ notifications }, envelope);
        try {
          const { response: answer } = await modernCall(this.#context, { jsonrpc: "2.0", id: LISTEN_ID, method: "subscriptions/listen", params }, requestHeaders("subscriptions/listen", params, MODERN_VERSION), signal, (message, source, redact) => {
            failures = 0;
            if (isNotification(message) && message.method === "notifications/subscriptions/acknowledged") {
              this.#unacknowledged = false;
              return acknowledged();
            }
            if (this.#listened(message)) return this.#context.deliver(message, source);
            this.#context.remoteWarnings.write("warn", "dropped a message on the listen stream that was not asked for", { method: "method" in message ? excerpt(redact(message.method)) : "response" });
          });
          if (answer.error) {
            logger.warn("the server refused subscriptions/listen; list changes will not be forwarded", { error: answer.error.message });
            return;
          }
        } catch (error) {
          if (signal.aborted) return;
          failures++;
          logger.debug("subscriptions/listen stream failed", { error, failures });
          if (failures >= 10) return void logger.warn("stopped listening for change notifications after repeated failures", { error });
        }
        await this.#context.sleep(Math.min(this.#context.maxDelay, 1_000 * 2 ** failures), signal);
      }
    })().finally(() => acknowledged());
    return ready;
  }
}

