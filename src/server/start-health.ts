/**
 * @module Whether per-session children start: the outcome of the most recent starts, for /ready.
 * A command can be runnable and still never serve (it exits at once, or dies or hangs before it
 * answers initialize); only starting it tells. Both kinds of per-session children report here:
 * legacy sessions' (sessions.ts) and modern clients' (modern-pool.ts).
 */
import type { ChildExit } from "../runtime/types.ts";

/**
 * Failed starts in a row, all within FAILING_WINDOW_MS, that make the bridge not ready. One
 * failure can be one user's doing (input that crashes the server, a client that is too slow), so
 * it never decides; three in a row with no success between is a pattern, and any successful start
 * ends it at once, so readiness does not flap on a single failure nor stick after a fix.
 */
const FAILURES_IN_A_ROW = 3;
/**
 * The failures must be this recent. The verdict lapses on its own: a load balancer that stops
 * sending traffic on 503 would otherwise never let a start succeed again; once the window passes
 * new sessions try again, and three more failures say not ready again (a circuit breaker's half-open).
 */
const FAILING_WINDOW_MS = 60_000;

/** How a start failed, as /ready and the operators' /health report it (no counts, no paths). */
export interface StartFailure {
  reason: "exited before answering initialize" | "could not be started" | "did not answer initialize in time" | "refused the bridge's initialize";
  last_exit_code?: number;
  last_exit_signal?: string;
}

/** A child that is gone before it answered initialize, as a failed start. */
export function exitedBeforeStart(exit: ChildExit & { error?: Error }): StartFailure {
  return {
    reason: exit.error ? "could not be started" : "exited before answering initialize",
    ...(exit.code !== null && { last_exit_code: exit.code }),
    ...(exit.signal !== null && { last_exit_signal: exit.signal }),
  };
}

export class StartHealth {
  /** When the failures of the current run of failures happened (the last FAILURES_IN_A_ROW). */
  #failedAt: number[] = [];
  #last: StartFailure | undefined;

  /** A child answered initialize: whatever failed before, children start now. */
  succeeded(): void {
    this.#failedAt = [];
    this.#last = undefined;
  }

  /** A child did not get as far as answering initialize, through no doing of the bridge or the client. */
  failed(failure: StartFailure): void {
    this.#failedAt.push(performance.now());
    if (this.#failedAt.length > FAILURES_IN_A_ROW) this.#failedAt.shift();
    this.#last = failure;
  }

  /** The most recent failure while the recent starts count as failing; undefined when children start. */
  get failing(): StartFailure | undefined {
    if (this.#failedAt.length < FAILURES_IN_A_ROW || performance.now() - this.#failedAt[0]! > FAILING_WINDOW_MS) return undefined;
    return this.#last;
  }
}
