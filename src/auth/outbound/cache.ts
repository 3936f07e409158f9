/**
 * @module The on-disk cache of client mode's OAuth state: per MCP server, per authorization server
 * (keyed by its issuer), the client registration, the validated metadata and the tokens. Files are
 * mode 0600 in a 0700 directory and written atomically; a file anyone else could read or write is
 * not trusted. A lock file lets several bridge instances share one login (the first signs in, the
 * others wait for its tokens) instead of racing for the browser and the callback.
 */
import type * as oauth from "oauth4webapi";
import { InputTooLargeError } from "../../util/bounded-read.ts";
import { sha256, toHex } from "../../util/digest.ts";
import { sleep } from "../../util/sleep.ts";
import { type LockFiles, ownerToken, removeIfSame, untilOf } from "../../util/lock-file.ts";
import type { Logger } from "../../log/logger.ts";
import { isObject, isStringList } from "../../util/object.ts";
import { bearerTokenProblem } from "../types.ts";
import type { TokenSet } from "./tokens.ts";

/** File operations the cache needs (files mode 0600; the login lock's among them); src/runtime/private-files.ts implements them. */
export interface PrivateFiles extends LockFiles {
  /**
   * The file's text and whether only its owner (this user) can read or write it; undefined when
   * absent; `special` (and no text) when it is no regular file (a FIFO, a device). Throws
   * InputTooLargeError (util/bounded-read.ts) for a file beyond what it reads.
   */
  read(path: string): Promise<{ text: string; private: boolean; special?: true } | undefined>;
  /** Replaces the file atomically (temporary file + rename), mode 0600; creates the directory (0700). */
  write(path: string, text: string): Promise<void>;
}

/** A client registration at one authorization server. */
export interface Registration {
  clientId: string;
  clientSecret?: string;
  /** The redirect URI registered with it (DCR), which the loopback listener must then serve. */
  redirectUri?: string;
  /** The token_endpoint_auth_method the server registered the client with (DCR). */
  authMethod?: string;
  via: "configured" | "cimd" | "dcr";
}

/** What is kept for one authorization server of one MCP server. */
export interface IssuerState {
  as: oauth.AuthorizationServer;
  resource: string;
  registration?: Registration;
  tokens?: TokenSet;
  /**
   * Discovery.guarded: requests to this server connect only to public addresses, after a restart
   * too, whatever the MCP server's DNS says by then. Absent (a cache from before): decided anew.
   */
  guarded?: boolean;
}

export interface CacheDocument {
  version: 1;
  /** The MCP server these entries are for. */
  serverUrl: string;
  /** The issuer last used, tried first at start. */
  current?: string;
  issuers: Record<string, IssuerState>;
}

/** The largest cache file used (bytes, as characters read); a larger one is ignored, and replaced at the next sign-in. */
const MAX_CACHE_BYTES = 1024 * 1024;

export interface TokenCache {
  load(): Promise<CacheDocument>;
  save(document: CacheDocument): Promise<void>;
  /**
   * Runs `login` holding the login lock for this server. When another instance holds it, waits
   * (up to `maxWait` ms) for that instance to finish. Holding the lock, it first calls `recheck`:
   * if that returns a value (another instance's tokens, read from the cache), `login` is not run.
   */
  withLoginLock<T>(recheck: () => Promise<T | undefined>, login: () => Promise<T>, maxWait: number): Promise<T>;
}

function emptyDocument(serverUrl: string): CacheDocument {
  return { version: 1, serverUrl, issuers: {} };
}

/** Why `value` is no cache document of this version for `serverUrl`; undefined when it is one. */
function documentProblem(value: unknown, serverUrl: string): string | undefined {
  if (!isObject(value) || !Object.hasOwn(value, "version")) return "not a cache file of mcp-bridge";
  if (value.version !== 1) return "written by another version of mcp-bridge";
  if (value.serverUrl !== serverUrl) return "it is for another MCP server (the file names it by a hash of the URL: copied or renamed?)";
  if (!isObject(value.issuers)) return "not a cache file of mcp-bridge";
  return undefined;
}

const optional = (value: unknown, is: (value: unknown) => boolean) => value === undefined || is(value);
const isString = (value: unknown): value is string => typeof value === "string";

function isTokenSet(value: unknown): value is TokenSet {
  if (!isObject(value)) return false;
  const { accessToken, refreshToken, expiresAt, obtainedAt, scopes, asked, tokenType } = value;
  // expiresAt null: an expiry too large to be a time, as JSON wrote it (tokens.ts isStale).
  return isString(accessToken) && bearerTokenProblem(accessToken) === undefined && optional(refreshToken, isString) && (expiresAt === null || optional(expiresAt, Number.isFinite)) && Number.isFinite(obtainedAt) && isStringList(scopes) && optional(asked, isStringList) && (tokenType === undefined || tokenType === "dpop");
}

function isRegistration(value: unknown): value is Registration {
  if (!isObject(value)) return false;
  const { clientId, clientSecret, redirectUri, authMethod, via } = value;
  return isString(clientId) && clientId !== "" && optional(clientSecret, isString) && optional(redirectUri, isString) && optional(authMethod, isString) && (via === "configured" || via === "cimd" || via === "dcr");
}

