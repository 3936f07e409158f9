/** @module Helpers for client-mode tests: an SDK v1 Client speaking stdio to the built bridge in client mode. */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { ClientCapabilities } from "@modelcontextprotocol/sdk/types.js";
import { CLI } from "../support/bridge.ts";

export interface LocalClient {
  client: Client;
  transport: StdioClientTransport;
  /** Everything the bridge wrote to stderr so far. */
  stderr(): string;
  close(): Promise<void>;
}

/**
 * Starts `mcp-bridge <args>` (e.g. `connect URL` or `-c FILE`) as the SDK's stdio transport would
 * start any MCP server, and connects an SDK client to it (initialize included).
 */
export async function connectLocalClient(
  args: string[],
  options: {
    env?: Record<string, string>;
    capabilities?: ClientCapabilities;
    setup?: (client: Client) => void;
    connect?: boolean;
    /** What to run instead of the built bundle: a bundle path (run with this Node), or with `direct` a whole command. */
    command?: string[];
    direct?: boolean;
  } = {},
): Promise<LocalClient> {
  const [program, ...programArgs] = options.direct && options.command ? options.command : [process.execPath, ...(options.command ?? [CLI])];
  const transport = new StdioClientTransport({
    command: program!,
    args: [...programArgs, ...args],
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...options.env },
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  const client = new Client({ name: "client-mode-test", version: "1.0.0" }, { capabilities: options.capabilities ?? {} });
  options.setup?.(client);
  if (options.connect !== false) await client.connect(transport);
  return {
    client,
    transport,
    stderr: () => stderr,
    close: () => client.close(),
  };
}

export { waitFor } from "../support/poll.ts";
