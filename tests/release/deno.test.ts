/** @module The unbundled source under Deno (`deno run -A src/main.ts`): CLI basics, then server mode through Deno.serve. */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { VERSION } from "../../src/version.ts";
import { assertBearerBridgeWorks, DENO, ROOT, run, startBearerBridge, tempDir } from "./helpers.ts";

/** Deno keeps its compile cache under HOME; the rest of the environment stays out. */
const ENV = { HOME: process.env.HOME ?? "/root", PATH: process.env.PATH ?? "/usr/bin:/bin", DENO_NO_UPDATE_CHECK: "1" };
const MAIN = join(ROOT, "src", "main.ts");

describe("under Deno", { timeout: 120_000 }, () => {
  it("answers --version", async () => {
    const { code, stdout, stderr } = await run(DENO, ["run", "-A", MAIN, "--version"], { env: ENV });
    assert.equal(code, 0, stderr);
    assert.equal(stdout, `mcp-bridge ${VERSION}\n`);
  });

  it("runs check-config", async () => {
    const config = join(tempDir(), "config.yaml");
    writeFileSync(config, 'mode: server\nserver:\n  listen: "127.0.0.1:0"\n  mcp_server: {command: /bin/cat}\n');
    const { code, stdout, stderr } = await run(DENO, ["run", "-A", MAIN, "check-config", "-c", config], { env: ENV, cwd: tempDir() });
    assert.equal(code, 0, stderr);
    assert.match(stdout, /valid/);
  });

  it("serves a stdio MCP server with bearer auth through Deno.serve and Deno.Command", async () => {
    const token = "deno-smoke-token-0123456789";
    const bridge = await startBearerBridge(DENO, ["run", "-A", MAIN], token, ENV);
    try {
      await assertBearerBridgeWorks(bridge.url, token);
    } finally {
      assert.equal(await bridge.stop(), 0, bridge.logs());
    }
  });
});
