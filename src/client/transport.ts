/** @module What the stdio side of client mode asks of a remote transport, whatever the transport and era. */
import type { JsonRpcId, JsonRpcMessage, JsonRpcResponse } from "../jsonrpc/message.ts";
import type { Logger } from "../log/logger.ts";
import type { ThrottledLog } from "../log/throttle.ts";
import type { AnswerBudget } from "./answer-budget.ts";
import type { Source } from "./messages.ts";
import type { RemoteFetch } from "./remote-fetch.ts";

/** How long shutdown waits for each kind of message it still sends the remote server (cancellations, then DELETE), in ms. */
export const SHUTDOWN_WAIT_MS = 5_000;

export interface RemoteTransport {
  /**
   * Sends one message of the local client. For a request, resolves once the exchange is over (its
   * response, if any came, has been delivered) and rejects with ClientTransportError when it failed;
   * for a notification or response, resolves once the server accepted it. `text`: the message as
   * the local client wrote it, sent instead of serializing it again (a number a double does not
   * carry keeps its spelling); absent, the message is serialized.
   */
  send(message: JsonRpcMessage, signal?: AbortSignal, text?: string): Promise<void>;
  /** Ends the session at the server (DELETE for Streamable HTTP) and stops background streams. */
  close(): Promise<void>;
}

/**
 * What became of a question of the bridge's to the local client: `response`, the local client's own
 * answer (a result, or its error: a refusal); or `failure`, the bridge's own error for the call that
 * asked, when the bridge could not put the question or would not pass the answer on.
 */
export type LocalAnswer = { response: JsonRpcResponse } | { failure: NonNullable<JsonRpcResponse["error"]> };

/** Asks the local client over stdio (see TransportContext.ask). */
export type AskLocal = (request: { method: string; params?: Record<string, unknown> }, signal?: AbortSignal) => Promise<LocalAnswer>;

export interface TransportContext {
  /** The remote MCP endpoint (client.url). */
  url: string;
  fetch: RemoteFetch;
  logger: Logger;
  /**
   * For the warnings a remote server can provoke at will (messages that are not JSON-RPC, requests
   * where none may come, invalid tools), rate-limited: the host keeps stderr in a file, which a
   * flood of such messages must not fill.
   */
  remoteWarnings: ThrottledLog;
  /**
   * A message from the remote server for the local client; `source`, the text it came in, when the
   * message is as parsed from it (then written on as received, or checked for numbers serializing
   * would change). Absent for messages the bridge made or changed.
   */
  deliver(message: JsonRpcMessage, source?: Source): void;
  /**
   * A request of the remote server's that was not delivered to the local client: the server gets
   * `error` as the local client's answer (a JSON-RPC error), so that it does not wait on it.
   */
  refuse(id: JsonRpcId, error: unknown): void;
  /**
   * Sends a request of the bridge's own to the local client (MRTR input requests) and resolves with
   * what became of it. Rejects (ClientTransportError "closed") when `signal` aborts first, after
   * telling the local client the question is cancelled.
   */
  ask: AskLocal;
  /** Idle time allowed between chunks of a JSON body (ms). */
  timeout: number;
  /** Longest wait between reconnections of a background stream (ms). */
  maxDelay: number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Settles once the local client has read what was delivered to it: awaited between chunks of event streams. */
  drained(): Promise<void>;
  /** The bytes of answers held at once, over every request and stream (client.max_answer_bytes_in_flight). */
  answers: AnswerBudget;
  /** The longest message taken from the remote server: a JSON body, an SSE event (characters; client.max_message_size). */
  maxMessageChars: number;
}
