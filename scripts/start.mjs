// `npm start`: builds the bridge and serves the example echo server on 127.0.0.1:8080 behind a
// bearer token — the one from MCP_BRIDGE_TOKEN, or a fresh random one printed here.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";

const token = process.env.MCP_BRIDGE_TOKEN || randomBytes(24).toString("base64url");
process.stderr.write(
  [
    "",
    "mcp-bridge is starting with examples/config.yaml (the example echo server, bearer auth).",
    `  MCP endpoint:  http://127.0.0.1:8080/mcp`,
    `  Bearer token:  ${token}`,
    "  Try it:        npx @modelcontextprotocol/inspector  (Streamable HTTP, the URL above, header Authorization: Bearer <token>)",
    "",
  ].join("\n") + "\n",
);
const bridge = spawn(process.execPath, ["dist/mcp-bridge.cjs", "-c", "examples/config.yaml"], {
  stdio: "inherit",
  env: { ...process.env, MCP_BRIDGE_TOKEN: token },
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => bridge.kill(signal));
bridge.on("exit", (code, signal) => process.exit(code ?? (signal ? 128 + 2 : 1)));
