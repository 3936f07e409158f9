/**
 * @module One bound (client.max_answer_bytes_in_flight) on the bytes of the remote server's
 * answers the bridge holds at once: the JSON bodies being read and parsed, the unfinished SSE event
 * of each stream, the answers a batch of the local client's keeps until its last one comes, and
 * what stdout has not taken yet. Each answer is bounded on its own (client.max_message_size), but
 * up to MAX_IN_FLIGHT requests may be answered side by side, so without a total their product
 * (64 GiB at the defaults) would be the only bound.
 */
import { ClientTransportError } from "./errors.ts";

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

/** A budget of `limit` bytes shared by every answer held (client mode creates one, of client.max_answer_bytes_in_flight). */
export function createAnswerBudget(limit: number): AnswerBudget {
  let total = 0;
  return {
    hold() {
      let mine = 0;
      return {
        grow(bytes) {
          if (total + bytes > limit) {
            throw new ClientTransportError("capacity", `the remote server's answers held at once would exceed mcp-bridge's limit of ${limit} bytes for answers in flight (client.max_answer_bytes_in_flight); this answer was dropped, retry it when fewer large answers are on their way`);
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
