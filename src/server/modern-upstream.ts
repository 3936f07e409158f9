/**
 * @module One stdio child serving modern (2026-07-28) clients. The child's era is probed the way
 * the spec's stdio binding says: `server/discover` first; a child that does not answer it with a
 * modern version is a legacy child, initialized once by the bridge on behalf of every client.
 *
 * Calls are multiplexed: each gets a bridge id (so clients' ids never collide), its progress token
 * is replaced by that id, and the child's messages are routed back by id, progress token or
 * `subscriptionId`. Requests the child makes (legacy children only) go to the one call that may
 * have caused them, or are refused when no call can own them.
 */
import type { Principal } from "../auth/types.ts";
import type { McpServerConfig } from "../config/schema.ts";
import { ErrorCode, errorResponse, isRequest, isResponse, type JsonRpcId, type JsonRpcMessage, type JsonRpcNotification, type JsonRpcRequest, type JsonRpcResponse } from "../jsonrpc/message.ts";
import type { Logger } from "../log/logger.ts";
import { isObject, metaOf, type JsonObject } from "../mcp/envelope.ts";
import { LEGACY_VERSIONS, MetaKey, MODERN_VERSIONS } from "../mcp/protocol.ts";
import type { Platform } from "../runtime/types.ts";
import { VERSION } from "../version.ts";
import { childEnvironment, StdioChild } from "./child.ts";

export type ChildEra = "modern" | "legacy";

/** Who the bridge says it is to a child it initializes or probes. */
export const BRIDGE_INFO = { name: "mcp-bridge", version: VERSION };

/**
 * The client capabilities a legacy child is initialized with: everything the bridge can turn into
 * MRTR input requests. Per request, only what the modern client declared is ever asked of it.
 */
export const TRANSLATABLE_CAPABILITIES: JsonObject = { elicitation: { form: {}, url: {} }, sampling: {}, roots: {} };

/** What the child sends that concerns one call. */
export interface CallSink {
  /** A notification about this call; ids and tokens already the client's again. */
  notification(message: JsonRpcNotification): void;
  /** A request the child made while this call was its only input-capable call in flight. */
  childRequest?(request: JsonRpcRequest): void;
}

interface Call {
  id: number;
  clientId: JsonRpcId;
  method: string;
  clientToken: string | number | undefined;
  sink: CallSink;
  resolve(response: JsonRpcResponse): void;
  /** Set while a legacy child may attribute its requests to this call. */
  exclusive: boolean;
}

/** Notifications of a legacy child that are not about one call: list changes and resource updates. */
export type BroadcastListener = (message: JsonRpcNotification) => void;

const PROBE_TIMEOUT_MS = 10_000;

export class ModernUpstream {
  readonly key: string;
  readonly name: string;
  era: ChildEra | undefined;
  /** The child's `server/discover` result (modern) or `initialize` result (legacy). */
  handshake: JsonObject | undefined;
  lastActivity = Date.now();
  readonly ready: Promise<void>;
  #child: StdioChild;
  readonly #logger: Logger;
  readonly #calls = new Map<number, Call>();
  #nextId = 1;
  #probe: { id: string; resolve(response: JsonRpcResponse | undefined): void } | undefined;
  #closed = false;
  #closeReason = "the MCP server exited";
  readonly #broadcast = new Set<BroadcastListener>();
  readonly #onExit: (upstream: ModernUpstream) => void;
  /** Called when an exclusive call is over (answered, cancelled or failed): the child can take another. */
  onFreed: (() => void) | undefined;

