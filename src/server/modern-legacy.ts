/**
 * @module Modern clients in front of a legacy child (one that answered `initialize`, not
 * `server/discover`). The bridge initialized the child once; here each modern request becomes a
 * legacy one and each answer a modern one:
 * - `server/discover` is answered from the initialize result;
 * - results get `resultType` and, on list results, `ttlMs`/`cacheScope` (session.cache_ttl/scope);
 *   resource-not-found -32002 becomes -32602;
 * - `notifications/message` reaches only requests that asked for it with `_meta` logLevel;
 * - `subscriptions/listen` is served from the child's list_changed notifications and
 *   resources/subscribe;
 * - requests the child makes during a call (elicitation, sampling, roots) become Multi Round-Trip
 *   rounds: the call stays open at the child, the client gets `input_required` with a sealed
 *   `requestState`, and its retry's `inputResponses` are fed back to the child.
 */
import type { ServerConfig } from "../config/schema.ts";
import type { Logger } from "../log/logger.ts";
import { throttledLog, type ThrottledLog } from "../log/throttle.ts";
import { ErrorCode, errorResponse, inexactNumberProblem, type JsonRpcId, type JsonRpcNotification, type JsonRpcRequest, type JsonRpcResponse } from "../jsonrpc/message.ts";
import { isObject, logLevelAllows, withoutEnvelope, type JsonObject, type RequestEnvelope } from "../mcp/envelope.ts";
import { discoverFromInitialize, initializeResultProblem, type InitializeResult } from "../mcp/discover.ts";
import {
  answersFromInputResponses,
  inputRequiredResult,
  invalidRequestState,
  isInputRequestMethod,
  MAX_INPUT_REQUESTS,
  missingCapabilities,
  missingCapabilityError,
  readRetry,
  requiredCapability,
  toInputRequests,
} from "../mcp/mrtr.ts";
import { INPUT_REQUIRED_METHODS, MetaKey, MODERN_VERSIONS } from "../mcp/protocol.ts";
import { completeResultLine, resultProblem, toModernError, toModernResult, type CacheHint } from "../mcp/results.ts";
import { memoized } from "../util/memo.ts";
import type { ModernContext, ModernRequest } from "./modern.ts";
import { holdings, type Eviction, type ModernChildPool, type StartedCall } from "./modern-pool.ts";
import type { ModernReply } from "./modern-reply.ts";
import { IGNORING_SINK, type Answer, type CallSink, type ModernUpstream } from "./modern-upstream.ts";

/** Calls that may ask for input, per holder (ModernRequest.holder), in flight or waiting for their client at once. */
const MAX_ROUNDS_PER_HOLDER = 256;

type Context = Pick<ModernContext, "config" | "sealer" | "legacy">;

let roundCounter = 0;
/** Tells this process's rounds from another's (or a previous run's) when states share a configured key. */
const INSTANCE = crypto.randomUUID();

/**
 * One call on a legacy child that is, or may become, a multi round-trip exchange. It is the call's
 * sink itself: one object per call on the hot path, not a sink and its closures besides.
 */
class Round implements CallSink {
  #id: string | undefined;
  /** The child the call runs on, and the call's id there; set once the pool started it. */
  upstream!: ModernUpstream;
  callId = 0;
  reply: ModernReply | undefined;
  clientId: JsonRpcId;
  envelope: RequestEnvelope;
  /** Child requests sent to the client, awaiting its inputResponses. */
  pending: Array<{ key: string; id: JsonRpcId; request: JsonRpcRequest }> = [];
  /** Child requests not yet sent to the client. */
  collected: JsonRpcRequest[] = [];
  settled: Answer | undefined;
  /** The digest its requestState is bound to; computed when a round first goes to the client. */
  digest: string | undefined;
  /** Capabilities the child needed that the request did not declare (its requests were refused). */
  lacking: JsonObject | undefined;
  /** Whether any input request of this call went to the client. */
  asked = false;
  /** When the round went to the client (performance.now(): a step of the wall clock must not move its grace); undefined while the bridge itself waits for the child. */
  waitingSince: number | undefined;
  #nextKey = 1;
  /** A flush of the collected requests is scheduled (see scheduleFlush). */
  flushQueued = false;
  /** askClient is sealing a round: the pending requests must not change until it has answered. */
  asking = false;
  /** Ends the round when its client does not come back with input in time. */
  deadline: ReturnType<typeof setTimeout> | undefined;
  /** Counted in perHolder until dropped. */
  live = true;
  /** In `rounds` (it went to its client once). */
  registered = false;

