/**
 * @module `server/discover` (2026-07-28) and the legacy `initialize` result say the same things:
 * the versions, capabilities, identity and instructions of a server. Pure conversions, both ways.
 */
import { isObject, type Implementation, type JsonObject } from "./envelope.ts";
import { MetaKey } from "./protocol.ts";
import { DEFAULT_CACHE_HINT, type CacheHint } from "./results.ts";

/** The legacy `initialize` result. */
export interface InitializeResult {
  protocolVersion: string;
  capabilities: JsonObject;
  serverInfo: Implementation;
  instructions?: string;
  [key: string]: unknown;
}

/** The `server/discover` result, as sent (with `resultType` and cache fields). */
export interface DiscoverResult {
  supportedVersions: string[];
  capabilities: JsonObject;
  instructions?: string;
  resultType: "complete";
  ttlMs: number;
  cacheScope: "public" | "private";
  _meta?: JsonObject;
  [key: string]: unknown;
}


/** An Implementation as every era requires it: a string `name` and `version` (clients refuse one without). */
function isImplementation(value: unknown): value is Implementation {
  return isObject(value) && typeof value.name === "string" && typeof value.version === "string";
}

/** Optional members of an Implementation that the schema types as strings. */
const IMPLEMENTATION_TEXTS = ["title", "description", "websiteUrl"];

function isReadableIcon(icon: unknown): boolean {
  if (!isObject(icon) || typeof icon.src !== "string") return false;
  if (icon.mimeType !== undefined && typeof icon.mimeType !== "string") return false;
  if (icon.sizes !== undefined && !(Array.isArray(icon.sizes) && icon.sizes.every((size) => typeof size === "string"))) return false;
  return icon.theme === undefined || icon.theme === "light" || icon.theme === "dark";
}

/**
 * `info` without the optional members a client's schema could not read (a `title`,
 * `description` or `websiteUrl` that is not a string, `icons` that are not an array of icons): a
 * client validating the handshake would refuse all of it for one of them.
 */
function readableImplementation(info: Implementation): Implementation {
  const out: Implementation = { ...info };
  for (const key of IMPLEMENTATION_TEXTS) if (key in out && typeof out[key] !== "string") delete out[key];
  if ("icons" in out && !(Array.isArray(out.icons) && out.icons.every(isReadableIcon))) delete out.icons;
  return out;
}

/**
 * Why a legacy `initialize` result cannot be told as a `server/discover` result, or undefined when
 * it can: `capabilities` must be an object, `serverInfo` an object with a string `name` and
 * `version`, `instructions` absent, null (read as absent: nothing is lost) or a string (an empty or
 * made-up stand-in would misinform the client).
 */
export function initializeResultProblem(init: unknown): string | undefined {
  if (!isObject(init)) return "its initialize result is not an object";
  if (!isObject(init.capabilities)) return "its initialize result has no capabilities object";
  if (!isImplementation(init.serverInfo)) return "its initialize result has no serverInfo with a string name and version";
  if (init.instructions !== undefined && init.instructions !== null && typeof init.instructions !== "string") return "its initialize result has instructions that are not a string";
  return undefined;
}

/** Legacy → modern: the `server/discover` answer for a server that answered `initialize` with `init` (see initializeResultProblem). */
export function discoverFromInitialize(init: InitializeResult, supportedVersions: readonly string[], hint: CacheHint = DEFAULT_CACHE_HINT): DiscoverResult {
  return {
    supportedVersions: [...supportedVersions],
    capabilities: modernCapabilities(init.capabilities),
    ...(typeof init.instructions === "string" && { instructions: init.instructions }),
    resultType: "complete",
    ttlMs: hint.ttlMs,
    cacheScope: hint.cacheScope,
    ...(isImplementation(init.serverInfo) && { _meta: { [MetaKey.serverInfo]: readableImplementation(init.serverInfo) } }),
  };
}

/** Capability flags that every era's schema types as booleans. */
const CAPABILITY_FLAGS = ["listChanged", "subscribe"];

/**
 * Server capabilities as a client's schema reads them: each member an object (`experimental` an
 * object of objects), its `listChanged` and `subscribe` flags booleans. What is not so is left out
 * (a flag absent is false): a client validating the initialize result would refuse the whole
 * handshake for one such member, where without it the server serves.
 */
function readableCapabilities(capabilities: unknown): JsonObject {
  if (!isObject(capabilities)) return {};
  const members: Array<[string, JsonObject]> = [];
  for (const [name, value] of Object.entries(capabilities)) {
    if (!isObject(value)) continue;
    if (name === "experimental") members.push([name, Object.fromEntries(Object.entries(value).filter(([, entry]) => isObject(entry)))]);
    else members.push([name, Object.fromEntries(Object.entries(value).filter(([flag, entry]) => !CAPABILITY_FLAGS.includes(flag) || typeof entry === "boolean"))]);
  }
  // Every name an own member ("__proto__" too: an assignment would set the prototype instead).
  return Object.fromEntries(members);
}

/**
 * Server capabilities as a modern client may see them: `tasks`, gone from the era, is dropped;
 * `logging` (log messages now sent at each request's `logLevel`), `completions`, `prompts`,
 * `resources` (with `subscribe`, now served by `subscriptions/listen`) and `tools` stay, as a
 * client's schema can read them (see readableCapabilities).
 */
function modernCapabilities(capabilities: unknown): JsonObject {
  const out = readableCapabilities(capabilities);
  delete out.tasks;
  return out;
}

/**
 * Modern → legacy: the `initialize` answer for a legacy client, from a modern server's
 * `server/discover`. `protocolVersion` is the legacy version agreed with the client;
 * `fallbackServerInfo` names the server when the discover result names none with a string name
 * and version; capabilities are those a client's schema can read (see readableCapabilities).
 */
export function initializeFromDiscover(discover: unknown, protocolVersion: string, fallbackServerInfo: Implementation): InitializeResult {
  const result = isObject(discover) ? discover : {};
  const info = isObject(result._meta) ? result._meta[MetaKey.serverInfo] : undefined;
  const serverInfo = isImplementation(info) ? readableImplementation(info) : isImplementation(result.serverInfo) ? readableImplementation(result.serverInfo) : fallbackServerInfo;
  return {
    protocolVersion,
    capabilities: readableCapabilities(result.capabilities),
    serverInfo,
    ...(typeof result.instructions === "string" && { instructions: result.instructions }),
  };
}

/** Picks the legacy version to agree on: the client's when served, else the newest served. */
export function negotiateLegacyVersion(requested: unknown, served: readonly string[]): string {
  return typeof requested === "string" && served.includes(requested) ? requested : served[0]!;
}
