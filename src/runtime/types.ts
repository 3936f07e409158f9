/**
 * @module The runtime edge: everything Node- or Deno-specific that the core needs, passed in as a
 * Platform. Only src/runtime/*.ts and the entry files import `node:` modules or touch `Deno`.
 */
import type { AesGcm } from "../util/aes-gcm.ts";
import type { Sha256 } from "../util/digest.ts";

export interface TlsServeOptions {
  cert: string;
  key: string;
  /** PEM CA bundle for client certificates. */
  ca?: string;
  /** Ask the client for a certificate. */
  requestCert: boolean;
  /** Refuse the handshake when the client sends no certificate. */
  requireCert: boolean;
  /** Refuse the handshake when the client's certificate does not chain to `ca`. */
  verifyCert: boolean;
  minVersion: "TLSv1.2" | "TLSv1.3";
  maxVersion?: "TLSv1.2" | "TLSv1.3";
}

export interface ServeOptions {
  host: string;
  port: number;
  tls?: TlsServeOptions;
  /** Time allowed to receive a request's headers and body (ms). */
  requestTimeout: number;
  /** Keep-alive idle time (ms). */
  idleTimeout: number;
  /**
   * Time a response may stall (ms): bytes written that the client does not take. Past it the
   * connection is closed; a quiet response (nothing pending) is never closed. 0 or absent: off.
   */
  writeTimeout?: number;
  /** Time a connection has to send a complete request head, from connecting or starting a request (ms). */
  headerTimeout: number;
  /** Connections open at once; past it the oldest one that has not sent a request head yet is closed, else the new one. */
  maxConnections: number;
  /** Connections open at once from one peer address, except peers for which `exemptPeer` is true. */
  maxConnectionsPerAddress: number;
  /** Peers the per-address cap does not apply to (trusted proxies, which carry many clients). */
  exemptPeer?: (address: string) => boolean;
  /** Told once per refused connection reason and address burst; for the log. */
  onRefusedConnection?: (reason: "max_connections" | "max_connections_per_address", address: string) => void;
  /** Told once per connection closed by `writeTimeout`, with its peer address; for the log and metrics. */
  onStalledConnection?: (address: string) => void;
}

/** What the transport layer knows of the connection a request came on. */
export interface ConnectionInfo {
  remoteAddress: string;
  /** Calls `listener` if the client goes away before the response has been sent in full. */
  onClientGone(listener: () => void): void;
  /**
   * Ends the connection at once, what the response still holds unsent dropped: a stream whose
   * client stopped reading it. Absent where the runtime gives no handle on the connection (an
   * errored response body does it there, which the runtime may log).
   */
  abort?(): void;
}

export type FetchHandler = (request: Request, connection: ConnectionInfo) => Promise<Response> | Response;

export interface RunningServer {
  /** The bound address (the real port when 0 was asked for). */
  readonly host: string;
  readonly port: number;
  /** Stops accepting connections and ends open ones. */
  close(): Promise<void>;
}

export interface SpawnOptions {
  env: Record<string, string>;
  cwd?: string;
}

/** A handle for a child that could not be started: it has "exited" with `error`, as a failed spawn reports. */
export function failedToStart(error: Error): ChildProcessHandle {
  return {
    pid: undefined,
    onStdout: () => {},
    onStderr: () => {},
    write: () => {},
    queuedBytes: 0,
    closeStdin: () => {},
    kill: () => {},
    groupAlive: () => false,
    exited: Promise.resolve({ code: null, signal: null, error }),
  };
}

export interface ChildExit {
  code: number | null;
  signal: string | null;
}

/** A child process in its own process group, spoken to over stdio. */
export interface ChildProcessHandle {
  readonly pid: number | undefined;
  /** Called with each chunk of stdout / stderr, in order. */
  onStdout(listener: (chunk: Uint8Array) => void): void;
  onStderr(listener: (chunk: Uint8Array) => void): void;
  /** Writes to stdin, in order; writes made in one event-loop turn reach the child together. */
  write(data: string): void;
  /** Bytes written but not yet taken by the child's stdin (UTF-16 code units of queued text plus pipe buffer bytes). */
  readonly queuedBytes: number;
  closeStdin(): void;
  /** Signals the whole process group, so grandchildren (npx → node) end too (Windows: the tree is ended with taskkill /t /f). */
  kill(signal: "SIGTERM" | "SIGKILL"): void;
  /**
   * Whether any process of the child's group still runs (the leader may have exited and left
   * members behind). Where there are no process groups (Windows) this is false once the leader exited.
   */
  groupAlive(): boolean;
  /** Settles once when the process has exited, or failed to start (code null, signal null, error set). */
  readonly exited: Promise<ChildExit & { error?: Error }>;
}

