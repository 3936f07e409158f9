/**
 * @module One stdio child serving modern (2026-07-28) clients. The child's era is probed the way
 * the spec's stdio binding says: `server/discover` first; a child that does not answer it with a
 * modern version is a legacy child, initialized once by the bridge on behalf of every client.
 *
 * Calls are multiplexed: each gets a bridge id (so clients' ids never collide), its progress token
 * is replaced by that id, and the child's messages are routed back by id, progress token or
 * `subscriptionId`. Every call but `subscriptions/listen` ends after `read_timeout` with a
 * RequestTimeout error (and `notifications/cancelled` to the child); one timer per child, armed for
 * the earliest deadline, serves them all.
 *
 * Requests a legacy child makes (elicitation, sampling, roots) carry no link to the call that
 * caused them. Only "candidate" calls (tools/call, prompts/get, resources/read) can take one;
 * a request goes to a call only when that call is the one candidate in flight on this child, and
 * no other request that was in flight when it came (which may have asked it) still is, or ended
 * unanswered (cancelled or timed out: its handler may still wait for the answer). When
 * several are in flight (kinds that were seen answering without asking share a child) the request
 * is parked and the child drains (no new candidates) until one is left. Kinds are reported as
 * quiet (`onQuiet`) or asking (`onAsker`), which decides how the pool runs them next time.
 */
import type { Principal } from "../auth/types.ts";
import type { McpServerConfig } from "../config/schema.ts";
import { afterIdOf, ErrorCode, errorResponse, inexactIdProblem, inexactNumberProblem, isRequest, isResponse, type JsonRpcId, type JsonRpcMessage, type JsonRpcNotification, type JsonRpcRequest, type JsonRpcResponse } from "../jsonrpc/message.ts";
import type { Logger } from "../log/logger.ts";
import { throttledLog, type ThrottledLog } from "../log/throttle.ts";
import { isObject, metaOf, type JsonObject } from "../mcp/envelope.ts";
import { LEGACY_VERSIONS, MetaKey, MODERN_VERSIONS } from "../mcp/protocol.ts";
import type { ChildExit, Platform } from "../runtime/types.ts";
import { memoized } from "../util/memo.ts";
import { VERSION } from "../version.ts";
import { childEnvironment, StdioChild } from "./child.ts";
import { exitedBeforeStart, type StartFailure } from "./start-health.ts";

export type ChildEra = "modern" | "legacy";

/** Who the bridge says it is to a child it initializes or probes. */
const BRIDGE_INFO = { name: "mcp-bridge", version: VERSION };

/**
 * The client capabilities a legacy child is initialized with: everything the bridge can turn into
 * MRTR input requests. Per request, only what the modern client declared is ever asked of it.
 */
const TRANSLATABLE_CAPABILITIES: JsonObject = { elicitation: { form: {}, url: {} }, sampling: {}, roots: {} };

/**
 * How a call ended: the response with the client's id, and `afterId`, the child's own line after
 * `{"jsonrpc":"2.0","id":<bridge id>` when it began exactly so (a compact line; not for answers the
 * bridge made up). With it the reply can be the child's line under the client's id, as legacy
 * sessions forward lines, instead of the result serialized again.
 */
export interface Answer {
  message: JsonRpcResponse;
  /** The child's line after its id (afterIdOf), when the answer can be passed on as written under another id. */
  afterId?: string;
  /** The child's line, for what serializes the answer again (inexactNumberProblem); absent for the bridge's own answers. */
  raw?: string;
}

/** The child's answer to a request the bridge made on its own behalf (a probe), with its line (for inexactNumberProblem). */
interface ProbeAnswer {
  response: JsonRpcResponse;
  raw: string;
}

/** What the child sends that concerns one call. */
export interface CallSink {
  /**
   * How the call ended, once: the child's response with the client's id, or RequestTimeout after
   * `read_timeout` ms (none for `subscriptions/listen`, see setDeadline), or ConnectionClosed when
   * the child ends. Never for a call that was cancelled.
   */
  answered(answer: Answer): void;
  /** A notification about this call; ids and tokens already the client's again. */
  notification(message: JsonRpcNotification): void;
  /** A request the child made while this call was its only input-capable call in flight. */
  childRequest?(request: JsonRpcRequest): void;
  /** Whose call it is (ModernRequest.holder), when it may ask for input: clients sharing children get fair shares (modern-pool.ts). */
  readonly holder?: string;
}

