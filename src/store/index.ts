/** @module Opens the Store the `storage` section names: file (the default) or memory. */
import type { StorageConfig } from "../config/schema.ts";
import { ConfigError } from "../config/errors.ts";
import type { Logger } from "../log/logger.ts";
import type { Platform } from "../runtime/types.ts";
import { FileStore } from "./file.ts";
import { MemoryStore } from "./memory.ts";
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

/** The opened store and, for the file store, its directory (where the signing key is kept too). */
export async function openStore(storage: StorageConfig, platform: Platform, logger: Logger): Promise<{ store: Store; directory?: string }> {
  if (storage.type === "memory") return { store: new MemoryStore({ maxEntries: storage.max_entries }) };
  const directory = stateDirectory(storage, platform.env);
  if (!directory) throw new ConfigError("CONFIG_INVALID", [{ path: "storage.path", message: "no state directory: set storage.path (neither XDG_STATE_HOME nor HOME is set), or storage.type: memory" }]);
  let store: FileStore;
  try {
    store = await FileStore.open({ directory, platform, logger, maxEntries: storage.max_entries });
  } catch (error) {
    const reason = (error as { code?: string }).code ?? (error as Error).message;
    throw new ConfigError("CONFIG_INVALID", [{ path: "storage.path", message: `the state directory "${directory}" cannot be used (${reason}); point storage.path at a writable directory, or use storage.type: memory` }]);
  }
  return { store, directory };
}
