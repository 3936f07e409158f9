/** @module The Node.js Platform: node:http(s) through @hono/node-server, child_process, fs. */
import { createAdaptorServer } from "@hono/node-server";
import { spawn as spawnProcess } from "node:child_process";
import { hash } from "node:crypto";
import { appendFileSync, existsSync, openSync, closeSync } from "node:fs";
import { chmod, readFile, writeFile } from "node:fs/promises";
import { createInterface } from "node:readline";
import { Writable } from "node:stream";
import { makeDirectory, removeFile, renameFile } from "./node-files.ts";
import { publicFetch } from "./public-fetch.ts";
import { createServer as createHttpsServer } from "node:https";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";
import { dirname } from "node:path";
import { coalescingWriter } from "./coalesce.ts";
import type { ChildExit, ChildProcessHandle, FetchHandler, Platform, RunningServer, ServeOptions, SpawnOptions } from "./types.ts";

async function serve(handler: FetchHandler, options: ServeOptions): Promise<RunningServer> {
  const tls = options.tls;
  const server = createAdaptorServer({
    fetch: (request, env) => {
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
      });
    },
    ...(tls && {
      createServer: createHttpsServer,
      serverOptions: {
        cert: tls.cert,
        key: tls.key,
        ca: tls.ca,
        requestCert: tls.requestCert,
        // Node only checks the chain when rejectUnauthorized is set; "require" without "verify"
        // is enforced below by refusing connections that presented no certificate.
        rejectUnauthorized: tls.verifyCert,
        minVersion: tls.minVersion,
        maxVersion: tls.maxVersion,
      },
    }),
  }) as Server;
  server.requestTimeout = options.requestTimeout;
  server.headersTimeout = Math.min(options.requestTimeout, 60_000);
  server.keepAliveTimeout = options.idleTimeout;
  // SSE streams live for hours: no socket inactivity timeout, keep-alive comments keep proxies awake.
  server.timeout = 0;
  if (tls?.requireCert && !tls.verifyCert) {
    server.on("secureConnection", (socket: TLSSocket) => {
      if (!socket.getPeerCertificate() || Object.keys(socket.getPeerCertificate()).length === 0) socket.destroy();
    });
  }
  const sockets = new Set<import("node:net").Socket>();
  server.on(tls ? "secureConnection" : "connection", (socket: import("node:net").Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
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

function spawn(command: string, args: string[], options: SpawnOptions): ChildProcessHandle {
  const isWindows = process.platform === "win32";
  const child = spawnProcess(command, args, {
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
  return {
    pid: child.pid,
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
        if (isWindows) child.kill(signal);
        else process.kill(-child.pid, signal);
      } catch {
        // Already gone.
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

async function writeTextFileWithMode(path: string, text: string, options: { mode: number; overwrite: boolean }): Promise<void> {
  await writeFile(path, text, { mode: options.mode, flag: options.overwrite ? "w" : "wx" });
  // A file that already existed keeps its old mode otherwise.
  if (process.platform !== "win32") await chmod(path, options.mode);
}

export const nodePlatform: Platform = {
  name: "node",
  env: process.env,
  args: process.argv.slice(2),
  executableDir: dirname(process.argv[1] && !process.argv[1].startsWith("-") ? process.argv[1] : process.execPath),
  serve,
  spawn,
  readTextFile: (path) => readFile(path, "utf8"),
  // Synchronous and one-shot: Web Crypto's digest costs a thread-pool round trip per call on Node,
  // and createHash a Hash object per call.
  sha256: (text) => hash("sha256", text, "buffer"),
  fileExists: (path) => existsSync(path),
  openAppendFile,
  writeStdout: (text) => void process.stdout.write(text),
  writeStderr: (text) => void process.stderr.write(text),
  onSignal: (signal, listener) => void process.on(signal, listener),
  readStdin: async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString("utf8");
  },
  stdinIsTerminal: Boolean(process.stdin.isTTY),
  promptHidden,
  writeTextFile: writeTextFileWithMode,
  makeDirectory,
  renameFile,
  removeFile,
  publicFetch,
  exit: (code) => process.exit(code),
};
