/**
 * @module A newcomer runs `mcp-bridge connect URL` in a terminal to try it: instead of silence, one
 * line on stderr says what it waits for and how to use it; under an MCP client (stdin a pipe)
 * nothing extra is written. The terminal is util-linux `script`'s pseudo-terminal.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { CLI, run, runCli } from "../support/bridge.ts";

const hasScript = spawnSync("script", ["--version"]).status === 0;

test("connect on a terminal explains itself; Ctrl-D ends it", { skip: !hasScript && "util-linux script is not installed" }, async () => {
  const command = `"${process.execPath}" "${CLI}" connect http://127.0.0.1:9/mcp --token-env T`;
  const result = await run("script", ["-qec", command, "/dev/null"], { env: { PATH: process.env.PATH ?? "", T: "t" }, input: "\u0004" });
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /mcp-bridge: client mode for http:\/\/127\.0\.0\.1:9\/mcp: it waits for an MCP client's JSON-RPC messages, one per line, on stdin\. Start it from your MCP client as a stdio server \(docs\/client-mode\.md\)/);
});

test("connect under an MCP client (stdin a pipe) writes nothing of the kind", async () => {
  const result = await runCli(["connect", "http://127.0.0.1:9/mcp", "--token-env", "T"], { env: { T: "t" }, input: "" });
  assert.equal(result.code, 0);
  assert.equal(result.stdout, "");
  assert.doesNotMatch(result.stderr, /client mode for/);
});
