/**
 * @module One bound on the bytes of the remote server's answers the bridge holds at once. Each
 * answer is bounded on its own (MAX_MESSAGE_CHARS), but up to MAX_IN_FLIGHT requests may be
 * answered side by side, so without a total their product (64 GiB) would be the only bound.
 */
import { ClientTransportError } from "./errors.ts";
import { MAX_MESSAGE_CHARS } from "./messages.ts";

/**
 * Bytes of the remote server's answers held at once over every request and stream: the JSON
 * bodies being read and parsed, the unfinished SSE event of each stream, the answers a batch of
 * the local client's keeps until its last one comes, and what stdout has not taken yet. Four
 * answers of the largest size, so that a few large answers at once still go through.
 */
export const MAX_ANSWER_BYTES = 4 * MAX_MESSAGE_CHARS;

/** What one body or stream holds of the budget. */
export interface Held {
  /**
   * Holds `bytes` more.
   * @throws ClientTransportError "capacity" when the total would pass the budget's limit (nothing
   * more is held; what was is released by the caller, with `release`, as it gives the answer up).
   */
  grow(bytes: number): void;
  /** Holds `bytes` now, when that is less than it holds (the rest was delivered). */
  shrinkTo(bytes: number): void;
  /** Releases everything held; idempotent. */
  release(): void;
}

export interface AnswerBudget {
  /** A new holder, holding nothing yet. */
  hold(): Held;
}

/** A budget of `limit` bytes shared by every answer held (client mode creates one, of MAX_ANSWER_BYTES). */
export function createAnswerBudget(limit: number): AnswerBudget {
  let total = 0;
  return {
    hold() {
      let mine = 0;
      return {
        grow(bytes) {
          if (total + bytes > limit) {
            throw new ClientTransportError("capacity", `the remote server's answers held at once would exceed mcp-bridge's limit of ${limit} bytes for answers in flight; this answer was dropped, retry it when fewer large answers are on their way`);
          }
          total += bytes;
          mine += bytes;
        },
        shrinkTo(bytes) {
          const less = Math.max(0, mine - bytes);
          total -= less;
          mine -= less;
        },
        release() {
          total -= mine;
          mine = 0;
        },
      };
    },
  };
}
