/**
 * @module The Deno Platform: Deno.serve, Deno.Command, Deno's file and terminal APIs.
 *
 * What Deno cannot do that Node can, and what happens instead:
 * - TLS client certificates: Deno.serve cannot ask for them (no requestCert / CA options), so any
 *   `client_auth` other than none fails at start-up instead of serving without the check.
 * - TLS version bounds: rustls always offers 1.2 and 1.3; a config that narrows them fails at start-up.
 * - Header/keep-alive/write timeouts and connection caps: Deno.serve has no such settings and no
 *   per-connection hook; its own defaults apply, and a config that writes one of those keys is
 *   refused (UNENFORCED). server.read_timeout is applied to request bodies here (asNodeWould).
 * - Clients gone before the response starts: request.signal (onClientGone) aborts only when the
 *   whole request came in Deno.serve's first read (~512 bytes); for a larger one Deno (2.9) reads
 *   the connection no further, so the call is not cancelled until it ends. No hook here reaches that.
 */
/// <reference path="./deno.d.ts" />
import { webAesGcm } from "../util/aes-gcm.ts";
import { sha256 as webSha256 } from "../util/digest.ts";
import { coalescingWriter } from "./coalesce.ts";
import { decodeUtf8, readAtMost } from "../util/bounded-read.ts";
import { BodyNotReceivedError } from "../util/body.ts";
import { createDenoHttpClient } from "./deno-http-client.ts";
import { resolveCommand } from "./command-resolution.ts";
import { failedToStart, type ChildExit, type ChildProcessHandle, type FetchHandler, type Platform, type RunningServer, type ServeOptions, type SpawnOptions, type TlsServeOptions, type UnenforcedSetting } from "./types.ts";

const isWindows = Deno.build.os === "windows";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Connection settings Deno.serve has no equivalent of (it exposes no connections): refused when written. */
const UNENFORCED: readonly UnenforcedSetting[] = ["max_connections", "max_connections_per_address", "header_timeout", "idle_timeout", "write_timeout"].map((key) => ({
  path: `server.${key}`,
  message: "cannot be applied under Deno (Deno.serve exposes no connections); remove the key, or run the release binary or Node.js where it applies",
}));

/** Refuses TLS settings Deno.serve would silently ignore: a weaker server than configured is worse than none. */
function assertTlsSupported(tls: TlsServeOptions): void {
  if (tls.requestCert) {
    throw new Error("TLS client certificates (server.tls.client_auth) are not supported under Deno: Deno.serve cannot request them; use the release binary or Node");
  }
  if (tls.minVersion === "TLSv1.3" || tls.maxVersion === "TLSv1.2") {
    throw new Error("server.tls.min_version / max_version cannot be enforced under Deno (it always offers TLS 1.2 and 1.3); use the release binary or Node");
  }
}

async function serve(handler: FetchHandler, options: ServeOptions): Promise<RunningServer> {
  const tls = options.tls;
  if (tls) assertTlsSupported(tls);
  const controller = new AbortController();
  const server = Deno.serve(
    {
      hostname: options.host,
      port: options.port,
      signal: controller.signal,
      // The default prints "Listening on …" to stdout, which belongs to the MCP stream in client mode.
      onListen: () => {},
      onError: () => new Response("Internal Server Error", { status: 500 }),
      ...(tls && { cert: tls.cert, key: tls.key }),
    },
    (request, info) =>
      handler(asNodeWould(request, options.requestTimeout), {
        remoteAddress: info.remoteAddr.hostname,
        onClientGone: (listener) => (request.signal.aborted ? listener() : request.signal.addEventListener("abort", listener, { once: true })),
      }),
  );
  return {
    host: options.host,
    port: server.addr.port,
    async close() {
      // Aborting (unlike shutdown()) also ends open SSE responses instead of waiting for them.
      controller.abort();
      await server.finished;
    },
  };
}

/**
 * The request as the app gets it under Node, where the same guards read it:
 * - HTTP/2 (h2 over TLS, h2c with prior knowledge: Deno.serve speaks both) names the host in
 *   :authority, which Deno puts in request.url and in no Host header. Node's HTTP/1.1 server always
 *   has one, and the Host guard (DNS rebinding, allowed_hosts) reads it: it becomes Host. A
 *   Host-less HTTP/1 request, whose URL Deno names "localhost", stays without one, as under Node.
 * - server.read_timeout for the body, which Deno.serve has no setting for: a body not read whole
 *   within `bodyTimeoutMs` of the request head errors with BodyNotReceivedError (answered 408), so
 *   a client dripping its body cannot hold max_body_bytes_in_flight, or a handler, for ever. The
 *   body is pulled only as the app reads it, so time the app spends before reading (authentication)
 *   counts too, where Node stops counting once the bytes arrived; the app reads right after it.
 * `request.signal` of the original still says when the client is gone.
 */
