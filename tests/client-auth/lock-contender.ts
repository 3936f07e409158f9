/**
 * @module One bridge instance contending for client mode's login lock, driven over stdin/stdout by
 * lock-race.test.ts: `node tests/.build/lock-contender.mjs <cache dir> <server url>` (bundled). Each stdin
 * line is a JSON command; each answer a JSON line on stdout.
 * - `{op:"login", round, maxWait, hold}`: runs withLoginLock on the real cache module. The sign-in
 *   it would do is a marker file `inside`, created exclusively (an overlap with another instance's
 *   sign-in when it exists already), held `hold` ms (or until `{op:"finish"}` when hold is
 *   "finish", after answering `{entered}`), then `signed-in-<round>`, which the recheck of later
 *   holders and waiters finds. Answers `{round, result: "login"|"shared", overlap, broke}`, and
 *   with `reportWaiting`, `{waiting: round}` once it waits for another instance's lock.
 */
import { openSync, closeSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { openTokenCache } from "../../src/auth/outbound/cache.ts";
import { createLogger } from "../../src/log/logger.ts";
import { privateFiles } from "../../src/runtime/private-files.ts";

const [dir, serverUrl] = process.argv.slice(2) as [string, string];
let logged: string[] = [];
let reportWaiting: number | undefined;
const logger = createLogger({
  level: "info",
  format: "text",
  write(line) {
    logged.push(line);
    if (reportWaiting !== undefined && line.includes("waiting for it")) answer({ waiting: reportWaiting });
  },
});
const cache = await openTokenCache(serverUrl, dir, privateFiles, logger);
const marker = join(dir, "inside");
let finish: (() => void) | undefined;

function answer(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

async function signIn(round: number, hold: number | "finish"): Promise<{ result: string; overlap: boolean }> {
  let overlap = false;
  try {
    closeSync(openSync(marker, "wx"));
  } catch {
    overlap = true;
  }
  if (hold === "finish") {
    const finished = new Promise<void>((resolve) => (finish = resolve));
    answer({ entered: round });
    await finished;
  } else {
    await new Promise((resolve) => setTimeout(resolve, hold));
  }
  writeFileSync(join(dir, `signed-in-${round}`), "");
  if (!overlap) rmSync(marker);
  return { result: "login", overlap };
}

for await (const line of createInterface({ input: process.stdin })) {
  const command = JSON.parse(line) as { op: "login" | "finish"; round: number; maxWait: number; hold: number | "finish"; reportWaiting?: boolean };
  if (command.op === "finish") {
    finish?.();
    continue;
  }
  logged = [];
  reportWaiting = command.reportWaiting ? command.round : undefined;
  void cache
    .withLoginLock(
      async () => (existsSync(join(dir, `signed-in-${command.round}`)) ? { result: "shared", overlap: false } : undefined),
      () => signIn(command.round, command.hold),
      command.maxWait,
    )
    .then((outcome) => answer({ round: command.round, ...outcome, broke: logged.some((entry) => entry.includes("stale login lock")) }));
}
