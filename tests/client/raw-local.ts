/**
 * @module Client mode with a raw stdio pipe as the local client (every byte the bridge writes to
 * stdout is seen) and hand-made remote servers: shared by hostile-remote.test.ts and
 * answer-budget.test.ts.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { once } from "node:events";
import type { ServerResponse } from "node:http";
import { afterEach } from "node:test";
import { CLI } from "../support/bridge.ts";
import { waitFor } from "./support.ts";
import { startRawServer, type TestServer } from "./sdk-servers.ts";

/** What a test started, ended after it (see endWithEachTest). */
export const servers: TestServer[] = [];
const bridges: ChildProcessWithoutNullStreams[] = [];

/**
 * Ends each test's bridges and servers with it: the large answers and paddings some hold (hundreds
 * of MiB) are not kept, and no bridge goes on working in the background, to the end of the file.
 */
export function endWithEachTest(): void {
  afterEach(async () => {
    for (const bridge of bridges.splice(0)) bridge.kill("SIGKILL");
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });
}

export interface RawLocal {
  send(message: unknown): void;
  /** The first message on stdout with this id (waits for it). */
  answer(id: number | string, timeoutMs?: number): Promise<Record<string, any>>;
  stdout(): string;
  /** The complete, non-empty lines of stdout so far, split as they arrive: a poll costs nothing per answer already read. */
  lines(): readonly string[];
  stderr(): string;
  /** Writes raw text to stdin; false when the pipe is full (see drained). */
  write(text: string | Buffer): boolean;
  /** Whether the bridge took what was written to stdin within `timeoutMs`. */
  drained(timeoutMs: number): Promise<boolean>;
  /** Closes the local client's end of stdout: the bridge's next write meets EPIPE. */
  closeStdout(): void;
  /** The exit code, once the bridge exited. */
  exited(): Promise<number | null>;
  /** initialize (INITIALIZE, or this one), its answer, notifications/initialized. */
  handshake(initialize?: unknown): Promise<void>;
  /** From now on stdout is not read: the pipe fills, and the bridge must wait for it. */
  stopReading(): void;
  /** Reads stdout again after stopReading. */
  startReading(): void;
  /** Sends the bridge `signal` and resolves with the exit code. */
  kill(signal: NodeJS.Signals): Promise<number | null>;
  /** Closes stdin and resolves with the exit code; with `slowReader`, stdout is not read for that long after. */
  end(slowReaderMs?: number): Promise<number | null>;
}


/** `mcp-bridge <args>` with a bare pipe as the local client; `command` runs it otherwise than with this Node and the bundle. */
export function startLocal(args: string[], env: Record<string, string> = {}, command: string[] = [process.execPath, CLI]): RawLocal {
  const child = spawn(command[0]!, [...command.slice(1), ...args], { env: { PATH: process.env.PATH ?? "", HOME: "/tmp", ...env } });
  bridges.push(child);
  let stdout = "";
  let stderr = "";
  // Complete lines only: a long one may be half written. Split once, as they come: answers of
  // tens of MiB, scanned again at every poll, cost seconds of CPU.
  const lines: string[] = [];
  let partial = "";
  child.stdout.on("data", (chunk: Buffer) => {
    const text = chunk.toString("utf8");
    stdout += text;
    const end = text.lastIndexOf("\n");
    if (end === -1) return void (partial += text);
    for (const line of `${partial}${text.slice(0, end)}`.split("\n")) if (line !== "") lines.push(line);
    partial = text.slice(end + 1);
  });
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  const parsed: Array<Record<string, any>> = [];
  let parsedLines = 0;
  const messages = () => {
    for (; parsedLines < lines.length; parsedLines++) if (lines[parsedLines]!.trim() !== "") parsed.push(JSON.parse(lines[parsedLines]!) as Record<string, any>);
    return parsed;
  };
  return {
    send: (message) => child.stdin.write(`${JSON.stringify(message)}\n`),
    answer: (id, timeoutMs) => waitFor<Record<string, any> | undefined>(() => messages().find((message) => message.id === id && !("method" in message)), `the answer to ${id}`, timeoutMs) as Promise<Record<string, any>>,
    stdout: () => stdout,
    lines: () => lines,
    stderr: () => stderr,
    write: (text) => child.stdin.write(text),
    drained: (timeoutMs) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      return Promise.race([once(child.stdin, "drain").then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(resolve, timeoutMs, false)))]).finally(() => clearTimeout(timer));
    },
    closeStdout: () => void child.stdout.destroy(),
    exited: () => (child.exitCode !== null ? Promise.resolve(child.exitCode) : once(child, "exit").then(([code]) => code as number | null)),
    async handshake(initialize = INITIALIZE) {
      this.send(initialize);
      await this.answer(0);
      this.send({ jsonrpc: "2.0", method: "notifications/initialized" });
    },
    stopReading: () => void child.stdout.pause(),
    startReading: () => void child.stdout.resume(),
    kill: (signal) => {
      child.kill(signal);
      return once(child, "close").then(([code]) => code as number | null);
    },
    end: (slowReaderMs = 0) => {
      if (slowReaderMs > 0) {
        child.stdout.pause();
        setTimeout(() => child.stdout.resume(), slowReaderMs);
      }
      child.stdin.end();
      // "close": the exit code once stdout has been read to its end.
      return once(child, "close").then(([code]) => code as number | null);
    },
  };
}

