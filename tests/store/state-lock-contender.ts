/**
 * @module One bridge process contending for the state directory's lock, driven over stdin/stdout
 * by state-lock-race.test.ts: `node tests/.build/state-lock-contender.mjs <state dir>` (bundled). It runs the
 * real lock module (src/store/lock.ts) on the real Node platform and file system. Each stdin line
 * is a JSON command, each answer a JSON line on stdout:
 * - `{op:"acquire"}`: acquireStateLock → `{acquired: true, tookOver}`, or `{acquired: false,
 *   tookOver, path, message}` from the ConfigError it threw (`{acquired: false, tookOver, error}`
 *   for any other error). tookOver: it logged the takeover warning (it removed a dead bridge's
 *   lock, which another contender may then have taken before it);
 * - `{op:"release"}`: releases the lock it holds → `{released: true}`.
 */
import { createInterface } from "node:readline";
import { ConfigError } from "../../src/config/errors.ts";
import { createLogger } from "../../src/log/logger.ts";
import { nodePlatform } from "../../src/runtime/node.ts";
import { acquireStateLock, type StateLock } from "../../src/store/lock.ts";

const [directory] = process.argv.slice(2) as [string];
let logged: string[] = [];
const logger = createLogger({ level: "info", format: "text", write: (line) => logged.push(line) });
let held: StateLock | undefined;

function answer(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

for await (const line of createInterface({ input: process.stdin })) {
  const command = JSON.parse(line) as { op: "acquire" | "release" };
  if (command.op === "release") {
    await held?.release();
    held = undefined;
    answer({ released: true });
    continue;
  }
  logged = [];
  const tookOver = () => logged.some((entry) => entry.includes("taking over the state directory's lock"));
  try {
    held = await acquireStateLock(directory, nodePlatform, logger);
    answer({ acquired: true, tookOver: tookOver() });
  } catch (error) {
    // Anything but the ConfigError is an answer too: the bridge would exit on it just the same.
    if (error instanceof ConfigError) answer({ acquired: false, tookOver: tookOver(), path: error.issues[0]?.path, message: error.issues[0]?.message });
    else answer({ acquired: false, tookOver: tookOver(), error: String(error) });
  }
}