function asNodeWould(request: Request, bodyTimeoutMs: number): Request {
  // No Request can be made with these (Fetch forbids them), and no route takes them: 404 as they are.
  if (FORBIDDEN_METHODS.has(request.method)) return request;
  const authority = request.headers.has("host") ? undefined : new URL(request.url);
  const host = authority && authority.hostname !== "localhost" ? authority.host : undefined;
  // Deno gives every request a body stream, even one with none; GET and HEAD cannot carry one on.
  const body = request.method === "GET" || request.method === "HEAD" ? null : request.body;
  const deadline = body && bodyTimeoutMs > 0 ? bodyDeadline(bodyTimeoutMs) : undefined;
  if (host === undefined && deadline === undefined) return request;
  const headers = new Headers(request.headers);
  if (host !== undefined) headers.set("host", host);
  const bounded = deadline ? body!.pipeThrough(deadline) : body;
  return new Request(request.url, { method: request.method, headers, body: bounded, ...(bounded && { duplex: "half" }) } as RequestInit);
}

const FORBIDDEN_METHODS = new Set(["CONNECT", "TRACE", "TRACK"]);

/** Passes a body through, or errors it with BodyNotReceivedError when it has not ended within `ms`. */
function bodyDeadline(ms: number): TransformStream<Uint8Array, Uint8Array> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return new TransformStream<Uint8Array, Uint8Array>({
    start(controller) {
      timer = setTimeout(() => controller.error(new BodyNotReceivedError()), ms);
      // Nobody may be reading the body at all (a request refused before it): that must not hold the process open.
      Deno.unrefTimer(timer as unknown as number);
    },
    flush() {
      clearTimeout(timer);
    },
  });
}

/** Delivers a stream's chunks to listeners; reading starts with the first listener so nothing is lost. */
function createPump(stream: ReadableStream<Uint8Array>): (listener: (chunk: Uint8Array) => void) => void {
  const listeners: Array<(chunk: Uint8Array) => void> = [];
  return (listener) => {
    listeners.push(listener);
    if (listeners.length > 1) return;
    void (async () => {
      const reader = stream.getReader();
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          for (const each of listeners) each(value);
        }
      } catch {
        // The pipe broke because the child is gone; `exited` reports that.
      }
    })();
  };
}

function spawn(command: string, args: string[], options: SpawnOptions): ChildProcessHandle {
  let child: Deno.ChildProcess;
  try {
    // Deno reports a command that cannot start by throwing; Node through the handle: the handle it is.
    const resolved = isWindows ? resolveCommand(command, args, { windows: true, env: options.env, cwd: options.cwd, isExecutableFile }) : undefined;
    child = new Deno.Command(resolved?.file ?? command, {
      args: resolved?.args ?? args,
      ...(resolved?.verbatim && { windowsRawArguments: true }),
      ...(options.cwd !== undefined && { cwd: options.cwd }),
      clearEnv: true,
      env: options.env,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      // setsid() in the child: its own process group, so the whole tree (npx → node → …) can be signalled.
      detached: !isWindows,
    }).spawn();
  } catch (error) {
    // A value no process can be given (a NUL: pass_identity with such a subject) throws, as Node's
    // spawn does, so the request is refused (500) instead of counting as the MCP server failing to start.
    if (error instanceof TypeError && /nul byte/i.test(error.message)) throw error;
    return failedToStart(error as Error);
  }
  const stdin = child.stdin.getWriter();
  let stdinClosed = false;
  // The writer queues in order; a child that stopped reading must not crash the bridge.
  // Bytes handed to the writer that the child has not taken yet.
  let writing = 0;
  const input = coalescingWriter((text) => {
    const bytes = encoder.encode(text);
    writing += bytes.length;
    void stdin
      .write(bytes)
      .catch(() => {})
      .finally(() => (writing -= bytes.length));
  });
  const exited = child.status.then(
    ({ code, signal }): ChildExit => ({ code: signal === null ? code : null, signal }),
    (error: Error) => ({ code: null, signal: null, error }),
  );
  let leaderExited = false;
  void exited.then(() => (leaderExited = true));
  return {
    pid: child.pid,
    onStdout: createPump(child.stdout),
    onStderr: createPump(child.stderr),
    write(data) {
      if (!stdinClosed) input.write(data);
    },
    get queuedBytes() {
      return input.queuedLength + writing;
    },
    closeStdin() {
      if (stdinClosed) return;
      stdinClosed = true;
      input.flush();
      stdin.close().catch(() => {});
    },
    kill(signal) {
      try {
        if (isWindows) child.kill(signal);
        else Deno.kill(-child.pid, signal);
      } catch {
        // Already gone.
      }
    },
    groupAlive() {
      if (isWindows) return !leaderExited;
      // Deno.kill has no signal 0; SIGCONT is the harmless probe (it only resumes stopped processes).
      try {
        Deno.kill(-child.pid, "SIGCONT");
        return true;
      } catch {
        return false;
      }
    },
    exited,
  };
}

