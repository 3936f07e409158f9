/** @module Node: the file operations the state store needs beyond reading and writing (directories, atomic renames, removal, the lock's liveness check). */
import { mkdir, rename, rm } from "node:fs/promises";

/** Creates `path` and its missing parents with `mode`; no-op when it exists. */
export async function makeDirectory(path: string, mode: number): Promise<void> {
  await mkdir(path, { recursive: true, mode });
}

/** Renames `from` to `to`, replacing `to` atomically. */
export function renameFile(from: string, to: string): Promise<void> {
  return rename(from, to);
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
