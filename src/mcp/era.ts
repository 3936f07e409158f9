/**
 * @module Which era one HTTP request speaks, and the standard-header checks of the modern era
 * (Streamable HTTP 2026-07-28 §Standard Request Headers, basic/versioning §dual-era). The body
 * decides the era; `MCP-Protocol-Version` cross-checks it and never changes it.
 *
 * - `initialize` is legacy, unless its `_meta` makes a valid modern claim.
 * - A request whose `_meta` names a protocol version is modern when that version is; a claim that
 *   is malformed is an error, never a silent fall back to legacy.
 * - A request without a claim is legacy, unless the header names a modern version (then the
 *   envelope is missing: -32602).
 * - Responses, batches and notifications without a claim are legacy.
 */
import type { JsonRpcMessage } from "../jsonrpc/message.ts";
import { envelopeError, hasEnvelopeClaim, isObject, readEnvelope, unsupportedVersionError, type JsonObject, type RequestEnvelope } from "./envelope.ts";
import { jsonKindOf } from "../util/object.ts";
import { ALL_VERSIONS, Header, isModernVersion, MCP_NAME_SOURCE, McpErrorCode, MetaKey, MODERN_VERSIONS } from "./protocol.ts";

/** A refusal at the HTTP edge: the status and the JSON-RPC error to answer with. */
export interface Rejection {
  status: number;
  error: { code: number; message: string; data?: unknown };
}

export type Classification =
  | { era: "legacy" }
  | { era: "modern"; kind: "request"; envelope: RequestEnvelope }
  | { era: "modern"; kind: "notification" }
  | { era: "reject"; rejection: Rejection };

/** Header values as the checks need them (`Headers` fits). */
export interface HeaderSource {
  get(name: string): string | null;
}

/**
 * `headers` with the three standard headers (`MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name`)
 * read at most once each: the era checks of one request ask for each of them several times, and
 * a `Headers` lookup validates and normalizes its name every time. Other names go to `headers`.
 */
export function withStandardHeadersRead(headers: HeaderSource): HeaderSource {
  // Read on first use: a legacy request never asks for Mcp-Name.
  let version: string | null | undefined;
  let method: string | null | undefined;
  let name: string | null | undefined;
  return {
    get(key) {
      if (key === Header.protocolVersion) return version === undefined ? (version = headers.get(key)) : version;
      if (key === Header.method) return method === undefined ? (method = headers.get(key)) : method;
      if (key === Header.name) return name === undefined ? (name = headers.get(key)) : name;
      return headers.get(key);
    },
  };
}

function trimmed(headers: HeaderSource, name: string): string | undefined {
  const value = headers.get(name);
  return value === null ? undefined : value.trim();
}

function mismatch(header: string, body: string, supported?: readonly string[]): Rejection {
  return { status: 400, error: { code: McpErrorCode.HeaderMismatch, message: `Bad Request: the request headers and body disagree: ${body}`, data: { mismatch: { header, body }, ...(supported && { supported: [...supported] }) } } };
}

/**
 * Classifies one POSTed body (already parsed, envelope-checked as JSON-RPC). `supported` is the
 * modern versions this endpoint serves; a modern claim outside it is -32022 listing them.
 */
