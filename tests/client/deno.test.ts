/** @module Client mode from the unbundled source under Deno (`deno run -A src/main.ts connect URL`): stdin streaming and Deno's fetch. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { DENO, ROOT } from "../release/helpers.ts";
import { connectLocalClient } from "./support.ts";
import { startStreamableServer } from "./sdk-servers.ts";

const ENV = { HOME: process.env.HOME ?? "/root", PATH: process.env.PATH ?? "/usr/bin:/bin", DENO_NO_UPDATE_CHECK: "1" };

test("under Deno, client mode connects a stdio client to a Streamable HTTP server", { timeout: 120_000 }, async () => {
  const server = await startStreamableServer();
  const local = await connectLocalClient(["connect", server.url], { command: [DENO, "run", "-A", join(ROOT, "src", "main.ts")], direct: true, env: ENV });
  try {
    const result = await local.client.callTool({ name: "echo", arguments: { text: "from deno" } });
    assert.deepEqual(result.content, [{ type: "text", text: "from deno" }]);
  } finally {
    await local.close();
    await server.close();
  }
});
