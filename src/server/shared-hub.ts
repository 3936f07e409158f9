/**
 * @module `session.mode: shared`: one child for every session. Request ids and progress tokens are
 * remapped so that two sessions using the same id never see each other's replies; the child is
 * initialized once and later sessions get the cached result. When the child dies, every session
 * it served ends and the child is restarted with exponential backoff.
 */
import type { McpServerConfig } from "../config/schema.ts";
import { idKey, isRequest, isResponse, type JsonRpcId, type JsonRpcMessage } from "../jsonrpc/message.ts";
import type { Logger } from "../log/logger.ts";
import type { Platform } from "../runtime/types.ts";
import { childEnvironment, StdioChild } from "./child.ts";
import type { Session, UpstreamLink } from "./session.ts";

/** A child that ran this long without failing resets the restart count. */
const STABLE_AFTER_MS = 60_000;
const BROADCAST = /^notifications\/(?:(?:tools|resources|prompts)\/list_changed|resources\/updated)$/;

interface Origin {
  session: Session;
  id: JsonRpcId;
}

export class SharedChildHub {
  readonly #platform: Platform;
  readonly #config: McpServerConfig;
  readonly #logger: Logger;
  #child: StdioChild | undefined;
  #state: "running" | "restarting" | "failed" | "stopped" = "restarting";
  #restarts = 0;
  #startedAt = 0;
  #restartTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #sessions = new Set<Session>();
  #nextId = 1;
  /** hub id → the session and the id it used. */
  readonly #requests = new Map<number, Origin>();
  /** per session: its id key → hub id (for notifications/cancelled). */
  readonly #bySession = new Map<Session, Map<string | number, number>>();
  readonly #tokens = new Map<number, { session: Session; token: string | number }>();
  /** child's own request id → the session asked. */
  readonly #childRequests = new Map<string | number, Session>();
  /** The child's answer to the first initialize: result or error. */
  #initializeReply: { result?: unknown; error?: unknown } | undefined;
  #initializeHubId: number | undefined;
  #initializedSent = false;
  #initializeWaiters: Array<() => void> = [];
  #lastRequester: Session | undefined;

  constructor(platform: Platform, config: McpServerConfig, logger: Logger) {
    this.#platform = platform;
    this.#config = config;
    this.#logger = logger.child({ child: "shared" });
    this.#start();
  }

  /** True while the child runs and new sessions can use it. */
  get ready(): boolean {
    return this.#state === "running";
  }

