/**
 * @module Authentication at the HTTP edge: the Bearer header (never the query string), the
 * authenticator's verdict turned into RFC 6750 / RFC 9728 challenges, per-method scopes, and a
 * per-address throttle on failures (valid credentials always pass; see failure-limiter.ts).
 */
import { challengeHeader } from "../auth/prm.ts";
import { AuthError, B64TOKEN, MAX_TOKEN_LENGTH, type Authenticator, type Principal } from "../auth/types.ts";
import { ErrorCode, errorResponse, isNotification, isRequest, type JsonRpcMessage, type JsonRpcNotification, type JsonRpcRequest } from "../jsonrpc/message.ts";
import type { Logger } from "../log/logger.ts";
import { throttledLog } from "../log/throttle.ts";
import { FailureLimiter } from "./failure-limiter.ts";
import { jsonError } from "./http-errors.ts";
import type { Metrics } from "./metrics.ts";
import { jsonRpcErrorResponse } from "./session.ts";

/** An unreachable authorization service fails every request: a few lines per window, then a count. */
const UNAVAILABLE_LOG = { burst: 3, windowMs: 10_000 };
/** Failures from many addresses, each under its own limit, must not flood the log either. */
const FAILURE_LOG = { burst: 50, windowMs: 10_000 };
const BEARER = /^Bearer +(\S+) *$/i;
/** C0 controls (NUL above all), which no method or tool name has. */
const CONTROL_CHARACTER = /[\u0000-\u001f]/;

/**
 * Why a child could run another method or tool than the one per-method and per-tool scopes are
 * looked up for in `request` (what JSON.parse read), as the JSON-RPC error to refuse it with; else
 * undefined (keys a child may read as others are refused as the body is read: lookalikeKey). A
 * child written in C reads a string up to its first NUL ("delete\u0000x" as "delete"); a generic
 * dispatcher takes a tool given by position (JSON-RPC 2.0 §4.2) from params[0]; and a name that is
 * no string has no per-tool scopes, where a server that made it one (["x"] → "x") would run that
 * tool. No MCP method or tool name has control characters.
 */
function readableOtherwise(request: JsonRpcRequest | JsonRpcNotification): { code: number; message: string } | undefined {
  if (CONTROL_CHARACTER.test(request.method)) return { code: ErrorCode.InvalidRequest, message: "Invalid Request: method must not contain control characters" };
  if (request.method !== "tools/call") return undefined;
  if (Array.isArray(request.params)) return { code: ErrorCode.InvalidParams, message: "Invalid params: tools/call params must be an object" };
  const tool = request.params?.name;
  if (tool !== undefined && typeof tool !== "string") return { code: ErrorCode.InvalidParams, message: "Invalid params: tools/call params.name must be a string" };
  if (tool !== undefined && CONTROL_CHARACTER.test(tool)) return { code: ErrorCode.InvalidParams, message: "Invalid params: tools/call params.name must not contain control characters" };
  return undefined;
}

export interface AuthGateOptions {
  authenticator: Authenticator | undefined;
  /** URL of this server's RFC 9728 metadata, when it publishes one. */
  resourceMetadataUrl: string | undefined;
  failureLimitPerMinute: number;
  logger: Logger;
  metrics: Metrics;
}