  constructor(key: string, name: string, platform: Platform, config: McpServerConfig, principal: Principal | undefined, logger: Logger, onExit: (upstream: ModernUpstream) => void) {
    this.key = key;
    this.name = name;
    this.#logger = logger;
    this.#onExit = onExit;
    const env = childEnvironment(config, platform.env, config.pass_identity ? principal : undefined);
    this.#child = new StdioChild(platform, config, env, logger, {
      onMessage: (message) => this.#receive(message),
      onExit: (exit) => this.#exited(exit.error ? "the MCP server could not be started" : "the MCP server exited"),
    });
    this.ready = this.#handshake(Math.min(config.read_timeout, PROBE_TIMEOUT_MS));
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Calls in flight. */
  get inFlight(): number {
    return this.#calls.size;
  }

  /** Whether a call that may make a legacy child ask for input is in flight. */
  get busyExclusive(): boolean {
    for (const call of this.#calls.values()) if (call.exclusive) return true;
    return false;
  }

  onBroadcast(listener: BroadcastListener): () => void {
    this.#broadcast.add(listener);
    return () => this.#broadcast.delete(listener);
  }

  /**
   * Sends a request to the child. `params` go as given except the progress token, which becomes
   * the call's bridge id. The response comes back with the client's id.
   */
  call(clientId: JsonRpcId, method: string, params: JsonObject | undefined, sink: CallSink, exclusive = false): { id: number; response: Promise<JsonRpcResponse> } {
    this.lastActivity = Date.now();
    const id = this.#nextId++;
    const meta = metaOf(params);
    const token = meta?.progressToken;
    const clientToken = typeof token === "string" || typeof token === "number" ? token : undefined;
    let sent = params;
    if (clientToken !== undefined) sent = { ...params, _meta: { ...meta, progressToken: id } };
    let resolve!: (response: JsonRpcResponse) => void;
    const response = new Promise<JsonRpcResponse>((done) => (resolve = done));
    if (this.#closed) {
      resolve(errorResponse(clientId, ErrorCode.ConnectionClosed, this.#closeReason));
      return { id, response };
    }
    this.#calls.set(id, { id, clientId, method, clientToken, sink, resolve, exclusive });
    const message: JsonRpcRequest = { jsonrpc: "2.0", id, method, ...(sent !== undefined && { params: sent }) };
    this.#child.send(JSON.stringify(message));
    return { id, response };
  }

  /** Answers one of the child's own requests. */
  answer(response: JsonRpcResponse): void {
    this.lastActivity = Date.now();
    this.#child.send(JSON.stringify(response));
  }

  /** Tells the child to stop working on a call (`notifications/cancelled`) and forgets it. */
  cancel(id: number, reason: string): void {
    const call = this.#calls.get(id);
    if (!call) return;
    this.#forget(call);
    this.#send({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: id, reason } });
  }

  /** Ends the child; calls in flight get a connection-closed error. */
  close(reason: string): Promise<void> {
    this.#closeReason = reason;
    this.#failAll(reason);
    this.#closed = true;
    return this.#child.shutdown();
  }

  #send(message: JsonRpcMessage): void {
    this.#child.send(JSON.stringify(message));
  }

  async #handshake(timeoutMs: number): Promise<void> {
    const discover = await this.#probeRequest("server/discover", {
      _meta: { [MetaKey.protocolVersion]: MODERN_VERSIONS[0], [MetaKey.clientCapabilities]: {}, [MetaKey.clientInfo]: BRIDGE_INFO },
    }, timeoutMs);
    const result = discover?.result;
    if (isObject(result) && Array.isArray(result.supportedVersions) && MODERN_VERSIONS.some((v) => (result.supportedVersions as unknown[]).includes(v))) {
      this.era = "modern";
      this.handshake = result;
      this.#logger.info("modern child ready", { child: this.name, era: "modern" });
      return;
    }
    if (this.#closed) throw new Error(this.#closeReason);
    const init = await this.#probeRequest("initialize", { protocolVersion: LEGACY_VERSIONS[0], capabilities: TRANSLATABLE_CAPABILITIES, clientInfo: BRIDGE_INFO }, timeoutMs);
    if (!init || !isObject(init.result)) {
      const reason = init?.error ? `the MCP server refused initialize: ${init.error.message}` : this.#closed ? this.#closeReason : "the MCP server did not answer initialize";
      void this.close(reason);
      throw new Error(reason);
    }
    this.era = "legacy";
    this.handshake = init.result;
    this.#send({ jsonrpc: "2.0", method: "notifications/initialized" });
    // Modern clients choose a log level per request; the child logs everything and the bridge filters.
    const capabilities = init.result.capabilities;
    if (isObject(capabilities) && isObject(capabilities.logging)) await this.#probeRequest("logging/setLevel", { level: "debug" }, timeoutMs);
    this.#logger.info("modern child ready", { child: this.name, era: "legacy", protocol: init.result.protocolVersion });
  }

  #probeRequest(method: string, params: JsonObject, timeoutMs: number): Promise<JsonRpcResponse | undefined> {
    if (this.#closed) return Promise.resolve(undefined);
    const id = `bridge-${method}`;
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(undefined), timeoutMs);
      const finish = (response: JsonRpcResponse | undefined) => {
        clearTimeout(timer);
        this.#probe = undefined;
        resolve(response);
      };
      this.#probe = { id, resolve: finish };
      this.#send({ jsonrpc: "2.0", id, method, params });
    });
  }

  #receive(message: JsonRpcMessage): void {
    this.lastActivity = Date.now();
    if (isResponse(message)) {
      if (this.#probe && message.id === this.#probe.id) return this.#probe.resolve(message);
      const call = typeof message.id === "number" ? this.#calls.get(message.id) : undefined;
      if (!call) {
        this.#logger.debug("child answered an id that is not in flight; dropped", { child: this.name, id: message.id });
        return;
      }
      this.#forget(call);
      call.resolve({ ...message, id: call.clientId });
      return;
    }
    if (isRequest(message)) return this.#childRequest(message);
    this.#notification(message as JsonRpcNotification);
  }

  #childRequest(request: JsonRpcRequest): void {
    if (request.method === "ping") return this.answer({ jsonrpc: "2.0", id: request.id, result: {} });
    const owners = [...this.#calls.values()].filter((call) => call.exclusive);
    const owner = owners.length === 1 ? owners[0] : undefined;
    if (owner?.sink.childRequest) return owner.sink.childRequest(request);
    // No call can own it with certainty: refuse rather than guess.
    this.answer(errorResponse(request.id, ErrorCode.InvalidRequest, `${request.method} can only be asked during a tools/call, prompts/get or resources/read`));
  }

  #notification(message: JsonRpcNotification): void {
    const params = message.params;
    const meta = metaOf(params);
    if (message.method === "notifications/progress") {
      const token = params?.progressToken;
      const call = typeof token === "number" ? this.#calls.get(token) : undefined;
      if (call && call.clientToken !== undefined) {
        call.sink.notification({ ...message, params: { ...params, progressToken: call.clientToken } });
      }
      return;
    }
    const subscription = meta?.[MetaKey.subscriptionId];
    if (subscription !== undefined) {
      const call = typeof subscription === "number" ? this.#calls.get(subscription) : undefined;
      if (call) call.sink.notification({ ...message, params: { ...params, _meta: { ...meta, [MetaKey.subscriptionId]: call.clientId } } });
      return;
    }
    if (message.method === "notifications/cancelled") {
      const requestId = params?.requestId;
      const call = typeof requestId === "number" ? this.#calls.get(requestId) : undefined;
      if (call) {
        this.#forget(call);
        call.resolve(errorResponse(call.clientId, ErrorCode.InternalError, "the MCP server cancelled the request"));
      }
      return;
    }
    if (/^notifications\/(?:(?:tools|resources|prompts)\/list_changed|resources\/updated)$/.test(message.method)) {
      for (const listener of this.#broadcast) listener(message);
      return;
    }
    // Anything else (logging above all) belongs to a call in flight: the exclusive one if any, else the newest.
    let target: Call | undefined;
    for (const call of this.#calls.values()) if (call.method !== "subscriptions/listen" && (!target || call.exclusive || !target.exclusive)) target = call;
    target?.sink.notification(message);
  }

  #forget(call: Call): void {
    this.#calls.delete(call.id);
    if (call.exclusive) this.onFreed?.();
  }

  #failAll(reason: string): void {
    for (const call of this.#calls.values()) call.resolve(errorResponse(call.clientId, ErrorCode.ConnectionClosed, reason));
    this.#calls.clear();
  }

  #exited(reason: string): void {
    if (this.#closed && this.#calls.size === 0) {
      this.#probe?.resolve(undefined);
      this.#onExit(this);
      return;
    }
    this.#closeReason = reason;
    this.#closed = true;
    this.#probe?.resolve(undefined);
    this.#failAll(reason);
    this.#logger.warn("modern child ended", { child: this.name, reason });
    this.#onExit(this);
  }
}
