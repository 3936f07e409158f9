/**
 * @module The children that serve modern (2026-07-28) requests, keyed by the authenticated
 * principal (`session.modern_child: per_principal`, the default) or one for all (`shared`, and
 * always when auth is off). A principal never reaches another principal's child. Children count
 * against `session.max_sessions` and `max_sessions_per_subject` together with legacy sessions,
 * start on the principal's first request and end after `session.timeout` idle.
 *
 * A legacy child cannot say which call its `elicitation/create` belongs to. A call that may ask
 * (tools/call, prompts/get, resources/read) runs on a child with no other such call in flight —
 * a principal gets a small group of children (up to `session.modern_pool_size`) — until its kind
 * (method and name) has been seen answering without asking; such quiet kinds share one child, as
 * legacy sessions do. A quiet kind that does ask is still attributed with certainty (the child
 * drains until one candidate is left, see modern-upstream.ts) and runs alone from then on.
 */
import type { Principal } from "../auth/types.ts";
import type { ServerConfig } from "../config/schema.ts";
import type { JsonRpcId } from "../jsonrpc/message.ts";
import type { LogFields, Logger } from "../log/logger.ts";
import { throttledLog, type ThrottledLog } from "../log/throttle.ts";
import type { JsonObject } from "../mcp/envelope.ts";
import type { Platform } from "../runtime/types.ts";
import { ModernUpstream, type BroadcastListener, type CallSink } from "./modern-upstream.ts";
import { maxSessionsPerSubject, SessionLimitError } from "./sessions.ts";
import type { StartFailure, StartHealth } from "./start-health.ts";

const TICK_MS = 1000;
/** Kinds of call remembered as asking or quiet (each); beyond, the oldest learned is forgotten (see remember). */
const MAX_KINDS = 10_000;
/** Calls of one principal that may wait for a free child at once; more get 503. (One holder's are bounded by its rounds: modern-legacy.ts.) */
const MAX_WAITING_PER_KEY = 1000;
/**
 * How long a round that went to its client is safe from the principal's own calls waiting for a
 * child (at most a quarter of read_timeout). Ending it at once would end nearly every round with
 * more calls than children, however fast the clients answer; a client that answers within this
 * time completes, one that does not may lose the round to a waiting call.
 */
const INPUT_GRACE_MS = 2000;
/**
 * After a child of a group failed to start, the group starts none for this long, doubling with
 * each such failure up to MAX_START_PAUSE_MS; a start in the group ends the pause. A server that
 * runs once only (a lock, a port of its own) must not be started again for every call that would
 * have liked a child of its own: its calls wait for the child that runs. One that cannot start at
 * all must not be started for every request: the principal's requests get 503 meanwhile (its own
 * group only: another principal's failures, say with pass_identity, do not lock it out).
 */
const START_PAUSE_MS = 10_000;
const MAX_START_PAUSE_MS = 300_000;

/** What evicting a waiting round did: ended one, or the milliseconds until one may be, or undefined when none waits that the caller may end. */
export type Eviction = "evicted" | number | undefined;

/** A call waiting for a child of its group: whose, which child it can run on (#fitting), and how to wake it. */
interface Waiter {
  holder: string;
  mode: "shared" | "exclusive";
  wake: () => void;
}

/**
 * How many of `group`'s children each holder runs a call on that may ask for input (a child
 * counted once per holder): the share of the children each holds.
 */
export function holdings(group: readonly ModernUpstream[]): Map<string, number> {
  const held = new Map<string, number>();
  for (const child of group) {
    const holders = new Set<string>();
    for (const sink of child.candidateSinks()) if (sink.holder !== undefined) holders.add(sink.holder);
    for (const each of holders) held.set(each, (held.get(each) ?? 0) + 1);
  }
  return held;
}

/** A call to start on one of a principal's children (see ModernUpstream.call). */
export interface PoolCall {
  clientId: JsonRpcId;
  method: string;
  params: JsonObject | undefined;
  sink: CallSink;
  /** Names the kind of call (method and tool/prompt/resource name): quiet kinds share a child. */
  kind?: string;
  /** Whose call it is (ModernRequest.holder): which waiting rounds it may end (see evictWaiting). */
  holder: string;
}

/** One call started on a child: the child, and the call's id there. */
export interface StartedCall {
  upstream: ModernUpstream;
  id: number;
}

