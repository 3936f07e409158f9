/**
 * @module The file Store (the default): the memory store, persisted in the state directory as a
 * snapshot (`state.json`) plus a journal of the changes since (`state.journal.<n>`, one JSON line
 * per change). A change is appended to the journal before its operation resolves, so what a client
 * was told is on disk (the OS's, without fsync: a crash of the bridge loses nothing, a power cut
 * may lose the last moments). When the journal outgrows the live entries, a new snapshot is
 * written atomically (temporary file, fsynced, renamed over the old, the directory synced) and
 * older journals are removed.
 * Changes are absolute (a key's new value or its removal), so replaying a journal twice is harmless.
 * Files are mode 0600 in a 0700 directory. One bridge process per state directory: lock.ts.
 */
import type { Logger } from "../log/logger.ts";
import type { Platform } from "../runtime/types.ts";
import { ConfigError } from "../config/errors.ts";
import { toHex } from "../util/digest.ts";
import { DEFAULT_MAX_ENTRIES, MemoryStore, type Entry } from "./memory.ts";

const FORMAT_VERSION = 2;
/** The snapshot's file name inside the state directory. */
export const STATE_FILE_NAME = "state.json";
const JOURNAL_PREFIX = "state.journal.";
/** Journal lines before a snapshot is due, at least; more when there are more live entries. */
const MIN_COMPACTION_LINES = 1000;

type FilePlatform = Pick<Platform, "readTextFile" | "writeTextFile" | "makeDirectory" | "renameFile" | "removeFile" | "fileExists" | "openAppendFile">;

export interface FileStoreOptions {
  /** The state directory; created (0700) when missing. */
  directory: string;
  platform: FilePlatform;
  logger: Logger;
  maxEntries?: number;
  unauthenticatedPrefixes?: readonly string[];
  evictablePrefixes?: readonly string[];
  now?: () => number;
  /** The state directory's lock (lock.ts), released on close. */
  lock?: { release(): Promise<void> };
}

export class FileStore extends MemoryStore {
  readonly #directory: string;
  readonly #platform: FilePlatform;
  readonly #logger: Logger;
  readonly #lock: FileStoreOptions["lock"];
  /** Sequence number of the journal being appended to. */
  #journal = 0;
  /** The oldest journal that may still exist (the first one the current snapshot does not cover, or older). */
  #oldestJournal = 0;
  #append: ((text: string) => void) | undefined;
  #journalLines = 0;
  /** The last append failed (disk full), perhaps halfway through its line. */
  #torn = false;
  #compacting: Promise<void> | undefined;
  #closed = false;

