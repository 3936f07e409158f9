/**
 * @module A newcomer's first server config with a typo in `mcp_server.command`: the bridge says so
 * when it starts, naming the key, rather than only failing each initialize later.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ECHO_SERVER, startBridge } from "../support/bridge.ts";

test("start: a command that cannot be run is a warning naming server.mcp_server.command; /ready is 503", async () => {
  const bridge = await startBridge({ server: { mcp_server: { command: "no-such-mcp-server-newcomer" } } });
  try {
    assert.match(bridge.logs(), /WARN +server\.mcp_server\.command cannot be run .* command=no-such-mcp-server-newcomer/);
    assert.equal((await fetch(`${bridge.origin}/ready`)).status, 503);
  } finally {
    await bridge.stop();
  }
});

test("start: a command that can be run draws no such warning", async () => {
  const bridge = await startBridge({ server: { mcp_server: { command: process.execPath, args: [ECHO_SERVER] } } });
  try {
    assert.doesNotMatch(bridge.logs(), /cannot be run/);
    assert.equal((await fetch(`${bridge.origin}/ready`)).status, 200);
  } finally {
    await bridge.stop();
  }
});