export function classifyPost(body: JsonRpcMessage | JsonRpcMessage[], headers: HeaderSource, supported: readonly string[] = MODERN_VERSIONS): Classification {
  if (Array.isArray(body)) {
    if (body.some((message) => hasEnvelopeClaim((message as { params?: unknown }).params))) {
      return { era: "reject", rejection: { status: 400, error: { code: -32600, message: "Invalid Request: JSON-RPC batches may not carry requests of protocol revision 2026-07-28 or later" } } };
    }
    return { era: "legacy" };
  }
  if (!("method" in body)) return { era: "legacy" };
  const headerVersion = trimmed(headers, Header.protocolVersion);
  const headerModern = headerVersion !== undefined && isModernVersion(headerVersion);
  const methodHeader = trimmed(headers, Header.method);
  const isRequest = "id" in body && body.id !== undefined;
  const params = body.params;
  const claimed = hasEnvelopeClaim(params);

  if (!isRequest) {
    if (!claimed && !headerModern) return { era: "legacy" };
    if (methodHeader !== undefined && methodHeader !== body.method) return { era: "reject", rejection: mismatch(methodHeader, `the body names method ${body.method} but the Mcp-Method header names ${methodHeader}`) };
    return { era: "modern", kind: "notification" };
  }

  if (!claimed) {
    if (body.method === "initialize" && headerModern) {
      // A legacy client has no way forward but this message: it names what is served (basic/versioning).
      const served = `an initialize request (the legacy handshake) was sent with a modern MCP-Protocol-Version header; this endpoint serves ${ALL_VERSIONS.join(", ")} (legacy versions through initialize without that header)`;
      return { era: "reject", rejection: mismatch(headerVersion, served, ALL_VERSIONS) };
    }
    if (headerModern) {
      const read = readEnvelope(params);
      const problems = "problems" in read ? read.problems : [{ key: MetaKey.protocolVersion, problem: "missing" }];
      return { era: "reject", rejection: { status: 400, error: envelopeError(problems) } };
    }
    return { era: "legacy" };
  }

  const read = readEnvelope(params);
  if ("problems" in read) {
    // initialize with a broken claim stays the legacy handshake it always was.
    if (body.method === "initialize") return { era: "legacy" };
    return { era: "reject", rejection: { status: 400, error: envelopeError(read.problems) } };
  }
  const version = read.envelope.protocolVersion;
  if (body.method === "initialize" && !isModernVersion(version)) return { era: "legacy" };
  if (headerVersion !== undefined && headerVersion !== version) {
    return { era: "reject", rejection: mismatch(headerVersion, `the body's _meta names protocol version ${version} but the MCP-Protocol-Version header names ${headerVersion}`) };
  }
  if (methodHeader !== undefined && methodHeader !== body.method) {
    return { era: "reject", rejection: mismatch(methodHeader, `the body names method ${body.method} but the Mcp-Method header names ${methodHeader}`) };
  }
  if (!supported.includes(version)) return { era: "reject", rejection: { status: 400, error: unsupportedVersionError(version, supported) } };
  return { era: "modern", kind: "request", envelope: read.envelope };
}

