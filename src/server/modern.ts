/**
 * @module Modern (2026-07-28) requests in server mode: stateless, every request carrying its own
 * `_meta` envelope. After the era check (src/mcp/era.ts) and authentication, a request goes to the
 * principal's child (src/server/modern-pool.ts): through, with ids remapped, when the child is
 * modern itself; translated (src/server/modern-legacy.ts) when it is a legacy child.
 */
import type { Principal } from "../auth/types.ts";
import type { ServerConfig } from "../config/schema.ts";
import { ErrorCode, errorResponse, inexactNumberProblem, responseLine, type JsonRpcId, type JsonRpcRequest, type JsonRpcResponse } from "../jsonrpc/message.ts";
import { invalidRequestState } from "../mcp/mrtr.ts";
import type { Logger } from "../log/logger.ts";
import { throttledLog, type ThrottledLog } from "../log/throttle.ts";
import { isObject, type JsonObject, type RequestEnvelope } from "../mcp/envelope.ts";
import { checkParamHeaders, checkStandardHeaders, decodeHeaderValue, paramHeadersOf, rememberTool, type HeaderSource, type ParamHeader, type Rejection } from "../mcp/era.ts";
import { ALL_VERSIONS, Header, INPUT_REQUIRED_METHODS, isModernVersion, MetaKey, MODERN_VERSIONS } from "../mcp/protocol.ts";
import { missingCapabilityError, undeclaredAsked } from "../mcp/mrtr.ts";
import { modernResultProblem } from "../mcp/results.ts";
import { MAX_STATE_LENGTH, RequestStateSealer } from "../mcp/seal.ts";
import type { Platform } from "../runtime/types.ts";
import { callLegacyChild, evictWaitingRound, LegacyChildState, principalName } from "./modern-legacy.ts";
import { ModernChildPool } from "./modern-pool.ts";
import { ModernReply } from "./modern-reply.ts";
import type { Answer, ModernUpstream } from "./modern-upstream.ts";
import { congestedResponse, jsonRpcErrorResponse } from "./session.ts";
import { SessionLimitError } from "./sessions.ts";

/** Open `subscriptions/listen` streams per holder (ModernRequest.holder). */
const MAX_LISTENS_PER_HOLDER = 32;
/**
 * The longest `subscriptions/listen` body (characters): its stream keeps the request while it is
 * open, so this times MAX_LISTENS_PER_HOLDER is what one holder's streams may hold. Room for a few
 * hundred resource URIs.
 */
const MAX_LISTEN_BODY_LENGTH = 65_536;
/** A tools/call naming a tool the bridge has not seen makes it list the child's tools at most this often. */
const TOOL_LIST_INTERVAL_MS = 5_000;

/** Methods the modern era removed; a modern request for one is answered 404 / -32601. */
const REMOVED_METHODS = new Set(["initialize", "ping", "logging/setLevel", "resources/subscribe", "resources/unsubscribe"]);

export interface ModernRequest {
  /** The request's headers, standard ones read once (see withStandardHeadersRead). */
  headers: HeaderSource;
  message: JsonRpcRequest;
  /** The body's length in characters, as received. */
  bodyLength: number;
  envelope: RequestEnvelope;
  principal: Principal | undefined;
  /**
   * Whose limits the request counts against (open listen streams, calls in flight or waiting for
   * input): Principal.owner for a principal; without authentication `addr:<address bucket>` (see
   * addressBucket), so that one client cannot use up every other's. The body budget's holder.
   */
  holder: string;
  accept: { json: boolean; sse: boolean };
  onClientGone: ((listener: () => void) => void) | undefined;
  /** Ends the request's connection (ConnectionInfo.abort): a response stream its client stopped reading. */
  abortConnection?: () => void;
}

/** What one modern call needs from the rest of the bridge. */
export interface ModernContext {
  config: ServerConfig;
  logger: Logger;
  sealer: Promise<RequestStateSealer>;
  legacy: LegacyChildState;
}

/**
 * The request a modern POST announces in its headers (`Mcp-Method`, and `Mcp-Name` for a tool), so
 * that per-method scopes are checked before the body is read. The body must agree with the headers
 * (HeaderMismatch otherwise), and is checked again once parsed. Undefined for legacy traffic.
 */