export class ModernChildPool {
  readonly #config: ServerConfig;
  readonly #platform: Platform;
  readonly #logger: Logger;
  /** Calls refused because every child of their group is congested (throttled: it may be every call). */
  readonly #congestion: ThrottledLog;
  readonly #groups = new Map<string, ModernUpstream[]>();
  readonly #others: () => number;
  readonly #timer: ReturnType<typeof setInterval>;
  /** Children being stopped, until their process group is gone. */
  readonly #stopping = new Map<ModernUpstream, Promise<void>>();
  /** Kinds of call ("tools/call:name") seen making a legacy child ask for input; bounded. */
  readonly #askers = new Set<string>();
  /** Kinds of call seen answered without asking; bounded. */
  readonly #quiet = new Set<string>();
  /** Starting children a call waits for as its own (it started it, or took the spare): other calls do not count on them. */
  readonly #claimed = new Set<ModernUpstream>();
  /**
   * Per key: calls waiting for a child that fits, in arrival order. The call of the holder holding
   * fewest of the group's children goes first (#wake, #yields): without authentication every
   * client shares the children, and one that keeps many calls waiting must not take every child
   * that frees while another client, holding none, waits behind its calls.
   */
  readonly #waiting = new Map<string, Waiter[]>();
  /**
   * Per key: waiting calls woken (#wake) whose turn has not run yet. They still count for #yields:
   * a child freed inside a call's own eviction wakes a needier waiter, and that call must not take
   * the child before the waiter's turn comes.
   */
  readonly #woken = new Map<string, Set<Waiter>>();
  /** A place is being freed for a legacy session (see makeRoom). */
  #roomBeingMade = false;
  /** Per key: the first child being spawned (see #firstOf). */
  readonly #firsts = new Map<string, Promise<ModernUpstream>>();
  /**
   * Per key: the group starts a child again at `until` (performance.now()); see START_PAUSE_MS.
   * `first`: its first child failed (the group has none), else one beyond it (the group only does not grow);
   * `failure`: how it failed.
   */
  readonly #startPaused = new Map<string, { until: number; pauseMs: number; first: boolean; failure: StartFailure }>();
  /** Per key: listeners for list changes and resource updates from any of its children. */
  readonly #listeners = new Map<string, Set<BroadcastListener>>();
  #names = 0;
  /**
   * Ends a call on one of `children` that has waited at least `graceMs` for its client to come back
   * with input, one that a call of `holder` may end (undefined: any; see evictWaitingRound, the
   * rounds live with the server, which sets this).
   */
  evictWaiting: ((children: readonly ModernUpstream[], graceMs: number, holder: string | undefined) => Eviction) | undefined;
  /** An owner's legacy sessions, which count against max_sessions_per_subject too (set by the server). */
  othersOf: (owner: string) => number = () => 0;
  /** Where children report whether they started, for /ready (the legacy sessions' record, set by the server). */
  starts: StartHealth | undefined;

  /** `session.modern_child: shared`, read once: every call asks for its principal's key. */
  readonly #shared: boolean;

