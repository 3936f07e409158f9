/**
 * @module Lock files shared between processes (client mode's login lock, the state directory's
 * lock): a unique owner token for each lock's text, and removing a lock only if it still holds a
 * given text, safe against other processes doing the same at once.
 */
import { sha256, toHex } from "./digest.ts";

/** The file operations a lock needs: PrivateFiles (src/runtime/private-files.ts), or the Platform's as src/store/lock.ts adapts them. */
export interface LockFiles {
  /** Creates the file only if nothing exists at `path`, never visible half-written; false when something does. */
  createExclusive(path: string, text: string): Promise<boolean>;
  /** The file's text; undefined when absent. */
  read(path: string): Promise<{ text: string } | undefined>;
  /** Removes the file; no error when it is already gone. */
  remove(path: string): Promise<void>;
}

/** A random token (32 hex digits) that makes a lock's text unique, so removeIfSame tells it from the next lock. */
export function ownerToken(): string {
  return toHex(crypto.getRandomValues(new Uint8Array(16)));
}

/** A lock's or claim's `until` (ms since the epoch); 0 (expired) when unreadable. */
export function untilOf(text: string): number {
  try {
    return Number((JSON.parse(text) as { until?: unknown }).until) || 0;
  } catch {
    return 0;
  }
}

/**
 * How long a claim (see removeIfSame) is honoured. It covers two file operations, not the lock's
 * use: it expires only so that a process killed between them does not leave the lock unbreakable.
 */
export const CLAIM_TTL = 60_000;
/** Claims on claims (each needs a process killed mid-claim) are followed this deep, then waited out. */
const MAX_CLAIM_DEPTH = 3;

/**
 * Removes the file at `path` only if it still holds `text`, safe against other processes doing the
 * same at once; true when this call removed it. Files offer no compare-and-delete, and checking
 * then removing lets two breakers of one stale lock both win (the second removes the lock the
 * first just took), as does renaming the file aside (until it is put back, a third takes the free
 * name). So whoever removes a lock first claims its text: it creates `<path>.<hash of text>.claim`
 * exclusively, and only the one that created it may remove a file holding `text`. Texts must be
 * unique (ownerToken), so once removed a text never returns, and while the claimant re-reads
 * and removes, no one else can replace it (unless it stalls CLAIM_TTL in between). A holder
 * releasing its own lock claims it the same way, so it never removes a newer holder's lock after
 * its own was broken. A claim left by a killed process expires after CLAIM_TTL and is broken the
 * same way (one level deeper). `now` is the clock (ms since the epoch).
 */
export async function removeIfSame(files: LockFiles, path: string, text: string, now: () => number, depth = 0): Promise<boolean> {
  const claimPath = `${path}.${toHex(await sha256(text)).slice(0, 16)}.claim`;
  const claim = JSON.stringify({ until: now() + CLAIM_TTL, owner: ownerToken() });
  if (!(await files.createExclusive(claimPath, claim))) {
    // Someone else is removing this very text, or was killed doing so.
    const other = depth < MAX_CLAIM_DEPTH ? await files.read(claimPath).catch(() => undefined) : undefined;
    if (other && untilOf(other.text) < now()) await removeIfSame(files, claimPath, other.text, now, depth + 1);
    return false;
  }
  try {
    if ((await files.read(path))?.text !== text) return false;
    await files.remove(path);
    return true;
  } finally {
    // Released either way: a removed text never returns, and one still there is judged afresh.
    await files.remove(claimPath).catch(() => {});
  }
}
