/**
 * @module The vocabulary of the two MCP eras as the wire spells it: protocol versions, the
 * per-request `_meta` keys, the HTTP headers and the error codes of revision 2026-07-28 (the
 * "modern" era, sessionless) next to those of 2024-11-05 … 2025-11-25 (the "legacy" era, with
 * `initialize` and sessions). Values follow the spec and SDK v2 (`@modelcontextprotocol/core` 2.4).
 */

/** The first revision of the modern era. Revisions are ISO dates, so they order as strings. */
export const FIRST_MODERN_VERSION = "2026-07-28";
/** Modern revisions the bridge speaks, newest first. */
export const MODERN_VERSIONS = ["2026-07-28"] as const;
/** Legacy revisions the bridge speaks, newest first. */
export const LEGACY_VERSIONS = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"] as const;
/**
 * Every revision, newest first: what a legacy request sent under a modern header, or a removed
 * method, is told this endpoint serves. (`UnsupportedProtocolVersion` lists only MODERN_VERSIONS:
 * a modern client's next try is a version it can claim in `_meta`.)
 */
export const ALL_VERSIONS: readonly string[] = [...MODERN_VERSIONS, ...LEGACY_VERSIONS];

/** Whether a revision string belongs to the modern era (it may still be one the bridge does not speak). */
export function isModernVersion(version: string): boolean {
  return version >= FIRST_MODERN_VERSION;
}

/** Reserved `_meta` keys (basic/index §_meta). */
export const MetaKey = {
  protocolVersion: "io.modelcontextprotocol/protocolVersion",
  clientCapabilities: "io.modelcontextprotocol/clientCapabilities",
  clientInfo: "io.modelcontextprotocol/clientInfo",
  /** Deprecated with Logging (SEP-2577), still honoured: without it no `notifications/message`. */
  logLevel: "io.modelcontextprotocol/logLevel",
  serverInfo: "io.modelcontextprotocol/serverInfo",
  subscriptionId: "io.modelcontextprotocol/subscriptionId",
} as const;

/** HTTP headers, lower case as `Headers.get` takes them (Streamable HTTP, 2026-07-28). */
export const Header = {
  protocolVersion: "mcp-protocol-version",
  method: "mcp-method",
  name: "mcp-name",
  /** `Mcp-Param-{x-mcp-header}`: a tool argument mirrored into a header. */
  paramPrefix: "mcp-param-",
  sessionId: "mcp-session-id",
} as const;

/** MCP error codes beyond JSON-RPC's own. */
export const McpErrorCode = {
  /** Legacy "resource not found"; the modern era answers -32602 with `data.uri`. */
  ResourceNotFound: -32002,
  /** A standard header disagrees with the body, or is missing (HTTP 400). */
  HeaderMismatch: -32020,
  /** The request needs a client capability its `_meta` did not declare (HTTP 400). */
  MissingRequiredClientCapability: -32021,
  /** `data: { supported: string[], requested?: string }` (HTTP 400). */
  UnsupportedProtocolVersion: -32022,
  UrlElicitationRequired: -32042,
} as const;

/** Results that carry `ttlMs` and `cacheScope` in the modern era (SEP-2549). */
export const CACHEABLE_METHODS: ReadonlySet<string> = new Set(["tools/list", "prompts/list", "resources/list", "resources/templates/list", "resources/read", "server/discover"]);

/** Requests that may be answered with `resultType: "input_required"` (basic/patterns/mrtr §Supported Requests). */
export const INPUT_REQUIRED_METHODS: ReadonlySet<string> = new Set(["tools/call", "prompts/get", "resources/read"]);

/** Server → client requests that MRTR carries as `inputRequests` entries. */
export const INPUT_REQUEST_METHODS: ReadonlySet<string> = new Set(["elicitation/create", "sampling/createMessage", "roots/list"]);

/** Which body field `Mcp-Name` mirrors, per method (SEP-2243 §Standard Request Headers). */
export const MCP_NAME_SOURCE: Readonly<Record<string, "name" | "uri">> = {
  "tools/call": "name",
  "prompts/get": "name",
  "resources/read": "uri",
};
