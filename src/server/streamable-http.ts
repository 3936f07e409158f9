/**
 * @module MCP Streamable HTTP (2025-03-26, 2025-06-18, 2025-11-25): POST carries messages to the
 * server, GET opens the server's stream, DELETE ends the session. Everything the client sends is
 * checked here before a session sees it; every refusal has the status the spec names.
 */
import type { Principal } from "../auth/types.ts";
import type { ConnectionInfo } from "../runtime/types.ts";
import { ErrorCode, envelopeProblem, errorResponse, forwardableAsReceived, inexactIdProblem, inexactNumberProblem, isRequest, lookalikeKey, MAX_NESTING_DEPTH, nestedTooDeep, type JsonRpcMessage, type JsonRpcRequest } from "../jsonrpc/message.ts";
import { BodyNotAdmittedError, readBodyLimited, readRequestText } from "../util/body.ts";
import { classifyPost, withStandardHeadersRead } from "../mcp/era.ts";
import { headerNamedRequest, modernRejection, type ModernServer } from "./modern.ts";
import { addressHolder, GrowingReservation, type ByteBudget } from "./limits.ts";
import { jsonRpcErrorResponse, type Session } from "./session.ts";
import { SessionLimitError, type SessionManager } from "./sessions.ts";

export const SUPPORTED_PROTOCOL_VERSIONS = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"] as const;
export const LATEST_PROTOCOL_VERSION = SUPPORTED_PROTOCOL_VERSIONS[0];
/** What a request without MCP-Protocol-Version is taken to speak (spec: assume 2025-03-26). */
const LEGACY_PROTOCOL_VERSION = "2024-11-05";

export interface McpHandlerOptions {
  sessions: SessionManager;
  maxBodyBytes: number;
  /** Shared by every body being read; a POST that does not fit gets 503 with Retry-After. */
  bodyBudget: ByteBudget;
  /** Checks a message's method/tool against the principal's scopes; a Response refuses the POST. */
  authorize(principal: Principal | undefined, messages: readonly JsonRpcMessage[]): Response | undefined;
  /** Serves modern (2026-07-28) requests; the body decides the era of each POST. */
  modern?: ModernServer;
}

/** A POST body read and checked: its messages (one unless `batch`), its text, and whose body budget it counted against. */
interface ReadMessages {
  messages: JsonRpcMessage[];
  batch: boolean;
  holder: string;
  text: string;
}

function refuse(status: number, code: number, message: string, headers?: Record<string, string>): Response {
  return jsonRpcErrorResponse(status, errorResponse(null, code, message), headers);
}

/** A body that found no room in server.max_body_bytes_in_flight (its holder's share or the whole budget). */
function bodiesBusy(): Response {
  return refuse(503, ErrorCode.InternalError, "Service Unavailable: too many request bodies are being received at once (server.max_body_bytes_in_flight); retry later", { "retry-after": "1" });
}

/** Reads which reply formats the Accept header allows; a missing header allows both. */
function acceptedFormats(accept: string | null): { json: boolean; sse: boolean } {
  if (!accept) return { json: true, sse: true };
  const value = accept.toLowerCase();
  const any = value.includes("*/*");
  return { json: any || value.includes("application/json") || value.includes("application/*"), sse: any || value.includes("text/event-stream") || value.includes("text/*") };
}

function protocolVersionProblem(request: Request): Response | undefined {
  const version = request.headers.get("mcp-protocol-version");
  if (version === null || (SUPPORTED_PROTOCOL_VERSIONS as readonly string[]).includes(version)) return undefined;
  return refuse(400, ErrorCode.InvalidRequest, `Bad Request: unsupported MCP-Protocol-Version "${version.slice(0, 40)}" (supported: ${SUPPORTED_PROTOCOL_VERSIONS.join(", ")})`);
}