export function headerNamedRequest(headers: HeaderSource): JsonRpcRequest | undefined {
  const version = headers.get(Header.protocolVersion)?.trim();
  const method = headers.get(Header.method)?.trim();
  if (!version || !isModernVersion(version) || !method) return undefined;
  const rawName = headers.get(Header.name)?.trim();
  const name = rawName === undefined ? undefined : decodeHeaderValue(rawName);
  // No spread: V8 copies a spread's properties one by one, on every modern request.
  return method === "tools/call" && name !== undefined ? { jsonrpc: "2.0", id: 0, method, params: { name } } : { jsonrpc: "2.0", id: 0, method };
}

/** The refusal of a modern request at the edge, with its id so the client can match it. */
export function modernRejection(id: JsonRpcId | null, rejection: Rejection): Response {
  return jsonRpcErrorResponse(rejection.status, errorResponse(id, rejection.error.code, rejection.error.message, rejection.error.data));
}

/** Serves modern requests for server mode: owns the children pool, the requestState sealer and the legacy-child translation state. */
export class ModernServer {
  readonly pool: ModernChildPool;
  readonly #context: ModernContext;
  /** sse_keepalive_interval and session.stream_buffer_size, read once: every reply takes them. */
  readonly #keepAliveMs: number;
  readonly #streamBufferSize: number;
  readonly #toolHeaders = new WeakMap<ModernUpstream, Map<string, ParamHeader[]>>();
  readonly #listedAt = new WeakMap<ModernUpstream, number>();
  /** Per child: how often its tool list changed since the bridge first checked a call on it (and that it listens). */
  readonly #toolChanges = new WeakMap<ModernUpstream, number>();
  /** The bridge's own tools/list of a child, while it is under way. */
  readonly #listing = new WeakMap<ModernUpstream, Promise<void>>();
  readonly #listens = new Map<string, number>();
  /** A child's requestState the bridge could not seal (too large): the child may do it every call, so throttled. */
  readonly #stateFailures: ThrottledLog;
  /** Answers of a modern child that are not modern results (see modernResultProblem): every call may bring one, so throttled. */
  readonly #invalidAnswers: ThrottledLog;
  /** Requests that found no child for a reason that lasts (an identity the server cannot be given): every request of it would bring one, so throttled. */
  readonly #noChild: ThrottledLog;
  /** Logs a response stream ended because its client stopped reading (any client can cause one: throttled); one function for every reply. */
  readonly #overflowed: () => void;