/** What a guarded fetch returned. */
export interface PublicFetchResult {
  status: number;
  headers: Headers;
  body: string;
}

/**
 * GETs an https URL that outside input chose, refusing non-public addresses (checked at connect
 * time, unless `allowPrivate`), redirects, bodies over `maxBytes` and answers slower than
 * `timeout` ms. Rejects with an Error whose message is safe to show.
 */
export type PublicFetch = (url: string, options: { timeout: number; maxBytes: number; allowPrivate: boolean }) => Promise<PublicFetchResult>;

/** A setting a runtime cannot apply: written in a config, it is refused naming `path` (config/load.ts), never ignored. */
export interface UnenforcedSetting {
  /** Dotted config path, e.g. "server.max_connections". */
  path: string;
  /** Why, and what to do instead. */
  message: string;
}

export interface Platform {
  readonly name: "node" | "deno";
  /** Settings this runtime cannot apply (none on Node). */
  readonly unenforced: readonly UnenforcedSetting[];
  /** Windows: commands are resolved with PATHEXT and batch files run through cmd.exe. */
  readonly isWindows: boolean;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Command-line arguments after the program name. */
  readonly args: readonly string[];
  /** Directory of the running executable or bundle, for the last config search location. */
  readonly executableDir: string;
  serve(handler: FetchHandler, options: ServeOptions): Promise<RunningServer>;
  spawn(command: string, args: string[], options: SpawnOptions): ChildProcessHandle;
  /**
   * A file's text. With `maxBytes`, more bytes than that (a huge file, /dev/zero) are refused with
   * InputTooLargeError (util/bounded-read.ts) and bytes that are not UTF-8 with a TypeError.
   */
  readTextFile(path: string, maxBytes?: number): Promise<string>;
  /** Permission bits of a file (0o644…), or undefined where the platform has none (Windows) or it cannot be read. */
  fileMode(path: string): Promise<number | undefined>;
  /** SHA-256 of a string's UTF-8 bytes: on the hot path of every authenticated request. */
  sha256: Sha256;
  /** AES-256-GCM: the requestState seal of every Multi Round-Trip round, twice. */
  aesGcm: AesGcm;
  fileExists(path: string): boolean;
  /** True when `path` is a regular file this process may execute (on Windows: a file). */
  isExecutableFile(path: string): boolean;
  /** True when `path` is a directory (mcp_server.dir: where children start). */
  isDirectory(path: string): boolean;
  /** Appends text to a file (log output); created with mode 0600. */
  openAppendFile(path: string): (text: string) => void;
  writeStdout(text: string): void;
  /**
   * Settles once stdout has taken what was written to it (at once when little is waiting), or has
   * closed: client mode reads the remote server no faster than the local client reads stdout.
   * With `everything`, only once nothing at all waits: before exiting, which drops what is left.
   */
  stdoutDrained(everything?: boolean): Promise<void>;
  writeStderr(text: string): void;
  onSignal(signal: "SIGINT" | "SIGTERM", listener: () => void): void;
  /**
   * The first line of stdin, without its newline (piped input for hash-password); the rest is not
   * read. More than `maxBytes` before a newline or the end is refused with InputTooLargeError.
   */
  readStdinLine(maxBytes: number): Promise<string>;
  /**
   * Streams stdin (client mode): `onChunk` for each chunk as it arrives; when it returns a promise,
   * stdin is not read until that settles (a local client that does not read stdout must not make
   * the bridge queue answers to whatever it keeps writing). `onEnd` once the local client is gone:
   * at end of input, or when stdout's reader closed it (EPIPE), with the reason for the log.
   */
  streamStdin(onChunk: (chunk: Uint8Array) => void | Promise<void>, onEnd: (reason: string) => void): void;
  /** An HTTP client for outgoing requests (client mode). */
  createHttpClient(options: HttpClientOptions): HttpClient;
  /** True when stdin is a terminal. */
  readonly stdinIsTerminal: boolean;
  /** Reads one line from the terminal without echoing it (passwords); the prompt goes to stderr. */
  promptHidden(prompt: string): Promise<string>;
  /**
   * Writes a file and sets its mode. Without `overwrite` the file is created exclusively, so an
   * existing one (or a symlink planted in its place) makes it fail instead of being replaced.
   * `durable`: its content is on stable storage (fsync) before it resolves.
   */
  writeTextFile(path: string, text: string, options: { mode: number; overwrite: boolean; durable?: boolean }): Promise<void>;
  /**
   * Creates a file holding `text` (mode `mode`, less the umask) only if nothing exists at `path`
   * (a symlink planted there included); false when something does. Never visible half-written:
   * written under a temporary name beside it, then hard-linked into place (created, then
   * written, where the file system has no hard links). Lock files: a lock read empty would be
   * taken for a dead holder's.
   */
  createExclusiveFile(path: string, text: string, mode: number): Promise<boolean>;
  /** Creates a directory and its missing parents with `mode` (state directories: 0700); no-op when it exists. */
  makeDirectory(path: string, mode: number): Promise<void>;
  /**
   * Renames a file, replacing `to` atomically (the last step of an atomic write); the rename is on
   * stable storage (the directory synced) before it resolves, where the file system allows.
   */
  renameFile(from: string, to: string): Promise<void>;
  /** Removes a file; no error when it is already gone. */
  removeFile(path: string): Promise<void>;
  /** This process's id (the state directory's lock file names it). */
  readonly pid: number;
  /**
   * Where process ids mean the same (the host name and, on Linux, the pid namespace and the boot):
   * a lock naming a process of another scope (another container sharing the state directory, or
   * a bridge that ran before a reboot) cannot be judged by its pid here.
   */
  readonly processScope: string;
  /** False only when no process `pid` exists; true when it does, belongs to another user, or cannot be told. */
  processAlive(pid: number): boolean;
  /** SSRF-guarded GET (Client ID Metadata Documents); absent where the runtime cannot check addresses at connect time. */
  publicFetch?: PublicFetch;
  exit(code: number): never;
}

