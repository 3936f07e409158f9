/**
 * @module The stdio side of client mode: the local client's messages in, the remote server's out.
 * Every request the local client sends gets exactly one answer on stdout — the server's, or a
 * JSON-RPC error naming why there is none — unless the local client cancelled it.
 */
import { createLineSplitter } from "../jsonrpc/ndjson.ts";
import { envelopeProblem, ErrorCode, errorResponse, idKey, inexactIdProblem, inexactNumbersOnce, isExactNumber, isNotification, isRequest, isResponse, passableAsWritten, type InexactFinder, type JsonRpcId, type JsonRpcMessage, type JsonRpcResponse } from "../jsonrpc/message.ts";
import { metaOf, PROGRESS_TOKEN_PROBLEM } from "../mcp/envelope.ts";
import type { Logger } from "../log/logger.ts";
import { throttledLog } from "../log/throttle.ts";
import type { AnswerBudget, Held } from "./answer-budget.ts";
import { ClientTransportError, failedRequestResponse } from "./errors.ts";
import type { Source } from "./messages.ts";
import type { AskLocal, LocalAnswer, RemoteTransport } from "./transport.ts";
import { ownSignal } from "../util/any-signal.ts";

/**
 * Requests of the local client awaiting an answer at once; more get an error at once. Its
 * notifications and responses on their way to the remote server are bounded alike: more are dropped.
 */
export const MAX_IN_FLIGHT = 1_000;
/**
 * Lines saying a message failed: a burst per window, then a count. Each request's error goes to
 * the local client anyway; a remote server that is down must not add a log line per request.
 */
const FAILURE_LOG = { burst: 10, windowMs: 60_000 };

export interface StdioBridge {
  /** Bytes from stdin. */
  push(chunk: Uint8Array): void;
  /** stdin ended. */
  end(): void;
  /**
   * The bridge is stopping: tells the remote server of every request of the local client still in
   * flight (`notifications/cancelled`; MCP: a dropped connection is no cancellation, and a server
   * without a session hears of nothing else), and resolves once each was sent or `signal` aborted.
   * The requests themselves stay in flight: their answers still count, and one that fails, or is
   * left for failInFlight, gets the error saying the bridge stopped. A request from now on gets it
   * at once, unsent. `why` (e.g. "stdin closed", "SIGTERM") goes into that error and each cancellation's reason.
   */
  cancelInFlight(why: string, signal: AbortSignal): Promise<void>;
  /**
   * Answers every request still in flight with a JSON-RPC error saying the bridge stopped (`why`)
   * before the remote server answered: the last thing before exit, so that none goes unanswered.
   */
  failInFlight(why: string): void;
  /** A message from the remote server, with the text it came in when it is as parsed from it (wired as the transport's `deliver`). */
  deliver(message: JsonRpcMessage, source?: Source): void;
  /** A request of the remote server's not delivered: answered with `error` (wired as the transport's `refuse`; see unasked). */
  refuse(id: JsonRpcId, error: unknown): void;
  /** A request of the bridge's own to the local client (wired as the transport's `ask`). */
  ask: AskLocal;
  /** Requests still awaiting an answer. */
  readonly inFlight: number;
}

export interface StdioBridgeOptions {
  transport: () => RemoteTransport;
  /** Writes one line to stdout. */
  write(line: string): void;
  logger: Logger;
  /**
   * The budget (the transports' own) what goes to stdout is held of until stdout has taken it, and
   * a batch's answers from the first until then.
   */
  answers: AnswerBudget;
  /** The longest line taken on stdin, and the longest batch answer written (characters; client.max_message_size). */
  maxMessageChars: number;
  /** Settles once stdout has taken what was written (not above its high-water mark any more). */
  drained(): Promise<void>;
}

interface Pending {
  id: JsonRpcId;
  method: string;
  controller: AbortController;
  /** The batch the request came in, whose one answer array waits for it. */
  batch?: Batch;
}

/**
 * A JSON-RPC batch from stdin (JSON-RPC 2.0 §6, allowed by MCP 2025-03-26): its answers are
 * written as one array once every request in it has one; notifications and responses get none.
 */
interface Batch {
  /** Requests of the batch still awaiting an answer (plus one while the batch is being read). */
  waiting: number;
  /** The answers so far, serialized: the array goes out as one line, held to StdioBridgeOptions.maxMessageChars. */
  answers: string[];
  /** Their length, with a separator each. */
  chars: number;
  /** The answers' characters held of the answer budget (each at least one byte in memory) until stdout has taken the array. */
  held: Held;
}