const BASE64_PREFIX = "=?base64?";
const BASE64_SUFFIX = "?=";
const BASE64_CANONICAL = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** Values that travel in a header as they are: visible ASCII, inner spaces allowed. */
export const PLAIN_HEADER_VALUE = /^(?:[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?)?$/;
/**
 * What a plain value received may hold: visible ASCII, space and tab (SDK v2 clients send inner
 * tabs as they are). Other bytes (obs-text) are what the base64 form is for; read as Latin-1 they
 * could equal the body where a gateway reading them as UTF-8 sees another value.
 */
const RECEIVED_PLAIN_VALUE = /^[\t\x20-\x7e]*$/;

/**
 * Decodes an `Mcp-Name` / `Mcp-Param-*` value as received (`=?base64?…?=` carries UTF-8); undefined
 * when the sentinel is malformed or a plain value has characters other than visible ASCII, space
 * and tab (Streamable HTTP §Value Encoding: such a header is refused).
 */
export function decodeHeaderValue(value: string): string | undefined {
  if (!(value.startsWith(BASE64_PREFIX) && value.endsWith(BASE64_SUFFIX) && value.length >= BASE64_PREFIX.length + BASE64_SUFFIX.length)) return RECEIVED_PLAIN_VALUE.test(value) ? value : undefined;
  const b64 = value.slice(BASE64_PREFIX.length, value.length - BASE64_SUFFIX.length);
  if (!BASE64_CANONICAL.test(b64)) return undefined;
  try {
    const binary = atob(b64);
    // atob ignores the trailing bits of the last character: "QV==" would also read as "A".
    if (btoa(binary) !== b64) return undefined;
    return new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
  } catch {
    return undefined;
  }
}

/** Encodes a value for `Mcp-Name` / `Mcp-Param-*`: as is when it is plain visible ASCII, else with the base64 sentinel. */
export function encodeHeaderValue(value: string): string {
  if (PLAIN_HEADER_VALUE.test(value) && !value.startsWith(BASE64_PREFIX)) return value;
  let binary = "";
  for (const byte of new TextEncoder().encode(value)) binary += String.fromCharCode(byte);
  return `${BASE64_PREFIX}${btoa(binary)}${BASE64_SUFFIX}`;
}

/** The value `Mcp-Name` must carry for a request, when its method has one. */
function mcpNameOf(method: string, params: unknown): string | undefined {
  const field = Object.hasOwn(MCP_NAME_SOURCE, method) ? MCP_NAME_SOURCE[method] : undefined;
  const value = field && isObject(params) ? params[field] : undefined;
  return typeof value === "string" ? value : undefined;
}

/**
 * The presence half of the standard-header rule for a modern request: `MCP-Protocol-Version` and
 * `Mcp-Method` on every request, `Mcp-Name` where the method mirrors a name or URI, decoded and
 * equal to the body. (The mismatch half for version and method is in {@link classifyPost}.)
 */
export function checkStandardHeaders(method: string, params: unknown, headers: HeaderSource): Rejection | undefined {
  if (trimmed(headers, Header.protocolVersion) === undefined) return mismatch("(missing)", "the body carries a modern _meta envelope but the required MCP-Protocol-Version header is absent");
  if (trimmed(headers, Header.method) === undefined) return mismatch("(missing)", `the body names method ${method} but the required Mcp-Method header is absent`);
  const bodyName = mcpNameOf(method, params);
  // As received (HTTP whitespace is stripped already): trimming more could hide a character that must be refused.
  const header = headers.get(Header.name) ?? undefined;
  if (header === undefined) return bodyName === undefined ? undefined : mismatch("(missing)", `the body names ${JSON.stringify(bodyName)} but the required Mcp-Name header is absent`);
  const decoded = decodeHeaderValue(header);
  if (decoded === undefined) return mismatch(header, "the Mcp-Name header carries an invalid value (characters other than visible ASCII, space and tab, or a malformed base64 form)");
  if (bodyName !== undefined && decoded !== bodyName) return mismatch(header, `the body names ${JSON.stringify(bodyName)} but the Mcp-Name header names ${JSON.stringify(decoded)}`);
  return undefined;
}

/** One `x-mcp-header` declaration of a tool: the argument path and the header suffix. */
export interface ParamHeader {
  path: string[];
  name: string;
  type: string | undefined;
}

/** Tools whose `x-mcp-header` declarations one side remembers at once (far more than any server has). */
export const MAX_TOOLS_WITH_HEADERS = 10_000;

/**
 * Records a tool's declarations in `known`, as its most recent entry; past MAX_TOOLS_WITH_HEADERS
 * the oldest is forgotten: a peer listing ever new tools must not grow the bridge's memory without
 * bound (what is forgotten is as if never listed: read again when next needed).
 */
export function rememberTool(known: Map<string, ParamHeader[]>, name: string, declarations: ParamHeader[]): void {
  known.delete(name);
  known.set(name, declarations);
  if (known.size > MAX_TOOLS_WITH_HEADERS) known.delete(known.keys().next().value!);
}

/** The `x-mcp-header` declarations of a tool's `inputSchema`, found along `properties` chains. */
export function paramHeadersOf(inputSchema: unknown): ParamHeader[] {
  const found: ParamHeader[] = [];
  const visit = (node: unknown, path: string[], depth: number) => {
    if (!isObject(node) || depth > 32) return;
    const name = node["x-mcp-header"];
    if (path.length > 0 && typeof name === "string" && name !== "") found.push({ path, name, type: typeof node.type === "string" ? node.type : undefined });
    if (isObject(node.properties)) for (const [key, child] of Object.entries(node.properties)) visit(child, [...path, key], depth + 1);
  };
  visit(inputSchema, [], 0);
  return found;
}

/** RFC 9110 §5.6.2 token: what an HTTP field name may be. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Whether `name` is an HTTP token, so that `Mcp-Param-{name}` can be a header at all. */
export function isHeaderToken(name: string): boolean {
  return TOKEN.test(name);
}

function primitiveText(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "number" && Number.isFinite(value) && (!Number.isInteger(value) || Number.isSafeInteger(value))) return String(value);
  return undefined;
}