/** Set by streamStdin: stdout's reader closed it (client mode: the local client is gone). */
let stdoutGone: (() => void) | undefined;

function writeAll(writer: Deno.Writer, text: string): void {
  let bytes = encoder.encode(text);
  while (bytes.length > 0) bytes = bytes.subarray(writer.writeSync(bytes));
}

/** Reads a line in raw mode, so nothing is echoed; handles backspace, Ctrl-C and Ctrl-D. */
async function promptHidden(prompt: string): Promise<string> {
  // Raw mode before the prompt: a key typed as soon as the prompt shows must not be echoed.
  Deno.stdin.setRaw(true);
  writeAll(Deno.stderr, prompt);
  const line: number[] = [];
  const buffer = new Uint8Array(256);
  try {
    for (;;) {
      const count = await Deno.stdin.read(buffer);
      if (count === null) throw new Error("no input");
      for (const byte of buffer.subarray(0, count)) {
        if (byte === 0x0d || byte === 0x0a) return decoder.decode(new Uint8Array(line));
        if (byte === 0x03) throw new Error("cancelled");
        if (byte === 0x04) {
          if (line.length === 0) throw new Error("no input");
        } else if (byte === 0x7f || byte === 0x08) {
          // Drop one character: its UTF-8 continuation bytes, then its lead byte.
          while (line.length > 0 && (line[line.length - 1]! & 0xc0) === 0x80) line.pop();
          line.pop();
        } else {
          line.push(byte);
        }
      }
    }
  } finally {
    Deno.stdin.setRaw(false);
    writeAll(Deno.stderr, "\n");
  }
}

async function writeTextFile(path: string, text: string, options: { mode: number; overwrite: boolean; durable?: boolean }): Promise<void> {
  if (options.durable) {
    const file = await Deno.open(path, { write: true, create: true, truncate: true, createNew: !options.overwrite, mode: options.mode });
    try {
      const bytes = new TextEncoder().encode(text);
      for (let written = 0; written < bytes.length; ) written += await file.write(bytes.subarray(written));
      await file.sync();
    } finally {
      file.close();
    }
  } else await Deno.writeTextFile(path, text, { mode: options.mode, createNew: !options.overwrite });
  // A file that already existed keeps its old mode otherwise.
  if (!isWindows) await Deno.chmod(path, options.mode);
}

/** Platform.processScope, as on Node (node-files.ts): the host name, and the pid namespace and the boot where /proc tells them. */
function denoProcessScope(): string {
  const read = (get: () => string) => {
    try {
      return get().trim();
    } catch {
      return "";
    }
  };
  return [read(() => Deno.hostname()), read(() => Deno.readLinkSync("/proc/self/ns/pid")), read(() => Deno.readTextFileSync("/proc/sys/kernel/random/boot_id"))].filter(Boolean).join(" ");
}

/** Platform.createExclusiveFile: written under a temporary name, then hard-linked into place, as on Node (node-files.ts). */
async function createExclusiveFile(path: string, text: string, mode: number): Promise<boolean> {
  const temporary = `${path}.${crypto.randomUUID()}.tmp`;
  try {
    await Deno.writeTextFile(temporary, text, { mode, createNew: true });
    await Deno.link(temporary, path);
    return true;
  } catch (error) {
    if ((error as Error).name === "AlreadyExists") return false;
    // No hard links on this file system: create, then write.
    if (!["EPERM", "ENOTSUP", "ENOSYS"].includes((error as { code?: string }).code ?? "")) throw error;
  } finally {
    await Deno.remove(temporary).catch(() => {});
  }
  try {
    await Deno.writeTextFile(path, text, { mode, createNew: true });
    return true;
  } catch (error) {
    if ((error as Error).name === "AlreadyExists") return false;
    throw error;
  }
}

