/**
 * @module The state directory's lock: one bridge per directory. Two bridges on one directory
 * would each compact the other's journals away and lose state silently, so the second one refuses
 * to start. The lock is a file naming its owner's process id (and a random token, so no two locks
 * read alike), created exclusively and never visible half-written; a lock whose process is gone
 * (the bridge was killed) is taken over with a warning. A lock is only ever removed by
 * compare-and-delete (removeIfSame): of bridges starting at once, or taking over one dead
 * bridge's lock at once, exactly one runs. A pid says nothing across containers (each bridge may
 * be process 1 of its own): a lock from another process scope (Platform.processScope) is judged
 * by its heartbeat instead, a file its holder rewrites every few seconds, and taken over only
 * once that has stood still for a while.
 */
import { ConfigError } from "../config/errors.ts";
import type { Logger } from "../log/logger.ts";
import type { Platform } from "../runtime/types.ts";
import { CLAIM_TTL, type LockFiles, ownerToken, removeIfSame } from "../util/lock-file.ts";
import { sleep } from "../util/sleep.ts";

/** The lock's file name inside the state directory. */
export const LOCK_FILE_NAME = "bridge.lock";

type LockPlatform = Pick<Platform, "readTextFile" | "writeTextFile" | "createExclusiveFile" | "removeFile" | "pid" | "processScope" | "processAlive">;

/** How often a holder rewrites its heartbeat file, `<lock>.beat` (ms). */
const HEARTBEAT_INTERVAL = 2_000;
/** How long a heartbeat must stand still before a lock from another process scope is judged a dead bridge's (ms). */
const HEARTBEAT_SILENCE = 15_000;

/**
 * How long a bridge waits while another one takes over a dead bridge's lock (ms). That takes two
 * file operations; only a claim left by a process killed between them lasts longer, CLAIM_TTL.
 */
const TAKEOVER_WAIT = CLAIM_TTL + 10_000;
/** How long a lock that cannot be parsed is given to be written before it is judged a dead bridge's (ms). */
const UNREADABLE_GRACE = 250;
/** Rounds in which the lock is there to create but gone to read, before it is judged no lock file. */
const MAX_VANISHED = 20;

export interface StateLock {
  /** Removes the lock file if it is still this one (never another bridge's that replaced it). */
  release(): Promise<void>;
}

/** The Platform's files as LockFiles (mode 0600). */
function lockFiles(platform: LockPlatform): LockFiles {
  return {
    createExclusive: (path, text) => platform.createExclusiveFile(path, text, 0o600),
    async read(path) {
      try {
        return { text: await platform.readTextFile(path) };
      } catch (error) {
        // Only "not there": a file there but unreadable must not pass for a free lock.
        if ((error as { code?: string }).code === "ENOENT" || (error as Error).name === "NotFound") return undefined;
        throw error;
      }
    },
    remove: (path) => platform.removeFile(path),
  };
}

