/**
 * @module The per-request envelope of the modern era (`params._meta` carrying protocol version,
 * client capabilities, client info and log level) and its legacy counterpart, the `initialize`
 * params a session sends once. Pure functions, both directions.
 */
import { McpErrorCode, MetaKey } from "./protocol.ts";
import { isObject } from "../util/object.ts";
import { isExactNumber } from "../jsonrpc/message.ts";

export type JsonObject = Record<string, unknown>;

/** Logging levels, least severe first (RFC 5424 order, as MCP Logging names them). */
export const LOG_LEVELS = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Implementation {
  name: string;
  version: string;
  [key: string]: unknown;
}

/** What a modern request says about its client, read from `params._meta`. */
export interface RequestEnvelope {
  protocolVersion: string;
  clientCapabilities: JsonObject;
  /** A SHOULD since spec PR #3002; never required. */
  clientInfo?: Implementation;
  /** Absent: the server must not send `notifications/message` for this request. */
  logLevel?: LogLevel;
}

/** The `params` of a legacy `initialize` request. */
export interface InitializeParams {
  protocolVersion: string;
  capabilities: JsonObject;
  clientInfo: Implementation;
  [key: string]: unknown;
}

/** What a progress token must be: progress carries it back as the bridge parsed it (see isExactNumber). */
export const PROGRESS_TOKEN_PROBLEM = "expected a string or a number (an integer at most 2^53 - 1 in magnitude)";

/** One thing wrong with an envelope: which `_meta` key and why. */
export interface EnvelopeProblem {
  key: string;
  problem: string;
}

export { isObject };

/** `params._meta` when it is an object. */
export function metaOf(params: unknown): JsonObject | undefined {
  const meta = isObject(params) ? params._meta : undefined;
  return isObject(meta) ? meta : undefined;
}

/** Whether the params claim the modern envelope: `_meta` names a protocol version (valid or not). */
export function hasEnvelopeClaim(params: unknown): boolean {
  const meta = metaOf(params);
  return meta !== undefined && MetaKey.protocolVersion in meta;
}

function isImplementation(value: unknown): value is Implementation {
  return isObject(value) && typeof value.name === "string" && typeof value.version === "string";
}

/**
 * Reads and checks the envelope of a modern request. `protocolVersion` and `clientCapabilities`
 * are required; `clientInfo` and `logLevel` are checked when present, and so is `progressToken`
 * (a string or a number, basic/patterns/progress: a child may drop a request with another, and
 * its client would wait for nothing; an integer a double holds exactly). Problems come missing
 * keys first, in a stable order, so the first one is what a client should fix first.
 */
export function readEnvelope(params: unknown): { envelope: RequestEnvelope } | { problems: EnvelopeProblem[] } {
  const meta = metaOf(params);
  if (!meta) return { problems: [{ key: "_meta", problem: "missing" }] };
  const problems: EnvelopeProblem[] = [];
  const version = meta[MetaKey.protocolVersion];
  const capabilities = meta[MetaKey.clientCapabilities];
  const info = meta[MetaKey.clientInfo];
  const level = meta[MetaKey.logLevel];
  if (version === undefined) problems.push({ key: MetaKey.protocolVersion, problem: "missing" });
  if (capabilities === undefined) problems.push({ key: MetaKey.clientCapabilities, problem: "missing" });
  if (version !== undefined && typeof version !== "string") problems.push({ key: MetaKey.protocolVersion, problem: "expected a string" });
  if (capabilities !== undefined && !isObject(capabilities)) problems.push({ key: MetaKey.clientCapabilities, problem: "expected an object" });
  if (info !== undefined && !isImplementation(info)) problems.push({ key: MetaKey.clientInfo, problem: "expected an object with string name and version" });
  if (level !== undefined && !(LOG_LEVELS as readonly unknown[]).includes(level)) problems.push({ key: MetaKey.logLevel, problem: `expected one of ${LOG_LEVELS.join(", ")}` });
  const token = meta.progressToken;
  if (token !== undefined && typeof token !== "string" && !(typeof token === "number" && isExactNumber(token))) problems.push({ key: "progressToken", problem: PROGRESS_TOKEN_PROBLEM });
  if (problems.length > 0) return { problems };
  const envelope: RequestEnvelope = { protocolVersion: version as string, clientCapabilities: capabilities as JsonObject };
  if (info !== undefined) envelope.clientInfo = info as Implementation;
  if (level !== undefined) envelope.logLevel = level as LogLevel;
  return { envelope };
}

