/**
 * @module The file Store (the default): the memory store, persisted to one JSON file in the state
 * directory after every change. Writes are atomic (a temporary file renamed over the old one) and
 * grouped: changes made while a write is under way are written together by the next one, and each
 * change resolves only once a write that includes it is on disk. Mode 0600 in a 0700 directory.
 *
 * One bridge process per state directory: two would overwrite each other's changes.
 */
import type { Logger } from "../log/logger.ts";
import type { Platform } from "../runtime/types.ts";
import { MemoryStore } from "./memory.ts";

const FORMAT_VERSION = 1;
/** The file name inside the state directory. */
export const STATE_FILE_NAME = "state.json";

type FilePlatform = Pick<Platform, "readTextFile" | "writeTextFile" | "makeDirectory" | "renameFile" | "fileExists">;

export interface FileStoreOptions {
  /** The state directory; created (0700) when missing. */
  directory: string;
  platform: FilePlatform;
  logger: Logger;
  maxEntries?: number;
  now?: () => number;
}

export class FileStore extends MemoryStore {
  readonly #path: string;
  readonly #platform: FilePlatform;
  readonly #logger: Logger;
  /** The write under way, if any. */
  #writing: Promise<void> | undefined;
  /** The write that will include changes made while #writing runs. */
  #next: Promise<void> | undefined;
  #closed = false;

  private constructor(options: FileStoreOptions, path: string) {
    let self: FileStore | undefined;
    super({ maxEntries: options.maxEntries, now: options.now, onChange: () => self!.#persist() });
    self = this;
    this.#path = path;
    this.#platform = options.platform;
    this.#logger = options.logger;
  }

  /** Opens (or creates) the store in `options.directory`. A file that cannot be parsed is set aside, with a warning. */
  static async open(options: FileStoreOptions): Promise<FileStore> {
    const { platform, directory } = options;
    await platform.makeDirectory(directory, 0o700);
    const path = joinPath(directory, STATE_FILE_NAME);
    const store = new FileStore(options, path);
    if (platform.fileExists(path)) {
      const text = await platform.readTextFile(path);
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      const entries = (parsed as { version?: unknown; entries?: unknown } | undefined)?.entries;
      if ((parsed as { version?: unknown } | undefined)?.version === FORMAT_VERSION && typeof entries === "object" && entries !== null) {
        store.restore(entries as Record<string, unknown>);
      } else {
        const aside = `${path}.unreadable-${Date.now()}`;
        await platform.renameFile(path, aside);
        options.logger.warn("the state file could not be read and was set aside; signed-in clients must sign in again", { path, moved_to: aside });
      }
    }
    return store;
  }

  /** Resolves once the current entries are on disk. */
  #persist(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    if (!this.#writing) {
      this.#writing = this.#write().finally(() => (this.#writing = undefined));
      return this.#writing;
    }
    // A write is under way and may have serialised before this change: queue one more, shared by everyone who arrives meanwhile.
    this.#next ??= this.#writing
      .catch(() => {})
      .then(() => {
        this.#next = undefined;
        return this.#persist();
      });
    return this.#next;
  }

  async #write(): Promise<void> {
    const text = JSON.stringify({ version: FORMAT_VERSION, entries: this.snapshot() });
    const temporary = `${this.#path}.${randomSuffix()}.tmp`;
    try {
      await this.#platform.writeTextFile(temporary, text, { mode: 0o600, overwrite: false });
      await this.#platform.renameFile(temporary, this.#path);
    } catch (error) {
      this.#logger.error("cannot write the state file", { path: this.#path, error: (error as Error).message });
      throw error;
    }
  }

  override async close(): Promise<void> {
    await super.close();
    await this.#next?.catch(() => {});
    await this.#writing?.catch(() => {});
    this.#closed = true;
  }
}

function joinPath(directory: string, name: string): string {
  return /[\\/]$/.test(directory) ? directory + name : `${directory}/${name}`;
}

function randomSuffix(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}