/** An entry the bridge can use: its fields of their types (the metadata's endpoints, which it sends credentials to, strings). */
function isIssuerState(value: unknown): value is IssuerState {
  if (!isObject(value) || !isObject(value.as) || !isString(value.as.issuer) || !isString(value.resource)) return false;
  const endpoints = ["token_endpoint", "authorization_endpoint", "registration_endpoint"].map((key) => (value.as as Record<string, unknown>)[key]);
  return endpoints.every((endpoint) => optional(endpoint, isString)) && optional(value.registration, isRegistration) && optional(value.tokens, isTokenSet) && (value.guarded === undefined || typeof value.guarded === "boolean");
}

/**
 * `document` without the entries the bridge could not use (a file edited by hand, or by another
 * program): each is dropped, and its authorization server signed in to again, rather than failing
 * the bridge at start or at its next refresh. `dropped`: how many were.
 */
function withoutUnusable(document: CacheDocument): { document: CacheDocument; dropped: number } {
  const entries = Object.entries(document.issuers);
  const usable = entries.filter(([, state]) => isIssuerState(state));
  const issuers: Record<string, IssuerState> = Object.fromEntries(usable);
  const current = document.current !== undefined && Object.hasOwn(issuers, document.current) ? document.current : undefined;
  return { document: { version: 1, serverUrl: document.serverUrl, ...(current !== undefined && { current }), issuers }, dropped: entries.length - usable.length };
}

/**
 * The cache file of `serverUrl` in `directory` (named by a hash of the URL), or a memory-only
 * cache when `files` is undefined.
 */
export async function openTokenCache(serverUrl: string, directory: string, files: PrivateFiles | undefined, logger: Logger, now: () => number = Date.now): Promise<TokenCache> {
  if (!files) {
    let memory = emptyDocument(serverUrl);
    return {
      load: async () => structuredClone(memory),
      save: async (document) => void (memory = structuredClone(document)),
      withLoginLock: (_recheck, login) => login(),
    };
  }
  const name = toHex(await sha256(serverUrl)).slice(0, 32);
  const path = `${directory}/oauth-${name}.json`;
  const lockPath = `${path}.lock`;
  // Each reason is said once (loads repeat: at every refresh, and while waiting for another
  // instance's sign-in), again only after a load that found a file it used or no file at all (a
  // problem that comes back after either is said again); never the file's content.
  let said: string | undefined;
  const ignored = (reason: string, fields: Record<string, unknown> = {}): CacheDocument => {
    if (said !== reason) logger.warn(`token cache ignored: ${reason}; signing in again, which replaces it`, { path, ...fields });
    said = reason;
    return emptyDocument(serverUrl);
  };
  const tooLarge = () => ignored(`larger than the ${MAX_CACHE_BYTES} bytes a cache file may hold`, { limit_bytes: MAX_CACHE_BYTES });
  const load = async (): Promise<CacheDocument> => {
    let file: Awaited<ReturnType<PrivateFiles["read"]>>;
    try {
      file = await files.read(path);
    } catch (error) {
      if (error instanceof InputTooLargeError) return tooLarge();
      return ignored("unreadable", { error: (error as Error).message });
    }
    if (!file) {
      said = undefined;
      return emptyDocument(serverUrl);
    }
    // A FIFO or a device is not read (it may never end).
    if (file.special) return ignored("it is not a regular file");
    // Someone else could have read the tokens, or planted their own: neither is used.
    if (!file.private) return ignored("it is not private to this user (mode must be 0600, owned by this user)");
    if (file.text.length > MAX_CACHE_BYTES) return tooLarge();
    let parsed: unknown;
    try {
      parsed = JSON.parse(file.text);
    } catch {
      // Not the parser's message: it quotes the file, tokens included.
      return ignored("not JSON");
    }
    const problem = documentProblem(parsed, serverUrl);
    if (problem) return ignored(problem);
    const { document, dropped } = withoutUnusable(parsed as CacheDocument);
    const reason = `${dropped} ${dropped === 1 ? "entry" : "entries"} not in the form this version writes`;
    if (dropped > 0 && said !== reason) logger.warn("token cache entries ignored: not in the form this version writes; their servers are signed in to again", { path, entries: dropped });
    said = dropped > 0 ? reason : undefined;
    return document;
  };
  return {
    load,
    save: (document) => files.write(path, JSON.stringify(document)),
    async withLoginLock(recheck, login, maxWait) {
      // How long this instance waits is its own affair (the monotonic clock); `until` in the lock
      // file is read by other processes, so it is on the wall clock they share.
      const deadline = performance.now() + maxWait;
      let waited = false;
      for (;;) {
        // The owner token makes every lock's text unique: removeIfSame tells this lock from the next.
        const lock = JSON.stringify({ until: now() + maxWait, owner: ownerToken() });
        if (await files.createExclusive(lockPath, lock)) {
          try {
            // Even a lock taken at once may follow another instance's sign-in that ended a moment ago.
            const done = await recheck();
            if (done !== undefined) return done;
            return await login();
          } finally {
            // Only our own lock: a sign-in that overran `until` may have had it broken and retaken.
            await removeIfSame(files, lockPath, lock, now).catch(() => {});
          }
        }
        // Held by another instance: a stale lock (its holder died) is broken once it has expired.
        const held = await files.read(lockPath).catch(() => undefined);
        if (held && untilOf(held.text) < now() && (await removeIfSame(files, lockPath, held.text, now).catch(() => false))) {
          logger.warn("breaking a stale login lock", { path: lockPath });
          continue;
        }
        if (!waited) logger.info("another mcp-bridge is signing in to this server; waiting for it", { path: lockPath });
        waited = true;
        if (performance.now() > deadline) return login();
        const done = await recheck();
        if (done !== undefined) return done;
        await sleep(250);
      }
    },
  };
}
