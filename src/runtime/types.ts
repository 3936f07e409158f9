/**
 * @module The runtime edge: everything Node- or Deno-specific that the core needs, passed in as a
 * Platform. Only src/runtime/*.ts and the entry files import `node:` modules or touch `Deno`.
 */
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
}

/** What the transport layer knows of the connection a request came on. */
export interface ConnectionInfo {
  remoteAddress: string;
  /** Calls `listener` if the client goes away before the response has been sent in full. */
  onClientGone(listener: () => void): void;
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
  closeStdin(): void;
  /** Signals the whole process group, so grandchildren (npx → node) end too. */
  kill(signal: "SIGTERM" | "SIGKILL"): void;
  /** Settles once when the process has exited, or failed to start (code null, signal null, error set). */
  readonly exited: Promise<ChildExit & { error?: Error }>;
}

export interface Platform {
  readonly name: "node" | "deno";
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Command-line arguments after the program name. */
  readonly args: readonly string[];
  /** Directory of the running executable or bundle, for the last config search location. */
  readonly executableDir: string;
  serve(handler: FetchHandler, options: ServeOptions): Promise<RunningServer>;
  spawn(command: string, args: string[], options: SpawnOptions): ChildProcessHandle;
  readTextFile(path: string): Promise<string>;
  /** Permission bits of a file (0o644…), or undefined where the platform has none (Windows) or it cannot be read. */
  fileMode(path: string): Promise<number | undefined>;
  /** SHA-256 of a string's UTF-8 bytes: on the hot path of every authenticated request. */
  sha256: Sha256;
  fileExists(path: string): boolean;
  /** Appends text to a file (log output); created with mode 0600. */
  openAppendFile(path: string): (text: string) => void;
  writeStdout(text: string): void;
  writeStderr(text: string): void;
  onSignal(signal: "SIGINT" | "SIGTERM", listener: () => void): void;
  /** Reads all of stdin as text (piped input for hash-password and the like). */
  readStdin(): Promise<string>;
  /** True when stdin is a terminal. */
  readonly stdinIsTerminal: boolean;
  /** Reads one line from the terminal without echoing it (passwords); the prompt goes to stderr. */
  promptHidden(prompt: string): Promise<string>;
  /**
   * Writes a file and sets its mode. Without `overwrite` the file is created exclusively, so an
   * existing one (or a symlink planted in its place) makes it fail instead of being replaced.
   */
  writeTextFile(path: string, text: string, options: { mode: number; overwrite: boolean }): Promise<void>;
  exit(code: number): never;
}