  constructor(config: ServerConfig, platform: Platform, logger: Logger, legacySessions: () => number) {
    this.pool = new ModernChildPool(config, platform, logger, legacySessions);
    this.#keepAliveMs = config.sse_keepalive_interval;
    this.#streamBufferSize = config.session.stream_buffer_size;
    const key = config.session.request_state_key?.reveal();
    this.#context = { config, logger, sealer: RequestStateSealer.create(key, { aesGcm: platform.aesGcm, sha256: platform.sha256 }), legacy: new LegacyChildState(config, logger) };
    this.pool.evictWaiting = (children, graceMs, holder) => evictWaitingRound(this.#context, children, graceMs, holder);
    this.#stateFailures = throttledLog(logger, "requestState failures", { burst: 10, windowMs: 60_000 });
    this.#invalidAnswers = throttledLog(logger, "invalid answers", { burst: 10, windowMs: 60_000 });
    this.#noChild = throttledLog(logger, "modern requests with no MCP server", { burst: 10, windowMs: 60_000 });
    const overflows = throttledLog(logger, "modern response streams not read", { burst: 10, windowMs: 60_000 });
    this.#overflowed = () => overflows.write("warn", "a client stopped reading its response stream; it was closed at session.stream_buffer_size, and its request cancelled", { limit: this.#streamBufferSize });
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  /**
   * Serves one modern request (classified and authenticated already). Synchronous up to the
   * response promise when the principal's child is ready, as it is for nearly every request.
   */
  handle(request: ModernRequest): Promise<Response> | Response {
    const { message, principal } = request;
    const headerProblem = checkStandardHeaders(message.method, message.params, request.headers);
    if (headerProblem) return modernRejection(message.id, headerProblem);
    if (REMOVED_METHODS.has(message.method)) {
      return jsonRpcErrorResponse(
        404,
        errorResponse(message.id, ErrorCode.MethodNotFound, `Method not found: ${message.method} is not part of protocol revision ${MODERN_VERSIONS[0]}; this endpoint serves ${ALL_VERSIONS.join(", ")} (${message.method === "initialize" ? "send initialize without a modern _meta claim for the legacy handshake" : "legacy versions through initialize"})`, { supported: [...ALL_VERSIONS] }),
      );
    }
    // Its answer is a stream that stays open: a client taking only JSON could never be answered.
    if (message.method === "subscriptions/listen" && !request.accept.sse) {
      return jsonRpcErrorResponse(406, errorResponse(message.id, ErrorCode.InvalidRequest, "Not Acceptable: subscriptions/listen is answered with a stream; accept text/event-stream"));
    }
    if (message.method === "subscriptions/listen" && request.bodyLength > MAX_LISTEN_BODY_LENGTH) {
      return jsonRpcErrorResponse(400, errorResponse(message.id, ErrorCode.InvalidParams, `Invalid params: a subscriptions/listen request may be at most ${MAX_LISTEN_BODY_LENGTH} characters long (its stream keeps it while open); subscribe to fewer or shorter resource URIs, over several streams if need be`));
    }
    const ready = this.pool.readyPrimary(principal);
    if (!ready) {
      return this.pool.primary(principal).then(
        (upstream) => this.#checked(upstream, request),
        (error: unknown) => this.#unavailable(message, error),
      );
    }
    return this.#checked(ready, request);
  }

  /** The request on its principal's child, once its `Mcp-Param-*` headers are checked. */
  #checked(upstream: ModernUpstream, request: ModernRequest): Promise<Response> | Response {
    const { message } = request;
    if (message.method !== "tools/call") return this.#serve(upstream, request);
    const checked = this.#checkParamHeaders(upstream, request);
    if (checked instanceof Promise) return checked.then((problem) => (problem ? modernRejection(message.id, problem) : this.#serve(upstream, request)));
    return checked ? modernRejection(message.id, checked) : this.#serve(upstream, request);
  }

  #serve(upstream: ModernUpstream, request: ModernRequest): Promise<Response> | Response {
    const { message } = request;
    // A legacy child's input-capable calls go to whichever child has room (the pool skips congested
    // ones, and refuses when all are); anything else would be written to this child.
    if (upstream.congested && !(upstream.era === "legacy" && INPUT_REQUIRED_METHODS.has(message.method))) {
      this.pool.logCongestion({ child: upstream.name });
      return congestedResponse(message.id);
    }
    const reply = new ModernReply(request.accept, this.#keepAliveMs, this.#streamBufferSize, request.abortConnection);
    reply.onOverflow = this.#overflowed;
    if (message.method === "subscriptions/listen") {
      // Per holder, not per child: with one shared child, one user's streams must not use up another's.
      const key = request.holder;
      const open = this.#listens.get(key) ?? 0;
      if (open >= MAX_LISTENS_PER_HOLDER) {
        return jsonRpcErrorResponse(429, errorResponse(message.id, ErrorCode.InternalError, `${request.principal ? "this principal" : "this client address"} already has ${MAX_LISTENS_PER_HOLDER} subscriptions/listen streams open`), { "retry-after": "5" });
      }
      this.#listens.set(key, open + 1);
      reply.onEnd = () => {
        const left = (this.#listens.get(key) ?? 1) - 1;
        if (left > 0) this.#listens.set(key, left);
        else this.#listens.delete(key);
      };
    }
    request.onClientGone?.(() => reply.clientGone());
    if (upstream.era === "legacy") {
      let waited: void | Promise<void>;
      try {
        waited = callLegacyChild(this.#context, this.pool, upstream, request, reply);
      } catch (error) {
        return this.#refuse(message, error);
      }
      if (waited instanceof Promise) {
        return waited.then(
          () => reply.response,
          (error: unknown) => this.#refuse(message, error),
        );
      }
      return reply.response;
    }
    this.#passThrough(upstream, request, reply);
    return reply.response;
  }

  /** A call that found no child (SessionLimitError) is unavailable; anything else is a bug and rethrown. */
  #refuse(message: JsonRpcRequest, error: unknown): Response {
    if (!(error instanceof SessionLimitError)) throw error;
    return this.#unavailable(message, error);
  }

  /**
   * A modern child: the request goes as it came (ids and progress token remapped), the answer too,
   * but for the child's `requestState`. The child sees no authentication and cannot bind its
   * state to a principal, as the spec requires (basic/patterns/mrtr §Server Requirements): the
   * bridge seals it for the principal and the request, and opens it on the retry.
   */
  #passThrough(upstream: ModernUpstream, request: ModernRequest, reply: ModernReply): void {
    const { message } = request;
    if (message.params?.requestState === undefined) return this.#forward(upstream, request, reply, message.params);
    this.#openChildState(request).then(
      (params) => (typeof params === "string" ? reply.finish(invalidRequestState(message.id, params)) : this.#forward(upstream, request, reply, params)),
      (error: unknown) => this.#internalError(reply, message.id, error),
    );
  }

  #forward(upstream: ModernUpstream, request: ModernRequest, reply: ModernReply, params: JsonObject | undefined): void {
    const { message } = request;
    const { id } = upstream.call(message.id, message.method, params, {
      answered: ({ message: answer, afterId, raw }) => {
        // An error's envelope was checked as it was read (StdioChild); a result must be a modern one.
        const problem = answer.error === undefined ? modernResultProblem(message.method, answer.result) : undefined;
        if (problem !== undefined) return this.#invalidAnswer(upstream, reply, message.id, problem);
        const result = answer.result;
        // Passed on as written only under another id; anything else is serialized again.
        const asks = isObject(result) && result.resultType === "input_required";
        const asWritten = afterId !== undefined && message.method !== "server/discover" && !asks;
        const inexact = asWritten || raw === undefined ? undefined : inexactNumberProblem(raw, answer);
        if (inexact) return this.#invalidAnswer(upstream, reply, message.id, `the MCP server's answer cannot be passed on: ${inexact}`);
        // A client's page adds to what other pages declared (a tool listed again is updated).
        if (message.method === "tools/list" && isObject(answer.result)) this.#noteTools(upstream, answer.result);
        if (message.method === "server/discover") return reply.finish(ownVersions(answer));
        // A client is never asked what it did not declare it can answer (MCP basic/patterns/mrtr): the
        // same -32021 as a question of a legacy child that nothing declared (modern-legacy.ts).
        const lacking = asks ? undeclaredAsked(result.inputRequests, request.envelope.clientCapabilities) : undefined;
        if (lacking) {
          this.#invalidAnswers.write("warn", "the MCP server asked the client for input it did not declare it can give", { child: upstream.name, capabilities: Object.keys(lacking).join(",") });
          const error = missingCapabilityError(lacking);
          return reply.finish(errorResponse(message.id, error.code, error.message, error.data));
        }
        if (asks && typeof result.requestState === "string") {
          const state = result.requestState;
          this.#sealChildState(request, state).then(
            (sealed) => reply.finish({ ...answer, result: { ...result, requestState: sealed } }),
            (error: unknown) => this.#internalError(reply, message.id, error),
          );
          return;
        }
        // The child's own line under the client's id: nothing to serialize again.
        reply.finish(answer, {}, afterId === undefined ? undefined : responseLine(message.id, afterId));
      },
      notification: (n) => {
        // A change the child tags for a listen stream says the same as an untagged one.
        if (n.method === "notifications/tools/list_changed") this.#toolsChanged(upstream);
        reply.event(n);
      },
    });
    reply.onClientGone = () => upstream.cancel(id, "the client closed the response stream");
  }

  /** The child's `requestState`, sealed for the request's principal and the request. */
  async #sealChildState(request: ModernRequest, state: string): Promise<string> {
    const { message } = request;
    const sealer = await this.#context.sealer;
    const digest = await sealer.digest(message.method, message.params);
    const sealed = await sealer.seal({ principal: principalName(request), child: CHILD_STATE, call: state, request: digest, keys: [] }, CHILD_STATE_TTL_MS);
    if (sealed.length > MAX_STATE_LENGTH) throw new Error(`the MCP server's requestState is too large (${state.length} characters)`);
    return sealed;
  }

