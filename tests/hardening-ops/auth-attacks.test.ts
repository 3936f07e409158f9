/** Server mode's request validation under attack: bearer tokens, failure throttling, sessions of other principals, legacy transports. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { runCli, startBridge, writeConfig } from "../support/bridge.ts";
import { initialize, scripted } from "./support.ts";

const GOOD = "good-token-0123456789abcdef";

describe("static bearer tokens", { timeout: 60_000 }, () => {
  test("a valid_tokens entry no client can send (not an RFC 6750 b64token) is a config error naming the entry, without its value", async () => {
    const bad = "correct horse battery!";
    const path = writeConfig({ mode: "server", server: { listen: "127.0.0.1:0", mcp_server: scripted(), auth: { type: "bearer", bearer: { valid_tokens: [GOOD, bad] } } } });
    for (const args of [["check-config", "-c", path], ["-c", path]]) {
      const result = await runCli(args);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, /server\.auth: bearer "valid_tokens\[1\]" is not a token a client can send .*RFC 6750/);
      assert.doesNotMatch(result.stderr, /horse/);
    }
    // What is sendable still is: base64 with padding, and the hashed form.
    const fine = writeConfig({ mode: "server", server: { listen: "127.0.0.1:0", mcp_server: scripted(), auth: { type: "bearer", bearer: { valid_tokens: ["aGVsbG8+d29ybGQ/Lw==", `sha256:${"ab".repeat(32)}`] } } } });
    const result = await runCli(["check-config", "-c", fine]);
    assert.equal(result.code, 0, result.stderr);
  });

  test("the b64token characters all pass end to end (a token with + / = ~ works)", async () => {
    const token = "A-Z.a_z~0+9/x==";
    const bridge = await startBridge({ server: { mcp_server: scripted(), auth: { type: "bearer", bearer: { valid_tokens: [token] } } } });
    try {
      assert.equal((await initialize(bridge.url, { authorization: `Bearer ${token}` })).status, 200);
    } finally {
      await bridge.stop();
    }
  });
});