/** The pid a lock's text names, or undefined when it names none. */
function pidOf(text: string): number | undefined {
  try {
    const pid = (JSON.parse(text) as { pid?: unknown }).pid;
    return typeof pid === "number" && Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function inUse(directory: string, path: string, pid: number): ConfigError {
  return new ConfigError("CONFIG_INVALID", [
    {
      path: "storage.path",
      message: `the state directory "${directory}" is in use by another mcp-bridge (process ${pid}); give each bridge its own storage.path (or use storage.type: memory). If no bridge runs there, remove "${path}"`,
    },
  ]);
}

/** The process scope a lock's text names; undefined for locks written before scopes were. */
function scopeOf(text: string): string | undefined {
  try {
    const scope = (JSON.parse(text) as { scope?: unknown }).scope;
    return typeof scope === "string" ? scope : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A live process other than this one named by the lock `text`, if any. From this process scope
 * its pid tells; from another, its heartbeat (`path`.beat) moving within HEARTBEAT_SILENCE.
 */
async function liveOwner(platform: LockPlatform, path: string, text: string): Promise<number | undefined> {
  const pid = pidOf(text);
  if (pid === undefined) return undefined;
  const scope = scopeOf(text);
  if (scope === undefined || scope === platform.processScope) return pid !== platform.pid && platform.processAlive(pid) ? pid : undefined;
  const beat = () => platform.readTextFile(`${path}.beat`).catch(() => undefined);
  const first = await beat();
  for (const deadline = performance.now() + HEARTBEAT_SILENCE; performance.now() < deadline; ) {
    await sleep(HEARTBEAT_INTERVAL / 4);
    if ((await beat()) !== first) return pid;
  }
  return undefined;
}

/** Rewrites the heartbeat of the lock at `path` every HEARTBEAT_INTERVAL until stopped. */
function startHeartbeat(platform: LockPlatform, path: string): () => void {
  let beats = 0;
  let writing = false;
  const beat = () => {
    if (writing) return;
    writing = true;
    // Any change is a beat; a write that fails (disk full) is tried again at the next one.
    platform
      .writeTextFile(`${path}.beat`, `${ownerToken()} ${++beats}\n`, { mode: 0o600, overwrite: true })
      .catch(() => {})
      .finally(() => (writing = false));
  };
  beat();
  const timer = setInterval(beat, HEARTBEAT_INTERVAL);
  (timer as { unref?: () => void }).unref?.();
  return () => clearInterval(timer);
}

/**
 * Throws the ConfigError `run` would (storage.path, naming the directory, the owner and the fix)
 * when a live process other than this one holds the lock of `directory`. Reads only.
 */
export async function checkStateLock(directory: string, platform: LockPlatform): Promise<void> {
  const path = `${directory}/${LOCK_FILE_NAME}`;
  const held = await lockFiles(platform).read(path).catch(() => undefined);
  const owner = held && (await liveOwner(platform, path, held.text));
  if (owner !== undefined) throw inUse(directory, path, owner);
}

/**
 * Takes the lock of `directory` (which must exist) for this process; a ConfigError naming
 * storage.path when a live bridge holds it (or another bridge's takeover of a dead one's lock does
 * not finish within TAKEOVER_WAIT). A lock left by a process that is gone, or unreadable, is taken
 * over with a warning. Other file errors are thrown as they are.
 */
export async function acquireStateLock(directory: string, platform: LockPlatform, logger: Logger): Promise<StateLock> {
  const path = `${directory}/${LOCK_FILE_NAME}`;
  const files = lockFiles(platform);
  const text = `${JSON.stringify({ pid: platform.pid, scope: platform.processScope, owner: ownerToken(), started_at: new Date().toISOString() })}\n`;
  const deadline = performance.now() + TAKEOVER_WAIT;
  let graceGiven = false;
  let vanished = 0;
  while (!(await files.createExclusive(path, text))) {
    if (performance.now() > deadline) throw takeoverStuck(directory, path);
    const held = await files.read(path);
    if (held === undefined) {
      // Gone since (released, or taken over by another bridge): the next round finds out which.
      // Always "there" to create and "gone" to read is no lock file: a dangling symbolic link.
      if (++vanished > MAX_VANISHED) throw notALock(directory, path);
      continue;
    }
    const owner = await liveOwner(platform, path, held.text);
    if (owner !== undefined) throw inUse(directory, path, owner);
    const previous = pidOf(held.text);
    if (previous === undefined && !graceGiven) {
      // Where the file system has no hard links, a lock is created, then written: it may be a
      // starting bridge's, read before its text.
      graceGiven = true;
      await sleep(UNREADABLE_GRACE);
      continue;
    }
    if (await removeIfSame(files, path, held.text, Date.now)) {
      logger.warn("taking over the state directory's lock: the bridge that held it is no longer running", { path, ...(previous !== undefined && { previous_pid: previous }) });
      continue;
    }
    // Another bridge is taking it over: the next round finds its lock.
    await sleep(50);
  }
  const stopHeartbeat = startHeartbeat(platform, path);
  return {
    async release() {
      stopHeartbeat();
      await removeIfSame(files, path, text, Date.now);
    },
  };
}

function takeoverStuck(directory: string, path: string): ConfigError {
  return new ConfigError("CONFIG_INVALID", [
    {
      path: "storage.path",
      message: `the state directory "${directory}" could not be locked in ${TAKEOVER_WAIT / 1000} s: its lock was left by a bridge that is no longer running, and another process claims to be taking it over; if no bridge runs there, remove "${path}" and the "${path}.*.claim" files`,
    },
  ]);
}

function notALock(directory: string, path: string): ConfigError {
  return new ConfigError("CONFIG_INVALID", [
    { path: "storage.path", message: `the state directory "${directory}" cannot be locked: "${path}" exists but is not a file (a dangling symbolic link?); remove it` },
  ]);
}
