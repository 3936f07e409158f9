/**
 * @module The few Deno APIs that src/runtime/deno.ts uses, declared by hand so that tsc checks it
 * without loading Deno's whole lib.
 */

declare namespace Deno {
  interface NetAddr {
    transport: "tcp" | "udp";
    hostname: string;
    port: number;
  }

  interface ServeOptions {
    port: number;
    hostname: string;
    signal?: AbortSignal;
    onListen?: (address: NetAddr) => void;
    onError?: (error: unknown) => Response | Promise<Response>;
    /** PEM certificate chain and key; both or neither. */
    cert?: string;
    key?: string;
  }

  interface HttpServer {
    readonly addr: NetAddr;
    readonly finished: Promise<void>;
  }

  interface CommandOptions {
    args: string[];
    cwd?: string;
    clearEnv: boolean;
    env: Record<string, string>;
    stdin: "piped";
    stdout: "piped";
    stderr: "piped";
    /** On Unix: setsid() in the child, so it leads its own process group. */
    detached: boolean;
    /** On Windows: args is the command line as it is, no quoting added. */
    windowsRawArguments?: boolean;
  }

  interface ChildProcess {
    readonly pid: number;
    readonly stdin: WritableStream<Uint8Array>;
    readonly stdout: ReadableStream<Uint8Array>;
    readonly stderr: ReadableStream<Uint8Array>;
    readonly status: Promise<{ code: number; signal: string | null }>;
    kill(signal?: string): void;
  }

  class Command {
    constructor(command: string, options: CommandOptions);
    spawn(): ChildProcess;
  }

  interface Writer {
    writeSync(data: Uint8Array): number;
  }

  interface WriteFileOptions {
    append?: boolean;
    createNew?: boolean;
    mode?: number;
  }

  interface HttpClientInstance {
    close(): void;
  }
  function createHttpClient(options: { caCerts?: string[]; cert?: string; key?: string; poolMaxIdlePerHost?: number }): HttpClientInstance;

  const args: readonly string[];
  const mainModule: string;
  const build: { readonly os: string };
  const pid: number;
  const env: { toObject(): Record<string, string> };
  const stdin: {
    readonly readable: ReadableStream<Uint8Array>;
    read(buffer: Uint8Array): Promise<number | null>;
    isTerminal(): boolean;
    setRaw(mode: boolean): void;
  };
  const stdout: Writer;
  const stderr: Writer;

  function serve(options: ServeOptions, handler: (request: Request, info: { remoteAddr: NetAddr }) => Response | Promise<Response>): HttpServer;
  function kill(pid: number, signal: string): void;
  function unrefTimer(id: number): void;
  function execPath(): string;
  function readTextFile(path: string): Promise<string>;
  interface OpenOptions {
    read?: boolean;
    write?: boolean;
    create?: boolean;
    createNew?: boolean;
    truncate?: boolean;
    mode?: number;
  }
  interface FsFile {
    readonly readable: ReadableStream<Uint8Array>;
    write(data: Uint8Array): Promise<number>;
    /** fsync(2). */
    sync(): Promise<void>;
    close(): void;
  }
  function open(path: string, options?: OpenOptions): Promise<FsFile>;
  function writeTextFile(path: string, data: string, options?: WriteFileOptions): Promise<void>;
  function writeTextFileSync(path: string, data: string, options?: WriteFileOptions): void;
  function mkdir(path: string, options?: { recursive?: boolean; mode?: number }): Promise<void>;
  function rename(from: string, to: string): Promise<void>;
  function remove(path: string): Promise<void>;
  function link(oldpath: string, newpath: string): Promise<void>;
  function chmod(path: string, mode: number): Promise<void>;
  function statSync(path: string): { isFile: boolean; isDirectory: boolean; mode: number | null };
  function readLinkSync(path: string): string;
  function readTextFileSync(path: string): string;
  function hostname(): string;
  function addSignalListener(signal: "SIGINT" | "SIGTERM", listener: () => void): void;
  function exit(code: number): never;
}
