/** @module PrivateFiles on node:fs (also what Deno runs through its Node compatibility): owner-only files for the OAuth token cache. */
import { constants } from "node:fs";
import { mkdir, open, rename, rm, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { PrivateFiles } from "../auth/outbound/cache.ts";
import { createExclusiveFile } from "./node-files.ts";
import { InputTooLargeError } from "../util/bounded-read.ts";

const isWindows = process.platform === "win32";

/** The most read of a cache or lock file (the cache keeps at most 1 MiB): a longer one is no file of ours. */
const MAX_PRIVATE_FILE_BYTES = 4 * 1024 * 1024;

async function ensureDirectory(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
}

export const privateFiles: PrivateFiles = {
  async read(path) {
    let file;
    try {
      // Non-blocking: a FIFO put in the file's place opens without waiting for a writer (then is no regular file).
      file = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw error;
    }
    try {
      // The file opened, not the path again: what is checked is what is read.
      const info = await file.stat();
      const uid = process.getuid?.();
      // Windows has no POSIX modes; its ACLs on the profile directory keep other users out.
      const owner = isWindows || uid === undefined || info.uid === uid;
      // A FIFO or a device (behind a link) is no cache or lock: not read (it may never end).
      if (!info.isFile()) return { text: "", private: false, special: true };
      const chunks: Buffer[] = [];
      let length = 0;
      for (;;) {
        const { bytesRead, buffer } = await file.read(Buffer.alloc(64 * 1024), 0, 64 * 1024, null);
        if (bytesRead === 0) break;
        length += bytesRead;
        if (length > MAX_PRIVATE_FILE_BYTES) throw new InputTooLargeError(MAX_PRIVATE_FILE_BYTES);
        chunks.push(buffer.subarray(0, bytesRead));
      }
      return { text: Buffer.concat(chunks).toString("utf8"), private: isWindows || (owner && (info.mode & 0o077) === 0) };
    } finally {
      await file.close();
    }
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
