/**
 * @module The live sessions: creation within the configured limits, lookup bound to the subject,
 * idle expiry, request deadlines and SSE keep-alives on one shared timer, and shutdown.
 */
import type { Principal } from "../auth/types.ts";
import type { ServerConfig } from "../config/schema.ts";
import type { Logger } from "../log/logger.ts";
import type { Platform } from "../runtime/types.ts";
import { toBase64Url } from "../util/digest.ts";
import { childEnvironment, commandRunnable, StdioChild } from "./child.ts";
import { addressHolder } from "./limits.ts";
import { Session, type SessionSettings } from "./session.ts";
import { SharedChildHub } from "./shared-hub.ts";
import { exitedBeforeStart, StartHealth, type StartFailure } from "./start-health.ts";

const TICK_MS = 1000;
/** SSE retry hint: how soon a client should reconnect a dropped stream. */
const SSE_RETRY_MS = 1000;

/** Why a session could not be created; the HTTP layer answers 503 with Retry-After. */
export class SessionLimitError extends Error {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
    this.name = "SessionLimitError";
  }
}

/**
 * The sessions one owner may hold: `session.max_sessions_per_subject`, else half of `max_sessions`,
 * so one credential cannot take every slot — nor, without authentication (no subject, and the key
 * is refused), one client address (its /64 for IPv6).
 */
export function maxSessionsPerSubject(config: ServerConfig): number {
  const { max_sessions, max_sessions_per_subject } = config.session;
  return max_sessions_per_subject ?? Math.max(1, Math.floor(max_sessions / 2));
}

export class SessionManager {
  readonly #sessions = new Map<string, Session>();
  /** Sessions per owner: Principal.owner, or without a principal the client's address (addressHolder). */
  readonly #perOwner = new Map<string, number>();
  /** The owner of each session (see #perOwner). */
  readonly #owners = new Map<Session, string>();
  /** Per-session children until their whole process group is gone, with the owner they served. */
  readonly #children = new Map<StdioChild, string>();
  readonly #maxPerOwner: number;
  readonly #config: ServerConfig;
  readonly #platform: Platform;
  readonly #logger: Logger;
  readonly #settings: SessionSettings;
  readonly #hub: SharedChildHub | undefined;
  /**
   * How the recent per-session children started, legacy sessions' and (reported by the modern
   * pool) modern clients'; unused for readiness in shared mode, where the hub knows its one child.
   */
  readonly starts = new StartHealth();
  readonly #timer: ReturnType<typeof setInterval>;
  #lastKeepAlive = performance.now();
  /** Children serving modern clients (src/server/modern-pool.ts), which count against max_sessions too. */
  otherChildren: () => number = () => 0;
  /** At max_sessions, frees a place held by a modern principal's extra child; false when there is none. */
  makeRoom: () => boolean = () => false;
  /** An owner's modern children, which count against max_sessions_per_subject too. */
  otherChildrenOf: (owner: string) => number = () => 0;
  #lastCleanup = performance.now();

