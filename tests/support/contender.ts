/**
 * @module A process driven over stdin/stdout by a race test: each command a JSON line in, each
 * answer a JSON line out (tests/client-auth/lock-contender.ts, tests/store/state-lock-contender.ts).
 */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";

export interface Contender {
  readonly pid: number;
  send(command: object): void;
  /** The next JSON line it answers. */
  next(): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

/** Runs `script` (a bundle from fixtures.ts bundle(): no tsx to load per contender) with `args`. */
export function startContender(script: string, args: string[]): Contender {
  const child = spawn(process.execPath, [script, ...args], { stdio: "pipe" });
  let stderr = "";
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return {
    pid: child.pid!,
    send: (command) => child.stdin.write(`${JSON.stringify(command)}\n`),
    async next() {
      const line = await lines.next();
      if (line.done) throw new Error(`contender exited: ${stderr}`);
      return JSON.parse(line.value) as Record<string, unknown>;
    },
    async stop() {
      child.stdin.end();
      await exited;
    },
  };
}