/** A tools/call of tool `name` (no arguments), as the local client sends it. */
export const toolCall = (id: number, name: string) => ({ jsonrpc: "2.0", id, method: "tools/call", params: { name, arguments: {} } });

/**
 * Sends `count` batches of a call to "big" (a large answer) and one to "slow" (answered later),
 * each sent once the previous batch's large answer is in (or its request failed, the answer past
 * the answer budget as it was read): every batch keeps its large answer (of the answer budget)
 * until its slow one comes. Needs the bridge's log at debug level.
 */
export async function keepLargeAnswers(local: RawLocal, count: number): Promise<void> {
  for (let k = 1; k <= count; k++) {
    local.send([toolCall(100 + k, "big"), toolCall(200 + k, "slow")]);
    const settled = new RegExp(`response=${100 + k}\\b|request failed .*\\bid=${100 + k}\\b`);
    await waitFor(() => settled.test(local.stderr()), `the large answer ${100 + k}`, 60_000);
  }
}

export const INITIALIZE = { jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } } };
export const INITIALIZE_RESULT = { protocolVersion: "2025-06-18", capabilities: { tools: {} }, serverInfo: { name: "hostile", version: "1" } };

export type LegacyMessage = { id?: number | string; method: string };

/** Answers `message` as a legacy Streamable HTTP server in session "s1": a notification 202, server/discover 404, initialize INITIALIZE_RESULT, any other request `{}`. */
export function answerAsLegacy(res: ServerResponse, message: LegacyMessage): void {
  if (message.id === undefined) return void res.writeHead(202).end();
  if (message.method === "server/discover") return void res.writeHead(404).end();
  res.writeHead(200, { "content-type": "application/json", "mcp-session-id": "s1" }).end(JSON.stringify({ jsonrpc: "2.0", id: message.id, result: message.method === "initialize" ? INITIALIZE_RESULT : {} }));
}

/** A legacy server: refuses server/discover, accepts initialize and notifications (unless `notification` takes them); `hostile` answers everything else. `text`: the POST's body as sent. */
export function legacyServer(hostile: (res: ServerResponse, message: { id: number | string; method: string }, text: string) => void, notification?: (res: ServerResponse, method: string, text: string) => void): Promise<TestServer> {
  return startRawServer((req, res, body, text) => {
    if (req.method !== "POST") return void res.writeHead(405).end();
    const message = body as { id?: number | string; method: string };
    if (message.id === undefined) return notification ? notification(res, message.method, text) : void res.writeHead(202).end();
    const reply = (payload: object) => res.writeHead(200, { "content-type": "application/json", "mcp-session-id": "s1" }).end(JSON.stringify({ jsonrpc: "2.0", id: message.id, ...payload }));
    if (message.method === "server/discover") return reply({ error: { code: -32601, message: "Method not found" } });
    if (message.method === "initialize") return reply({ result: INITIALIZE_RESULT });
    if (message.method === "ping") return reply({ result: {} });
    hostile(res, message as { id: number | string; method: string }, text);
  }).then((server) => {
    servers.push(server);
    return server;
  });
}