/** TLS and connection settings for outgoing HTTP requests (client mode). */
export interface HttpClientOptions {
  /** PEM bundle of CAs trusted for the server's certificate, instead of the system's. */
  ca?: string;
  /** PEM client certificate and key (mutual TLS). */
  cert?: string;
  key?: string;
  /** Name checked against the server's certificate (and sent as SNI) instead of the URL's host. */
  serverName?: string;
  /** Accept any server certificate. */
  insecureSkipVerify: boolean;
  /** Idle keep-alive connections kept per origin. */
  maxIdleConnections: number;
  /** How long an idle keep-alive connection is kept (ms). */
  idleConnectionTimeout: number;
  /** Time allowed to open the connection, TLS included (ms). */
  connectTimeout: number;
  /** `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` as read from the environment. */
  proxy: { https?: string; http?: string; noProxy?: string };
  /** Name resolution in place of the system's (tests stand in for DNS with it); Node only. */
  resolve?: Resolve;
}

/** Every address of `hostname` (family 4 or 6); rejects when it does not resolve. */
export type Resolve = (hostname: string) => Promise<{ address: string; family: number }[]>;

export interface HttpRequestInit {
  method: "GET" | "POST" | "DELETE";
  headers: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
  /**
   * Connect only to public addresses (the SSRF guard of OAuth discovery): checked in the
   * connection's own DNS lookup, so a name cannot resolve to one address for the check and another
   * for the connection. Refused with HttpRequestError "not_public", before anything is sent.
   * Through a proxy, which resolves the name itself, only address literals are checked.
   */
  publicOnly?: boolean;
}

/** A fetch for one remote server: keep-alive pool, TLS options and proxy applied. Rejects with HttpRequestError. */
export interface HttpClient {
  fetch(url: string, init: HttpRequestInit): Promise<Response>;
  /**
   * Whether `hostname` (a name or an address literal) is on the public Internet: a literal that
   * is public, a name that has answered this client from a public address or through a proxy (for
   * good: DNS that answers otherwise later does not change it), or a name whose every address is
   * (a name that does not resolve counts as public: nothing can be reached there). Decides whether
   * publicOnly applies at all.
   */
  isPublicHost(hostname: string): Promise<boolean>;
  /** Closes idle connections. */
  close(): void;
}