  /** The retry's params with the child's own `requestState` again, or why the state is refused. */
  async #openChildState(request: ModernRequest): Promise<JsonObject | undefined | string> {
    const { message } = request;
    const sealer = await this.#context.sealer;
    const opened = await sealer.open(message.params?.requestState, { principal: principalName(request), request: await sealer.digest(message.method, message.params) });
    if (!opened.ok) return opened.reason;
    // A legacy child's round names no state of a child's own.
    if (opened.claims.child !== CHILD_STATE) return "foreign";
    return { ...message.params, requestState: opened.claims.call };
  }

  /** A modern child's answer no client may be given: InternalError naming `problem`, and a throttled warning without the answer. */
  #invalidAnswer(upstream: ModernUpstream, reply: ModernReply, id: JsonRpcId, problem: string): void {
    this.#invalidAnswers.write("warn", "an MCP server's answer cannot be passed on to a 2026-07-28 client; the client gets an internal error", { child: upstream.name, problem });
    reply.finish(errorResponse(id, ErrorCode.InternalError, `Internal error: ${problem}`));
  }

  #internalError(reply: ModernReply, id: JsonRpcId, error: unknown): void {
    this.#stateFailures.write("warn", "a modern child's requestState could not be sealed or opened", { error: (error as Error).message });
    reply.finish(errorResponse(id, ErrorCode.InternalError, "Internal error: the requestState could not be handled"));
  }

  /**
   * `Mcp-Param-*` headers against the tool's `x-mcp-header` declarations (the child cannot see
   * headers). Synchronous when the tool is known; when it is not, waits for the listing of the
   * child's tools under way, or starts one (at most every TOOL_LIST_INTERVAL_MS).
   */
  #checkParamHeaders(upstream: ModernUpstream, request: ModernRequest): Rejection | undefined | Promise<Rejection | undefined> {
    if (!this.#toolChanges.has(upstream)) {
      this.#toolChanges.set(upstream, 0);
      upstream.onBroadcast((notification) => {
        if (notification.method === "notifications/tools/list_changed") this.#toolsChanged(upstream);
      });
    }
    const params = request.message.params;
    const name = params?.name;
    if (typeof name !== "string") return undefined;
    const known = this.#toolHeaders.get(upstream)?.get(name);
    if (known) return declaredHeadersProblem(known, request);
    const check = () => declaredHeadersProblem(this.#toolHeaders.get(upstream)?.get(name), request);
    // A listing under way may bring the tool's declarations: the call must not pass unchecked meanwhile.
    const listing = this.#listing.get(upstream);
    if (listing) return listing.then(() => check());
    if (performance.now() - (this.#listedAt.get(upstream) ?? -Infinity) <= TOOL_LIST_INTERVAL_MS) return undefined;
    this.#listedAt.set(upstream, performance.now());
    const listed = this.#listTools(upstream, request.envelope).finally(() => this.#listing.delete(upstream));
    this.#listing.set(upstream, listed);
    return listed.then(() => check());
  }

  /**
   * Lists the child's tools on the client's behalf (up to a few pages) to learn their header
   * declarations. The declarations known so far stay until every page is in: a tool of a later
   * page must not look unknown (unchecked) while the first is being read.
   */
  async #listTools(upstream: ModernUpstream, envelope: RequestEnvelope): Promise<void> {
    const changes = this.#toolChanges.get(upstream);
    const listed = new Map<string, ParamHeader[]>();
    let cursor: string | undefined;
    let complete = false;
    for (let page = 0; page < 10 && !complete; page++) {
      const params: JsonObject = { ...(cursor && { cursor }) };
      if (upstream.era === "modern") params._meta = { [MetaKey.protocolVersion]: envelope.protocolVersion, [MetaKey.clientCapabilities]: envelope.clientCapabilities };
      const { message: answer } = await new Promise<Answer>((answered) => upstream.call(`bridge-tools-${page}`, "tools/list", params, { answered, notification: () => {} }));
      if (!isObject(answer.result)) break;
      noteTools(listed, answer.result);
      cursor = typeof answer.result.nextCursor === "string" ? answer.result.nextCursor : undefined;
      complete = !cursor;
    }
    // Every page read: the listing replaces what was known (tools gone are forgotten); else it only adds.
    const known = complete ? undefined : this.#toolHeaders.get(upstream);
    if (known) for (const [tool, declarations] of listed) rememberTool(known, tool, declarations);
    else this.#toolHeaders.set(upstream, listed);
    // The list changed while it was read: the next call reads it again.
    if (this.#toolChanges.get(upstream) !== changes) this.#listedAt.delete(upstream);
  }

  /**
   * The child's tools changed (`notifications/tools/list_changed`): what they declare may have, so
   * the next call lists them again before it is checked (a header declared since must not pass unchecked).
   */
  #toolsChanged(upstream: ModernUpstream): void {
    this.#toolChanges.set(upstream, (this.#toolChanges.get(upstream) ?? 0) + 1);
    this.#toolHeaders.delete(upstream);
    this.#listedAt.delete(upstream);
  }

  /** A page of tools/list the client read adds to what is known (a tool listed again is updated). */
  #noteTools(upstream: ModernUpstream, result: JsonObject): void {
    const map = this.#toolHeaders.get(upstream) ?? new Map<string, ParamHeader[]>();
    noteTools(map, result);
    this.#toolHeaders.set(upstream, map);
  }

  #unavailable(message: JsonRpcRequest, error: unknown): Response {
    if (error instanceof SessionLimitError) {
      return jsonRpcErrorResponse(503, errorResponse(message.id, ErrorCode.InternalError, `Service Unavailable: ${error.message}`), { "retry-after": String(error.retryAfterSeconds) });
    }
    this.#noChild.write("warn", "no MCP server for a modern request", { error: (error as Error).message });
    return jsonRpcErrorResponse(503, errorResponse(message.id, ErrorCode.InternalError, `Service Unavailable: ${(error as Error).message}`), { "retry-after": "5" });
  }
}

