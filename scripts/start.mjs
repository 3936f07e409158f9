// `npm start`: builds the bridge and serves the example echo server on 127.0.0.1:8080 (or
// MCP_BRIDGE_PORT) behind a bearer token — the one from MCP_BRIDGE_TOKEN, or a fresh random one
// printed here.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";

const port = process.env.MCP_BRIDGE_PORT || "8080";
const token = process.env.MCP_BRIDGE_TOKEN || randomBytes(24).toString("base64url");

/** The Inspector release that runs on this Node: the newest needs Node 22.19+, 0.15.0 runs on Node 20. */
function inspectorPackage(version = process.versions.node) {
  const [major, minor] = version.split(".").map(Number);
  return major > 22 || (major === 22 && minor >= 19) ? "@modelcontextprotocol/inspector" : "@modelcontextprotocol/inspector@0.15.0";
}

/** Resolves when 127.0.0.1:port can be bound; otherwise says what to do and exits. */
function ensurePortFree() {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", (error) => {
      const busy = error.code === "EADDRINUSE";
      process.stderr.write(
        busy
          ? `\nPort ${port} on 127.0.0.1 is already in use (another mcp-bridge, or another program).\n` +
              `Stop it (see: lsof -i :${port}), or start on another port: MCP_BRIDGE_PORT=${Number(port) + 1} npm start\n\n`
          : `\nCannot listen on 127.0.0.1:${port} (${error.code ?? error.message}); start on another port: MCP_BRIDGE_PORT=8081 npm start\n\n`,
      );
      process.exit(1);
    });
    probe.listen(Number(port), "127.0.0.1", () => probe.close(resolve));
  });
}

await ensurePortFree();
process.stderr.write(
  [
    "",
    "mcp-bridge is starting with examples/config.yaml (the example echo server, bearer auth).",
    `  MCP endpoint:  http://127.0.0.1:${port}/mcp`,
    `  Bearer token:  ${token}`,
    `  Try it:        npx ${inspectorPackage()}  (Streamable HTTP, the URL above, header Authorization: Bearer <token>)`,
    "",
  ].join("\n") + "\n",
);
const bridge = spawn(process.execPath, ["dist/mcp-bridge.cjs", "-c", "examples/config.yaml"], {
  stdio: "inherit",
  env: { ...process.env, MCP_BRIDGE_TOKEN: token, MCP_BRIDGE_PORT: port },
});
// A terminal's Ctrl-C (and its hangup) reaches the whole foreground process group, the bridge
// included: passed on besides, it would reach the bridge twice, which it takes as "stop at once",
// skipping the graceful shutdown. So this script only waits for the bridge to exit then; SIGTERM,
// which is sent to this script alone, is passed on.
process.on("SIGINT", () => {});
process.on("SIGTERM", () => bridge.kill("SIGTERM"));
bridge.on("exit", (code, signal) => process.exit(code ?? (signal ? 128 + 2 : 1)));