/** Log fields for a message: its kind, method and id, never its payload. */
function describe(message: JsonRpcMessage): Record<string, unknown> {
  if (isResponse(message)) return { response: message.id, ...(message.error && { error: message.error.code }) };
  return { method: message.method, ...(isRequest(message) && { id: message.id }) };
}

/**
 * The stdio bridge: newline-delimited JSON-RPC (MCP basic/transports §stdio) from the local client
 * pushed in as bytes, messages sent through `options.transport()`, answers written as one line
 * each (a batch's as one array). Bounded: MAX_IN_FLIGHT requests and as many outgoing messages at
 * once, lines and batch answers to `options.maxMessageChars`. Never throws at the caller: what cannot be
 * sent becomes a JSON-RPC error on stdout, or a log line for a notification.
 */
export function createStdioBridge(options: StdioBridgeOptions): StdioBridge {
  const { logger, maxMessageChars } = options;
  const failures = throttledLog(logger, "failed messages to the remote server", FAILURE_LOG);
  /** Messages (either way) dropped for a number serializing them would change: a peer sending many must not add a log line each. */
  const inexactDrops = throttledLog(logger, "messages dropped for numbers a double does not carry", FAILURE_LOG);
  const pending = new Map<string | number, Pending>();
  /** Why the bridge is stopping, from cancelInFlight on: a request is then answered with stopped() and never sent. */
  let stopping: string | undefined;
  /** The error a request gets once the bridge is stopping, whatever the transport's own failure was. */
  const stopped = (id: JsonRpcId) => failedRequestResponse(id, new ClientTransportError("closed", `stopped (${stopping}) before the remote server answered`));
  /** The bridge's own requests to the local client, by id. */
  const asks = new Map<string, (answer: LocalAnswer) => void>();
  let askCounter = 0;
  /** Set from the first message for the local client dropped for the answer budget until one fits again, so that a flood is logged once. */
  let droppingForLocal = false;

  /** Writes `line`, `held` (of the answer budget) until stdout has taken it. */
  const writeHeld = (line: string, held: Held) => {
    options.write(line);
    void options.drained().then(() => held.release());
  };

  /**
   * Writes one message. Its characters are held of the answer budget until stdout has taken them:
   * answers to a local client slow to read must not pile up in stdout's buffer beyond it. A
   * response that would pass the budget is replaced by an error (its request's answer after all),
   * any other message dropped, with one warning until a message fits again; a dropped request is
   * answered with that error for the local client (see unasked), or its asker would wait for ever.
   * `text`: the message as the remote server wrote it (see deliver), written instead of serializing it.
   */
  const write = (message: JsonRpcMessage, text?: string) => {
    const held = options.answers.hold();
    let line = (text ?? JSON.stringify(message)) + "\n";
    try {
      held.grow(line.length);
      droppingForLocal = false;
    } catch (error) {
      if (!isResponse(message)) {
        if (!droppingForLocal) logger.warn("dropped messages for the local client until stdout takes what it holds", { ...describe(message), error });
        droppingForLocal = true;
        if (isRequest(message)) unasked(message.id, error);
        return;
      }
      // A few hundred characters: written without holding, as the answer the request must get.
      line = JSON.stringify(failedRequestResponse(message.id, error)) + "\n";
    }
    writeHeld(line, held);
  };

  /**
   * A request for the local client (the remote server's, or the bridge's own question) that was
   * not written: it gets `error` as the local client's answer, so that the remote server, or the
   * call that asked, learns of it now.
   */
  const unasked = (id: JsonRpcId, error: unknown) => {
    const refusal = failedRequestResponse(id, error);
    const ask = typeof id === "string" ? asks.get(id) : undefined;
    if (ask) ask({ failure: refusal.error! });
    else forward(refusal);
  };

  /**
   * Adds an answer to a batch's array. One that would take the array past maxMessageChars is
   * replaced by an error: a server's large answers must not add up to a line no client reads
   * (nor to one longer than a string may be, which would lose the whole batch). So is one that
   * would take the answers held at once past the answer budget: batches waiting for a slow last
   * answer must not hold a large one each.
   */
  const add = (batch: Batch, message: JsonRpcResponse, written?: string) => {
    let text = written ?? JSON.stringify(message);
    if (batch.chars + text.length + 2 > maxMessageChars) {
      text = JSON.stringify(errorResponse(message.id, ErrorCode.InternalError, `mcp-bridge: the answer does not fit in the batch's reply, which is limited to ${maxMessageChars} characters in all (client.max_message_size); send this request alone`));
    } else {
      try {
        batch.held.grow(text.length);
      } catch (error) {
        text = JSON.stringify(failedRequestResponse(message.id, error));
      }
    }
    batch.answers.push(text);
    batch.chars += text.length + 1;
  };

  /** One answer of a batch in (none for a request that will not get one); the array goes out with the last. */
  const settle = (batch: Batch, message?: JsonRpcResponse, text?: string) => {
    if (message) add(batch, message, text);
    if (--batch.waiting > 0) return;
    if (batch.answers.length > 0) writeHeld(`[${batch.answers.join(",")}]\n`, batch.held);
    else batch.held.release();
  };

  /** Ends a request in flight: `message` is its answer (as the server wrote it: `text`), or none when the local client cancelled it. */
  const answer = (key: string | number, message?: JsonRpcResponse, text?: string) => {
    const entry = pending.get(key);
    if (!entry) return;
    pending.delete(key);
    if (entry.batch) settle(entry.batch, message, text);
    else if (message) write(message, text);
  };

  function request(message: JsonRpcMessage & { id: JsonRpcId; method: string }, batch: Batch | undefined): void {
    const key = idKey(message.id);
    const refuse = (error: JsonRpcResponse) => (batch ? add(batch, error) : write(error));
    if (pending.has(key)) {
      refuse(errorResponse(message.id, ErrorCode.InvalidRequest, `mcp-bridge: request id ${JSON.stringify(message.id)} is already in flight`));
      return;
    }
    if (stopping !== undefined) {
      refuse(stopped(message.id));
      return;
    }
    if (pending.size >= MAX_IN_FLIGHT) {
      refuse(errorResponse(message.id, ErrorCode.InternalError, `mcp-bridge: more than ${MAX_IN_FLIGHT} requests in flight`));
      return;
    }
    const entry: Pending = { id: message.id, method: message.method, controller: new AbortController(), ...(batch && { batch }) };
    if (batch) batch.waiting++;
    pending.set(key, entry);
    options
      .transport()
      .send(message, entry.controller.signal)
      .then(
        () => {
          if (pending.get(key) === entry) answer(key, failedRequestResponse(message.id, new Error("the remote server did not answer")));
        },
        (error: unknown) => {
          if (pending.get(key) !== entry || entry.controller.signal.aborted) return;
          // Stopping, the transport's failure is the bridge's own doing (its streams closed): no warning.
          if (stopping !== undefined) return answer(key, stopped(message.id));
          failures.write("warn", "request failed", { method: message.method, id: message.id, error });
          answer(key, failedRequestResponse(message.id, error));
        },
      );
  }

  /** Notifications and responses of the local client on their way to the remote server. */
  let sending = 0;
  /** Set from the first message dropped until half the places are free again, so that a flood is logged once. */
  let dropping = false;

  /**
   * Sends a notification or response (as `text`, the local client's line, when given); none when
   * MAX_IN_FLIGHT are already on their way (a server slow to take them must not gather sockets without bound).
   */
  function send(message: JsonRpcMessage, signal?: AbortSignal, text?: string): Promise<void> {
    if (sending >= MAX_IN_FLIGHT) {
      if (!dropping) logger.warn(`dropped messages of the local client: ${MAX_IN_FLIGHT} are already on their way to the remote server`, { method: isNotification(message) ? message.method : "response" });
      dropping = true;
      return Promise.resolve();
    }
    sending++;
    return options
      .transport()
      .send(message, signal, text)
      .finally(() => {
        if (--sending < MAX_IN_FLIGHT / 2) dropping = false;
      });
  }

  /** A notification or response to the remote server; `text`, the local client's line when it is this message alone. */
  function forward(message: JsonRpcMessage, text?: string): void {
    if (isNotification(message) && message.method === "notifications/cancelled") {
      const target = message.params?.requestId;
      const key = typeof target === "string" || typeof target === "number" ? idKey(target) : undefined;
      const entry = key === undefined ? undefined : pending.get(key);
      // Forwarded first (MCP: a dropped connection is not a cancellation), then the reply stream dropped.
      void send(message, undefined, text)
        .catch((error: unknown) => logger.debug("cancellation not delivered", { error }))
        .finally(() => entry?.controller.abort());
      if (key !== undefined) answer(key);
      return;
    }
    send(message, undefined, text).catch((error: unknown) => failures.write("warn", "message not delivered to the remote server", { method: isNotification(message) ? message.method : "response", error }));
  }

  function onLine(line: string): void {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      write(errorResponse(null, ErrorCode.ParseError, "mcp-bridge: a line on stdin is not JSON"));
      return;
    }
    if (!Array.isArray(value)) return take(value, undefined, inexactNumbersOnce(line), line);
    if (value.length === 0) {
      write(errorResponse(null, ErrorCode.InvalidRequest, "mcp-bridge: an empty batch"));
      return;
    }
    // Held at one until every item is read, so answers that come at once do not end the batch early.
    const batch: Batch = { waiting: 1, answers: [], chars: 0, held: options.answers.hold() };
    // Each item is sent on serialized again: the line is scanned once for all of them, and only if one needs it.
    const inexact = inexactNumbersOnce(line);
    for (const item of value) take(item, batch, inexact);
    settle(batch);
  }

  /**
   * One message from stdin, alone or in a batch. `inexact`: the numbers a double does not carry in
   * the line it was parsed from (shared by a batch's items); `line`, that line for a message alone
   * (a notification or response goes to the remote server as written).
   */
  function take(item: unknown, batch: Batch | undefined, inexact: () => InexactFinder | undefined, line?: string): void {
    const refusal = refusalOf(item, inexact);
    if (refusal) {
      if (batch) add(batch, refusal);
      else write(refusal);
      return;
    }
    const message = item as JsonRpcMessage;
    if (isResponse(message) && typeof message.id === "string" && asks.has(message.id)) {
      // Put into the request it answers (MRTR inputResponses), serialized again: such a number fails that request, naming where.
      const problem = inexact()?.(message);
      asks.get(message.id)!(problem ? { failure: { code: ErrorCode.InvalidParams, message: `mcp-bridge: the answer to the server's request for input: ${problem}` } } : { response: message });
      return;
    }
    if (logger.enabled("debug")) logger.debug("local → remote", describe(message));
    if (isRequest(message)) return request(message, batch);
    if (!batch) return forward(message, line);
    const problem = inexact()?.(message);
    if (!problem) return forward(message);
    // An item of a batch, sent serialized again, would carry another number: the remote server's request gets an error instead, a notification is dropped.
    if (isResponse(message) && message.id !== null) forward(errorResponse(message.id, ErrorCode.InternalError, `mcp-bridge: the local client's answer: ${problem}`));
    inexactDrops.write("warn", "dropped a message of the local client in a batch: serialized again it would carry another number", { ...describe(message), problem });
  }

  const splitter = createLineSplitter(onLine, (length) => {
    logger.warn("dropped a line on stdin that is too long", { bytes: length });
    write(errorResponse(null, ErrorCode.InvalidRequest, `mcp-bridge: a message on stdin exceeds ${maxMessageChars} bytes (client.max_message_size)`));
  }, maxMessageChars);

  return {
    push: (chunk) => splitter.push(chunk),
    end: () => splitter.flush(),
    async cancelInFlight(why, signal) {
      stopping = why;
      // initialize is never cancelled (MCP basic/utilities/cancellation).
      const entries = [...pending.values()].filter((entry) => entry.method !== "initialize");
      const sent = Promise.all(
        entries.map((entry) =>
          send({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: entry.id, reason: `mcp-bridge is shutting down: ${why}` } }, signal).catch((error: unknown) => logger.debug("cancellation not delivered", { error })),
        ),
      );
      // Waited for no longer than `signal` lives, even where a transport takes no notice of it (one still choosing the era).
      await Promise.race([sent, new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener("abort", () => resolve(), { once: true })))]);
      // Stopping: the failures held back are counted now, not lost at exit.
      failures.flush();
    },
    deliver(message, source) {
      if (logger.enabled("debug")) logger.debug("remote → local", describe(message));
      // As the server wrote it when the local client reads in it what the bridge routed it by: a
      // number a double does not carry keeps its spelling. Else serialized again, which would change
      // such a number: an answer becomes an error naming where, a notification is dropped, a request refused (refusalOf).
      const text = source?.alone && (isNotification(message) || passableAsWritten(source.text, isResponse(message))) ? oneLine(source.text) : undefined;
      const inexact = text === undefined && source !== undefined && !isRequest(message) ? source.inexact()?.(message) : undefined;
      if (isResponse(message)) {
        const delivered = inexact ? errorResponse(message.id, ErrorCode.InternalError, `mcp-bridge: the remote server's answer: ${inexact}`) : message;
        if (message.id === null) return write(delivered, text);
        const key = idKey(message.id);
        if (!pending.has(key)) {
          logger.debug("dropped a response to no request in flight", { id: message.id });
          return;
        }
        answer(key, delivered, text);
        return;
      }
      if (inexact) return inexactDrops.write("warn", "dropped a notification of the remote server: serialized again it would carry another number", { ...describe(message), problem: inexact });
      // The remote server's request goes out serialized again (unless written as received), and the
      // local client's answer back: an id or progress token past 2^53 would reach each as another number.
      const refusal = isRequest(message) ? refusalOf(message, text === undefined ? source?.inexact : undefined) : undefined;
      if (refusal) return forward(refusal);
      write(message, text);
    },
    refuse: unasked,
    ask(request, asked) {
      if (asks.size >= MAX_IN_FLIGHT) return Promise.reject(new Error(`more than ${MAX_IN_FLIGHT} questions to the local client at once`));
      const id = `mcp-bridge-ask-${++askCounter}`;
      // A round's questions share the call's signal: each listens on one of its own.
      const signal = asked && ownSignal(asked);
      return new Promise<LocalAnswer>((resolve, reject) => {
        const onAbort = () => {
          asks.delete(id);
          write({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: id, reason: "the request it belonged to ended" } });
          reject(new ClientTransportError("closed", "the request was cancelled"));
        };
        asks.set(id, (answer) => {
          asks.delete(id);
          signal?.removeEventListener("abort", onAbort);
          resolve(answer);
        });
        if (signal?.aborted) return onAbort();
        signal?.addEventListener("abort", onAbort, { once: true });
        if (logger.enabled("debug")) logger.debug("bridge → local", { method: request.method, id });
        write({ jsonrpc: "2.0", id, method: request.method, ...(request.params !== undefined && { params: request.params }) });
      });
    },
    failInFlight(why) {
      stopping ??= why;
      for (const [key, entry] of [...pending]) answer(key, stopped(entry.id));
    },
    get inFlight() {
      return pending.size;
    },
  };
}