  private constructor(options: FileStoreOptions) {
    let self: FileStore | undefined;
    super({ maxEntries: options.maxEntries, unauthenticatedPrefixes: options.unauthenticatedPrefixes, evictablePrefixes: options.evictablePrefixes, now: options.now, onChange: (key, entry) => self!.#record(key, entry) });
    self = this;
    this.#directory = options.directory.replace(/[\\/]$/, "");
    this.#platform = options.platform;
    this.#logger = options.logger;
    this.#lock = options.lock;
  }

  #path(name: string): string {
    return `${this.#directory}/${name}`;
  }

  /**
   * Opens (or creates) the store in `options.directory`: loads the snapshot, replays the journals
   * that follow it, and starts a fresh snapshot. A snapshot that cannot be parsed is set aside, with a warning.
   */
  static async open(options: FileStoreOptions): Promise<FileStore> {
    const { platform } = options;
    await platform.makeDirectory(options.directory, 0o700);
    const store = new FileStore(options);
    const snapshotPath = store.#path(STATE_FILE_NAME);
    let firstJournal = 0;
    if (platform.fileExists(snapshotPath)) {
      const parsed = parseJson(await platform.readTextFile(snapshotPath)) as { version?: unknown; entries?: unknown; journal?: unknown } | undefined;
      if (parsed?.version === FORMAT_VERSION && typeof parsed.entries === "object" && parsed.entries !== null && typeof parsed.journal === "number") {
        store.restore(parsed.entries as Record<string, unknown>);
        firstJournal = parsed.journal;
      } else {
        const aside = `${snapshotPath}.unreadable-${Date.now()}`;
        await platform.renameFile(snapshotPath, aside);
        options.logger.warn("the state file could not be read and was set aside; signed-in clients must sign in again", { path: snapshotPath, moved_to: aside });
      }
    }
    // Journals are numbered consecutively from the snapshot's; a gap ends them.
    let sequence = firstJournal;
    for (; platform.fileExists(store.#path(`${JOURNAL_PREFIX}${sequence}`)); sequence++) {
      for (const line of (await platform.readTextFile(store.#path(`${JOURNAL_PREFIX}${sequence}`))).split("\n")) {
        // A torn last line (the bridge stopped mid-write) is skipped.
        const change = parseJson(line) as { k?: unknown; v?: unknown; e?: unknown } | undefined;
        if (typeof change?.k === "string") store.replay(change.k, change.v, change.e);
      }
    }
    store.#journal = sequence;
    store.#oldestJournal = firstJournal;
    const limit = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
    if (store.size > limit) {
      // storage.max_entries was lowered below what is kept: dropping entries would sign people out
      // (and which ones is arbitrary), so nothing is dropped and the operator decides.
      await store.close();
      throw new ConfigError("CONFIG_INVALID", [
        { path: "storage.max_entries", message: `is ${limit}, but the state directory holds ${store.size} live entries; raise it to at least ${store.size} (entries expire on their own; lower it later), or move the state directory aside to start afresh` },
      ]);
    }
    await store.#compact();
    return store;
  }

  /**
   * Journals one change, synchronously: it is on disk before the operation resolves. When it
   * cannot be (disk full), it throws and the change is undone (MemoryStore's onChange).
   */
  #record(key: string, entry: Entry | undefined): void {
    if (this.#closed) return;
    const line = `${JSON.stringify(entry ? { k: key, v: entry.json, e: entry.expiresAt } : { k: key })}\n`;
    try {
      this.#append ??= this.#platform.openAppendFile(this.#path(`${JOURNAL_PREFIX}${this.#journal}`));
      // A failed append may have left part of its line, even all of it but the newline: "#" ends
      // that fragment as a line that never parses, so it is not replayed, nor joined to this one.
      this.#append(this.#torn ? `#\n${line}` : line);
    } catch (error) {
      this.#torn = true;
      throw error;
    }
    this.#torn = false;
    this.#journalLines++;
    if (this.#journalLines > Math.max(MIN_COMPACTION_LINES, 2 * this.size) && !this.#compacting) {
      this.#compacting = this.#compact()
        .catch((error: unknown) => this.#logger.error("cannot write the state snapshot; changes are still journaled", { error: (error as Error).message }))
        .finally(() => (this.#compacting = undefined));
    }
  }

  /**
   * Writes a snapshot of everything so far and removes the journals it covers. The snapshot is
   * taken and the journal switched in one synchronous step, so no change falls between them.
   */
  async #compact(): Promise<void> {
    const covered = this.#journal;
    const text = JSON.stringify({ version: FORMAT_VERSION, journal: covered + 1, entries: this.snapshot() });
    this.#journal = covered + 1;
    this.#append = undefined;
    this.#journalLines = 0;
    const temporary = this.#path(`${STATE_FILE_NAME}.${randomSuffix()}.tmp`);
    try {
      // On disk before it replaces the old snapshot, whose journals are removed next: a power cut must not leave an empty state.json.
      await this.#platform.writeTextFile(temporary, text, { mode: 0o600, overwrite: false, durable: true });
      await this.#platform.renameFile(temporary, this.#path(STATE_FILE_NAME));
    } catch (error) {
      await this.#platform.removeFile(temporary).catch(() => {});
      throw error;
    }
    for (let sequence = this.#oldestJournal; sequence <= covered; sequence++) await this.#platform.removeFile(this.#path(`${JOURNAL_PREFIX}${sequence}`));
    this.#oldestJournal = covered + 1;
  }

  override async close(): Promise<void> {
    await super.close();
    await this.#compacting;
    this.#closed = true;
    await this.#lock?.release();
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function randomSuffix(): string {
  return toHex(crypto.getRandomValues(new Uint8Array(6)));
}
