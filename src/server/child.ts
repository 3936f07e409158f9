/**
 * @module The stdio MCP server process: spawn with a minimal environment, newline-delimited JSON
 * on stdout, stderr drained into the log, and a shutdown that cannot leave processes behind
 * (close stdin → SIGTERM to the group → SIGKILL).
 */
import type { McpServerConfig } from "../config/schema.ts";
import { envelopeProblem, type JsonRpcMessage } from "../jsonrpc/message.ts";
import { createLineSplitter } from "../jsonrpc/ndjson.ts";
import type { Logger } from "../log/logger.ts";
import type { Principal } from "../auth/types.ts";
import type { ChildExit, ChildProcessHandle, Platform } from "../runtime/types.ts";
import { StderrTail } from "./stderr-tail.ts";

/** A line longer than this from the child is dropped; large tool results stay well below it. */
const MAX_CHILD_LINE_BYTES = 256 * 1024 * 1024;
const MAX_LOGGED_LINE = 2000;

export interface ChildEvents {
  /** One JSON-RPC message; `raw` is its line, reusable when the message is forwarded unchanged. */
  onMessage(message: JsonRpcMessage, raw: string): void;
  /** The process is gone (or never started); called once. */
  onExit(exit: ChildExit & { error?: Error }): void;
}

/** The child's environment: the configured base variables, then mcp_server.env, then the identity. */
export function childEnvironment(config: McpServerConfig, bridgeEnv: Readonly<Record<string, string | undefined>>, identity?: Principal): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of config.inherit_env) {
    const value = bridgeEnv[name];
    if (value !== undefined) env[name] = value;
  }
  Object.assign(env, config.env);
  if (identity) {
    env.MCP_BRIDGE_SUBJECT = identity.subject;
    if (identity.email) env.MCP_BRIDGE_EMAIL = identity.email;
    if (identity.roles?.length) env.MCP_BRIDGE_ROLES = identity.roles.join(",");
    env.MCP_BRIDGE_SCOPES = identity.scopes.join(" ");
    if (identity.clientId) env.MCP_BRIDGE_CLIENT_ID = identity.clientId;
  }
  return env;
}

export class StdioChild {
  readonly #process: ChildProcessHandle;
  readonly #logger: Logger;
  readonly #graceMs: number;
  #exited = false;
  readonly exited: Promise<ChildExit & { error?: Error }>;

  constructor(platform: Platform, config: McpServerConfig, env: Record<string, string>, logger: Logger, events: ChildEvents) {
    this.#logger = logger;
    this.#graceMs = config.graceful_shutdown_timeout;
    this.#process = platform.spawn(config.command, config.args, { env, cwd: config.dir });
    const pid = this.#process.pid;
    logger.debug("child started", { pid, command: config.command });

    const stdout = createLineSplitter(
      (line) => {
        let message: unknown;
        try {
          message = JSON.parse(line);
        } catch {
          logger.warn("child wrote a line that is not JSON; not forwarded", { pid, line: line.slice(0, MAX_LOGGED_LINE) });
          return;
        }
        const problem = envelopeProblem(message);
        if (problem) {
          logger.warn("child wrote a message that is not JSON-RPC 2.0; not forwarded", { pid, problem, line: line.slice(0, MAX_LOGGED_LINE) });
          return;
        }
        events.onMessage(message as JsonRpcMessage, line);
      },
      (length) => logger.warn("child wrote an oversized line; dropped", { pid, bytes: length }),
      MAX_CHILD_LINE_BYTES,
    );
    const stderr = createLineSplitter(
      (line) => logger.info("child stderr", { pid, line: line.slice(0, MAX_LOGGED_LINE) }),
      () => {},
      1024 * 1024,
    );
    this.#process.onStdout((chunk) => stdout.push(chunk));
    this.#process.onStderr((chunk) => stderr.push(chunk));
    const tail = new StderrTail();
    this.#process.onStderr((chunk) => tail.push(chunk));
    this.exited = this.#process.exited.then((exit) => {
      this.#exited = true;
      stdout.flush();
      stderr.flush();
      // The leader is gone; anything it left in its group (npx's node, a shell's children) goes too.
      this.#process.kill("SIGTERM");
      if (exit.error) logger.error("child could not be started", { command: config.command, error: exit.error.message });
      // A non-zero code, or a signal the bridge does not send, is a failure: say why, where warn is read.
      else if ((exit.code ?? 0) !== 0 || (exit.signal !== null && exit.signal !== "SIGTERM" && exit.signal !== "SIGKILL")) {
        logger.warn("child exited with a failure", { pid, code: exit.code, signal: exit.signal, stderr_tail: tail.text() || undefined });
      } else logger.debug("child exited", { pid, code: exit.code, signal: exit.signal });
      events.onExit(exit);
      return exit;
    });
  }

  get alive(): boolean {
    return !this.#exited;
  }

  get pid(): number | undefined {
    return this.#process.pid;
  }

  /** Writes one message; `line` must already be a single line of JSON. */
  send(line: string): void {
    if (!this.#exited) this.#process.write(line + "\n");
  }

  /** Closes stdin, then SIGTERM after the grace period, then SIGKILL after another. */
  async shutdown(): Promise<void> {
    if (this.#exited) return;
    this.#process.closeStdin();
    if (await this.#exitsWithin(this.#graceMs)) return;
    this.#logger.warn("child did not exit after stdin closed; sending SIGTERM", { pid: this.pid });
    this.#process.kill("SIGTERM");
    if (await this.#exitsWithin(this.#graceMs)) return;
    this.#logger.warn("child did not exit after SIGTERM; sending SIGKILL", { pid: this.pid });
    this.#process.kill("SIGKILL");
    await this.exited;
  }

  #exitsWithin(ms: number): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    return Promise.race([
      this.exited.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), ms);
      }),
    ]).finally(() => clearTimeout(timer));
  }
}
