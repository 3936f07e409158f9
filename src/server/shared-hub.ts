/**
 * @module `session.mode: shared`: one child for every session. Request ids and progress tokens are
 * remapped so that two sessions using the same id never see each other's replies; the child is
 * initialized once by the hub and each session gets the cached result with its own negotiated
 * protocol version. When the child dies, every session it served ends and the child is restarted
 * with exponential backoff; `max_restarts` is a budget per `restart_window`, so it recovers.
 *
 * Users never see each other: a message from the child goes to a session only when it certainly
 * belongs to it (a response or progress by remapped id or token, resources/updated to the sessions
 * that subscribed to that URI); list_changed goes to all. Server→client requests (sampling,
 * elicitation, roots) cannot be attributed on one shared stdio stream, so the child is initialized
 * without those client capabilities and any such request is answered by the hub with an error;
 * other notifications (logging) go to the bridge's log, not to a client.
 */
import type { McpServerConfig } from "../config/schema.ts";
import { afterIdOf, ErrorCode, errorResponse, idKey, inexactIdProblem, inexactNumberProblem, isRequest, isResponse, responseLine, type JsonRpcId, type JsonRpcMessage } from "../jsonrpc/message.ts";
import { VERSION } from "../version.ts";
import type { Logger } from "../log/logger.ts";
import { throttledLog, type ThrottledLog } from "../log/throttle.ts";
import type { Platform } from "../runtime/types.ts";
import { childEnvironment, StdioChild } from "./child.ts";
import type { Session, UpstreamLink } from "./session.ts";
import { LATEST_PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS } from "./streamable-http.ts";

const BROADCAST = /^notifications\/(?:tools|resources|prompts)\/list_changed$/;
/** Why a server→client request is refused in shared mode (JSON-RPC error to the child). */
const UNROUTABLE = "session.mode shared cannot route server-to-client requests to the one user they belong to; use session.mode: per_session";
/** Resource URIs one session may be subscribed to: the hub holds them for it (a per-session child holds its own). */
const MAX_SUBSCRIPTIONS_PER_SESSION = 1000;
/** The longest resource URI the hub keeps a subscription for (characters): with the count, what one session may make it hold. */
const MAX_SUBSCRIBED_URI_LENGTH = 8192;

/**
 * The version a session is told: the one it asked for when the bridge speaks it and the child's is
 * not older (later versions only add to earlier ones), else the child's (MCP lifecycle §version
 * negotiation: the client decides whether it can go on).
 */
function negotiatedVersion(asked: unknown, childVersion: unknown): unknown {
  if (typeof asked !== "string" || typeof childVersion !== "string") return childVersion;
  return (SUPPORTED_PROTOCOL_VERSIONS as readonly string[]).includes(asked) && asked <= childVersion ? asked : childVersion;
}

interface Origin {
  session: Session;
  id: JsonRpcId;
  /** The hub's progress token for the request, when the session gave one: it lives as long as the request. */
  token?: number;
  /** A resources/subscribe the child is asked: its URI and the subscription it asks for (refused, the session leaves it). */
  subscribes?: { uri: string; subscription: Subscription };
}

/**
 * The sessions subscribed to one resource URI. Until the child has accepted a subscribe to it
 * (`confirmed`), each session's subscribe goes to the child and gets the child's own answer: one
 * answered by the hub while the first is pending would be told `{}` of a subscribe the child may refuse.
 */
interface Subscription {
  sessions: Set<Session>;
  confirmed: boolean;
}