/**
 * JSON text on one line, for stdout (a message a line): a line break in JSON text can only be
 * whitespace between tokens (a string holds none unescaped).
 */
function oneLine(text: string): string {
  const trimmed = text.trim();
  return trimmed.includes("\n") || trimmed.includes("\r") ? trimmed.replace(/[\r\n]/g, " ") : trimmed;
}

/**
 * The error answering a message that is not forwarded (from stdin, or a remote server's request
 * for the local client), or undefined: one that is not
 * JSON-RPC (Invalid Request, under its id when it has one), and a request whose id or progress
 * token is a number the bridge could not write back as sent (every answer and progress
 * notification is written from the parsed message, see isExactNumber): Invalid Request with a null
 * id (its own would be the other number), Invalid Params; and a request whose params hold such a
 * number (it is sent on serialized again; `inexact`, the numbers of the text it was parsed from, tells), Invalid Params.
 */
function refusalOf(item: unknown, inexact?: () => InexactFinder | undefined): JsonRpcResponse | undefined {
  const problem = envelopeProblem(item);
  if (problem) {
    const id = (item as { id?: unknown } | null)?.id;
    return errorResponse(typeof id === "string" || typeof id === "number" ? id : null, ErrorCode.InvalidRequest, `mcp-bridge: ${problem}`);
  }
  const message = item as JsonRpcMessage;
  if (!isRequest(message)) return undefined;
  const inexactId = inexactIdProblem(message);
  if (inexactId) return errorResponse(null, ErrorCode.InvalidRequest, `mcp-bridge: ${inexactId}`);
  const token = metaOf(message.params)?.progressToken;
  if (typeof token === "number" && !isExactNumber(token)) return errorResponse(message.id, ErrorCode.InvalidParams, `mcp-bridge: _meta.progressToken: ${PROGRESS_TOKEN_PROBLEM}`);
  // Sent on serialized again: a number a double rounds would arrive as another.
  const changed = inexact?.()?.(message.params, "params");
  return changed ? errorResponse(message.id, ErrorCode.InvalidParams, `mcp-bridge: ${changed}`) : undefined;
}
