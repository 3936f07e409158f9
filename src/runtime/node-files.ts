/** @module Node: the file operations the state store needs beyond reading and writing (directories, atomic renames, removal, lock files and their liveness check). */
import { randomUUID } from "node:crypto";
import { readFileSync, readlinkSync } from "node:fs";
import { link, mkdir, open, rename, rm, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { dirname } from "node:path";

/** Creates `path` and its missing parents with `mode`; no-op when it exists. */
export async function makeDirectory(path: string, mode: number): Promise<void> {
  await mkdir(path, { recursive: true, mode });
}

/** Renames `from` to `to`, replacing `to` atomically, and syncs the directory so that the rename survives a power cut. */
export async function renameFile(from: string, to: string): Promise<void> {
  await rename(from, to);
  let directory: Awaited<ReturnType<typeof open>> | undefined;
  try {
    directory = await open(dirname(to), "r");
    await directory.sync();
  } catch {
    // Some systems cannot sync a directory (Windows, some network file systems): the rename stands, less durably.
  } finally {
    await directory?.close();
  }
}

/** Writes `text` to `path` (flags as fs.open) and syncs it to stable storage before resolving. */
export async function writeDurably(path: string, text: string, flags: string, mode: number): Promise<void> {
  const file = await open(path, flags, mode);
  try {
    await file.writeFile(text);
    await file.sync();
  } finally {
    await file.close();
  }
}

/** Removes `path`; no error when it is already gone. */
export function removeFile(path: string): Promise<void> {
  return rm(path, { force: true });
}

/** False only when no process `pid` exists (signal 0 probes without signalling; EPERM: it exists, another user's). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code !== "ESRCH";
  }
}

/**
 * Platform.processScope: the host name, and on Linux the pid namespace ("pid:[4026531836]") and
 * the boot (after a reboot a lock's pid may name whatever process has it now).
 */
export function processScope(): string {
  const read = (get: () => string) => {
    try {
      return get().trim();
    } catch {
      // Not Linux: the host name alone.
      return "";
    }
  };
  return [hostname(), read(() => readlinkSync("/proc/self/ns/pid")), read(() => readFileSync("/proc/sys/kernel/random/boot_id", "utf8"))].filter(Boolean).join(" ");
}

/**
 * Creates `path` holding `text` (mode `mode`, less the umask) only if nothing exists there; false
 * when something does. Written in full under a temporary name beside it, then linked into place
 * (link fails when the path exists): another process never reads it empty, which it would take
 * for a lock whose holder died, and break. A file system without hard links gets the
 * create-then-write.
 */
export async function createExclusiveFile(path: string, text: string, mode: number): Promise<boolean> {
  const temporary = `${path}.${randomUUID()}.tmp`;
  try {
    await writeFile(temporary, text, { mode, flag: "wx" });
    await link(temporary, path);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return false;
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "ENOSYS") throw error;
  } finally {
    await rm(temporary, { force: true });
  }
  try {
    const handle = await open(path, "wx", mode);
    try {
      await handle.writeFile(text);
    } finally {
      await handle.close();
    }
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
}
