/** @module PrivateFiles on node:fs (also what Deno runs through its Node compatibility): owner-only files for the OAuth token cache. */
import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { PrivateFiles } from "../auth/outbound/cache.ts";
import { createExclusiveFile } from "./node-files.ts";

const isWindows = process.platform === "win32";

async function ensureDirectory(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
}

export const privateFiles: PrivateFiles = {
  async read(path) {
    let info;
    try {
      info = await stat(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw error;
    }
    const uid = process.getuid?.();
    // Windows has no POSIX modes; its ACLs on the profile directory keep other users out.
    const owner = isWindows || uid === undefined || info.uid === uid;
    const isPrivate = isWindows || (owner && (info.mode & 0o077) === 0);
    return { text: await readFile(path, "utf8"), private: isPrivate && info.isFile() };
  },
  async write(path, text) {
    await ensureDirectory(path);
    const temporary = `${path}.${process.pid}.${Date.now()}.tmp`;
    try {
      await writeFile(temporary, text, { mode: 0o600, flag: "wx" });
      await rename(temporary, path);
    } finally {
      await rm(temporary, { force: true });
    }
  },
  async createExclusive(path, text) {
    await ensureDirectory(path);
    return createExclusiveFile(path, text, 0o600);
  },
  remove: (path) => rm(path, { force: true }),
};
