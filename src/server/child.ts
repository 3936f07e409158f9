/**
 * @module The stdio MCP server process: spawn with a minimal environment, newline-delimited JSON
 * on stdout, stderr drained into the log, and a shutdown that cannot leave processes behind
 * (close stdin → SIGTERM to the group → SIGKILL).
 */
import type { McpServerConfig } from "../config/schema.ts";
import { envelopeProblem, MAX_NESTING_DEPTH, nestedTooDeep, type JsonRpcMessage } from "../jsonrpc/message.ts";
import { createLineSplitter } from "../jsonrpc/ndjson.ts";
import type { Logger } from "../log/logger.ts";
import { isCredentialHeader, redactedHead } from "../log/sanitize.ts";
import { throttledLog } from "../log/throttle.ts";
import { findExecutable } from "../runtime/command-resolution.ts";
import { SCOPE_TOKEN } from "../auth/oauth/principal.ts";
import type { Principal } from "../auth/types.ts";
import type { ChildExit, ChildProcessHandle, Platform } from "../runtime/types.ts";
import { sleep } from "../util/sleep.ts";
import { StderrTail } from "./stderr-tail.ts";

/** Stderr lines are only logged (truncated), so a longer one is not worth buffering. */
const MAX_STDERR_LINE_BYTES = 64 * 1024;
const MAX_LOGGED_LINE = 2000;

/**
 * `mcp_server.command` as logs show it: its first word only when it holds several. Arguments
 * written into command ("npx -y server --api-key ${API_KEY}", the usual slip) may carry a secret.
 */
export function loggedCommand(command: string): string {
  const words = command.trim().split(/\s+/);
  return words.length > 1 ? `${words[0]} … (${words.length - 1} more words, not shown: they may hold a secret)` : command;
}

export interface ChildEvents {
  /** One JSON-RPC message; `raw` is its line, reusable when the message is forwarded unchanged. */
  onMessage(message: JsonRpcMessage, raw: string): void;
  /**
   * A response (no `method`) with a string or number id whose envelope is not valid JSON-RPC 2.0
   * (both or neither of result and error, an error without an integer code and a string message,
   * ...): `problem` says why. Without this handler such a line is dropped (its call times out).
   */
  onInvalidResponse?(id: string | number, problem: string): void;
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
    // A role with a comma, or a scope with whitespace (an IdP's "staff,admin", "a\tb"), would be read
    // by the child as two, one of them never granted: such values are left out.
    const roles = identity.roles?.filter((role) => !role.includes(","));
    if (roles?.length) env.MCP_BRIDGE_ROLES = roles.join(",");
    env.MCP_BRIDGE_SCOPES = identity.scopes.filter((scope) => SCOPE_TOKEN.test(scope)).join(" ");
    if (identity.clientId) env.MCP_BRIDGE_CLIENT_ID = identity.clientId;
  }
  return env;
}

/**
 * The command resolves, on the child's PATH and in mcp_server.dir, to a file the bridge may execute
 * (not merely one that exists), and mcp_server.dir, when set, is a directory to start it in.
 */
export function commandRunnable(config: McpServerConfig, platform: Platform): boolean {
  if (config.dir !== undefined && !platform.isDirectory(config.dir)) return false;
  const options = { windows: platform.isWindows, env: childEnvironment(config, platform.env), cwd: config.dir, isExecutableFile: (path: string) => platform.isExecutableFile(path) };
  return findExecutable(config.command, options) !== undefined;
}

/** Lines of child output logged per window; the rest are counted in one summary line. */
const LOG_BURST = 50;
const LOG_WINDOW_MS = 10_000;
/** After SIGKILL only zombies can be left (reaped by init); this is how long they are waited for. */
const AFTER_SIGKILL_MS = 2000;
const POLL_MS = 100;

export class StdioChild {
  readonly #process: ChildProcessHandle;
  readonly #logger: Logger;
  readonly #graceMs: number;
  readonly #stdinLimit: number;
  #exited = false;
  /** When SIGTERM went to the group; the group's deadline for SIGKILL counts from here. */
  #terminatedAt: number | undefined;
  #killed = false;
  #shutdown: Promise<void> | undefined;
  /** The leader exited (or never started). */
  readonly exited: Promise<ChildExit & { error?: Error }>;
  /** Every process of the child's group is gone: the leader and whatever it started. */
  readonly gone: Promise<void>;