  constructor(
    readonly context: Context,
    readonly method: string,
    /** What its requestState is bound to (principalName). */
    readonly principal: string,
    /** What it is counted against (ModernRequest.holder). */
    readonly holder: string,
    readonly params: JsonObject | undefined,
    clientId: JsonRpcId,
    envelope: RequestEnvelope,
  ) {
    this.clientId = clientId;
    this.envelope = envelope;
  }

  /** Names the round inside its sealed state (which no client can read or forge): a counter, per process instance. */
  get id(): string {
    return (this.#id ??= `${INSTANCE}:${++roundCounter}`);
  }

  nextKey(): string {
    return `input-${this.#nextKey++}`;
  }

  answered(answer: Answer): void {
    settle(this.context, this, answer);
  }

  notification(message: JsonRpcNotification): void {
    logTo(this.reply, this.envelope, message);
  }

  childRequest(request: JsonRpcRequest): void {
    collect(this.context, this, request);
  }
}

/** State shared by all modern calls on legacy children. */
export class LegacyChildState {
  /** Rounds that went to their client, by id (what a requestState names). */
  readonly rounds = new Map<string, Round>();
  /** Rounds per holder, for MAX_ROUNDS_PER_HOLDER. */
  readonly perHolder = new Map<string, number>();
  readonly hint: CacheHint;
  /** Per child: its resource subscriptions for listen streams, by URI. */
  readonly subscriptions = new WeakMap<ModernUpstream, Map<string, ChildSubscription>>();
  /**
   * Per holder with listen streams open (bounded by MAX_LISTENS_PER_HOLDER each): each stream's
   * list_changed last carried, by method, until its client lists that kind again (see listen).
   */
  readonly announced = new Map<string, Set<Map<string, number>>>();

  /** Answers no modern answer can be made of (a client may ask for them again and again: throttled). */
  readonly untranslatable: ThrottledLog;