export class SharedChildHub {
  readonly #platform: Platform;
  readonly #config: McpServerConfig;
  readonly #logger: Logger;
  /** What the child sends that no client may be given: it may send it all the time, so throttled. */
  readonly #refused: ThrottledLog;
  #child: StdioChild | undefined;
  #state: "running" | "restarting" | "failed" | "stopped" = "restarting";
  /** When the child failed, within the last restart_window: the restart budget spent. */
  #failures: number[] = [];
  #retryAt = 0;
  #restartTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #sessions = new Set<Session>();
  #nextId = 1;
  /** hub id → the session and the id it used. */
  readonly #requests = new Map<number, Origin>();
  /** per session: its id key → hub id (for notifications/cancelled). */
  readonly #bySession = new Map<Session, Map<string | number, number>>();
  readonly #tokens = new Map<number, { session: Session; token: string | number }>();
  /** The child's answer to the first initialize: result or error. */
  #initializeReply: { result?: unknown; error?: unknown } | undefined;
  #initializeHubId: number | undefined;
  #initializedSent = false;
  #initializeWaiters: Array<() => void> = [];
  /** resources/subscribe per URI: resources/updated goes to these sessions only. */
  readonly #subscribers = new Map<string, Subscription>();
  /** The same, per session: the URIs it is subscribed to (at most MAX_SUBSCRIPTIONS_PER_SESSION). */
  readonly #subscriptionsOf = new Map<Session, Set<string>>();

  constructor(platform: Platform, config: McpServerConfig, logger: Logger) {
    this.#platform = platform;
    this.#config = config;
    this.#logger = logger.child({ child: "shared" });
    this.#refused = throttledLog(this.#logger, "refused messages of the shared MCP server", { burst: 10, windowMs: 60_000 });
    this.#start();
  }

  /** True while the child runs and new sessions can use it. */
  get ready(): boolean {
    return this.#state === "running";
  }

  get state(): string {
    return this.#state;
  }

  /** Seconds until the next start attempt while restarting or failed (0 otherwise). */
  get retryInSeconds(): number {
    return this.#state === "restarting" || this.#state === "failed" ? Math.max(1, Math.ceil((this.#retryAt - performance.now()) / 1000)) : 0;
  }

  link(session: Session): UpstreamLink {
    const hub = this;
    this.#sessions.add(session);
    this.#bySession.set(session, new Map());
    return {
      send: (message, raw) => this.#fromSession(session, message, raw),
      close: () => this.#detach(session),
      get congested() {
        return hub.#child?.congested ?? false;
      },
    };
  }

  /** SIGKILL to the child's process group now (a second signal during shutdown). */
  kill(): void {
    this.#child?.kill();
  }