  constructor(platform: Platform, config: McpServerConfig, env: Record<string, string>, logger: Logger, events: ChildEvents) {
    this.#logger = logger;
    this.#graceMs = config.graceful_shutdown_timeout;
    this.#stdinLimit = config.stdin_buffer_size;
    this.#process = platform.spawn(config.command, config.args, { env, cwd: config.dir });
    const pid = this.#process.pid;
    logger.debug("child started", { pid, command: loggedCommand(config.command) });

    // A child may repeat a credential it was given in mcp_server.env (a startup banner, a crash
    // dumping its settings): the values whose name or shape says credential are kept out of the log.
    const credentials = Object.entries(config.env).flatMap(([name, value]) => (isCredentialHeader(name, value) ? [value] : []));
    const logged = (line: string) => redactedHead(line, credentials, MAX_LOGGED_LINE);
    const output = throttledLog(logger, "child output", { burst: LOG_BURST, windowMs: LOG_WINDOW_MS }, { pid });
    const stdout = createLineSplitter(
      (line) => {
        let message: unknown;
        try {
          message = JSON.parse(line);
        } catch {
          output.write("warn", "child wrote a line that is not JSON; not forwarded", { pid, line: logged(line) });
          return;
        }
        const problem = envelopeProblem(message);
        const id = problem && events.onInvalidResponse ? invalidResponseId(message) : undefined;
        if (problem && id !== undefined) {
          // Its call learns at once what was wrong (not at read_timeout); the answer itself is not logged.
          output.write("warn", "child wrote a response that is not JSON-RPC 2.0; its call gets an internal error", { pid, problem });
          events.onInvalidResponse!(id, problem);
          return;
        }
        if (problem) {
          output.write("warn", "child wrote a message that is not JSON-RPC 2.0; not forwarded", { pid, problem, line: logged(line) });
          return;
        }
        // Serializing it again (a stream, a translation) would throw out of this handler and end the bridge.
        if (nestedTooDeep(line, message)) {
          output.write("warn", `child wrote a message nested deeper than ${MAX_NESTING_DEPTH} levels; not forwarded`, { pid, bytes: line.length });
          return;
        }
        // A carriage return is JSON whitespace (a string holds none unescaped) but ends a line in SSE:
        // made a space, not serialized again, which would change a number a double does not carry.
        events.onMessage(message as JsonRpcMessage, line.includes("\r") ? line.replaceAll("\r", " ") : line);
      },
      (length) => output.write("warn", "child wrote a line longer than mcp_server.max_message_size; dropped", { pid, bytes: length, limit: config.max_message_size }),
      config.max_message_size,
    );
    const stderr = createLineSplitter(
      (line) => output.write("info", "child stderr", { pid, line: logged(line) }),
      () => {},
      MAX_STDERR_LINE_BYTES,
    );
    this.#process.onStdout((chunk) => stdout.push(chunk));
    this.#process.onStderr((chunk) => stderr.push(chunk));
    const tail = new StderrTail(credentials);
    this.#process.onStderr((chunk) => tail.push(chunk));
    this.exited = this.#process.exited.then((exit) => {
      this.#exited = true;
      stdout.flush();
      stderr.flush();
      output.flush();
      if (exit.error) {
        // The runtime's message repeats the command ("spawn <command> ENOENT").
        const shown = loggedCommand(config.command);
        // A missing working directory is reported by the runtime as the command missing (ENOENT).
        const dirMissing = config.dir !== undefined && !platform.isDirectory(config.dir);
        logger.error("child could not be started", { command: shown, error: dirMissing ? "server.mcp_server.dir is not a directory" : exit.error.message.replaceAll(config.command, shown) });
      }
      // A non-zero code, or a signal the bridge does not send, is a failure: say why, where warn is read.
      else if ((exit.code ?? 0) !== 0 || (exit.signal !== null && exit.signal !== "SIGTERM" && exit.signal !== "SIGKILL")) {
        logger.warn("child exited with a failure", { pid, code: exit.code, signal: exit.signal, stderr_tail: tail.text() || undefined });
      } else logger.debug("child exited", { pid, code: exit.code, signal: exit.signal });
      events.onExit(exit);
      return exit;
    });
    this.gone = this.exited.then(() => this.#reapGroup());
  }

  get alive(): boolean {
    return !this.#exited;
  }

  get pid(): number | undefined {
    return this.#process.pid;
  }

  /** True while the child's stdin holds more than mcp_server.stdin_buffer_size unread: callers refuse new input. */
  get congested(): boolean {
    return this.#process.queuedBytes > this.#stdinLimit;
  }

  /** Writes one message; `line` must already be a single line of JSON. */
  send(line: string): void {
    if (!this.#exited) this.#process.write(line + "\n");
  }

  /**
   * Closes stdin, then SIGTERM to the group after the grace period, then SIGKILL after another;
   * resolves when every process of the group is gone. Calling it again joins the first call.
   */
  shutdown(): Promise<void> {
    this.#shutdown ??= this.#shutDown();
    return this.#shutdown;
  }

  async #shutDown(): Promise<void> {
    if (!this.#exited) {
      this.#process.closeStdin();
      if (!(await within(this.exited, this.#graceMs))) {
        this.#logger.warn("child did not exit after stdin closed; sending SIGTERM", { pid: this.pid });
        this.#terminate();
        if (!(await within(this.exited, this.#graceMs))) this.kill();
      }
    }
    await this.gone;
  }

  /** SIGKILL to the whole group now (a second Ctrl-C). */
  kill(): void {
    if (this.#killed) return;
    this.#killed = true;
    this.#logger.warn("sending SIGKILL to the child's process group", { pid: this.pid });
    this.#process.kill("SIGKILL");
  }

  #terminate(): void {
    this.#terminatedAt ??= performance.now();
    this.#process.kill("SIGTERM");
  }

  /**
   * The leader is gone, but what it started (npx's node, a shell's children) may not be: they get
   * SIGTERM, and SIGKILL when they outlive the grace period counted from the first SIGTERM.
   */
  async #reapGroup(): Promise<void> {
    if (!this.#process.groupAlive()) return;
    this.#terminate();
    const termDeadline = this.#terminatedAt! + this.#graceMs;
    while (this.#process.groupAlive() && !this.#killed && performance.now() < termDeadline) await sleep(POLL_MS);
    if (!this.#process.groupAlive()) return;
    if (!this.#killed) {
      this.#logger.warn("processes of the child's group outlived SIGTERM", { pid: this.pid });
      this.kill();
    }
    const killDeadline = performance.now() + AFTER_SIGKILL_MS;
    while (this.#process.groupAlive() && performance.now() < killDeadline) await sleep(POLL_MS);
  }
}

/** Whether `promise` settles within `ms`. */
function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise.then(() => true),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** The id of a parsed line that is meant as a response (an object without `method`), if it names one a call can have. */
function invalidResponseId(message: unknown): string | number | undefined {
  if (typeof message !== "object" || message === null || Array.isArray(message) || "method" in message) return undefined;
  const id = (message as { id?: unknown }).id;
  return typeof id === "string" || typeof id === "number" ? id : undefined;
}