export function createAuthGate(options: AuthGateOptions) {
  const { authenticator, logger } = options;
  const limiter = new FailureLimiter(options.failureLimitPerMinute, logger);
  const unavailableLog = throttledLog(logger, "authorization service failures", UNAVAILABLE_LOG);
  const failureLog = throttledLog(logger, "authentication failures", FAILURE_LOG);

  function refuse(error: AuthError, remoteAddress: string): Response {
    options.metrics.count("mcp_bridge_auth_failures_total", "Requests refused by authentication or authorization, by RFC 6750 code", { code: error.code });
    if (error.code === "invalid_token" || error.code === "invalid_request") {
      const retryAfter = limiter.fail(remoteAddress);
      if (retryAfter !== undefined) {
        options.metrics.count("mcp_bridge_auth_throttled_total", "Authentication failures answered 429 (over auth_failure_limit)");
        return jsonError(429, "too_many_requests", "too many failed authentication attempts from this address; valid credentials are still accepted", { "retry-after": String(retryAfter) });
      }
      // Why, at warn: the reasons name the check that failed, never the token.
      failureLog.write("warn", "authentication failed", { remote: remoteAddress, code: error.code, reason: error.reason });
    }
    if (error.status === 503) {
      unavailableLog.write("warn", "authentication could not be decided: the authorization service failed", { reason: error.reason });
      return jsonError(503, "temporarily_unavailable", "the authorization service cannot be reached; try again shortly", { "retry-after": "5" });
    }
    const scopes = error.code === "insufficient_scope" ? error.requiredScopes : authenticator?.requiredScopes.length ? authenticator.requiredScopes : (authenticator?.challengeScopes ?? []);
    // RFC 6750 §3: every refusal of credentials carries the challenge, 400 invalid_request included.
    const challenge = { "www-authenticate": challengeHeader(error, { resourceMetadataUrl: options.resourceMetadataUrl, scopes }) };
    if (error.status === 400) return jsonError(400, "invalid_request", "malformed credentials", challenge);
    const description =
      error.code === "insufficient_scope" ? "the token lacks a scope this request needs" : error.code === "missing_token" ? "this server requires a bearer token: send the header Authorization: Bearer <token>" : "the token is not valid for this server";
    return jsonError(error.status, error.code === "missing_token" ? "unauthorized" : error.code, description, challenge);
  }

  return {
    /** The principal (undefined when auth is off) or the refusal to send. */
    async authenticate(request: Request, remoteAddress: string): Promise<Principal | undefined | Response> {
      if (!authenticator) return undefined;
      // RFC 6750 §2.3 allows tokens in the URL; MCP forbids it, since URLs end up in logs.
      if (request.url.includes("access_token=")) return refuse(new AuthError("invalid_request", "token in the query string"), remoteAddress);
      const header = request.headers.get("authorization");
      if (header === null || !/^bearer /i.test(header)) return refuse(new AuthError("missing_token", "no bearer token"), remoteAddress);
      if (header.length > MAX_TOKEN_LENGTH) return refuse(new AuthError("invalid_token", "token too long"), remoteAddress);
      const match = BEARER.exec(header);
      if (!match || !B64TOKEN.test(match[1]!)) return refuse(new AuthError("invalid_request", "malformed Authorization header"), remoteAddress);
      try {
        return await authenticator.verify(match[1]!);
      } catch (error) {
        if (error instanceof AuthError) return refuse(error, remoteAddress);
        logger.error("authenticator failed", { error: (error as Error).message });
        return refuse(new AuthError("temporarily_unavailable", "authenticator error", { cause: error }), remoteAddress);
      }
    },

    /** 403 insufficient_scope when a message needs scopes the principal lacks (MCP authorization §scope). */
    authorize(principal: Principal | undefined, messages: readonly JsonRpcMessage[]): Response | undefined {
      if (!authenticator || !principal) return undefined;
      if (authenticator.requiredScopes.length === 0 && !authenticator.scopesFor) return undefined;
      const granted = new Set(principal.scopes);
      const needed = new Set<string>();
      for (const scope of authenticator.requiredScopes) needed.add(scope);
      if (authenticator.scopesFor) {
        for (const message of messages) {
          // A notification is checked by its method as a request is: a server that dispatches a
          // "tools/call" notification runs the tool all the same (it only sends no answer).
          if (!isRequest(message) && !isNotification(message)) continue;
          const problem = readableOtherwise(message);
          if (problem) return jsonRpcErrorResponse(400, errorResponse(isRequest(message) ? message.id : null, problem.code, problem.message));
          const tool = message.method === "tools/call" ? (message.params?.name as string | undefined) : undefined;
          for (const scope of authenticator.scopesFor(message.method, tool)) needed.add(scope);
        }
      }
      const missing = [...needed].filter((scope) => !granted.has(scope));
      if (missing.length === 0) return undefined;
      return refuse(new AuthError("insufficient_scope", `missing scopes: ${missing.join(" ")}`, { requiredScopes: [...needed] }), "");
    },
  };
}
