/**
 * @module The state directory's lock: one bridge per directory. Two bridges on one directory
 * would each compact the other's journals away and lose state silently, so the second one refuses
 * to start. The lock is a file naming its owner's process id, created exclusively; a lock whose
 * process is gone (the bridge was killed) is taken over with a warning.
 */
import { ConfigError } from "../config/errors.ts";
import type { Logger } from "../log/logger.ts";
import type { Platform } from "../runtime/types.ts";

/** The lock's file name inside the state directory. */
export const LOCK_FILE_NAME = "bridge.lock";

type LockPlatform = Pick<Platform, "readTextFile" | "writeTextFile" | "removeFile" | "fileExists" | "pid" | "processAlive">;

export interface StateLock {
  /** Removes the lock file if it is still this process's. */
  release(): Promise<void>;
}

/** The pid in the lock file at `path`, or undefined when there is none or it cannot be read. */
async function lockOwner(platform: LockPlatform, path: string): Promise<number | undefined> {
  try {
    const pid = (JSON.parse(await platform.readTextFile(path)) as { pid?: unknown }).pid;
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

/**
 * Throws the ConfigError `run` would (storage.path, naming the directory, the owner and the fix)
 * when a live process other than this one holds the lock of `directory`. Reads only.
 */
export async function checkStateLock(directory: string, platform: LockPlatform): Promise<void> {
  const path = `${directory}/${LOCK_FILE_NAME}`;
  if (!platform.fileExists(path)) return;
  const owner = await lockOwner(platform, path);
  if (owner !== undefined && owner !== platform.pid && platform.processAlive(owner)) throw inUse(directory, path, owner);
}

/**
 * Takes the lock of `directory` (which must exist) for this process; a ConfigError naming
 * storage.path when a live bridge holds it. A lock left by a process that is gone, or unreadable,
 * is taken over with a warning.
 */
export async function acquireStateLock(directory: string, platform: LockPlatform, logger: Logger): Promise<StateLock> {
  const path = `${directory}/${LOCK_FILE_NAME}`;
  const text = `${JSON.stringify({ pid: platform.pid, started_at: new Date().toISOString() })}\n`;
  for (let attempt = 0; ; attempt++) {
    try {
      await platform.writeTextFile(path, text, { mode: 0o600, overwrite: false });
      break;
    } catch (error) {
      if (!platform.fileExists(path)) throw error;
      const owner = await lockOwner(platform, path);
      if (owner !== undefined && owner !== platform.pid && platform.processAlive(owner)) throw inUse(directory, path, owner);
      if (attempt > 0) throw error;
    }
    const owner = await lockOwner(platform, path);
    logger.warn("taking over the state directory's lock: the bridge that held it is no longer running", { path, ...(owner !== undefined && { previous_pid: owner }) });
    await platform.removeFile(path);
  }
  return {
    async release() {
      if ((await lockOwner(platform, path)) === platform.pid) await platform.removeFile(path);
    },
  };
}