  get state(): string {
    return this.#state;
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
    this.#startedAt = Date.now();
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
    if (Date.now() - this.#startedAt > STABLE_AFTER_MS) this.#restarts = 0;
    if (!this.#config.restart_on_failure || this.#restarts >= this.#config.max_restarts) {
      this.#state = "failed";
      this.#logger.error(`the shared MCP server ${how}; not restarting`, { restarts: this.#restarts });
      return;
    }
    const delay = this.#config.restart_delay * 2 ** this.#restarts;
    this.#restarts++;
    this.#state = "restarting";
    this.#logger.warn(`the shared MCP server ${how}; restarting`, { in_ms: delay, attempt: this.#restarts });
    this.#restartTimer = setTimeout(() => this.#start(), delay);
  }

  #detach(session: Session): void {
    this.#sessions.delete(session);
    const ids = this.#bySession.get(session);
    if (ids) for (const hubId of ids.values()) this.#requests.delete(hubId);
    this.#bySession.delete(session);
    for (const [token, owner] of this.#tokens) if (owner.session === session) this.#tokens.delete(token);
    for (const [key, owner] of this.#childRequests) if (owner === session) this.#childRequests.delete(key);
    if (this.#lastRequester === session) this.#lastRequester = undefined;
  }

  #write(message: JsonRpcMessage): void {
    this.#child?.send(JSON.stringify(message));
  }

  #fromSession(session: Session, message: JsonRpcMessage, raw: string): void {
    if (isResponse(message)) {
      const key = message.id === null ? undefined : idKey(message.id);
      if (key !== undefined && this.#childRequests.get(key) === session) {
        this.#childRequests.delete(key);
        this.#child?.send(raw);
      }
      return;
    }
    if (isRequest(message)) {
      if (message.method === "initialize") return this.#initialize(session, message.id, message);
      const hubId = this.#nextId++;
      this.#requests.set(hubId, { session, id: message.id });
      this.#bySession.get(session)?.set(idKey(message.id), hubId);
      this.#lastRequester = session;
      let params = message.params;
      const meta = params?._meta as { progressToken?: string | number } | undefined;
      if (meta?.progressToken !== undefined) {
        const token = this.#nextId++;
        this.#tokens.set(token, { session, token: meta.progressToken });
        params = { ...params, _meta: { ...meta, progressToken: token } };
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
      if (hubId === undefined) return;
      return this.#write({ ...message, params: { ...message.params, requestId: hubId } });
    }
    this.#child?.send(raw);
  }

  #initialize(session: Session, id: JsonRpcId, message: JsonRpcMessage): void {
    const answer = () => {
      const reply = { jsonrpc: "2.0" as const, id, ...this.#initializeReply } as JsonRpcMessage;
      session.receive(reply, JSON.stringify(reply));
    };
    if (this.#initializeReply !== undefined) return queueMicrotask(answer);
    this.#initializeWaiters.push(answer);
    if (this.#initializeHubId !== undefined) return;
    // The hub owns the first initialize: its answer is cached and handed to every session.
    this.#initializeHubId = this.#nextId++;
    this.#write({ ...message, id: this.#initializeHubId });
  }

  #fromChild(message: JsonRpcMessage, raw: string): void {
    if (isResponse(message)) {
      const hubId = typeof message.id === "number" ? message.id : undefined;
      if (hubId !== undefined && hubId === this.#initializeHubId) {
        this.#initializeReply = message.error ? { error: message.error } : { result: message.result };
        for (const waiter of this.#initializeWaiters.splice(0)) waiter();
        // A failed initialize is not cached: the next session tries again.
        if (message.error) this.#initializeReply = this.#initializeHubId = undefined;
        return;
      }
      const origin = hubId === undefined ? undefined : this.#requests.get(hubId);
      if (!origin || hubId === undefined) return;
      this.#requests.delete(hubId);
      this.#bySession.get(origin.session)?.delete(idKey(origin.id));
      const restored = { ...message, id: origin.id };
      return origin.session.receive(restored, JSON.stringify(restored));
    }
    const method = message.method;
    if (method === "notifications/progress") {
      const token = (message.params as { progressToken?: number } | undefined)?.progressToken;
      const owner = typeof token === "number" ? this.#tokens.get(token) : undefined;
      if (!owner) return;
      const restored = { ...message, params: { ...message.params, progressToken: owner.token } };
      return owner.session.receive(restored, JSON.stringify(restored));
    }
    if (isRequest(message)) {
      const target = this.#requestTarget();
      if (!target) return this.#logger.warn("the shared MCP server asked something with no session to answer it", { method });
      this.#childRequests.set(idKey(message.id), target);
      return target.receive(message, raw);
    }
    if (method === "notifications/cancelled") {
      const requestId = (message.params as { requestId?: JsonRpcId } | undefined)?.requestId;
      const owner = requestId === undefined ? undefined : this.#childRequests.get(idKey(requestId));
      return owner?.receive(message, raw);
    }
    const target = BROADCAST.test(method) ? undefined : this.#requestTarget(true);
    if (target) return target.receive(message, raw);
    for (const session of this.#sessions) session.receive(message, raw);
  }

  /** The session a server-initiated message most likely belongs to: the one with a call in flight. */
  #requestTarget(onlyBusy = false): Session | undefined {
    const last = this.#lastRequester;
    if (last && !last.closed && last.inFlight > 0) return last;
    for (const session of this.#sessions) if (session.inFlight > 0) return session;
    if (onlyBusy) return undefined;
    return last && !last.closed ? last : this.#sessions.values().next().value;
  }
}