interface Call {
  id: number;
  clientId: JsonRpcId;
  method: string;
  clientToken: string | number | undefined;
  sink: CallSink;
  /** A call that may make a legacy child ask for input (tools/call, prompts/get, resources/read). */
  candidate: boolean;
  /** Runs with no other candidate on this child (its kind is known to ask). */
  exclusive: boolean;
  /** Names the kind of call (method and tool/prompt/resource), for `onAsker` and `onQuiet`. */
  kind: string | undefined;
  /** Whether a child request was handed to this call. */
  asked: boolean;
  /** When the call times out, in performance.now() milliseconds; Infinity while it may wait without limit. */
  deadline: number;
}

/** How a call is run on a legacy child. */
export type CallMode = "plain" | "shared" | "exclusive";

/**
 * How long a child's request waits for the calls in flight to drain to the one that made it. When
 * they do not (several calls all waiting for input), it is refused, and every kind still in flight
 * is treated as one that asks.
 */
const PARK_LIMIT_MS = 5_000;
/** Child requests that may wait for attribution at once; more are refused. */
const MAX_PARKED = 64;

/** Notifications of a legacy child that are not about one call: list changes and resource updates. */
export type BroadcastListener = (message: JsonRpcNotification) => void;

/** A method as JSON text, remembered: each call of JSON.stringify has a fixed cost of hundreds of instructions, and clients use few methods. */
const quotedMethod = memoized((method) => JSON.stringify(method));

const PROBE_TIMEOUT_MS = 10_000;
/** How late a timed-out call may be ended, so that deadline sweeps stay rare (see #expire). */
const EXPIRY_SLACK_MS = 100;

/**
 * A sink that takes nothing: for calls whose outcome nobody waits for, and what an ended call's
 * record holds instead of its sink. Such a record may outlive the call in a discarded hash table of
 * `#calls` that V8 keeps in the old generation until the next full collection; pointing there, the
 * client's request, reply and HTTP objects were copied and promoted by every scavenge (the largest
 * cost of a modern call, measured).
 */
export const IGNORING_SINK: CallSink = { answered: () => {}, notification: () => {} };

export class ModernUpstream {
  readonly key: string;
  readonly name: string;
  era: ChildEra | undefined;
  /** The child's `server/discover` result (modern) or `initialize` result (legacy). */
  handshake: JsonObject | undefined;
  /**
   * Why a legacy child's `initialize` result cannot be described to a modern client (server/discover
   * is written from it): it holds a number a double does not carry (inexactNumberProblem).
   */
  handshakeProblem: string | undefined;
  lastActivity = performance.now();
  readonly ready: Promise<void>;
  /** Why the handshake failed, once `ready` has rejected (for /ready, see start-health.ts). */
  startFailure: StartFailure | undefined;
  #exit: (ChildExit & { error?: Error }) | undefined;
  #child: StdioChild;
  readonly #logger: Logger;
  /** Calls the child did not answer in time: the operator's only sign of a hung or slow server. */
  readonly #timeouts: ThrottledLog;
  /** Notifications dropped for a number a double does not carry: a child may send them without end. */
  readonly #inexactDrops: ThrottledLog;
  readonly #calls = new Map<number, Call>();
  #nextId = 1;
  #probe: { id: string; resolve(answer: ProbeAnswer | undefined): void } | undefined;
  #closed = false;
  #closeReason = "the MCP server exited";
  readonly #broadcast = new Set<BroadcastListener>();
  readonly #closedListeners = new Set<(reason: string) => void>();
  readonly #onExit: (upstream: ModernUpstream) => void;
  /**
   * Whether one principal has this child. When several share it (`modern_child: shared` behind
   * authentication), what the child sends tied to no call — a log line, a request for input — may
   * be about another principal's finished call: log lines are dropped and requests refused, as
   * shared legacy sessions do, rather than put to the wrong user.
   */
  singlePrincipal = true;
  /** Called when a candidate call is over (answered, cancelled or failed): the child may take another. */
  onFreed: (() => void) | undefined;
  /** Called with the kind of a call that made the child ask for input. */
  onAsker: ((kind: string) => void) | undefined;
  /** Called with the kind of a candidate call the child answered without asking anything. */
  onQuiet: ((kind: string) => void) | undefined;
  /** Child requests waiting until one candidate call is left to own them. */
  #parked: JsonRpcRequest[] = [];
  /**
   * The calls (any but listen streams) in flight when a parked request arrived: its possible owners
   * (a legacy child may ask during any request). It waits until one of them is left.
   */
  readonly #parkedOwners = new Set<number>();
  /**
   * A possible owner of the parked requests ended unanswered (cancelled, timed out): its handler
   * may still wait for one of them, so none can go to another call with certainty.
   */
  #parkedOwnerLost = false;
  #candidateCount = 0;
  #exclusiveCount = 0;
  #parkTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #readTimeoutMs: number;
  /** Fires at #deadlineAt, the earliest deadline known when it was armed (Infinity: not armed). */
  #deadlineTimer: ReturnType<typeof setTimeout> | undefined;
  #deadlineAt = Infinity;