  constructor(config: ServerConfig, logger: Logger) {
    this.hint = { ttlMs: config.session.cache_ttl, cacheScope: config.session.cache_scope };
    this.untranslatable = throttledLog(logger, "untranslatable answers", { burst: 10, windowMs: 60_000 });
  }
}

/**
 * Serves one modern request on a legacy child; the answer goes to `reply`. Returns a promise only
 * when the call had to wait (for a child, or to open a requestState); it rejects with
 * SessionLimitError when no child became free.
 */
export function callLegacyChild(context: Context, pool: ModernChildPool, primary: ModernUpstream, request: ModernRequest, reply: ModernReply): void | Promise<void> {
  const { message } = request;
  if (message.method === "server/discover") {
    const problem = initializeResultProblem(primary.handshake) ?? primary.handshakeProblem;
    if (problem) return failTranslation(context, primary, reply, message.id, `the MCP server cannot be described: ${problem}`);
    const result = discoverFromInitialize(primary.handshake as InitializeResult, MODERN_VERSIONS, context.legacy.hint);
    return reply.finish({ jsonrpc: "2.0", id: message.id, result });
  }
  if (message.method === "subscriptions/listen") return listen(context, pool, primary, request, reply);
  if (INPUT_REQUIRED_METHODS.has(message.method)) return roundTrip(context, pool, primary, request, reply);
  if (context.legacy.announced.size > 0) listed(context, request);

  const params = withoutEnvelope(message.params);
  const { id } = primary.call(message.id, message.method, params, {
    answered: (answer) => finishModern(context, primary, reply, message.method, answer, message.id, params),
    notification: (n) => logTo(reply, request.envelope, n),
  });
  reply.onClientGone = () => primary.cancel(id, "the client closed the response stream");
}

/**
 * Answers `reply` with `upstream`'s answer as a modern client expects it, under the client's
 * `id`: a plain result as the child's own line with `resultType` spliced in (no second
 * serialization), anything else translated; `params` of the request name the URI of a resources/read.
 * A result that cannot be translated is an internal error for the client and a warning in the log.
 */
function finishModern(context: Context, upstream: ModernUpstream, reply: ModernReply, method: string, answer: Answer, id: JsonRpcId, params?: JsonObject): void {
  const { message } = answer;
  const line = answer.afterId === undefined || message.error ? undefined : completeResultLine(id, method, message.result, answer.afterId);
  if (line !== undefined) return reply.finish(message, {}, line);
  // Translated, the answer is serialized again.
  const inexact = answer.raw === undefined ? undefined : inexactNumberProblem(answer.raw, message);
  if (inexact) return failTranslation(context, upstream, reply, id, `the MCP server's answer cannot be passed on: ${inexact}`);
  const uri = method === "resources/read" && typeof params?.uri === "string" ? params.uri : undefined;
  if (message.error) return reply.finish({ jsonrpc: "2.0", id, error: toModernError(message.error, uri) });
  const result = toModernResult(method, message.result, context.legacy.hint);
  if (result) return reply.finish({ jsonrpc: "2.0", id, result });
  failTranslation(context, upstream, reply, id, resultProblem(method, message.result));
}

/**
 * Answers `reply` with InternalError `problem` for an answer of `upstream` that no modern answer
 * can be made of, and logs it once (the problem, not the answer: it may be large, or carry what
 * the log must not).
 */
function failTranslation(context: Context, upstream: ModernUpstream, reply: ModernReply, id: JsonRpcId, problem: string): void {
  context.legacy.untranslatable.write("warn", "an MCP server's answer cannot be translated for a modern client; it gets an internal error", { child: upstream.name, problem });
  reply.finish(errorResponse(id, ErrorCode.InternalError, problem));
}

/** Notifications about a call: log messages only at the level the request asked for. */
function logTo(reply: ModernReply | undefined, envelope: RequestEnvelope, message: JsonRpcNotification): void {
  if (message.method === "notifications/message" && !logLevelAllows(envelope.logLevel, message.params?.level)) return;
  reply?.event(message);
}

/**
 * The part of a `subscriptions/listen` filter a legacy child can serve, by the capabilities it
 * declared in its initialize result: what the acknowledgement lists and the stream carries
 * (basic/patterns/subscriptions: a type the server does not support is left out, so that the
 * client knows to poll for it). At most 100 resource URIs.
 */
function honoredFilter(requested: JsonObject, handshake: JsonObject | undefined): JsonObject {
  const capabilities = isObject(handshake?.capabilities) ? handshake.capabilities : {};
  const can = (capability: string, flag: string) => isObject(capabilities[capability]) && capabilities[capability][flag] === true;
  const honored: JsonObject = {};
  if (requested.toolsListChanged === true && can("tools", "listChanged")) honored.toolsListChanged = true;
  if (requested.promptsListChanged === true && can("prompts", "listChanged")) honored.promptsListChanged = true;
  if (requested.resourcesListChanged === true && can("resources", "listChanged")) honored.resourcesListChanged = true;
  const uris = Array.isArray(requested.resourceSubscriptions) && can("resources", "subscribe") ? requested.resourceSubscriptions.filter((uri): uri is string => typeof uri === "string") : [];
  if (uris.length > 0) honored.resourceSubscriptions = [...new Set(uris)].slice(0, 100);
  return honored;
}

/** Notifications a listen stream holds back until its acknowledgement is sent (list changes and updates: a client that missed some reads the list again). */
const MAX_EARLY_NOTIFICATIONS = 64;

/**
 * How long a list_changed a listen stream carried stands for later ones of the same kind (from the
 * pool's other children, which see the same change), unless its client listed that kind since.
 * Children that watch one source notice a change within milliseconds of each other, or within
 * their polling period: 2 s covers that; a later one is taken for a new change. A client that
 * lists again is told of any change after that at once, so no change it has not read is lost.
 */
const LIST_CHANGED_COALESCE_MS = 2_000;
// Measured on the monotonic clock: a wall clock stepped back must not silence a stream until its client lists again.

/** The list_changed whose news a list request reads. */
const LISTED_KIND: Readonly<Record<string, string>> = {
  "tools/list": "notifications/tools/list_changed",
  "prompts/list": "notifications/prompts/list_changed",
  "resources/list": "notifications/resources/list_changed",
  "resources/templates/list": "notifications/resources/list_changed",
};

/** A list request of the holder's: its listen streams' next list_changed of that kind goes out (the client reads the list anew). */
function listed(context: Context, request: ModernRequest): void {
  const kind = Object.hasOwn(LISTED_KIND, request.message.method) ? LISTED_KIND[request.message.method]! : undefined;
  if (kind === undefined) return;
  for (const announced of context.legacy.announced.get(request.holder) ?? []) announced.delete(kind);
}

/**
 * One resource URI subscribed at a child for the listen streams that asked for it: subscribed once
 * (resources/subscribe) however many streams ask, and unsubscribed when the last one ends.
 * `accepted` settles with the child's answer (false for an error, read_timeout or the child's end).
 * Kept while the child has not answered, even with no stream left: a stream that asks again
 * meanwhile joins it, as a second subscribe would be undone by the first one's late unsubscribe.
 */
interface ChildSubscription {
  streams: number;
  accepted: Promise<boolean>;
  answered: boolean;
}

/** Subscribes `uri` at `upstream` for one more listen stream (see ChildSubscription). */
function joinSubscription(subscriptions: Map<string, ChildSubscription>, upstream: ModernUpstream, uri: string): ChildSubscription {
  const existing = subscriptions.get(uri);
  if (existing) {
    existing.streams++;
    return existing;
  }
  let settle!: (accepted: boolean) => void;
  const subscription: ChildSubscription = { streams: 1, accepted: new Promise((resolve) => (settle = resolve)), answered: false };
  subscriptions.set(uri, subscription);
  upstream.call("bridge-subscribe", "resources/subscribe", { uri }, {
    answered: ({ message }) => {
      subscription.answered = true;
      const accepted = message.error === undefined;
      // A refused URI is forgotten, so that a later stream asks the child again; so is one every stream left.
      if (!accepted || subscription.streams === 0) subscriptions.delete(uri);
      if (accepted && subscription.streams === 0) unsubscribe(upstream, uri);
      settle(accepted);
    },
    notification: () => {},
  });
  return subscription;
}

/** One listen stream leaves `subscription` of `uri`; the last one out unsubscribes at the child (once it has answered). */
function leaveSubscription(subscriptions: Map<string, ChildSubscription>, upstream: ModernUpstream, uri: string, subscription: ChildSubscription): void {
  if (--subscription.streams > 0 || subscriptions.get(uri) !== subscription || !subscription.answered) return;
  subscriptions.delete(uri);
  unsubscribe(upstream, uri);
}

function unsubscribe(upstream: ModernUpstream, uri: string): void {
  if (!upstream.closed) upstream.call("bridge-unsubscribe", "resources/unsubscribe", { uri }, IGNORING_SINK);
}

/**
 * `subscriptions/listen`: the child's list_changed and resources/updated notifications, as the
 * filter asks and the child can. The acknowledgement (basic/patterns/subscriptions §Acknowledgment)
 * waits for the child's answers to resources/subscribe and lists only the URIs it accepted;
 * notifications that come before it are held back (at most MAX_EARLY_NOTIFICATIONS).
 */
function listen(context: Context, pool: ModernChildPool, upstream: ModernUpstream, request: ModernRequest, reply: ModernReply): void {
  const { message } = request;
  const filter = honoredFilter(isObject(message.params?.notifications) ? message.params.notifications : {}, upstream.handshake);
  const asked = (filter.resourceSubscriptions as string[] | undefined) ?? [];
  /** The URIs the child accepted; none are delivered before the acknowledgement says which. */
  let uris: string[] = [];
  const tag = (params: JsonObject | undefined): JsonObject => ({ ...params, _meta: { ...(isObject(params?._meta) ? params._meta : {}), [MetaKey.subscriptionId]: message.id } });
  /** Whether the stream carries a notification: updates only of `among` (the accepted URIs; before the acknowledgement, the asked ones). */
  const wanted = (method: string, params: JsonObject | undefined, among: readonly string[] = uris): boolean => {
    if (method === "notifications/tools/list_changed") return filter.toolsListChanged === true;
    if (method === "notifications/prompts/list_changed") return filter.promptsListChanged === true;
    if (method === "notifications/resources/list_changed") return filter.resourcesListChanged === true;
    return method === "notifications/resources/updated" && typeof params?.uri === "string" && among.includes(params.uri);
  };
  /**
   * Each child of the principal's pool says list_changed for one change: the stream carries the
   * first, and drops the others of that kind while its client has not listed it since (its next
   * list reads every change so far), for at most LIST_CHANGED_COALESCE_MS.
   */
  const announced = new Map<string, number>();
  const streams = context.legacy.announced.get(request.holder) ?? new Set<Map<string, number>>();
  context.legacy.announced.set(request.holder, streams);
  streams.add(announced);
  const deliver = (notification: JsonRpcNotification) => {
    if (notification.method !== "notifications/resources/updated") {
      const now = performance.now();
      if (now - (announced.get(notification.method) ?? -Infinity) < LIST_CHANGED_COALESCE_MS) return;
      announced.set(notification.method, now);
    }
    reply.event({ ...notification, params: tag(notification.params) });
  };
  let early: JsonRpcNotification[] | undefined = [];
  const stop = pool.onBroadcast(request.principal, (notification) => {
    if (early) {
      // Only what this stream may carry takes room: others' updates must not crowd out its own.
      if (early.length < MAX_EARLY_NOTIFICATIONS && wanted(notification.method, notification.params, asked)) early.push(notification);
    } else if (wanted(notification.method, notification.params)) deliver(notification);
  });
  const acknowledge = (accepted: readonly string[]) => {
    uris = [...accepted];
    if (uris.length > 0) filter.resourceSubscriptions = uris;
    else delete filter.resourceSubscriptions;
    reply.event({ jsonrpc: "2.0", method: "notifications/subscriptions/acknowledged", params: tag({ notifications: filter }) });
    const held = early ?? [];
    early = undefined;
    for (const notification of held) if (wanted(notification.method, notification.params)) deliver(notification);
  };
  const subscriptions = context.legacy.subscriptions.get(upstream) ?? new Map<string, ChildSubscription>();
  context.legacy.subscriptions.set(upstream, subscriptions);
  const joined = asked.map((uri) => ({ uri, subscription: joinSubscription(subscriptions, upstream, uri) }));
  const end = () => {
    stop();
    unwatch();
    streams.delete(announced);
    if (streams.size === 0 && context.legacy.announced.get(request.holder) === streams) context.legacy.announced.delete(request.holder);
    for (const { uri, subscription } of joined) leaveSubscription(subscriptions, upstream, uri, subscription);
  };
  // The child's subscriptions end with it: the client must listen again (a new child knows none).
  const unwatch = upstream.onClosed((reason) => {
    end();
    reply.finish(errorResponse(message.id, ErrorCode.ConnectionClosed, reason));
  });
  reply.onClientGone = end;
  if (joined.length === 0) return acknowledge([]);
  void Promise.all(joined.map(({ subscription }) => subscription.accepted)).then((results) => {
    if (!reply.done) acknowledge(asked.filter((_, index) => results[index]));
  });
}

/**
 * Whom a modern request is for, whichever child serves it: what a sealed requestState is bound to.
 * Without authentication, "anonymous" and not the client's address (what limits count by, see
 * ModernRequest.holder): a retry may come from another address (NAT, a new IPv6 temporary
 * address) and must still open; the state itself, given only to its client, is what keeps it theirs.
 */
export function principalName(request: Pick<ModernRequest, "principal">): string {
  return request.principal?.owner ?? "anonymous";
}

/**
 * A call that may make the child ask for input. A first call starts it on a child with no other
 * such call; a retry (with `requestState`) resumes the round the state names.
 */
function roundTrip(context: Context, pool: ModernChildPool, primary: ModernUpstream, request: ModernRequest, reply: ModernReply): void | Promise<void> {
  const { message } = request;
  const retry = readRetry(message.params);
  if (retry.requestState !== undefined) {
    const state = retry.requestState;
    return context.sealer.then((sealer) => sealer.digest(message.method, retry.params)).then((digest) => resume(context, request, reply, state, retry.inputResponses, digest));
  }
  const { holder } = request;
  const count = context.legacy.perHolder.get(holder) ?? 0;
  if (count >= MAX_ROUNDS_PER_HOLDER) {
    return reply.finish(errorResponse(message.id, ErrorCode.InternalError, `${request.principal ? "this principal" : "this client address"} already has ${MAX_ROUNDS_PER_HOLDER} calls in flight or waiting for input; try again later`));
  }
  // Counted from here, before any wait: concurrent calls cannot all pass the check.
  context.legacy.perHolder.set(holder, count + 1);
  const round = new Round(context, message.method, principalName(request), holder, retry.params, message.id, request.envelope);
  const call = { clientId: message.id, method: message.method, params: withoutEnvelope(retry.params), sink: round, kind: kindOf(message.method, retry.params?.name ?? retry.params?.uri), holder };
  let started: StartedCall | Promise<StartedCall>;
  try {
    started = pool.start(request.principal, call, true, primary);
  } catch (error) {
    drop(context, round);
    throw error;
  }
  if (!(started instanceof Promise)) return begin(context, round, started, reply);
  return started.then(
    (later) => begin(context, round, later, reply),
    (error: unknown) => {
      drop(context, round);
      throw error;
    },
  );
}

/** Per input-capable method, the kinds of its calls by target (see kindOf). */
const KINDS = new Map([...INPUT_REQUIRED_METHODS].map((method) => [method, memoized((target) => `${method}:${target.slice(0, 200)}`)]));

/**
 * A call's kind (PoolCall.kind): its method (one of INPUT_REQUIRED_METHODS) and the tool, prompt or
 * resource it names. Remembered: the pool looks every call's kind up in its sets, and a string
 * made anew is built and hashed anew.
 */
function kindOf(method: string, target: unknown): string {
  return KINDS.get(method)!(typeof target === "string" ? target : "");
}

/** The round's call runs on a child: its reply waits for the answer (or for the child to ask). */
function begin(context: Context, round: Round, started: StartedCall, reply: ModernReply): void {
  round.upstream = started.upstream;
  round.callId = started.id;
  attach(context, round, reply);
}

/** The round's current reply: the first call's, then each retry's. */
function attach(context: Context, round: Round, reply: ModernReply): void {
  round.reply = reply;
  if (round.waitingSince !== undefined) {
    // Back from its client: the child has read_timeout again to answer or ask (the upstream times the call out).
    round.waitingSince = undefined;
    clearTimeout(round.deadline);
    round.upstream.setDeadline(round.callId, "read_timeout");
  }
  // Runs at once when the client left while the call waited for a child.
  reply.onClientGone = () => {
    if (round.reply !== reply) return;
    round.upstream.cancel(round.callId, "the client closed the response stream");
    drop(context, round);
  };
  if (round.settled) return settle(context, round, round.settled);
  if (round.collected.length > 0) scheduleFlush(context, round);
}

function drop(context: Context, round: Round): void {
  clearTimeout(round.deadline);
  round.reply = undefined;
  if (!round.live) return;
  round.live = false;
  // The call is over: no client will answer its questions now. The child gets an error for each,
  // so that a handler awaiting one goes on (an SDK server would hold it until its own timeout).
  if (round.pending.length > 0 || round.collected.length > 0) {
    const unanswered = [...round.pending.map((entry) => entry.id), ...round.collected.map((request) => request.id)];
    round.pending = [];
    round.collected = [];
    if (!round.upstream.closed) {
      for (const id of unanswered) round.upstream.answer(errorResponse(id, ErrorCode.InternalError, "the call that asked this is over; its client will not answer"));
    }
  }
  if (round.registered) context.legacy.rounds.delete(round.id);
  const left = (context.legacy.perHolder.get(round.holder) ?? 1) - 1;
  if (left > 0) context.legacy.perHolder.set(round.holder, left);
  else context.legacy.perHolder.delete(round.holder);
}

/** The child answered the call (or died): the waiting reply gets it; else it is kept for the retry. */
function settle(context: Context, round: Round, answer: Answer): void {
  round.settled = answer;
  const reply = round.reply;
  if (!reply) return;
  if (!round.asked && round.lacking) {
    // The child could only go on without what it needed: the client learns what to declare.
    const error = missingCapabilityError(round.lacking);
    reply.finish(errorResponse(round.clientId, error.code, error.message, error.data));
  } else {
    finishModern(context, round.upstream, reply, round.method, answer, round.clientId, round.params);
  }
  drop(context, round);
}

function collect(context: Context, round: Round, childRequest: JsonRpcRequest): void {
  if (round.collected.length + round.pending.length >= MAX_INPUT_REQUESTS) {
    round.upstream.answer(errorResponse(childRequest.id, ErrorCode.InvalidRequest, `at most ${MAX_INPUT_REQUESTS} requests for input may wait at once`));
    return;
  }
  round.collected.push(childRequest);
  if (round.reply) scheduleFlush(context, round);
}

function scheduleFlush(context: Context, round: Round): void {
  if (round.flushQueued) return;
  round.flushQueued = true;
  const flushNow = () => {
    round.flushQueued = false;
    void flush(context, round);
  };
  // Requests the child makes together (elicitation and sampling at once, say) should reach the
  // client in one round. With no window, the round goes once the event loop has had two turns to
  // read what the child already wrote (its writes come microseconds apart); a window waits longer
  // for a busy host, at that cost to every round.
  const window = context.config.session.input_window;
  if (window > 0) setTimeout(flushNow, window);
  else nextTurn(() => nextTurn(flushNow));
}

/** Runs `callback` after the event loop's next poll for I/O (setImmediate where the runtime has it). */
function nextTurn(callback: () => void): void {
  const immediate = (globalThis as { setImmediate?: (callback: () => void) => unknown }).setImmediate;
  if (immediate) immediate(callback);
  else setTimeout(callback, 0);
}

/**
 * Turns the child's collected requests into a round for the client. Kinds the request did not
 * declare are answered to the child with an error at once and never asked of the client; if the
 * call then ends without anything having been asked, the client gets -32021 naming what it would
 * have had to declare (see settle).
 */
async function flush(context: Context, round: Round): Promise<void> {
  const reply = round.reply;
  // A round being sealed takes in what was collected meanwhile itself, or leaves it for the next round.
  if (!reply || round.settled || round.asking) return;
  admit(round);
  if (round.pending.length === 0) return;
  round.asked = true;
  await askClient(context, round, reply);
}

/** Moves the collected child requests the client can be asked into `pending`; refuses the others to the child. */
function admit(round: Round): void {
  for (const childRequest of round.collected.splice(0)) {
    if (!isInputRequestMethod(childRequest.method)) {
      round.upstream.answer(errorResponse(childRequest.id, ErrorCode.MethodNotFound, `the client cannot be asked ${childRequest.method}`));
      continue;
    }
    const missing = missingCapabilities(requiredCapability(childRequest)!, round.envelope.clientCapabilities);
    if (missing) {
      round.lacking = { ...round.lacking, ...missing };
      round.upstream.answer(errorResponse(childRequest.id, ErrorCode.InvalidRequest, `the client did not declare the capability ${childRequest.method} needs`));
      continue;
    }
    round.pending.push({ key: round.nextKey(), id: childRequest.id, request: childRequest });
  }
}

/** Answers `reply` with `input_required` for every pending child request; the call stays open. */
async function askClient(context: Context, round: Round, reply: ModernReply): Promise<void> {
  round.asking = true;
  try {
    const sealer = await context.sealer;
    round.digest ??= await sealer.digest(round.method, round.params);
    // What the child asked while the digest was computed goes in this round; what it asks from
    // here on waits for the next (the state must name exactly the requests the round carries).
    admit(round);
    const asked = round.pending.slice();
    const ttl = context.config.mcp_server!.read_timeout;
    const state = await sealer.seal({ principal: round.principal, child: round.upstream.name, call: round.id, request: round.digest, keys: asked.map((entry) => entry.key) }, ttl);
    // The call may have ended while its state was sealed (answered, timed out, its client or its
    // child gone, evicted): a round that is over must not be registered as waiting for its client.
    if (!round.live) return reply.finish(callOver(round.clientId));
    sendRound(context, round, reply, asked, state, ttl);
  } finally {
    round.asking = false;
  }
}

/** Sends the sealed round to its client and keeps the child's call open for the retry. */
function sendRound(context: Context, round: Round, reply: ModernReply, asked: Round["pending"], state: string, ttl: number): void {
  const inputRequests = toInputRequests(asked.map(({ key, request }) => ({ key, request })));
  round.reply = undefined;
  round.waitingSince = performance.now();
  round.registered = true;
  context.legacy.rounds.set(round.id, round);
  clearTimeout(round.deadline);
  // The child's call stays open for the retry, bounded by read_timeout from now (not by the upstream's deadline).
  round.upstream.setDeadline(round.callId, "unbounded");
  round.deadline = setTimeout(() => {
    round.upstream.cancel(round.callId, "the client did not come back with the input in time");
    drop(context, round);
  }, ttl);
  reply.finish({ jsonrpc: "2.0", id: round.clientId, result: inputRequiredResult(inputRequests, state) });
  // The call now waits for its client: a call waiting for a child may end it (evictWaitingRound).
  round.upstream.onFreed?.();
}

/**
 * Frees a child of `group` for a new call of `holder` (ModernRequest.holder; undefined: a call of
 * no holder's, which may end any round) by ending a call there that waits for its client to come
 * back with input (a client that never retries must not hold a child for read_timeout while others
 * wait). Its requestState is refused from then on. Another holder's round is ended only when that
 * holder holds more of the group's children (children running a call of its that may ask) than
 * the caller: then the oldest round of the holder holding most; else the caller's own oldest.
 * Without authentication every client shares the children, and a client that asks and never
 * answers must not end other clients' rounds by calling more. A round that went to its client
 * less than `graceMs` ago is spared: "evicted" when a call was ended, else the milliseconds until
 * that round may be, or undefined when no round of `group` waits that this holder may end.
 */
export function evictWaitingRound(context: Context, group: readonly ModernUpstream[], graceMs: number, holder: string | undefined): Eviction {
  const held = holdings(group);
  const mine = holder === undefined ? -1 : (held.get(holder) ?? 0);
  let chosen: Round | undefined;
  let chosenRank = -1;
  for (const round of context.legacy.rounds.values()) {
    // A round whose retry is being served (it has a reply again) is not waiting for its client; one
    // the child has answered holds no child (ending it would free nothing and lose the answer).
    if (round.waitingSince === undefined || round.reply || round.settled || !group.includes(round.upstream)) continue;
    // The caller's own rank below every other holder that may lose a round (they hold more).
    const rank = round.holder === holder ? mine : (held.get(round.holder) ?? 0);
    if (round.holder !== holder && rank <= mine) continue;
    if (rank > chosenRank || (rank === chosenRank && round.waitingSince < chosen!.waitingSince!)) [chosen, chosenRank] = [round, rank];
  }
  if (!chosen) return undefined;
  const spared = chosen.waitingSince! + graceMs - performance.now();
  if (spared > 0) return spared;
  chosen.upstream.cancel(chosen.callId, "another call needed the child; the client did not come back with input");
  drop(context, chosen);
  return "evicted";
}

/** The answer to a retry whose round is over. */
function callOver(id: JsonRpcId): JsonRpcResponse {
  return invalidRequestState(id, "gone", "the call it resumes is over");
}

/** A retry: the state must be ours, this principal's and this request's, and its round still open. */
async function resume(context: Context, request: ModernRequest, reply: ModernReply, state: unknown, inputResponses: unknown, digest: string): Promise<void> {
  const { message } = request;
  const sealer = await context.sealer;
  const opened = await sealer.open(state, { principal: principalName(request), request: digest });
  if (!opened.ok) {
    return reply.finish(invalidRequestState(message.id, opened.reason));
  }
  const round = context.legacy.rounds.get(opened.claims.call);
  if (!round || round.upstream.name !== opened.claims.child) {
    return reply.finish(callOver(message.id));
  }
  if (round.reply) {
    return reply.finish(errorResponse(message.id, ErrorCode.InvalidRequest, "this requestState is already being used by another retry"));
  }
  // Each round's state names the keys it asked: an earlier round's state is stale.
  if (!round.settled && opened.claims.keys.join("\n") !== round.pending.map((entry) => entry.key).join("\n")) {
    return reply.finish(invalidRequestState(message.id, "stale", "a later round has replaced it"));
  }
  round.clientId = message.id;
  round.envelope = request.envelope;
  // Claimed at once: a second retry that arrives while this one is asked again (askClient awaits)
  // is refused above instead of being attached and then dropped by askClient.
  round.reply = reply;
  if (round.settled) {
    attach(context, round, reply);
    return;
  }
  const { answers, missing } = answersFromInputResponses(round.pending, inputResponses);
  for (const answer of answers) round.upstream.answer(answer);
  round.pending = round.pending.filter((entry) => missing.includes(entry.key));
  if (round.pending.length > 0) return askClient(context, round, reply);
  attach(context, round, reply);
}
