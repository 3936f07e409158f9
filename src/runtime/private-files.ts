/** @module PrivateFiles on node:fs (also what Deno runs through its Node compatibility): owner-only files for the OAuth token cache. */
import { randomUUID } from "node:crypto";
import { link, mkdir, open, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { PrivateFiles } from "../auth/outbound/cache.ts";

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
    // Written in full under a temporary name, then linked into place (link fails when the path
    // exists): another instance never reads the file empty, which it would take for a lock whose
    // holder died, and break. A file system without hard links gets the create-then-write.
    const temporary = `${path}.${randomUUID()}.tmp`;
    try {
      await writeFile(temporary, text, { mode: 0o600, flag: "wx" });
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
      const handle = await open(path, "wx", 0o600);
      await handle.writeFile(text);
      await handle.close();
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw error;
    }
  },
  remove: (path) => rm(path, { force: true }),
};
