/** @module The Node.js Platform: node:http(s) through @hono/node-server, child_process, fs. */
import type { RequestError as AdapterRequestError } from "@hono/node-server";
import { spawn as spawnProcess } from "node:child_process";
import { createCipheriv, createDecipheriv, hash } from "node:crypto";
import { accessSync, appendFileSync, closeSync, constants as fsConstants, createReadStream, existsSync, openSync, statSync } from "node:fs";
import { chmod, readFile, stat, writeFile } from "node:fs/promises";
import { createInterface } from "node:readline";
import { Writable, type Duplex } from "node:stream";
import { createExclusiveFile, makeDirectory, processAlive, processScope, removeFile, renameFile, writeDurably } from "./node-files.ts";
import { publicFetch } from "./public-fetch.ts";
import { closeStalledResponses } from "./node-write-timeout.ts";
import { createServer as createHttpsServer } from "node:https";
import { createServer as createHttpServer, maxHeaderSize, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";
import type { Socket } from "node:net";
import { dirname } from "node:path";
import { coalescingWriter } from "./coalesce.ts";
import { decodeUtf8, readAtMost } from "../util/bounded-read.ts";
import { addressBucket } from "../util/cidr.ts";
import { createNodeHttpClient } from "./node-http-client.ts";
import { resolveCommand } from "./command-resolution.ts";
import { failedToStart, type ChildExit, type ChildProcessHandle, type FetchHandler, type Platform, type RunningServer, type ServeOptions, type SpawnOptions } from "./types.ts";

/** How often Node looks for connections past headersTimeout / requestTimeout (its default is 30 s). */
function checkingInterval(options: ServeOptions): number {
  return Math.max(250, Math.min(5000, Math.floor(Math.min(options.headerTimeout, options.requestTimeout) / 4)));
}

/**
 * The connection caps and the first-request timer. Node answers a head late past headersTimeout
 * (one never begun too) with 408 at its next check, which answerParseErrors gives a JSON body; the
 * timer, from accept until the first request head, closes what Node does not track (a TLS
 * handshake never finished) and runs out after Node's check, so as not to cut its answer off. At
 * the total cap, the connection idle longest (waiting for a request head: its first, or its next
 * on keep-alive) makes way for the new one (only when
 * every connection is busy is the new one refused), so sockets hoarded idle cannot lock out
 * clients that do send requests (/health).
 * Returns the open sockets, for close().
 */
function limitConnections(server: Server, options: ServeOptions): Set<Socket> {
  const sockets = new Set<Socket>();
  const perAddress = new Map<string, number>();
  /** "address|port" → the accepted (raw) socket: a TLS request's socket wraps it. */
  const byKey = new Map<string, Socket>();
  /** "address|port" → a connection waiting for a request head, idle longest first; `timer` until its first. */
  const awaitingHead = new Map<string, { socket: Socket; timer?: ReturnType<typeof setTimeout> }>();
  // Node's checks run every checkingInterval: two of them past its headersTimeout, it has answered.
  const firstHeadDeadline = Math.min(options.headerTimeout, options.requestTimeout) + 2 * checkingInterval(options);
  server.on("connection", (socket: Socket) => {
    const address = socket.remoteAddress ?? "";
    const key = `${address}|${socket.remotePort}`;
    // Counted per /64 for IPv6: a host owning a whole /64 would otherwise get a share per address.
    const bucket = addressBucket(address);
    const count = perAddress.get(bucket) ?? 0;
    if (count >= options.maxConnectionsPerAddress && !options.exemptPeer?.(address)) {
      options.onRefusedConnection?.("max_connections_per_address", address);
      socket.destroy();
      return;
    }
    if (sockets.size >= options.maxConnections) {
      const [oldestKey, oldest] = awaitingHead.entries().next().value ?? [];
      options.onRefusedConnection?.("max_connections", oldest ? (oldest.socket.remoteAddress ?? "") : address);
      if (!oldest) {
        socket.destroy();
        return;
      }
      // Out of the list now: its close event comes later, and the next newcomer must pick another.
      awaitingHead.delete(oldestKey!);
      clearTimeout(oldest.timer);
      oldest.socket.destroy();
    }
    perAddress.set(bucket, count + 1);
    sockets.add(socket);
    byKey.set(key, socket);
    awaitingHead.set(key, { socket, timer: setTimeout(() => socket.destroy(), firstHeadDeadline) });
    socket.once("close", () => {
      sockets.delete(socket);
      byKey.delete(key);
      clearTimeout(awaitingHead.get(key)?.timer);
      awaitingHead.delete(key);
      const left = (perAddress.get(bucket) ?? 1) - 1;
      if (left <= 0) perAddress.delete(bucket);
      else perAddress.set(bucket, left);
    });
  });
  server.on("request", (request: IncomingMessage, response: ServerResponse) => {
    // The TLS socket of a request shares address and port with the raw socket it wraps.
    const socket = request.socket;
    const key = `${socket.remoteAddress ?? ""}|${socket.remotePort}`;
    const waiting = awaitingHead.get(key);
    if (waiting !== undefined) {
      clearTimeout(waiting.timer);
      awaitingHead.delete(key);
    }
    // Kept alive after its response, the connection is idle again (keepAliveTimeout ends it).
    response.once("finish", () => {
      const raw = byKey.get(key);
      if (raw && !raw.destroyed) awaitingHead.set(key, { socket: raw });
    });
  });
  return sockets;
}

/** What Node's parser refusals mean, by error code, for the JSON body that says so. */
const PARSE_REFUSALS: Record<string, [status: number, error: string, description: string]> = {
  HPE_HEADER_OVERFLOW: [431, "request_header_fields_too_large", `the request's head (request line and header fields) is larger than the ${maxHeaderSize} bytes accepted`],
  ERR_HTTP_REQUEST_TIMEOUT: [408, "request_timeout", "the request's head or body did not arrive in time"],
};

/** The JSON body of a refusal made before the app sees the request, as the app's own refusals have. */
const refusalBody = (error: string, description: string) => JSON.stringify({ error, error_description: description });

/**
 * A request the adapter cannot make a Request of (no Host header, which HTTP/1.0 and 0.9 requests
 * may lack; a Host that is not a host; a target that is not a path) gets 400 with a JSON body
 * rather than the adapter's bare 400. The adapter also comes here when the handler throws or
 * rejects (a bug: the app answers its own errors): 500, with a JSON body too.
 */
function unbuildableRequest(RequestError: typeof AdapterRequestError, error: unknown): Response {
  const missing = error instanceof RequestError && error.message === "Missing host header";
  const status = error instanceof RequestError ? 400 : 500;
  const body =
    status === 500
      ? refusalBody("server_error", "the request could not be handled")
      : refusalBody("invalid_request", missing ? "the request has no Host header" : "the request's Host header or target is not valid");
  return new Response(body, { status, headers: { "content-type": "application/json" } });
}

/**
 * Requests Node's parser refuses before the app sees them (a header section past 16 KiB, a
 * request line that is not HTTP, a request past requestTimeout) get the status Node would send,
 * with a JSON body as every other refusal has, and the connection closes. Nothing is sent into a
 * response already under way (a keep-alive connection's SSE stream): that connection just closes.
 * The body never repeats what was sent.
 */
function answerParseErrors(server: Server): void {
  // A connection's responses not finished yet: on keep-alive the last one may long be done, and a
  // pipelined request's response may wait behind one under way (a stream), so "the latest request's
  // response" tells nothing. Node keeps at most its pipelined requests here; closed ones leave.
  const unfinished = new WeakMap<Duplex, Set<ServerResponse>>();
  server.on("request", (request: IncomingMessage, response: ServerResponse) => {
    let responses = unfinished.get(request.socket);
    if (!responses) unfinished.set(request.socket, (responses = new Set()));
    responses.add(response);
    response.once("close", () => responses.delete(response));
  });
  server.on("clientError", (error: Error & { code?: string }, socket: Duplex) => {
    const underWay = [...(unfinished.get(socket) ?? [])].some((response) => response.headersSent);
    if (!socket.writable || underWay) return void socket.destroy();
    const [status, code, description] = PARSE_REFUSALS[error.code ?? ""] ?? [400, "invalid_request", `the request is not valid HTTP/1.1 (${error.code ?? "unparsable"})`];
    const body = refusalBody(code, description);
    socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  });
}

async function serve(handler: FetchHandler, options: ServeOptions): Promise<RunningServer> {
  // Loaded here, not at start-up: it loads node:http2 and undici, which client mode and the
  // one-shot commands never use (about a quarter of their start-up CPU).
  const { getRequestListener, RequestError } = await import("@hono/node-server");
  const tls = options.tls;
  // Node insists that the head's time fits in the whole request's.
  const timeouts = { headersTimeout: Math.min(options.headerTimeout, options.requestTimeout), requestTimeout: options.requestTimeout, connectionsCheckingInterval: checkingInterval(options) };
  const requestListener = getRequestListener(
    (request, env) => {
      const outgoing = env.outgoing as ServerResponse;
      return handler(request, {
        remoteAddress: (env.incoming as IncomingMessage).socket.remoteAddress ?? "",
        // Cheaper than request.signal, which makes the adapter build an AbortController per request.
        onClientGone: (listener) => {
          const gone = () => outgoing.writableFinished || listener();
          // A listener added after the client left (the request waited for a child first) runs at once.
          if (outgoing.closed) gone();
          else outgoing.once("close", gone);
        },
        // The adapter then cancels the response body (its queue goes), with nothing to report.
        abort: () => void outgoing.destroy(),
      });
    },
    { errorHandler: (error) => unbuildableRequest(RequestError, error) },
  );
  // Node's own check answers a request without Host with a bare 400: the adapter's, answered by
  // unbuildableRequest, says why in JSON.
  const serverOptions = { ...timeouts, requireHostHeader: false };
  const server = (
    tls
      ? createHttpsServer(
          {
            ...serverOptions,
            cert: tls.cert,
            key: tls.key,
            ca: tls.ca,
            requestCert: tls.requestCert,
            // rejectUnauthorized refuses a connection without a certificate as well as one that does not
            // chain to ca: only for "require_and_verify". "require" and "verify" are checked below.
            rejectUnauthorized: tls.requireCert && tls.verifyCert,
            minVersion: tls.minVersion,
            maxVersion: tls.maxVersion,
          },
          requestListener,
        )
      : createHttpServer(serverOptions, requestListener)
  ) as Server;
  server.keepAliveTimeout = options.idleTimeout;
  // SSE streams live for hours: no inactivity timeout on the whole connection; while a response is
  // sent, the write timeout closes it only when the client stops taking bytes.
  server.timeout = 0;
  closeStalledResponses(server, options.writeTimeout ?? 0, options.onStalledConnection ?? (() => {}));
  if (tls && tls.requireCert !== tls.verifyCert) {
    server.on("secureConnection", (socket: TLSSocket) => {
      const presented = Object.keys(socket.getPeerCertificate() ?? {}).length > 0;
      // "require": any certificate, none refused; "verify": none, or one that chains to ca.
      if (tls.requireCert ? !presented : presented && !socket.authorized) socket.destroy();
    });
  }
  const sockets = limitConnections(server, options);
  answerParseErrors(server);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  return {
    host: options.host,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}

const isWindows = process.platform === "win32";

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function spawn(command: string, args: string[], options: SpawnOptions): ChildProcessHandle {
  let resolved: ReturnType<typeof resolveCommand>;
  try {
    // Windows needs PATHEXT and cmd.exe for batch files (npx.cmd); elsewhere Node's lookup is the shell's.
    resolved = isWindows ? resolveCommand(command, args, { windows: true, env: options.env, cwd: options.cwd, isExecutableFile }) : undefined;
  } catch (error) {
    return failedToStart(error as Error);
  }
  const child = spawnProcess(resolved?.file ?? command, resolved?.args ?? args, {
    windowsVerbatimArguments: resolved?.verbatim ?? false,
    env: options.env,
    cwd: options.cwd,
    stdio: ["pipe", "pipe", "pipe"],
    // Its own process group, so the whole tree (npx → node → …) can be signalled at once.
    detached: !isWindows,
    windowsHide: true,
  });
  const exited = new Promise<ChildExit & { error?: Error }>((resolve) => {
    child.once("error", (error) => resolve({ code: null, signal: null, error }));
    child.once("exit", (code, signal) => resolve({ code, signal }));
  });
  // A child that stops reading stdin must not crash the bridge with EPIPE.
  child.stdin.on("error", () => {});
  const input = coalescingWriter((text) => void (child.stdin.writable && child.stdin.write(text)));
  let leaderExited = false;
  void exited.then(() => (leaderExited = true));
  return {
    pid: child.pid,
    get queuedBytes() {
      return input.queuedLength + child.stdin.writableLength;
    },
    onStdout: (listener) => child.stdout.on("data", listener),
    onStderr: (listener) => child.stderr.on("data", listener),
    write: (data) => {
      if (child.stdin.writable) input.write(data);
    },
    closeStdin: () => {
      input.flush();
      child.stdin.end();
    },
    kill: (signal) => {
      if (child.pid === undefined) return;
      try {
        // Windows has no process groups or SIGTERM: taskkill ends the tree below the leader
        // (cmd.exe → npx → node) while the leader still runs.
        if (isWindows) spawnProcess("taskkill", ["/pid", String(child.pid), "/t", "/f"], { stdio: "ignore", windowsHide: true }).on("error", () => child.kill(signal));
        else process.kill(-child.pid, signal);
      } catch {
        // Already gone.
      }
    },
    groupAlive: () => {
      if (child.pid === undefined) return false;
      if (isWindows) return !leaderExited;
      try {
        process.kill(-child.pid, 0);
        return true;
      } catch (error) {
        // EPERM: a member exists but changed its credentials; it still runs.
        return (error as NodeJS.ErrnoException).code === "EPERM";
      }
    },
    exited,
  };
}

function openAppendFile(path: string): (text: string) => void {
  closeSync(openSync(path, "a", 0o600));
  return (text) => appendFileSync(path, text);
}

/** readline does the line editing; its echo goes to a stream that is muted once the prompt is out. */
async function promptHidden(prompt: string): Promise<string> {
  let muted = false;
  const output = new Writable({
    write(chunk, encoding, callback) {
      if (!muted) process.stderr.write(chunk, encoding);
      callback();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  try {
    return await new Promise<string>((resolve, reject) => {
      rl.question(prompt, resolve);
      muted = true;
      rl.once("SIGINT", () => reject(new Error("cancelled")));
      rl.once("close", () => reject(new Error("no input")));
    });
  } finally {
    rl.close();
    process.stderr.write("\n");
  }
}

async function writeTextFileWithMode(path: string, text: string, options: { mode: number; overwrite: boolean; durable?: boolean }): Promise<void> {
  const flag = options.overwrite ? "w" : "wx";
  if (options.durable) await writeDurably(path, text, flag, options.mode);
  else await writeFile(path, text, { mode: options.mode, flag });
  // A file that already existed keeps its old mode otherwise.
  if (process.platform !== "win32") await chmod(path, options.mode);
}

/** The one wait for stdout's drain that every reader shares (a listener each would pile up). */
let stdoutDrain: Promise<void> | undefined;

/** process.stdout.write queues what the pipe does not take at once, without limit: writers wait here. */
function stdoutDrained(everything = false): Promise<void> {
  if (process.stdout.destroyed) return Promise.resolve();
  // Writes complete in order: an empty one's callback runs once everything before it was taken.
  if (everything) return new Promise((resolve) => void process.stdout.write("", () => resolve()));
  if (!process.stdout.writableNeedDrain) return Promise.resolve();
  stdoutDrain ??= new Promise<void>((resolve) => {
    const done = () => {
      process.stdout.off("drain", done).off("close", done);
      stdoutDrain = undefined;
      resolve();
    };
    process.stdout.on("drain", done).on("close", done);
  });
  return stdoutDrain;
}

export const nodePlatform: Platform = {
  name: "node",
  unenforced: [],
  isWindows,
  env: process.env,
  args: process.argv.slice(2),
  executableDir: dirname(process.argv[1] && !process.argv[1].startsWith("-") ? process.argv[1] : process.execPath),
  serve,
  spawn,
  readTextFile: async (path, maxBytes) => (maxBytes === undefined ? readFile(path, "utf8") : decodeUtf8(await readAtMost(createReadStream(path), maxBytes))),
  fileMode: async (path) => (process.platform === "win32" ? undefined : stat(path).then((info) => info.mode & 0o777, () => undefined)),
  // Synchronous and one-shot: Web Crypto's digest costs a thread-pool round trip per call on Node,
  // and createHash a Hash object per call.
  sha256: (text) => hash("sha256", text, "buffer"),
  aesGcm: {
    // Synchronous for the same reason; a state is a few hundred bytes.
    encrypt(key, iv, plaintext, additionalData) {
      const cipher = createCipheriv("aes-256-gcm", key, iv).setAAD(additionalData);
      return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    },
    decrypt(key, iv, sealed, additionalData) {
      if (sealed.length < 16) throw new TypeError("too short to carry a GCM tag");
      const decipher = createDecipheriv("aes-256-gcm", key, iv).setAAD(additionalData).setAuthTag(sealed.subarray(sealed.length - 16));
      return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - 16)), decipher.final()]);
    },
  },
  fileExists: (path) => existsSync(path),
  isExecutableFile,
  isDirectory: (path) => statSync(path, { throwIfNoEntry: false })?.isDirectory() === true,
  openAppendFile,
  writeStdout: (text) => void process.stdout.write(text),
  stdoutDrained,
  writeStderr: (text) => void process.stderr.write(text),
  onSignal: (signal, listener) => void process.on(signal, listener),
  readStdinLine: async (maxBytes) => decodeUtf8(await readAtMost(process.stdin, maxBytes, true)),
  streamStdin: (onChunk, onEnd) => {
    let ended = false;
    const end = (reason: string) => {
      if (ended) return;
      ended = true;
      onEnd(reason);
    };
    process.stdin.on("data", (chunk: Buffer) => {
      const wait = onChunk(chunk);
      if (!wait) return;
      process.stdin.pause();
      void wait.then(() => process.stdin.resume());
    });
    process.stdin.once("end", () => end("stdin closed"));
    // Unhandled, EPIPE would crash the bridge before it ends the remote session.
    process.stdout.on("error", () => end("stdout closed"));
  },
  createHttpClient: createNodeHttpClient,
  stdinIsTerminal: Boolean(process.stdin.isTTY),
  promptHidden,
  writeTextFile: writeTextFileWithMode,
  createExclusiveFile,
  makeDirectory,
  renameFile,
  removeFile,
  pid: process.pid,
  processScope: processScope(),
  processAlive,
  publicFetch,
  exit: (code) => process.exit(code),
};