/**
 * The MCP endpoint's handlers, each a Request (already authenticated: `principal`, undefined with
 * auth off) in and a Response out: `post`, `get` and `delete` for Streamable HTTP (MCP 2025-11-25
 * basic/transports §Streamable HTTP; 2026-07-28 POSTs go to `options.modern`), `openLegacy` and
 * `postLegacy` for HTTP+SSE (2024-11-05). Refusals are JSON-RPC error bodies with the status the
 * spec names (400, 404, 406, 413, 415; 503 with Retry-After when a limit is reached); none throws
 * but BodyNotReceivedError, for a body that broke off (answered 408 by the app).
 */
export function createMcpHandlers(options: McpHandlerOptions) {
  const { sessions } = options;

  /** The session named by Mcp-Session-Id, or the refusal: 400 without one, 404 for an unknown one. */
  function findSession(request: Request, principal: Principal | undefined): Session | Response {
    const id = request.headers.get("mcp-session-id");
    if (!id) {
      // Say what to do instead: a newcomer's first request is often a bare tools/list or GET.
      const fix = request.method === "GET" ? "this GET opens an initialized session's stream; 2026-07-28 clients POST subscriptions/listen instead" : "start a session with initialize, or send a 2026-07-28 request (params._meta), which needs none";
      return refuse(400, ErrorCode.InvalidRequest, `Bad Request: Mcp-Session-Id header is required (${fix})`);
    }
    const session = sessions.get(id, principal);
    return session && !session.legacy ? session : refuse(404, ErrorCode.InvalidRequest, "Session not found: initialize a new session");
  }

  /**
   * Reads and checks a POST body: the messages and the text, or the refusal. The
   * body's bytes (a chunked body's as they arrive) are held against server.max_body_bytes_in_flight
   * for `holder` (returned): the principal, or the client's address (its /64 for IPv6) without one
   * (see ByteBudget).
   */
  async function readMessages(request: Request, principal: Principal | undefined, clientAddress: string): Promise<ReadMessages | Response> {
    const contentType = request.headers.get("content-type") ?? "";
    if (!/^application\/(?:[\w.+-]*\+)?json\b/i.test(contentType)) {
      return refuse(415, ErrorCode.InvalidRequest, "Unsupported Media Type: Content-Type must be application/json");
    }
    const declared = request.headers.get("content-length");
    const tooLarge = `Payload Too Large: the limit is ${options.maxBodyBytes} bytes`;
    if (declared !== null && Number(declared) > options.maxBodyBytes) return refuse(413, ErrorCode.InvalidRequest, tooLarge);
    const holder = principal?.owner ?? addressHolder(clientAddress);
    let text: string | undefined;
    if (declared !== null) {
      // The HTTP server delivers exactly Content-Length bytes, so the direct read is bounded and
      // the declared length is reserved at once.
      const reserved = Number(declared) || 0;
      if (!options.bodyBudget.tryReserve(reserved, holder)) return bodiesBusy();
      try {
        text = await readRequestText(request);
      } finally {
        options.bodyBudget.release(reserved, holder);
      }
    } else {
      // A chunked body reserves as its bytes arrive (reserving max_body_size for each would let a
      // few clients sending small chunked bodies take the whole budget) and is read through the
      // counting reader.
      const reservation = new GrowingReservation(options.bodyBudget, holder, options.maxBodyBytes);
      try {
        if (!reservation.cover(1)) return bodiesBusy();
        text = await readBodyLimited(request, options.maxBodyBytes, (received) => reservation.cover(received));
      } catch (error) {
        if (error instanceof BodyNotAdmittedError) return bodiesBusy();
        throw error;
      } finally {
        reservation.release();
      }
    }
    if (text === undefined) return refuse(413, ErrorCode.InvalidRequest, tooLarge);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return refuse(400, ErrorCode.ParseError, "Parse error: the body is not valid JSON");
    }
    // Forwarded serialized again (a batch, a modern request), it would make JSON.stringify throw.
    if (nestedTooDeep(text, body)) return refuse(400, ErrorCode.InvalidRequest, `Invalid Request: the body is nested deeper than ${MAX_NESTING_DEPTH} levels`);
    const batch = Array.isArray(body);
    const messages = (batch ? body : [body]) as JsonRpcMessage[];
    if (messages.length === 0) return refuse(400, ErrorCode.InvalidRequest, "Invalid Request: empty batch");
    for (const message of messages) {
      const problem = envelopeProblem(message);
      if (problem) return refuse(400, ErrorCode.InvalidRequest, `Invalid Request: ${problem}`);
      const lookalike = lookalikeKey(message);
      if (lookalike) return refuse(400, ErrorCode.InvalidRequest, `Invalid Request: the key ${JSON.stringify(lookalike[0])} may be read as "${lookalike[1]}"`);
      // Every era writes some answer from the parsed id: a modern request's always, shared mode's
      // (ids are remapped), a timeout's, a closed session's, and the cancellation a child is sent.
      const inexact = isRequest(message) ? inexactIdProblem(message) : undefined;
      if (inexact) return refuse(400, ErrorCode.InvalidRequest, `Invalid Request: ${inexact}`);
    }
    return { messages, batch, holder, text };
  }

  /**
   * The lines a session's child gets for a legacy POST: a single compact message as received when
   * the child cannot read it otherwise than the bridge did, anything else serialized again to one
   * line each from what was parsed. A refusal when that would change a number the client sent.
   */
  function sessionLines({ messages, batch, text }: ReadMessages): string[] | Response {
    const asReceived = !batch && !text.includes("\n") && !text.includes("\r") && forwardableAsReceived(text);
    const lines = asReceived ? [text] : messages.map((message) => JSON.stringify(message));
    // What is forwarded as received keeps its numbers; what is serialized again (here, or by a shared
    // child's hub) would carry another number than the client sent. Modern requests: see post.
    const inexact = !asReceived || sessions.sharesChild ? inexactNumberProblem(text, batch ? messages : messages[0]) : undefined;
    // A client's answer to a child's request has no params: the message is what is invalid.
    if (inexact) return messages.every(isRequest) ? refuse(400, ErrorCode.InvalidParams, `Invalid params: ${inexact}`) : refuse(400, ErrorCode.InvalidRequest, `Invalid Request: ${inexact}`);
    return lines;
  }

  /** `clientAddress`: the client's address as resolved through server.trusted_proxies. */
  async function post(request: Request, principal: Principal | undefined, connection: ConnectionInfo, clientAddress: string): Promise<Response> {
    const accept = acceptedFormats(request.headers.get("accept"));
    if (!accept.json && !accept.sse) return refuse(406, ErrorCode.InvalidRequest, "Not Acceptable: accept application/json or text/event-stream");
    // A modern request names its method in Mcp-Method: scopes are checked before the body is read.
    const headers = options.modern ? withStandardHeadersRead(request.headers) : request.headers;
    const announced = options.modern ? headerNamedRequest(headers) : undefined;
    const early = announced && options.authorize(principal, [announced]);
    if (early) return early;
    const read = await readMessages(request, principal, clientAddress);
    if (read instanceof Response) return read;
    const { messages, batch, holder } = read;

    if (options.modern) {
      const era = classifyPost(batch ? messages : messages[0]!, headers);
      if (era.era === "reject") return modernRejection(batch || !isRequest(messages[0]!) ? null : messages[0].id, era.rejection);
      if (era.era === "modern") {
        const refused = options.authorize(principal, messages);
        if (refused) return refused;
        // Client notifications have nothing to act on without a session; closing a stream cancels.
        if (era.kind === "notification") return new Response(null, { status: 202 });
        // Sent on to the child serialized again.
        const inexact = inexactNumberProblem(read.text, messages[0]);
        if (inexact) return refuse(400, ErrorCode.InvalidParams, `Invalid params: ${inexact}`);
        return options.modern.handle({ headers, message: messages[0] as JsonRpcRequest, bodyLength: read.text.length, envelope: era.envelope, principal, holder, accept, onClientGone: connection.onClientGone, abortConnection: connection.abort });
      }
    }
    const raws = sessionLines(read);
    if (raws instanceof Response) return raws;

    const initialize = messages.find((message) => isRequest(message) && message.method === "initialize");
    if (initialize) {
      if (messages.length > 1) return refuse(400, ErrorCode.InvalidRequest, "Invalid Request: initialize must be sent alone");
      const refused = options.authorize(principal, messages);
      if (refused) return refused;
      const asked = (initialize as { params?: { protocolVersion?: unknown } }).params?.protocolVersion;
      const version = typeof asked === "string" ? asked : LATEST_PROTOCOL_VERSION;
      let session: Session;
      try {
        session = sessions.create(principal, version, clientAddress);
      } catch (error) {
        if (!(error instanceof SessionLimitError)) throw error;
        return refuse(503, ErrorCode.InternalError, `Service Unavailable: ${error.message}`, { "retry-after": String(error.retryAfterSeconds) });
      }
      return session.handlePost(messages, raws, accept, batch, connection, { "mcp-session-id": session.id });
    }

    const found = findSession(request, principal);
    if (found instanceof Response) return found;
    const badVersion = protocolVersionProblem(request);
    if (badVersion) return badVersion;
    const refused = options.authorize(principal, messages);
    if (refused) return refused;
    return found.handlePost(messages, raws, accept, batch, connection);
  }

  function get(request: Request, principal: Principal | undefined, connection: ConnectionInfo): Response {
    if (!acceptedFormats(request.headers.get("accept")).sse) {
      return refuse(406, ErrorCode.InvalidRequest, "Not Acceptable: a GET stream needs Accept: text/event-stream");
    }
    const found = findSession(request, principal);
    if (found instanceof Response) return found;
    const badVersion = protocolVersionProblem(request);
    if (badVersion) return badVersion;
    return found.handleGet(request.headers.get("last-event-id") ?? undefined, connection.abort);
  }

  function remove(request: Request, principal: Principal | undefined): Response {
    const found = findSession(request, principal);
    if (found instanceof Response) return found;
    const badVersion = protocolVersionProblem(request);
    if (badVersion) return badVersion;
    found.terminate("the client ended the session");
    return new Response(null, { status: 200 });
  }

  /**
   * Legacy HTTP+SSE: GET /sse starts a session whose one stream carries every server message;
   * `messagesPath` is where clients POST, as they see it (public_url's prefix included);
   * `clientAddress`: the client's, the session's owner without a principal.
   */
  function openLegacy(principal: Principal | undefined, messagesPath: string, clientAddress: string, connection: ConnectionInfo): Response {
    let session: Session;
    try {
      session = sessions.create(principal, LEGACY_PROTOCOL_VERSION, clientAddress);
    } catch (error) {
      if (!(error instanceof SessionLimitError)) throw error;
      return refuse(503, ErrorCode.InternalError, `Service Unavailable: ${error.message}`, { "retry-after": String(error.retryAfterSeconds) });
    }
    return session.openLegacyStream(`${messagesPath}?sessionId=${encodeURIComponent(session.id)}`, connection.abort);
  }

  /** Legacy HTTP+SSE: POST /messages?sessionId=… → 202; replies travel on the session's stream. */
  async function postLegacy(request: Request, principal: Principal | undefined, sessionId: string, clientAddress: string): Promise<Response> {
    if (!sessionId) return refuse(400, ErrorCode.InvalidRequest, "Bad Request: the sessionId query parameter is required");
    const session = sessions.get(sessionId, principal);
    if (!session || !session.legacy) return refuse(404, ErrorCode.InvalidRequest, "Session not found: open a new /sse stream");
    const read = await readMessages(request, principal, clientAddress);
    if (read instanceof Response) return read;
    const raws = sessionLines(read);
    if (raws instanceof Response) return raws;
    const refused = options.authorize(principal, read.messages);
    if (refused) return refused;
    return session.handlePost(read.messages, raws, { json: false, sse: true }, read.batch, undefined);
  }

  return { post, get, delete: remove, openLegacy, postLegacy };
}