  constructor(key: string, name: string, platform: Platform, config: McpServerConfig, principal: Principal | undefined, logger: Logger, onExit: (upstream: ModernUpstream) => void) {
    this.key = key;
    this.name = name;
    this.#logger = logger;
    this.#timeouts = throttledLog(logger, "request timeouts", { burst: 5, windowMs: 60_000 }, { child: name });
    this.#inexactDrops = throttledLog(logger, "notifications dropped for numbers a double does not carry", { burst: 5, windowMs: 60_000 }, { child: name });
    this.#onExit = onExit;
    this.#readTimeoutMs = config.read_timeout;
    const env = childEnvironment(config, platform.env, config.pass_identity ? principal : undefined);
    this.#child = new StdioChild(platform, config, env, logger, {
      onMessage: (message, raw) => this.#receive(message, raw),
      onInvalidResponse: (id, problem) => this.#invalidResponse(id, problem),
      onExit: (exit) => {
        this.#exit = exit;
        this.#exited(exit.error ? "the MCP server could not be started" : "the MCP server exited");
      },
    });
    this.ready = this.#handshake(Math.min(config.read_timeout, PROBE_TIMEOUT_MS));
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Whether the child's stdin holds more than mcp_server.stdin_buffer_size unread: no new calls. */
  get congested(): boolean {
    return this.#child.congested;
  }

  /** Calls in flight. */
  get inFlight(): number {
    return this.#calls.size;
  }

  /** Candidate calls in flight (kept as a count: read per call start). */
  get candidateCount(): number {
    return this.#candidateCount;
  }

  /** The sinks of the candidate calls in flight: whose calls hold this child. */
  candidateSinks(): CallSink[] {
    const sinks: CallSink[] = [];
    for (const call of this.#calls.values()) if (call.candidate) sinks.push(call.sink);
    return sinks;
  }

  /** Whether a candidate call in flight runs exclusively. */
  get runsExclusive(): boolean {
    return this.#exclusiveCount > 0;
  }

  /** Whether a child request waits for attribution: no new candidate call may start here. */
  get draining(): boolean {
    return this.#parked.length > 0;
  }

  /** Hears the child end (with the reason), once; at once (next microtask) when it has already. Returns the unsubscribe. */
  onClosed(listener: (reason: string) => void): () => void {
    if (this.#closed) {
      queueMicrotask(() => listener(this.#closeReason));
      return () => {};
    }
    this.#closedListeners.add(listener);
    return () => this.#closedListeners.delete(listener);
  }

  onBroadcast(listener: BroadcastListener): () => void {
    this.#broadcast.add(listener);
    return () => this.#broadcast.delete(listener);
  }

  /**
   * Sends a request to the child. `params` go as given except the progress token, which becomes
   * the call's bridge id. How it ends goes to `sink.answered`, never before this returns.
   */
  call(clientId: JsonRpcId, method: string, params: JsonObject | undefined, sink: CallSink, mode: CallMode = "plain", kind?: string): { upstream: ModernUpstream; id: number } {
    const now = performance.now();
    this.lastActivity = now;
    const id = this.#nextId++;
    const meta = metaOf(params);
    const token = meta?.progressToken;
    const clientToken = typeof token === "string" || typeof token === "number" ? token : undefined;
    let sent = params;
    if (clientToken !== undefined) sent = { ...params, _meta: { ...meta, progressToken: id } };
    if (this.#closed) {
      const reason = this.#closeReason;
      queueMicrotask(() => sink.answered({ message: errorResponse(clientId, ErrorCode.ConnectionClosed, reason) }));
      return { upstream: this, id };
    }
    // A listen call is a stream: it lasts until its client closes it. Deadlines are on the monotonic
    // clock, as setTimeout is: a step of the wall clock (an NTP correction) must not end calls early or late.
    const deadline = method === "subscriptions/listen" ? Infinity : now + this.#readTimeoutMs;
    this.#calls.set(id, { id, clientId, method, clientToken, sink, candidate: mode !== "plain", exclusive: mode === "exclusive", kind, asked: false, deadline });
    if (deadline < this.#deadlineAt) this.#armDeadline(deadline);
    if (mode !== "plain") this.#candidateCount++;
    if (mode === "exclusive") this.#exclusiveCount++;
    // Built as text around the params: the request object itself is never needed.
    this.#child.send(`{"jsonrpc":"2.0","id":${id},"method":${quotedMethod(method)}${sent === undefined ? "" : `,"params":${JSON.stringify(sent)}`}}`);
    return { upstream: this, id };
  }

  /**
   * Moves a call's deadline to `read_timeout` ms from now, or lifts it (`wait: "unbounded"`) while
   * the call waits for something the bridge bounds itself (a client coming back with input).
   */
  setDeadline(id: number, wait: "read_timeout" | "unbounded"): void {
    const call = this.#calls.get(id);
    if (!call) return;
    call.deadline = wait === "unbounded" ? Infinity : performance.now() + this.#readTimeoutMs;
    if (call.deadline < this.#deadlineAt) this.#armDeadline(call.deadline);
  }

  /** Answers one of the child's own requests. */
  answer(response: JsonRpcResponse): void {
    this.lastActivity = performance.now();
    this.#child.send(JSON.stringify(response));
  }

  /** Tells the child to stop working on a call (`notifications/cancelled`) and forgets it. */
  cancel(id: number, reason: string): void {
    const call = this.#calls.get(id);
    if (!call) return;
    this.#forget(call, true);
    this.#sendCancelled(id, reason);
  }

  #sendCancelled(id: number, reason: string): void {
    this.#send({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: id, reason } });
  }

  /** Ends the child; calls in flight get a connection-closed error. */
  close(reason: string): Promise<void> {
    this.#closeReason = reason;
    this.#failAll(reason);
    this.#closed = true;
    return this.#child.shutdown();
  }

  /** Kills the child's whole process group now (SIGKILL). */
  kill(): void {
    this.#child.kill();
  }

  #send(message: JsonRpcMessage): void {
    this.#child.send(JSON.stringify(message));
  }

  #armDeadline(at: number): void {
    clearTimeout(this.#deadlineTimer);
    this.#deadlineAt = at;
    this.#deadlineTimer = setTimeout(() => this.#expire(), Math.max(1, at - performance.now()));
    (this.#deadlineTimer as { unref?: () => void }).unref?.();
  }

  /** Ends the calls past their deadline with RequestTimeout, then arms the timer for the next one. */
  #expire(): void {
    this.#deadlineTimer = undefined;
    this.#deadlineAt = Infinity;
    const now = performance.now();
    let next = Infinity;
    const expired: Call[] = [];
    for (const call of this.#calls.values()) {
      if (call.deadline <= now) expired.push(call);
      else if (call.deadline < next) next = call.deadline;
    }
    // A sweep looks at every call in flight: with calls arriving all the time at a child that
    // answers none, sweeping for each deadline would rescan them every millisecond. Calls end at
    // most EXPIRY_SLACK_MS (a tenth of read_timeout when shorter) late instead, never early.
    if (next < Infinity) this.#armDeadline(Math.max(next, now + Math.min(EXPIRY_SLACK_MS, this.#readTimeoutMs / 10)));
    for (const call of expired) {
      const sink = this.#forget(call, true);
      this.#sendCancelled(call.id, "request timed out");
      this.#timeouts.write("warn", "the MCP server did not answer in time (server.mcp_server.read_timeout): the client got RequestTimeout", { method: call.method, waited_ms: this.#readTimeoutMs });
      sink.answered({ message: errorResponse(call.clientId, ErrorCode.RequestTimeout, `the MCP server did not answer within ${this.#readTimeoutMs} ms`) });
    }
  }

  async #handshake(timeoutMs: number): Promise<void> {
    const discover = await this.#probeRequest("server/discover", {
      _meta: { [MetaKey.protocolVersion]: MODERN_VERSIONS[0], [MetaKey.clientCapabilities]: {}, [MetaKey.clientInfo]: BRIDGE_INFO },
    }, timeoutMs);
    const result = discover?.response.result;
    if (isObject(result) && Array.isArray(result.supportedVersions) && MODERN_VERSIONS.some((v) => (result.supportedVersions as unknown[]).includes(v))) {
      this.era = "modern";
      this.handshake = result;
      this.#logger.info("modern child ready", { child: this.name, era: "modern" });
      return;
    }
    if (this.#closed) {
      this.startFailure = this.#exit ? exitedBeforeStart(this.#exit) : { reason: "did not answer initialize in time" };
      throw new Error(this.#closeReason);
    }
    const answer = await this.#probeRequest("initialize", { protocolVersion: LEGACY_VERSIONS[0], capabilities: TRANSLATABLE_CAPABILITIES, clientInfo: BRIDGE_INFO }, timeoutMs);
    const init = answer?.response;
    if (!init || !isObject(init.result)) {
      const reason = init?.error ? `the MCP server refused initialize: ${init.error.message}` : this.#closed ? this.#closeReason : "the MCP server did not answer initialize";
      this.startFailure = this.#exit ? exitedBeforeStart(this.#exit) : { reason: init?.error ? "refused the bridge's initialize" : "did not answer initialize in time" };
      void this.close(reason);
      throw new Error(reason);
    }
    this.era = "legacy";
    this.handshake = init.result;
    this.handshakeProblem = inexactNumberProblem(answer!.raw, init);
    this.#send({ jsonrpc: "2.0", method: "notifications/initialized" });
    // Modern clients choose a log level per request; the child logs everything and the bridge filters.
    const capabilities = init.result.capabilities;
    if (isObject(capabilities) && isObject(capabilities.logging)) await this.#probeRequest("logging/setLevel", { level: "debug" }, timeoutMs);
    this.#logger.info("modern child ready", { child: this.name, era: "legacy", protocol: init.result.protocolVersion });
  }

  /** Asks the child `method` on the bridge's own behalf; resolves with its answer and line, or undefined (no answer within `timeoutMs`, or the child ended). */
  #probeRequest(method: string, params: JsonObject, timeoutMs: number): Promise<ProbeAnswer | undefined> {
    if (this.#closed) return Promise.resolve(undefined);
    const id = `bridge-${method}`;
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(undefined), timeoutMs);
      const finish = (answer: ProbeAnswer | undefined) => {
        clearTimeout(timer);
        this.#probe = undefined;
        resolve(answer);
      };
      this.#probe = { id, resolve: finish };
      this.#send({ jsonrpc: "2.0", id, method, params });
    });
  }

  /** A response line that is not valid JSON-RPC: its call gets InternalError naming `problem` (StdioChild logged it). */
  #invalidResponse(id: string | number, problem: string): void {
    const call = typeof id === "number" ? this.#calls.get(id) : undefined;
    if (!call) return;
    this.#forget(call).answered({ message: errorResponse(call.clientId, ErrorCode.InternalError, `Internal error: the MCP server's answer to ${call.method} is not valid JSON-RPC (${problem})`) });
  }

  #receive(message: JsonRpcMessage, raw: string): void {
    this.lastActivity = performance.now();
    if (isResponse(message)) {
      if (this.#probe && message.id === this.#probe.id) return this.#probe.resolve({ response: message, raw });
      const call = typeof message.id === "number" ? this.#calls.get(message.id) : undefined;
      if (!call) {
        this.#logger.debug("child answered an id that is not in flight; dropped", { child: this.name, id: message.id });
        return;
      }
      const sink = this.#forget(call);
      // A shared call's kind is known quiet already: only a call that ran alone can teach it.
      if (call.exclusive && !call.asked && call.kind !== undefined && !message.error) this.onQuiet?.(call.kind);
      // The message was parsed for this call alone: it takes the client's id in place.
      message.id = call.clientId;
      sink.answered({ message, raw, afterId: afterIdOf(raw, call.id) });
      return;
    }
    if (isRequest(message)) return this.#childRequest(message, raw);
    this.#notification(message as JsonRpcNotification, raw);
  }

  /**
   * Whether a notification of the child (`raw`: its line), on its way to a client, holds a number a
   * double does not carry: it goes on serialized again (its progress token or subscription id the
   * client's, or as an event), where that number would reach the client as another. Such a
   * notification is dropped, with a throttled warning. Asked only of what is passed on.
   */
  #changedInTransit(message: JsonRpcNotification, raw: string): boolean {
    const problem = inexactNumberProblem(raw, message);
    if (problem) this.#inexactDrops.write("warn", "dropped a notification of the MCP server: serialized again it would carry another number", { child: this.name, method: message.method, problem });
    return problem !== undefined;
  }

  /** A request of the child's (`raw`: its line): answered here (ping), refused, or handed to the call it belongs to. */
  #childRequest(request: JsonRpcRequest, raw: string): void {
    // Every answer to the child is written from the parsed id: one past 2^53 would be another number.
    const inexact = inexactIdProblem(request);
    if (inexact) return this.answer(errorResponse(null, ErrorCode.InvalidRequest, `Invalid Request: ${inexact}`));
    if (request.method === "ping") return this.answer({ jsonrpc: "2.0", id: request.id, result: {} });
    // Put to the client serialized again (in an input_required result's inputRequests): such a number would reach it as another.
    const changed = inexactNumberProblem(raw, request.params, "params");
    if (changed) return this.answer(errorResponse(request.id, ErrorCode.InvalidParams, `Invalid params: the request cannot be passed on to the client: ${changed}`));
    if (!this.singlePrincipal) return this.answer(errorResponse(request.id, ErrorCode.InvalidRequest, `${request.method} cannot be attributed to one user on a child every principal shares; set session.modern_child: per_principal`));
    if (this.#parked.length >= MAX_PARKED) return this.answer(errorResponse(request.id, ErrorCode.InvalidRequest, "too many requests wait for their call"));
    this.#parked.push(request);
    for (const call of this.#calls.values()) if (call.method !== "subscriptions/listen") this.#parkedOwners.add(call.id);
    this.#attribute();
    if (this.#parked.length === 0 || this.#parkTimer) return;
    this.#logger.debug("child request parked until one call is left to own it", { child: this.name, method: request.method });
    this.#parkTimer = setTimeout(() => this.#giveUpParked(), PARK_LIMIT_MS);
  }

  /**
   * Hands parked child requests to their possible owner once it is the one left, when it is a
   * candidate call; refuses them when it is not, when none is left, or when one ended unanswered.
   * (No candidate starts on a child while requests are parked: see `draining`.)
   */
  #attribute(): void {
    if (this.#parked.length === 0) return;
    let owner: Call | undefined;
    if (!this.#parkedOwnerLost) {
      const owners: Call[] = [];
      for (const id of this.#parkedOwners) {
        const call = this.#calls.get(id);
        if (call) owners.push(call);
      }
      if (owners.length > 1) return;
      owner = owners[0]?.candidate ? owners[0] : undefined;
    }
    const parked = this.#parked;
    this.#parked = [];
    this.#parkedOwners.clear();
    this.#parkedOwnerLost = false;
    clearTimeout(this.#parkTimer);
    this.#parkTimer = undefined;
    if (owner) owner.asked = true;
    if (owner?.kind !== undefined) this.onAsker?.(owner.kind);
    for (const request of parked) {
      if (owner?.sink.childRequest) owner.sink.childRequest(request);
      // No call can own it with certainty: refuse rather than guess.
      else this.answer(errorResponse(request.id, ErrorCode.InvalidRequest, `${request.method} can only be asked during a tools/call, prompts/get or resources/read`));
    }
    // Draining is over: waiting calls may use this child again.
    this.onFreed?.();
  }

  /** Several calls kept waiting: none can be told apart; refuse, and run all their kinds alone from now on. */
  #giveUpParked(): void {
    this.#parkTimer = undefined;
    const parked = this.#parked;
    this.#parked = [];
    this.#parkedOwners.clear();
    this.#parkedOwnerLost = false;
    for (const call of this.#calls.values()) if (call.candidate && call.kind !== undefined) this.onAsker?.(call.kind);
    for (const request of parked) this.answer(errorResponse(request.id, ErrorCode.InternalError, `the bridge cannot tell which call asked ${request.method}; try again`));
    this.#logger.warn("child asked for input while several calls were in flight; refused", { child: this.name, requests: parked.length });
    this.onFreed?.();
  }

  /** A notification of the child (`raw`: its line): to the call it names, to every listener, or to the one call in flight; else dropped. */
  #notification(message: JsonRpcNotification, raw: string): void {
    const params = message.params;
    const meta = metaOf(params);
    if (message.method === "notifications/progress") {
      const token = params?.progressToken;
      const call = typeof token === "number" ? this.#calls.get(token) : undefined;
      if (call && call.clientToken !== undefined && !this.#changedInTransit(message, raw)) {
        call.sink.notification({ ...message, params: { ...params, progressToken: call.clientToken } });
      }
      return;
    }
    const subscription = meta?.[MetaKey.subscriptionId];
    if (subscription !== undefined) {
      const call = typeof subscription === "number" ? this.#calls.get(subscription) : undefined;
      if (call && !this.#changedInTransit(message, raw)) call.sink.notification({ ...message, params: { ...params, _meta: { ...meta, [MetaKey.subscriptionId]: call.clientId } } });
      return;
    }
    if (message.method === "notifications/cancelled") {
      const requestId = params?.requestId;
      const call = typeof requestId === "number" ? this.#calls.get(requestId) : undefined;
      if (call) this.#forget(call).answered({ message: errorResponse(call.clientId, ErrorCode.InternalError, "the MCP server cancelled the request") });
      return;
    }
    if (/^notifications\/(?:(?:tools|resources|prompts)\/list_changed|resources\/updated)$/.test(message.method)) {
      if (this.#broadcast.size === 0 || this.#changedInTransit(message, raw)) return;
      for (const listener of this.#broadcast) listener(message);
      return;
    }
    // Anything else (logging above all) belongs to a call, but says not which: it goes to the one
    // call in flight, and is dropped when there are several or principals share the child (it must
    // not reach the wrong client).
    const calls = [...this.#calls.values()].filter((call) => call.method !== "subscriptions/listen");
    if (calls.length === 1 && this.singlePrincipal) {
      if (!this.#changedInTransit(message, raw)) calls[0]!.sink.notification(message);
    } else this.#logger.debug("child notification with several calls in flight; dropped", { child: this.name, method: message.method });
  }

  /**
   * Ends a call's record (see IGNORING_SINK); returns its sink, for the answer it ends with.
   * `unanswered`: the child did not answer it (cancelled, timed out), so it may still be working on it.
   */
  #forget(call: Call, unanswered = false): CallSink {
    const sink = call.sink;
    this.#calls.delete(call.id);
    call.sink = IGNORING_SINK;
    const owned = this.#parkedOwners.size > 0 && this.#parkedOwners.delete(call.id);
    if (owned && unanswered) this.#parkedOwnerLost = true;
    if (call.candidate) {
      this.#candidateCount--;
      if (call.exclusive) this.#exclusiveCount--;
      this.#attribute();
      this.onFreed?.();
    } else if (owned) {
      this.#attribute();
    }
    return sink;
  }

  #failAll(reason: string): void {
    for (const call of this.#calls.values()) call.sink.answered({ message: errorResponse(call.clientId, ErrorCode.ConnectionClosed, reason) });
    for (const listener of this.#closedListeners) listener(reason);
    this.#closedListeners.clear();
    this.#calls.clear();
    this.#candidateCount = 0;
    this.#exclusiveCount = 0;
    this.#parked = [];
    this.#parkedOwners.clear();
    this.#parkedOwnerLost = false;
    clearTimeout(this.#parkTimer);
    clearTimeout(this.#deadlineTimer);
    this.#deadlineTimer = undefined;
    this.#deadlineAt = Infinity;
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