  async stop(): Promise<void> {
    this.#state = "stopped";
    clearTimeout(this.#restartTimer);
    await this.#child?.shutdown();
  }

  #start(): void {
    this.#initializeReply = undefined;
    this.#initializeHubId = undefined;
    this.#initializedSent = false;
    const child = new StdioChild(this.#platform, this.#config, childEnvironment(this.#config, this.#platform.env), this.#logger, {
      onMessage: (message, raw) => this.#fromChild(message, raw),
      onExit: (exit) => this.#childExited(child, exit.error ? `could not be started: ${exit.error.message}` : `exited (code ${exit.code}, signal ${exit.signal})`),
    });
    this.#child = child;
    this.#state = "running";
  }

  #childExited(child: StdioChild, how: string): void {
    if (child !== this.#child) return;
    this.#child = undefined;
    for (const session of [...this.#sessions]) session.terminate("the MCP server exited");
    if (this.#state === "stopped") return;
    if (!this.#config.restart_on_failure) {
      this.#state = "failed";
      this.#retryAt = Infinity;
      this.#logger.error(`the shared MCP server ${how}; not restarting (restart_on_failure is off)`);
      return;
    }
    const now = performance.now();
    const window = this.#config.restart_window;
    this.#failures = this.#failures.filter((at) => now - at < window);
    this.#failures.push(now);
    const recent = this.#failures.length;
    if (recent > this.#config.max_restarts) {
      // Budget spent: wait until the oldest failure leaves the window, then try again.
      const delay = this.#failures[recent - 1 - this.#config.max_restarts]! + window - now;
      this.#schedule("failed", delay);
      this.#logger.error(`the shared MCP server ${how}; ${recent} failures within ${window} ms, next attempt when the restart budget recovers`, { in_ms: delay });
      return;
    }
    const delay = Math.min(this.#config.restart_delay * 2 ** (recent - 1), window);
    this.#schedule("restarting", delay);
    this.#logger.warn(`the shared MCP server ${how}; restarting`, { in_ms: delay, attempt: recent });
  }

  #schedule(state: "restarting" | "failed", delay: number): void {
    this.#state = state;
    this.#retryAt = performance.now() + delay;
    this.#restartTimer = setTimeout(() => this.#start(), delay);
  }

  #detach(session: Session): void {
    this.#sessions.delete(session);
    const ids = this.#bySession.get(session);
    if (ids) for (const hubId of ids.values()) this.#requests.delete(hubId);
    this.#bySession.delete(session);
    for (const [token, owner] of this.#tokens) if (owner.session === session) this.#tokens.delete(token);
    for (const uri of [...(this.#subscriptionsOf.get(session) ?? [])]) this.#leave(session, uri);
    this.#subscriptionsOf.delete(session);
  }

  /** `session` no longer wants updates of `uri`; the last one out unsubscribes at the child (its answer has no origin and is dropped). */
  #leave(session: Session, uri: string): void {
    this.#subscriptionsOf.get(session)?.delete(uri);
    const subscription = this.#subscribers.get(uri);
    if (!subscription?.sessions.delete(session) || subscription.sessions.size > 0) return;
    this.#subscribers.delete(uri);
    this.#write({ jsonrpc: "2.0", id: this.#nextId++, method: "resources/unsubscribe", params: { uri } });
  }

  /**
   * The child answered (or will not answer: cancelled) a session's subscribe. Accepted, the hub
   * answers later subscribes itself; otherwise the session is not subscribed. A subscription
   * ended and started again since is another one: an answer about the old one changes nothing.
   */
  #subscribeSettled(origin: Origin, accepted: boolean): void {
    const { uri, subscription } = origin.subscribes!;
    if (this.#subscribers.get(uri) !== subscription) return;
    if (accepted) subscription.confirmed = true;
    else this.#leave(origin.session, uri);
  }

  /** A request is over (answered or cancelled): its ids and progress token are freed; anything the child sends for them later is dropped. */
  #forget(hubId: number, origin: Origin): void {
    this.#requests.delete(hubId);
    this.#bySession.get(origin.session)?.delete(idKey(origin.id));
    if (origin.token !== undefined) this.#tokens.delete(origin.token);
  }

  #write(message: JsonRpcMessage): void {
    this.#child?.send(JSON.stringify(message));
  }

  #fromSession(session: Session, message: JsonRpcMessage, raw: string): void {
    // No server→client request is ever forwarded to a session, so no answer from one is expected.
    if (isResponse(message)) return;
    if (isRequest(message)) {
      if (message.method === "initialize") return this.#initialize(session, message.id, message);
      const uri = (message.params as { uri?: unknown } | undefined)?.uri;
      if (typeof uri === "string" && (message.method === "resources/subscribe" || message.method === "resources/unsubscribe")) {
        const handled = this.#subscription(session, message.method, uri);
        if (handled !== "child") {
          const reply =
            handled === "answered"
              ? { jsonrpc: "2.0" as const, id: message.id, result: {} }
              : handled === "too long"
                ? errorResponse(message.id, ErrorCode.InvalidParams, `Invalid params: a shared MCP server keeps subscriptions to URIs of at most ${MAX_SUBSCRIBED_URI_LENGTH} characters`)
                : errorResponse(message.id, ErrorCode.InvalidRequest, `Invalid Request: this session is subscribed to ${MAX_SUBSCRIPTIONS_PER_SESSION} resources already (the most a shared MCP server keeps for one session): unsubscribe from one first`);
          return queueMicrotask(() => session.receive(reply, JSON.stringify(reply)));
        }
      }
      const hubId = this.#nextId++;
      const subscription = message.method === "resources/subscribe" && typeof uri === "string" ? this.#subscribers.get(uri) : undefined;
      const origin: Origin = { session, id: message.id, ...(subscription && { subscribes: { uri: uri as string, subscription } }) };
      this.#requests.set(hubId, origin);
      this.#bySession.get(session)?.set(idKey(message.id), hubId);
      // A progress token past 2^53 was refused with the body (inexactNumberProblem): it comes back as sent.
      let params = message.params;
      const meta = params?._meta as { progressToken?: string | number } | undefined;
      if (meta?.progressToken !== undefined) {
        origin.token = this.#nextId++;
        this.#tokens.set(origin.token, { session, token: meta.progressToken });
        params = { ...params, _meta: { ...meta, progressToken: origin.token } };
      }
      return this.#write({ ...message, id: hubId, params });
    }
    if (message.method === "notifications/initialized") {
      if (this.#initializedSent) return;
      this.#initializedSent = true;
    }
    if (message.method === "notifications/cancelled") {
      const requestId = (message.params as { requestId?: JsonRpcId } | undefined)?.requestId;
      const hubId = requestId === undefined ? undefined : this.#bySession.get(session)?.get(idKey(requestId));
      const origin = hubId === undefined ? undefined : this.#requests.get(hubId);
      if (hubId === undefined || !origin) return;
      // A cancelled request is not answered (MCP cancellation): its mapping would stay as long as the session.
      this.#forget(hubId, origin);
      if (origin.subscribes) this.#subscribeSettled(origin, false);
      return this.#write({ ...message, params: { ...message.params, requestId: hubId } });
    }
    this.#child?.send(raw);
  }

  /**
   * Tracks a session's resource subscription: "child" when it goes on to the child, "answered" when
   * the hub answers it itself (the child already sends updates for this URI, or another session
   * still wants them), "refused" for a subscription beyond MAX_SUBSCRIPTIONS_PER_SESSION, "too long"
   * for a URI beyond MAX_SUBSCRIBED_URI_LENGTH.
   */
  #subscription(session: Session, method: string, uri: string): "child" | "answered" | "refused" | "too long" {
    const subscription = this.#subscribers.get(uri);
    const mine = this.#subscriptionsOf.get(session) ?? new Set<string>();
    if (method === "resources/subscribe") {
      if (uri.length > MAX_SUBSCRIBED_URI_LENGTH) return "too long";
      if (!mine.has(uri) && mine.size >= MAX_SUBSCRIPTIONS_PER_SESSION) return "refused";
      this.#subscriptionsOf.set(session, mine.add(uri));
      if (subscription?.confirmed) return subscription.sessions.add(session), "answered";
      if (subscription) subscription.sessions.add(session);
      else this.#subscribers.set(uri, { sessions: new Set([session]), confirmed: false });
      return "child";
    }
    mine.delete(uri);
    if (!subscription?.sessions.delete(session)) return "answered";
    if (subscription.sessions.size > 0) return "answered";
    this.#subscribers.delete(uri);
    return "child";
  }

  #initialize(session: Session, id: JsonRpcId, message: JsonRpcMessage): void {
    const asked = (message as { params?: { protocolVersion?: unknown } }).params?.protocolVersion;
    const answer = () => {
      const cached = this.#initializeReply!;
      const result = cached.result as Record<string, unknown> | undefined;
      const reply = (result ? { jsonrpc: "2.0", id, result: { ...result, protocolVersion: negotiatedVersion(asked, result.protocolVersion) } } : { jsonrpc: "2.0", id, error: cached.error }) as JsonRpcMessage;
      session.receive(reply, JSON.stringify(reply));
    };
    if (this.#initializeReply !== undefined) return queueMicrotask(answer);
    this.#initializeWaiters.push(answer);
    if (this.#initializeHubId !== undefined) return;
    // The hub is the child's one client: it asks for the newest version so later clients can get
    // theirs, and offers no client capabilities, since server→client requests cannot be routed.
    this.#initializeHubId = this.#nextId++;
    this.#write({
      jsonrpc: "2.0",
      id: this.#initializeHubId,
      method: "initialize",
      params: { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: "mcp-bridge (shared)", version: VERSION } },
    });
  }

  #fromChild(message: JsonRpcMessage, raw: string): void {
    if (isResponse(message)) {
      const hubId = typeof message.id === "number" ? message.id : undefined;
      if (hubId !== undefined && hubId === this.#initializeHubId) {
        // Each session's answer is written from it (its protocolVersion the session's): a number a double
        // does not carry would reach every client as another. Kept as the error: asking again brings the same.
        const inexact = inexactNumberProblem(raw, message);
        this.#initializeReply = inexact ? { error: { code: ErrorCode.InternalError, message: `Internal error: the MCP server's answer to initialize cannot be passed on: ${inexact}` } } : message.error ? { error: message.error } : { result: message.result };
        for (const waiter of this.#initializeWaiters.splice(0)) waiter();
        // A failed initialize is not cached: the next session tries again.
        if (message.error) this.#initializeReply = this.#initializeHubId = undefined;
        return;
      }
      const origin = hubId === undefined ? undefined : this.#requests.get(hubId);
      if (!origin || hubId === undefined) return;
      this.#forget(hubId, origin);
      if (origin.subscribes) this.#subscribeSettled(origin, message.error === undefined);
      const restored = { ...message, id: origin.id };
      // The child's line under the session's id where it can be (its numbers as written); else serialized again.
      const afterId = afterIdOf(raw, hubId);
      if (afterId !== undefined) return origin.session.receive(restored, responseLine(origin.id, afterId));
      const inexact = inexactNumberProblem(raw, message);
      const answer = inexact ? errorResponse(origin.id, ErrorCode.InternalError, `Internal error: the MCP server's answer cannot be passed on: ${inexact}`) : restored;
      return origin.session.receive(answer, JSON.stringify(answer));
    }
    const method = message.method;
    if (method === "notifications/progress") {
      const token = (message.params as { progressToken?: number } | undefined)?.progressToken;
      const owner = typeof token === "number" ? this.#tokens.get(token) : undefined;
      if (!owner) return;
      // Serialized again under the session's token: a number a double does not carry would reach the client as another.
      const inexact = inexactNumberProblem(raw, message);
      if (inexact) return this.#refused.write("warn", "dropped a progress notification of the shared MCP server: serialized again it would carry another number", { problem: inexact });
      const restored = { ...message, params: { ...message.params, progressToken: owner.token } };
      return owner.session.receive(restored, JSON.stringify(restored));
    }
    if (isRequest(message)) {
      // Answered from the parsed id: one past 2^53 would be another number.
      const inexact = inexactIdProblem(message);
      if (inexact) return this.#write(errorResponse(null, ErrorCode.InvalidRequest, `Invalid Request: ${inexact}`));
      if (method === "ping") return this.#write({ jsonrpc: "2.0", id: message.id, result: {} });
      this.#refused.write("warn", "the shared MCP server sent a server-to-client request; refused, since it cannot be routed to one user", { method });
      return this.#write(errorResponse(message.id, ErrorCode.MethodNotFound, UNROUTABLE));
    }
    if (BROADCAST.test(method)) {
      for (const session of this.#sessions) session.receive(message, raw);
      return;
    }
    if (method === "notifications/resources/updated") {
      const uri = (message.params as { uri?: unknown } | undefined)?.uri;
      for (const session of (typeof uri === "string" && this.#subscribers.get(uri)?.sessions) || []) session.receive(message, raw);
      return;
    }
    // Logging and anything else: whose it is cannot be known, so it stays in the bridge's log.
    this.#logger.debug("shared MCP server notification kept from clients", { method, params: JSON.stringify(message.params ?? {}).slice(0, 500) });
  }
}
