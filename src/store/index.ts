/** @module Opens the Store the `storage` section names: file (the default) or memory. */
import type { StorageConfig } from "../config/schema.ts";
import { ConfigError } from "../config/errors.ts";
import type { Logger } from "../log/logger.ts";
import type { Platform } from "../runtime/types.ts";
import { FileStore } from "./file.ts";
import { acquireStateLock, checkStateLock, type StateLock } from "./lock.ts";
import { MemoryStore, type MemoryStoreOptions } from "./memory.ts";
import type { Store } from "./types.ts";

/**
 * The state directory: `storage.path`, else `$XDG_STATE_HOME/mcp-bridge`, else
 * `~/.local/state/mcp-bridge` (`%LOCALAPPDATA%\mcp-bridge` on Windows). Undefined when no home is known.
 */
export function stateDirectory(storage: Pick<StorageConfig, "path">, env: Readonly<Record<string, string | undefined>>): string | undefined {
  if (storage.path) return storage.path;
  if (env.XDG_STATE_HOME) return `${env.XDG_STATE_HOME.replace(/\/$/, "")}/mcp-bridge`;
  if (env.HOME) return `${env.HOME.replace(/\/$/, "")}/.local/state/mcp-bridge`;
  if (env.LOCALAPPDATA) return `${env.LOCALAPPDATA}\\mcp-bridge`;
  return undefined;
}

function noDirectory(): ConfigError {
  return new ConfigError("CONFIG_INVALID", [{ path: "storage.path", message: "no state directory: set storage.path (neither XDG_STATE_HOME nor HOME is set), or storage.type: memory" }]);
}

/** Which keys anyone can make, and which of those only remember: see MemoryStoreOptions. */
export type KeyClasses = Pick<MemoryStoreOptions, "unauthenticatedPrefixes" | "evictablePrefixes">;

/** The opened store and, for the file store, its directory (where the signing key is kept too). */
export async function openStore(storage: StorageConfig, platform: Platform, logger: Logger, keys: KeyClasses = {}): Promise<{ store: Store; directory?: string }> {
  if (storage.type === "memory") {
    logger.warn("storage.type is memory: registered clients, refresh tokens and sign-in sessions are lost when the bridge restarts (clients register and people sign in again); storage.type: file keeps them");
    return { store: new MemoryStore({ maxEntries: storage.max_entries, ...keys }) };
  }
  const directory = stateDirectory(storage, platform.env);
  if (!directory) throw noDirectory();
  let store: FileStore;
  let lock: StateLock | undefined;
  try {
    await platform.makeDirectory(directory, 0o700);
    await refuseShared(directory, platform, storage.allow_group_write);
    lock = await acquireStateLock(directory, platform, logger);
    store = await FileStore.open({ directory, platform, logger, maxEntries: storage.max_entries, ...keys, lock });
  } catch (error) {
    await lock?.release().catch(() => {});
    throw unusable(directory, error);
  }
  return { store, directory };
}

/**
 * Refuses a state directory that other users may write to (group or others write bit, sticky or
 * not): whoever can create files there plants the journal the bridge replays (sign-ins, grants,
 * clients) and the token signing key it then uses. `allowGroup` (storage.allow_group_write) trusts
 * the directory's group, as a Kubernetes fsGroup volume needs: the kubelet makes it group-writable
 * again at every mount, so no chmod lasts. Where the platform has no modes (Windows) the profile
 * directory's ACLs keep other users out.
 */
async function refuseShared(directory: string, platform: Pick<Platform, "fileMode">, allowGroup: boolean): Promise<void> {
  const mode = await platform.fileMode(directory);
  if (mode === undefined || (mode & (allowGroup ? 0o002 : 0o022)) === 0) return;
  const groupOnly = (mode & 0o002) === 0;
  throw new ConfigError("CONFIG_INVALID", [
    {
      path: "storage.path",
      message: `the state directory "${directory}" can be written by other users (mode ${mode.toString(8).padStart(3, "0")}), who could plant sign-ins and the token signing key there; run "chmod ${groupOnly ? "g" : "go"}-w ${directory}", or point storage.path at a directory of its own (the bridge creates it, mode 700)${groupOnly ? ", or, when every member of its group is trusted (a Kubernetes volume with fsGroup), set storage.allow_group_write: true" : ""}`,
    },
  ]);
}

function unusable(directory: string, error: unknown): ConfigError {
  if (error instanceof ConfigError) return error;
  const reason = (error as { code?: string }).code ?? (error as Error).message;
  return new ConfigError("CONFIG_INVALID", [{ path: "storage.path", message: `the state directory "${directory}" cannot be used (${reason}); point storage.path at a writable directory, or use storage.type: memory` }]);
}

/**
 * check-config's verdict on the file store, the one `run` would reach without the network: a
 * state directory can be found, created and written (a probe file, removed at once), and no live
 * bridge holds its lock. A ConfigError naming storage.path otherwise.
 */
export async function checkStorage(storage: StorageConfig, platform: Platform): Promise<void> {
  if (storage.type === "memory") return;
  const directory = stateDirectory(storage, platform.env);
  if (!directory) throw noDirectory();
  try {
    await platform.makeDirectory(directory, 0o700);
    await refuseShared(directory, platform, storage.allow_group_write);
    const probe = `${directory}/.check-${Math.random().toString(36).slice(2)}.tmp`;
    await platform.writeTextFile(probe, "", { mode: 0o600, overwrite: false });
    await platform.removeFile(probe);
    await checkStateLock(directory, platform);
  } catch (error) {
    throw unusable(directory, error);
  }
}
