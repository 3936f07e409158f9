/** §5 `npm start` (scripts/start.mjs): a busy port is explained with the fix; the Inspector hint fits this Node. */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer, type Server } from "node:net";
import { describe, test } from "node:test";
import { ROOT, run } from "../support/bridge.ts";

function bind(): Promise<{ server: Server; port: number }> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => resolve({ server, port: (server.address() as { port: number }).port }));
  });
}

const env = (port: number) => ({ PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", MCP_BRIDGE_PORT: String(port) });

describe("npm start", () => {
  test("a busy port is named, with what to do", async () => {
    const { server, port } = await bind();
    try {
      const result = await run(process.execPath, ["scripts/start.mjs"], { env: env(port), cwd: ROOT });
      assert.equal(result.code, 1);
      assert.match(result.stderr, new RegExp(`Port ${port} on 127\\.0\\.0\\.1 is already in use`));
      assert.match(result.stderr, new RegExp(`MCP_BRIDGE_PORT=${port + 1} npm start`));
    } finally {
      server.close();
    }
  });

  test("serves on the chosen port and names an Inspector release that runs on this Node", async () => {
    const { server, port } = await bind();
    await new Promise((resolve) => server.close(resolve));
    const child = spawn(process.execPath, ["scripts/start.mjs"], { cwd: ROOT, env: env(port), stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    try {
      await new Promise<void>((resolve, reject) => {
        child.stderr.on("data", (chunk) => {
          stderr += chunk;
          if (/listening url=/.test(stderr)) resolve();
        });
        child.once("exit", (code) => reject(new Error(`start.mjs exited ${code}:\n${stderr}`)));
      });
      assert.match(stderr, new RegExp(`listening url=http://127\\.0\\.0\\.1:${port}/mcp`));
      const [major, minor] = process.versions.node.split(".").map(Number) as [number, number];
      const modern = major > 22 || (major === 22 && minor >= 19);
      assert.match(stderr, modern ? /npx @modelcontextprotocol\/inspector {2}\(/ : /npx @modelcontextprotocol\/inspector@0\.15\.0 /);
    } finally {
      child.kill("SIGTERM");
      await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once("exit", resolve)));
    }
  });
});