/** The request's `Mcp-Param-*` headers against its tool's declarations (none known: nothing to check). */
function declaredHeadersProblem(declarations: ParamHeader[] | undefined, request: ModernRequest): Rejection | undefined {
  return declarations && declarations.length > 0 ? checkParamHeaders(declarations, request.message.params?.arguments, request.headers) : undefined;
}

/** Records the `x-mcp-header` declarations of the tools of one tools/list page in `map`. */
function noteTools(map: Map<string, ParamHeader[]>, result: JsonObject): void {
  const tools = Array.isArray(result.tools) ? result.tools : [];
  for (const tool of tools) if (isObject(tool) && typeof tool.name === "string") rememberTool(map, tool.name, paramHeadersOf(tool.inputSchema));
}

/** The `child` a sealed state of a 2026-07-28 child's own names (a legacy child's rounds name the child process). */
const CHILD_STATE = "modern-child-state";

/**
 * How long the bridge's seal around a child's state lasts. The child holds no call open for it (as
 * a legacy child's round does, bounded by read_timeout): its client may take as long as the child's
 * own state allows (the SDK's codec: 10 minutes by default), which this only bounds from above.
 */
const CHILD_STATE_TTL_MS = 24 * 60 * 60 * 1000;

/** A modern child's `server/discover`, listing only the versions the bridge speaks as well. */
function ownVersions(answer: JsonRpcResponse): JsonRpcResponse {
  const result = answer.result;
  if (!isObject(result) || !Array.isArray(result.supportedVersions)) return answer;
  const both = result.supportedVersions.filter((version) => (MODERN_VERSIONS as readonly unknown[]).includes(version));
  return { ...answer, result: { ...result, supportedVersions: both } };
}
