/**
 * @module README: "Older clients use http://127.0.0.1:8080/sse". A newcomer points `connect` (auto
 * transport) at that URL: the era probe's POST gets an HTTP error whose body is the server's own
 * error document, not JSON-RPC; the fallback to HTTP+SSE works and no warning about "dropped"
 * messages alarms the user (the default log level is warn).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ECHO_SERVER, startBridge, useBridge } from "../support/bridge.ts";
import { connectLocalClient } from "../client/support.ts";

const bridge = useBridge(() => startBridge({ server: { mcp_server: { command: process.execPath, args: [ECHO_SERVER] }, auth: { type: "bearer", bearer: { valid_tokens: ["newcomer-token"] } } } }));

for (const transport of ["auto", "sse"]) {
  test(`connect ORIGIN/sse --token-env T --transport ${transport}: tools work, stderr stays quiet`, async () => {
    const local = await connectLocalClient(["connect", `${bridge.origin}/sse`, "--token-env", "T", "--transport", transport], { env: { T: "newcomer-token" } });
    try {
      const result = await local.client.callTool({ name: "echo", arguments: { text: "hi" } });
      assert.deepEqual(result.content, [{ type: "text", text: "hi" }]);
      assert.equal(local.stderr(), "", "nothing at the default level (warn)");
    } finally {
      await local.close();
    }
  });
}