function executableDir(): string {
  const url = new URL(".", Deno.mainModule);
  if (url.protocol !== "file:") return Deno.execPath().replace(/[\\/][^\\/]*$/, "");
  const path = decodeURIComponent(url.pathname).replace(/\/$/, "");
  return isWindows ? path.replace(/^\//, "").replaceAll("/", "\\") : path;
}

function isExecutableFile(path: string): boolean {
  try {
    const info = Deno.statSync(path);
    // Owner, group or other may execute: a cheap approximation of access(X_OK) that Deno lacks.
    return info.isFile && (isWindows || info.mode === null || (info.mode & 0o111) !== 0);
  } catch {
    return false;
  }
}

export const denoPlatform: Platform = {
  name: "deno",
  unenforced: UNENFORCED,
  isWindows,
  env: Deno.env.toObject(),
  args: Deno.args,
  executableDir: executableDir(),
  serve,
  spawn,
  readTextFile: async (path, maxBytes) => (maxBytes === undefined ? Deno.readTextFile(path) : decodeUtf8(await readAtMost((await Deno.open(path)).readable, maxBytes))),
  fileMode(path) {
    try {
      const mode = (Deno.statSync(path) as { mode: number | null }).mode;
      return Promise.resolve(mode === null ? undefined : mode & 0o777);
    } catch {
      return Promise.resolve(undefined);
    }
  },
  sha256: webSha256,
  aesGcm: webAesGcm,
  fileExists(path) {
    try {
      Deno.statSync(path);
      return true;
    } catch {
      return false;
    }
  },
  isExecutableFile,
  isDirectory(path) {
    try {
      return Deno.statSync(path).isDirectory;
    } catch {
      return false;
    }
  },
  openAppendFile(path) {
    Deno.writeTextFileSync(path, "", { append: true, mode: 0o600 });
    return (text) => Deno.writeTextFileSync(path, text, { append: true });
  },
  writeStdout(text) {
    try {
      writeAll(Deno.stdout, text);
    } catch (error) {
      if ((error as Error).name !== "BrokenPipe") throw error;
      stdoutGone?.();
    }
  },
  // writeAll blocks until stdout took everything.
  stdoutDrained: () => Promise.resolve(),
  writeStderr: (text) => writeAll(Deno.stderr, text),
  onSignal(signal, listener) {
    // Deno on Windows can only listen for SIGINT (and SIGBREAK).
    if (isWindows && signal !== "SIGINT") return;
    Deno.addSignalListener(signal, listener);
  },
  readStdinLine: async (maxBytes) => decodeUtf8(await readAtMost(Deno.stdin.readable, maxBytes, true)),
  streamStdin: (onChunk, onEnd) => {
    let ended = false;
    const end = (reason: string) => {
      if (ended) return;
      ended = true;
      onEnd(reason);
    };
    stdoutGone = () => end("stdout closed");
    void (async () => {
      try {
        for await (const chunk of Deno.stdin.readable) await onChunk(chunk);
      } finally {
        end("stdin closed");
      }
    })();
  },
  createHttpClient: createDenoHttpClient,
  stdinIsTerminal: Deno.stdin.isTerminal(),
  promptHidden,
  writeTextFile,
  createExclusiveFile,
  makeDirectory: (path, mode) => Deno.mkdir(path, { recursive: true, mode }),
  async renameFile(from, to) {
    await Deno.rename(from, to);
    // The directory synced, as on Node (node-files.ts renameFile), where the system allows it.
    let directory: Deno.FsFile | undefined;
    try {
      directory = await Deno.open(to.slice(0, Math.max(to.lastIndexOf("/"), 1)), { read: true });
      await directory.sync();
    } catch {
      // Not possible here (Windows, some network file systems): the rename stands, less durably.
    } finally {
      directory?.close();
    }
  },
  async removeFile(path) {
    try {
      await Deno.remove(path);
    } catch (error) {
      if ((error as Error).name !== "NotFound") throw error;
    }
  },
  pid: Deno.pid,
  processScope: denoProcessScope(),
  processAlive(pid) {
    // Deno.kill has no signal 0: /proc tells on Linux; elsewhere assume alive (never take over a live bridge's state).
    if (Deno.build.os !== "linux") return true;
    try {
      Deno.statSync(`/proc/${pid}`);
      return true;
    } catch {
      return false;
    }
  },
  exit: (code) => Deno.exit(code),
};