  constructor(config: ServerConfig, platform: Platform, logger: Logger) {
    this.#config = config;
    this.#platform = platform;
    this.#logger = logger;
    const mcp = config.mcp_server!;
    this.#settings = {
      readTimeoutMs: mcp.read_timeout,
      startupTimeoutMs: mcp.startup_timeout,
      resumeWindowMs: config.session.resume_window,
      eventBufferSize: config.session.event_buffer_size,
      eventBufferBytes: config.session.event_buffer_bytes,
      streamBufferBytes: config.session.stream_buffer_size,
      retryMs: SSE_RETRY_MS,
    };
    this.#maxPerOwner = maxSessionsPerSubject(config);
    this.#hub = config.session.mode === "shared" ? new SharedChildHub(platform, mcp, logger) : undefined;
    this.#timer = setInterval(() => this.#tick(), TICK_MS);
  }

  get size(): number {
    return this.#sessions.size;
  }

  /**
   * Whether a new session could get an MCP server now: the shared child runs, or the command can be
   * run and the recent per-session children did not keep failing to start (see start-health.ts).
   */
  get ready(): boolean {
    return this.#hub ? this.#hub.ready : this.commandRunnable() && !this.starts.failing;
  }

  /** Why per-session children are failing to start, while they are (for /ready and the operators' /health). */
  get startFailure(): StartFailure | undefined {
    return this.#hub ? undefined : this.starts.failing;
  }

  /** The command resolves to a file the bridge may execute (commandRunnable). */
  commandRunnable(): boolean {
    return commandRunnable(this.#config.mcp_server!, this.#platform);
  }

  /**
   * The /health status, public and detailed alike: "failing" when the shared child is given up,
   * "degraded" while it restarts or per-session children keep dying before initialize, else "ok".
   */
  get health(): "ok" | "degraded" | "failing" {
    const state = this.childState;
    return state === "failed" ? "failing" : state === "restarting" || state === "failing" ? "degraded" : "ok";
  }

  /** Whether sessions share one child (session.mode: shared), which is sent every message serialized again (ids remapped). */
  get sharesChild(): boolean {
    return this.#hub !== undefined;
  }

  get childState(): string {
    return this.#hub ? this.#hub.state : this.starts.failing ? "failing" : "per-session";
  }

  /** Slots taken by legacy sessions: sessions, or their children still running (an ended session's child counts until gone). */
  get slots(): number {
    return this.#slotsInUse();
  }

  /** Slots an owner's legacy sessions take (see slots). */
  slotsOf(owner: string): number {
    return this.#slotsInUse(owner);
  }

  /** Slots in use, all or one owner's (Principal.owner, or addressHolder without a principal). */
  #slotsInUse(owner?: string): number {
    if (owner === undefined) return Math.max(this.#sessions.size, this.#children.size);
    let children = 0;
    for (const served of this.#children.values()) if (served === owner) children++;
    return Math.max(this.#perOwner.get(owner) ?? 0, children);
  }

  /**
   * Creates a session with its upstream; throws SessionLimitError when a limit is reached.
   * `clientAddress`: the client's, resolved through server.trusted_proxies; the session's owner without a principal.
   */
  create(principal: Principal | undefined, protocolVersion: string, clientAddress: string): Session {
    const { max_sessions } = this.#config.session;
    const subject = principal?.subject;
    const owner = principal?.owner ?? addressHolder(clientAddress);
    const held = this.#slotsInUse(owner) + this.otherChildrenOf(owner);
    if (this.slots + this.otherChildren() >= max_sessions) {
      // A modern principal's extra child makes way for an owner's first place, as for a principal's
      // first child: its process counts until gone, so the client's retry gets the place. An owner
      // that has one already does not end another user's children, one per initialize of a burst.
      const freeing = held === 0 && this.makeRoom();
      throw new SessionLimitError(`the bridge already serves ${max_sessions} sessions or MCP server processes (session.max_sessions)`, freeing ? 1 : 5);
    }
    const perOwner = this.#maxPerOwner;
    if (held >= perOwner) {
      throw new SessionLimitError(
        subject !== undefined
          ? `this subject already has ${perOwner} sessions (session.max_sessions_per_subject)`
          : `this client address already has ${perOwner} sessions, half of session.max_sessions (behind a reverse proxy, list it in server.trusted_proxies)`,
        5,
      );
    }
    if (this.#hub && !this.#hub.ready) throw new SessionLimitError(`the MCP server is ${this.#hub.state}`, this.#hub.retryInSeconds || 1);
    const id = newSessionId();
    const logger = this.#logger.child({ session: id.slice(0, 8) });
    const session = new Session(id, principal, protocolVersion, this.#settings, logger, (ended, reason) => this.#forget(ended, reason));
    if (this.#hub) {
      session.attach(this.#hub.link(session));
    } else {
      const mcp = this.#config.mcp_server!;
      const env = childEnvironment(mcp, this.#platform.env, mcp.pass_identity ? principal : undefined);
      session.onStart = (started) => (started ? this.starts.succeeded() : this.starts.failed({ reason: "did not answer initialize in time" }));
      const child = new StdioChild(this.#platform, mcp, env, logger, {
        onMessage: (message, raw) => session.receive(message, raw),
        onExit: (exit) => {
          // Gone on its own before initialize was answered (not ended by the bridge for its client): a failed start.
          if (!session.closed && !session.initialized) this.starts.failed(exitedBeforeStart(exit));
          session.terminate(exit.error ? "the MCP server could not be started" : "the MCP server exited");
        },
      });
      this.#children.set(child, owner);
      void child.gone.then(() => this.#children.delete(child));
      session.attach({
        send: (_message, raw) => child.send(raw),
        close: () => void child.shutdown(),
        get congested() {
          return child.congested;
        },
      });
    }
    // Counted once its upstream exists: spawning can throw (pass_identity with a value no environment
    // variable can carry, a NUL), and a session left behind would hold its slots until it idled out.
    this.#sessions.set(id, session);
    this.#perOwner.set(owner, (this.#perOwner.get(owner) ?? 0) + 1);
    this.#owners.set(session, owner);
    // The audit record of who holds this session (never the token).
    this.#logger.info("session started", {
      session: id.slice(0, 8),
      subject,
      email: principal?.email,
      client_id: principal?.clientId,
      scopes: principal?.scopes.join(" ") || undefined,
      roles: principal?.roles?.join(",") || undefined,
      protocol: protocolVersion,
      sessions: this.#sessions.size,
    });
    return session;
  }

  /** Seconds until the shared child is started again, while it is down (0 otherwise). */
  get retryInSeconds(): number {
    return this.#hub?.retryInSeconds ?? 0;
  }

  /** The session with this id if it exists and belongs to `principal` (else undefined → 404). */
  get(id: string, principal: Principal | undefined): Session | undefined {
    const session = this.#sessions.get(id);
    if (!session) return undefined;
    // Another owner presenting this id learns nothing: it is "not found" for them.
    if (session.principal?.owner !== principal?.owner) return undefined;
    return session;
  }

  /** MCP server processes (process groups) still running, the shared one included. */
  get liveChildren(): number {
    return this.#children.size + (this.#hub?.ready ? 1 : 0);
  }

  /** Ends every session and waits until every child's process group is gone. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    for (const session of [...this.#sessions.values()]) session.terminate("the bridge is shutting down");
    await Promise.all([...[...this.#children.keys()].map((child) => child.shutdown()), this.#hub?.stop()]);
  }

  /** SIGKILL to every child's process group, now (a second signal during shutdown). */
  kill(): void {
    for (const child of this.#children.keys()) child.kill();
    this.#hub?.kill();
  }

  #forget(session: Session, reason: string): void {
    if (!this.#sessions.delete(session.id)) return;
    const owner = this.#owners.get(session);
    this.#owners.delete(session);
    if (owner !== undefined) {
      const count = (this.#perOwner.get(owner) ?? 1) - 1;
      if (count <= 0) this.#perOwner.delete(owner);
      else this.#perOwner.set(owner, count);
    }
    this.#logger.info("session ended", { session: session.id.slice(0, 8), reason, sessions: this.#sessions.size });
  }

  #tick(): void {
    const now = performance.now();
    const keepAlive = now - this.#lastKeepAlive >= this.#config.sse_keepalive_interval;
    const cleanup = now - this.#lastCleanup >= Math.min(this.#config.session.cleanup_interval, this.#config.session.timeout);
    if (keepAlive) this.#lastKeepAlive = now;
    if (cleanup) this.#lastCleanup = now;
    for (const session of this.#sessions.values()) {
      if (session.inFlight > 0) session.expireRequests(now);
      if (keepAlive) session.showLiveness(this.#config.sse_keepalive_interval);
      if (keepAlive) session.keepAlive();
      if (cleanup && session.idle(now, this.#config.session.timeout)) {
        session.terminate("the session was idle too long");
      }
    }
  }
}

/** 192 random bits, base64url: visible ASCII as the spec requires, and unguessable. */
function newSessionId(): string {
  return toBase64Url(crypto.getRandomValues(new Uint8Array(24)));
}