/**
 * The argument at `path` (property names from a tool's `inputSchema`) in a call's `arguments`, or
 * undefined. Own members only: a parameter named `constructor` or `toString` that the call leaves
 * out is absent, not the function every object inherits.
 */
function argumentAt(args: unknown, path: readonly string[]): unknown {
  let value = args;
  for (const key of path) value = isObject(value) && Object.hasOwn(value, key) ? value[key] : undefined;
  return value;
}

/**
 * Checks `Mcp-Param-{name}` headers of a `tools/call` against the body's arguments: each declared
 * argument present in the body must have its header, decoding to the same value (numbers compare
 * numerically). Absent or null arguments must have no header; declarations that are not HTTP tokens
 * expect none; a value no header can mirror (an object, an array, an unsafe integer) is refused.
 */
export function checkParamHeaders(declarations: readonly ParamHeader[], args: unknown, headers: HeaderSource): Rejection | undefined {
  for (const declaration of declarations) {
    // No header can carry a name that is not a token (a conforming client drops such a tool): none is expected.
    if (!isHeaderToken(declaration.name)) continue;
    const value = argumentAt(args, declaration.path);
    const headerName = `Mcp-Param-${declaration.name}`;
    if (value === undefined || value === null) {
      // A client omits the header for no value: one that is sent names a value the tool never gets.
      if (headers.get(headerName.toLowerCase()) !== null) return mismatch(headerName, `the ${headerName} header is present but the body carries no value at ${declaration.path.join(".")}`);
      continue;
    }
    const text = primitiveText(value);
    // An object, an array, an integer past 2^53: no header matches it, so none can say what the tool gets.
    if (text === undefined) return mismatch(headerName, `the body carries ${declaration.path.join(".")} as a value no header can mirror (${jsonKindOf(value)}${typeof value === "number" ? " outside the safe integer range" : ""})`);
    const header = headers.get(headerName.toLowerCase());
    if (header === null) return mismatch(headerName, `the body carries ${declaration.path.join(".")}=${JSON.stringify(value)} but the ${headerName} header is absent`);
    const decoded = decodeHeaderValue(header);
    if (decoded === undefined) return mismatch(headerName, `the ${headerName} header carries an invalid value (characters other than visible ASCII, space and tab, or a malformed base64 form)`);
    const equal = typeof value === "number" && /^-?\d+(\.\d+)?$/.test(decoded) ? Number(decoded) === value : decoded === text;
    if (!equal) return mismatch(headerName, `the ${headerName} header is ${JSON.stringify(decoded)} but the body carries ${declaration.path.join(".")}=${JSON.stringify(value)}`);
  }
  return undefined;
}

/** Client side: the standard and `Mcp-Param-*` headers a modern request must carry. */
export function requestHeaders(method: string, params: JsonObject | undefined, protocolVersion: string, declarations: readonly ParamHeader[] = []): Record<string, string> {
  const headers: Record<string, string> = { "MCP-Protocol-Version": protocolVersion, "Mcp-Method": method };
  const name = mcpNameOf(method, params);
  if (name !== undefined) headers["Mcp-Name"] = encodeHeaderValue(name);
  const args = params?.arguments;
  for (const declaration of declarations) {
    const text = primitiveText(argumentAt(args, declaration.path));
    if (text !== undefined) headers[`Mcp-Param-${declaration.name}`] = encodeHeaderValue(text);
  }
  return headers;
}