/** The JSON-RPC error for a bad envelope: -32602 naming the first problem (HTTP 400 on the modern path). */
export function envelopeError(problems: readonly EnvelopeProblem[]): { code: number; message: string; data: unknown } {
  const first = problems[0]!;
  // No _meta at all: name what it must hold, as for a single missing key.
  const message =
    first.key === "_meta"
      ? `Invalid params: _meta is missing (a 2026-07-28 request carries ${MetaKey.protocolVersion} and ${MetaKey.clientCapabilities} in params._meta)`
      : `Invalid params: _meta ${first.key}: ${first.problem}`;
  return { code: -32602, message, data: { envelope: first } };
}

/** `params` with the envelope written into `_meta` (other `_meta` entries kept); a new object. */
export function withEnvelope(params: JsonObject | undefined, envelope: RequestEnvelope): JsonObject {
  const meta: JsonObject = { ...metaOf(params) };
  meta[MetaKey.protocolVersion] = envelope.protocolVersion;
  meta[MetaKey.clientCapabilities] = envelope.clientCapabilities;
  if (envelope.clientInfo) meta[MetaKey.clientInfo] = envelope.clientInfo;
  else delete meta[MetaKey.clientInfo];
  if (envelope.logLevel) meta[MetaKey.logLevel] = envelope.logLevel;
  else delete meta[MetaKey.logLevel];
  return { ...params, _meta: meta };
}

/**
 * `params` without the envelope keys, for a legacy peer that has no use for them (their meaning
 * went to `initialize` instead). `_meta` is dropped when nothing else is left in it.
 */
export function withoutEnvelope(params: JsonObject | undefined): JsonObject | undefined {
  const meta = metaOf(params);
  if (!params || !meta) return params;
  // Rest patterns copy own keys as data (a "__proto__" key stays a key) and leave the shapes plain,
  // where deleting keys would not.
  const { _meta: _envelope, ...copy } = params;
  // Nearly always _meta holds the envelope alone: nothing of it to copy (checked without copying).
  if (onlyEnvelope(meta)) return copy;
  const { [MetaKey.protocolVersion]: _version, [MetaKey.clientCapabilities]: _capabilities, [MetaKey.clientInfo]: _info, [MetaKey.logLevel]: _level, ...rest } = meta;
  copy._meta = rest;
  return copy;
}

/** The `_meta` keys of the envelope (RequestEnvelope). */
const ENVELOPE_KEYS: ReadonlySet<string> = new Set([MetaKey.protocolVersion, MetaKey.clientCapabilities, MetaKey.clientInfo, MetaKey.logLevel]);

/** Whether `meta` has no own key but the envelope's. */
function onlyEnvelope(meta: JsonObject): boolean {
  for (const key in meta) if (Object.hasOwn(meta, key) && !ENVELOPE_KEYS.has(key)) return false;
  return true;
}

/**
 * Legacy → modern: the envelope a legacy session's requests carry once translated. `logLevel` is
 * the level the session set with `logging/setLevel`, if it did.
 */
export function envelopeFromInitializeParams(params: InitializeParams, modernVersion: string, logLevel?: LogLevel): RequestEnvelope {
  return { protocolVersion: modernVersion, clientCapabilities: params.capabilities, clientInfo: params.clientInfo, ...(logLevel && { logLevel }) };
}

/** Whether a `notifications/message` at `level` goes to a request that asked for `requested` (absent: none). */
export function logLevelAllows(requested: LogLevel | undefined, level: unknown): boolean {
  if (requested === undefined) return false;
  const at = LOG_LEVELS.indexOf(level as LogLevel);
  return at === -1 || at >= LOG_LEVELS.indexOf(requested);
}

/** The -32022 error: `data.supported` lists what is served, `data.requested` echoes the ask when there was one. */
export function unsupportedVersionError(requested: string | undefined, supported: readonly string[]): { code: number; message: string; data: unknown } {
  return {
    code: McpErrorCode.UnsupportedProtocolVersion,
    message: `Unsupported protocol version${requested === undefined ? "" : ` ${JSON.stringify(requested.slice(0, 40))}`}; supported: ${supported.join(", ")}`,
    data: { supported: [...supported], ...(requested !== undefined && { requested }) },
  };
}