  /** `others` counts the legacy sessions, which share the caps. */
  constructor(config: ServerConfig, platform: Platform, logger: Logger, others: () => number) {
    this.#config = config;
    this.#shared = config.session.modern_child === "shared";
    this.#platform = platform;
    this.#logger = logger;
    this.#congestion = throttledLog(logger, "stream limits", { burst: 5, windowMs: 60_000 });
    this.#others = others;
    this.#timer = setInterval(() => this.#expireIdle(), TICK_MS);
    (this.#timer as { unref?: () => void }).unref?.();
  }

  /** Says (throttled) that a modern request was refused: the child(ren) it would go to do not read their input. */
  logCongestion(fields: LogFields): void {
    this.#congestion.write("warn", "the MCP server is not reading its input; modern request refused with 503", fields);
  }

  /** Children alive. */
  get size(): number {
    let count = 0;
    for (const group of this.#groups.values()) count += group.length;
    // A stopping child counts until it is really gone (session.max_sessions caps processes).
    return count + this.#stopping.size;
  }

  /** Children of an owner's own (Principal.owner; none when principals share one child). */
  childrenOf(owner: string): number {
    return this.#shared ? 0 : (this.#groups.get(owner)?.length ?? 0);
  }

  /** The key of the principal's children: its owner, or "shared". */
  keyOf(principal: Principal | undefined): string {
    if (!principal || this.#shared) return "shared";
    return principal.owner;
  }

  /** The principal's first child when it is running and its era known (no await on the hot path). */
  readyPrimary(principal: Principal | undefined): ModernUpstream | undefined {
    const first = this.#groups.get(this.keyOf(principal))?.find((candidate) => !candidate.closed);
    return first?.era === undefined ? undefined : first;
  }

  /** The principal's first child, started (and its era probed) when there is none. */
  async primary(principal: Principal | undefined): Promise<ModernUpstream> {
    const key = this.keyOf(principal);
    const group = this.#groups.get(key);
    const upstream = group?.find((candidate) => !candidate.closed) ?? (await this.#firstOf(key, principal));
    await upstream.ready;
    return upstream;
  }

  /**
   * The principal's first child, spawned once however many of its requests ask at once: each
   * request making room for its own (at max_sessions) would end as many of other principals' children.
   */
  #firstOf(key: string, principal: Principal | undefined): Promise<ModernUpstream> {
    let first = this.#firsts.get(key);
    if (!first) {
      first = this.#spawnFirst(key, principal).finally(() => this.#firsts.delete(key));
      this.#firsts.set(key, first);
    }
    return first;
  }

  /** A principal's first child; at max_sessions it takes the place of another principal's extra child (see #reclaimFor). */
  async #spawnFirst(key: string, principal: Principal | undefined): Promise<ModernUpstream> {
    const pausedMs = this.#pausedFor(key, true);
    if (pausedMs > 0) {
      // For /ready, as the start it stands for would have: requests that find no server keep it saying so.
      this.starts?.failed(this.#startPaused.get(key)!.failure);
      throw new SessionLimitError("the MCP server could not be started; retry later", Math.ceil(pausedMs / 1000));
    }
    try {
      return this.#spawn(key, principal);
    } catch (error) {
      const full = error instanceof SessionLimitError && this.size + this.#others() >= this.#config.session.max_sessions;
      const freeing = full ? this.#reclaimFor(key) : undefined;
      if (!freeing) throw error;
      await freeing;
      return this.#groups.get(key)?.find((candidate) => !candidate.closed) ?? this.#spawn(key, principal);
    }
  }

  /** Hears list changes and resource updates from every child of the principal, now and later. */
  onBroadcast(principal: Principal | undefined, listener: BroadcastListener): () => void {
    const key = this.keyOf(principal);
    const listeners = this.#listeners.get(key) ?? new Set<BroadcastListener>();
    this.#listeners.set(key, listeners);
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
      if (listeners.size === 0) this.#listeners.delete(key);
    };
  }

  /**
   * Starts a call on one of the principal's children. A `candidate` (a call that may make a legacy
   * child ask for input) of a kind known to ask runs on a child with no other candidate in flight;
   * other candidates share a child that runs no such exclusive call and is not draining. When no
   * child fits and the group is full, `evictWaiting` may free one (it ends a call waiting for its
   * client past INPUT_GRACE_MS, one this call's holder may end), else the call waits (see #waiting) until
   * one fits, a round's grace ends, or read_timeout passes (SessionLimitError), looking again every
   * INPUT_GRACE_MS meanwhile (a round it may end can begin to wait at any time). Synchronous when a
   * ready child fits at once, as it does for nearly every call. `first`: the principal's ready first
   * child, when the caller has it.
   */
  start(principal: Principal | undefined, call: PoolCall, candidate: boolean, first = this.readyPrimary(principal)): StartedCall | Promise<StartedCall> {
    return first ? this.#startOn(first, principal, call, candidate) : this.primary(principal).then((upstream) => this.#startOn(upstream, principal, call, candidate));
  }

  #startOn(first: ModernUpstream, principal: Principal | undefined, call: PoolCall, candidate: boolean): StartedCall | Promise<StartedCall> {
    if (first.era === "modern" || !candidate) return first.call(call.clientId, call.method, call.params, call.sink);
    const key = this.keyOf(principal);
    // A kind runs shared only once it was seen answering without asking, and never since asking.
    const mode = call.kind !== undefined && this.#quiet.has(call.kind) && !this.#askers.has(call.kind) ? "shared" : "exclusive";
    if (this.#yields(key, call.holder)) return this.#startWaiting(key, principal, mode, call, true);
    return this.#fit(key, principal, mode, call) ?? this.#startWaiting(key, principal, mode, call);
  }

  /** A child of the group that a call of `mode` can start on now. */
  #fitting(key: string, mode: "shared" | "exclusive"): ModernUpstream | undefined {
    return this.#groups.get(key)?.find((child) => {
      if (child.closed || child.era !== "legacy" || child.draining || child.congested) return false;
      return mode === "exclusive" ? child.candidateCount === 0 : !child.runsExclusive;
    });
  }

  /** Starts the call on a child of the group that fits `mode` now, if one does. */
  #fit(key: string, principal: Principal | undefined, mode: "shared" | "exclusive", call: PoolCall): StartedCall | undefined {
    const fits = this.#fitting(key, mode);
    if (!fits) return undefined;
    // Chosen and called in one synchronous step, so two calls cannot pick the same child.
    const started = fits.call(call.clientId, call.method, call.params, call.sink, mode, call.kind);
    if (mode === "exclusive") this.#ensureSpare(key, principal);
    return started;
  }

  /** No child fits now: wait for the spare, grow the group, wait for a starting child, evict a waiting round, or wait for a free child. */
  async #startWaiting(key: string, principal: Principal | undefined, mode: "shared" | "exclusive", call: PoolCall, yieldedFirst = false): Promise<StartedCall> {
    const deadline = performance.now() + this.#config.mcp_server!.read_timeout;
    // Whether this call may still grow the group (not after a child it waited for failed to start).
    let grow = true;
    // Whether it left a free child to a call of a holder holding fewer (#yields): it then waits, ending no round.
    let yielded = yieldedFirst;
    for (;;) {
      const live = this.#live(key);
      const starting = live.filter((child) => child.era === undefined);
      // A starting child no other call waits for (the spare) is ready sooner than one started now.
      const spare = starting.find((child) => !this.#claimed.has(child));
      const mayGrow = grow && live.length < this.#config.session.modern_pool_size && this.#pausedFor(key, live.length === 0) === 0;
      const own = spare ?? (mayGrow ? this.#trySpawn(key, principal, live.length > 0) : undefined);
      if (!own && live.length === 0) throw new SessionLimitError("the MCP server could not be started; retry later", Math.max(1, Math.ceil(this.#pausedFor(key, true) / 1000)));
      if (own) {
        // A child that fails to start is no reason to fail the call (nor to start one after another):
        // it waits for the children there are, as at the pool's size.
        if (!(await this.#awaitStart(own))) {
          grow = false;
          if (this.#live(key).length === 0) throw new SessionLimitError("the MCP server could not be started; retry later", 5);
          continue;
        }
      } else {
        // Children that do not read what they were sent get nothing more (their input is bounded): refused now, as legacy sessions are.
        if (starting.length === 0 && live.every((child) => child.congested)) {
          this.logCongestion({ children: live.length });
          throw new SessionLimitError("the MCP server is not keeping up with its input; retry later", 1);
        }
        // A child still starting that another call waits for may fit after it: wait for it rather than end someone's round.
        if (starting.length > 0) await starting[0]!.ready.catch(() => undefined);
        else {
          const grace = Math.min(INPUT_GRACE_MS, this.#config.mcp_server!.read_timeout / 4);
          const eviction = yielded ? grace : this.evictWaiting?.(this.#groups.get(key) ?? [], grace, call.holder);
          // Every child is taken: wait for one to finish a call (see #wake; bounded in number and time), or
          // for a round's grace to end. Whether a round may be ended depends on whose call asks, and a
          // round beginning to wait wakes only the first waiter: the others look again after a grace.
          if (eviction !== "evicted") await this.#waitForFree(key, call.holder, mode, deadline, eviction ?? grace);
        }
      }
      yielded = this.#yields(key, call.holder);
      if (yielded) {
        // The needier call takes what is free (its wake runs after this turn); this one waits.
        this.#wake(key);
        continue;
      }
      const fitted = this.#fit(key, principal, mode, call);
      if (fitted) return fitted;
    }
  }

  /**
   * Whether a call of another holder waits for a child of `key` while holding fewer of them than
   * `holder`, and a child it can run on is free: it goes first.
   */
  #yields(key: string, holder: string): boolean {
    // Every candidate call asks, and nearly always nobody waits: nothing is built then.
    if (!this.#waiting.has(key) && !this.#woken.has(key)) return false;
    const others = [...(this.#waiting.get(key) ?? []), ...(this.#woken.get(key) ?? [])].filter((waiter) => waiter.holder !== holder);
    if (others.length === 0) return false;
    const held = holdings(this.#groups.get(key) ?? []);
    const mine = held.get(holder) ?? 0;
    return others.some((waiter) => (held.get(waiter.holder) ?? 0) < mine && this.#fitting(key, waiter.mode) !== undefined);
  }

  /**
   * Milliseconds until the group may start a child again (0: now). `first`: for a group without
   * children, which only a failed first child pauses (see START_PAUSE_MS).
   */
  #pausedFor(key: string, first: boolean): number {
    const paused = this.#startPaused.get(key);
    if (!paused || (first && !paused.first)) return 0;
    return Math.max(0, paused.until - performance.now());
  }

  /** The group's children not closed, oldest first. */
  #live(key: string): ModernUpstream[] {
    return (this.#groups.get(key) ?? []).filter((child) => !child.closed);
  }

  /** Waits for a starting child on one call's behalf (see #claimed); whether it started. */
  async #awaitStart(child: ModernUpstream): Promise<boolean> {
    this.#claimed.add(child);
    try {
      return await child.ready.then(() => true, () => false);
    } finally {
      this.#claimed.delete(child);
    }
  }

  /**
   * Keeps one child of the group idle (or starting) while the group may grow, so that the next call
   * that must run alone does not wait for a child to start (hundreds of milliseconds on a busy host).
   * `taken`: a child about to be taken, which does not count.
   */
  #ensureSpare(key: string, principal: Principal | undefined, taken?: ModernUpstream): void {
    const live = this.#live(key);
    if (live.length >= this.#config.session.modern_pool_size || this.#pausedFor(key, false) > 0) return;
    if (live.some((child) => child !== taken && (child.era === undefined || (child.era === "legacy" && !child.draining && child.candidateCount === 0)))) return;
    try {
      this.#spawn(key, principal);
    } catch (error) {
      // At a cap: no spare; calls will wait for a child as usual.
      if (!(error instanceof SessionLimitError)) throw error;
    }
  }

  /**
   * Resolves when a child of `key` may have become free, or after `recheckInMs` (when a waiting
   * round may be evicted); SessionLimitError at `deadline` or when too many wait.
   */
  #waitForFree(key: string, holder: string, mode: "shared" | "exclusive", deadline: number, recheckInMs?: number): Promise<void> {
    const queue = this.#waiting.get(key) ?? [];
    if (queue.length >= MAX_WAITING_PER_KEY) return Promise.reject(new SessionLimitError(`too many calls of this principal are waiting for a child`, 1));
    this.#waiting.set(key, queue);
    let waiter!: Waiter;
    const turn = new Promise<void>((resolve, reject) => {
      const untilDeadline = Math.max(0, deadline - performance.now());
      const recheck = recheckInMs !== undefined && recheckInMs < untilDeadline;
      const timer = setTimeout(() => {
        const at = queue.indexOf(waiter);
        if (at !== -1) queue.splice(at, 1);
        if (queue.length === 0 && this.#waiting.get(key) === queue) this.#waiting.delete(key);
        if (recheck) resolve();
        else reject(new SessionLimitError(`no child of this principal became free within ${this.#config.mcp_server!.read_timeout} ms`, 1));
      }, recheck ? recheckInMs : untilDeadline);
      waiter = {
        holder,
        mode,
        wake: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      queue.push(waiter);
    });
    // Its turn has come (before the caller goes on): no longer woken and waiting to run.
    return turn.finally(() => {
      const woken = this.#woken.get(key);
      if (woken?.delete(waiter) && woken.size === 0) this.#woken.delete(key);
    });
  }

  /**
   * Wakes a waiting call of `key`: of those a free child can run (all when none can), the first
   * whose holder holds fewest of its children.
   */
  #wake(key: string): void {
    const queue = this.#waiting.get(key);
    if (!queue) return;
    let at = 0;
    if (queue.length > 1) {
      const held = holdings(this.#groups.get(key) ?? []);
      const fits = { shared: this.#fitting(key, "shared") !== undefined, exclusive: this.#fitting(key, "exclusive") !== undefined };
      const rank = (waiter: Waiter) => (fits[waiter.mode] ? 0 : 1_000_000) + (held.get(waiter.holder) ?? 0);
      for (let i = 1; i < queue.length; i++) if (rank(queue[i]!) < rank(queue[at]!)) at = i;
    }
    const [next] = queue.splice(at, 1);
    if (queue.length === 0) this.#waiting.delete(key);
    const woken = this.#woken.get(key) ?? new Set<Waiter>();
    woken.add(next!);
    this.#woken.set(key, woken);
    next!.wake();
  }

  /**
   * A new child for the group, or undefined at a cap when the group has children of its own to
   * wait for (`others`: a call then waits or ends the group's oldest waiting round instead).
   */
  #trySpawn(key: string, principal: Principal | undefined, others: boolean): ModernUpstream | undefined {
    try {
      return this.#spawn(key, principal);
    } catch (error) {
      if (error instanceof SessionLimitError && others) return undefined;
      throw error;
    }
  }

  /**
   * At max_sessions, a principal without a child (or a subject's first legacy session) takes the place of
   * another principal's extra child (every principal keeps its first): an idle one, else one whose call waits for its
   * client (`evictWaiting` ends that call: the oldest of the principal holding most children, however
   * fresh). One user's rounds must not lock others out.
   */
  #reclaimFor(key: string | undefined): Promise<void> | undefined {
    const extras = () => [...this.#groups].filter(([other]) => other !== key).flatMap(([, group]) => group.filter((child) => !child.closed).slice(1));
    const idle = () => extras().find((child) => child.era !== undefined && child.inFlight === 0);
    let victim = idle();
    // Another principal's need does not wait for the grace: its rounds are extras beyond its first child.
    if (!victim && this.evictWaiting?.(extras(), 0, undefined) === "evicted") victim = idle();
    if (!victim) return undefined;
    this.#logger.info("modern child ended to make way for another principal's first child", { child: victim.name });
    this.#stop(victim, "its place was needed for another principal");
    // Its process counts against max_sessions until it is gone.
    return this.#stopping.get(victim);
  }

  /**
   * At max_sessions, starts freeing the place of a principal's extra child for a subject's first legacy session
   * (see #reclaimFor). While one is being freed, that is the place every new session waits for: a
   * burst of initialize requests must not end one of other principals' children each.
   */
  makeRoom(): boolean {
    if (this.#roomBeingMade) return true;
    const freeing = this.#reclaimFor(undefined);
    if (!freeing) return false;
    const made = () => {
      this.#roomBeingMade = false;
    };
    this.#roomBeingMade = true;
    freeing.then(made, made);
    return true;
  }

  /** Kills every child's process group at once (a second shutdown signal). */
  kill(): void {
    for (const group of this.#groups.values()) for (const upstream of group) upstream.kill();
    for (const upstream of this.#stopping.keys()) upstream.kill();
  }

  /** Ends every child. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    // Copies: #stop takes each child out of its group (and an emptied group out of #groups).
    for (const group of [...this.#groups.values()]) for (const upstream of [...group]) this.#stop(upstream, "the bridge is shutting down");
    await Promise.all(this.#stopping.values());
  }

  #spawn(key: string, principal: Principal | undefined): ModernUpstream {
    const { max_sessions } = this.#config.session;
    if (this.size + this.#others() >= max_sessions) throw new SessionLimitError(`the bridge already serves ${max_sessions} sessions or MCP server processes (session.max_sessions)`, 5);
    const group = this.#groups.get(key) ?? [];
    const perSubject = maxSessionsPerSubject(this.#config);
    if (key !== "shared" && group.length + this.othersOf(principal!.owner) >= perSubject) {
      throw new SessionLimitError(`this subject already has ${perSubject} sessions (session.max_sessions_per_subject)`, 5);
    }
    const name = `m${++this.#names}`;
    // A child every principal shares is nobody's: it must not serve the others as the one whose request started it (pass_identity).
    const owner = key === "shared" ? undefined : principal;
    const upstream = new ModernUpstream(key, name, this.#platform, this.#config.mcp_server!, owner, this.#logger.child({ child: name }), (ended) => this.#forget(ended));
    group.push(upstream);
    this.#groups.set(key, group);
    upstream.singlePrincipal = !(key === "shared" && principal !== undefined);
    upstream.onFreed = () => this.#wake(key);
    upstream.onAsker = (kind) => remember(this.#askers, kind);
    upstream.onQuiet = (kind) => remember(this.#quiet, kind);
    upstream.onBroadcast((message) => {
      for (const listener of this.#listeners.get(key) ?? []) listener(message);
    });
    this.#logger.info("modern child started", { child: name, subject: owner?.subject, children: this.size });
    // A failed handshake ends the child; the caller sees the error through `ready`. The handshake
    // carries nothing from a client: unless the bridge itself ended the child, the server failed to start.
    upstream.ready.then(
      () => {
        this.starts?.succeeded();
        this.#startPaused.delete(key);
        // A principal's first legacy child is what its first call that must run alone takes: the spare
        // starts with it, so that a second such call soon after does not wait for a process to start.
        if (upstream.era !== "legacy" || this.#live(key).length !== 1) return;
        try {
          this.#ensureSpare(key, principal, upstream);
        } catch {
          // Only a spare (and no request to fail here): a call that needs another child starts one, and says why it cannot.
        }
      },
      () => {
        if (this.#stopping.has(upstream) || !upstream.startFailure) return;
        this.starts?.failed(upstream.startFailure);
        // Beyond the group's first, its calls have a child to wait for; without one, they get 503.
        const first = !this.#live(key).some((child) => child !== upstream);
        const pauseMs = Math.min(2 * (this.#startPaused.get(key)?.pauseMs ?? START_PAUSE_MS / 2), MAX_START_PAUSE_MS);
        this.#startPaused.set(key, { until: performance.now() + pauseMs, pauseMs, first, failure: upstream.startFailure });
        if (first) this.#logger.warn("the MCP server could not start; this principal's requests get 503 until it is started again", { child: name, retry_in_ms: pauseMs });
        else this.#logger.warn("another process of the MCP server could not start; calls wait for the running ones", { child: name, retry_in_ms: pauseMs });
      },
    );
    return upstream;
  }

  #forget(upstream: ModernUpstream): void {
    const group = this.#groups.get(upstream.key);
    if (!group) return;
    const at = group.indexOf(upstream);
    if (at !== -1) group.splice(at, 1);
    if (group.length === 0) {
      this.#groups.delete(upstream.key);
      // A pause of growth ends with the group; one after a failed first child is what its next start waits for.
      if (this.#startPaused.get(upstream.key)?.first === false) this.#startPaused.delete(upstream.key);
    }
    // A place in the group is free: a waiting call may start a child.
    this.#wake(upstream.key);
  }

  #stop(upstream: ModernUpstream, reason: string): void {
    this.#forget(upstream);
    const stopping = upstream.close(reason);
    this.#stopping.set(upstream, stopping);
    void stopping.finally(() => this.#stopping.delete(upstream));
  }

  #expireIdle(): void {
    const now = performance.now();
    // A group's failed first starts are remembered (the pause doubles) until MAX_START_PAUSE_MS after its pause ended.
    for (const [key, paused] of this.#startPaused) if (!this.#groups.has(key) && now - paused.until > MAX_START_PAUSE_MS) this.#startPaused.delete(key);
    for (const group of [...this.#groups.values()]) {
      for (const upstream of [...group]) {
        // A principal with a listen stream open keeps its children: they are what it listens to.
        if (upstream.inFlight === 0 && !this.#listeners.has(upstream.key) && now - upstream.lastActivity > this.#config.session.timeout) {
          this.#logger.info("modern child idle; ended", { child: upstream.name });
          this.#stop(upstream, "the child was idle too long");
        }
      }
    }
  }
}

/**
 * Adds `kind` to `kinds`, forgetting the oldest beyond MAX_KINDS: one principal calling made-up
 * tool names must not fill the memory for good, so that no kind learned later could share a child.
 * A kind forgotten runs alone once more (or, when it asks while shared, is drained to certainty).
 */
function remember(kinds: Set<string>, kind: string): void {
  kinds.delete(kind);
  kinds.add(kind);
  if (kinds.size > MAX_KINDS) kinds.delete(kinds.values().next().value!);
}
