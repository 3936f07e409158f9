/** @module The authorization server under Deno (`deno run -A src/main.ts`): a full sign-in, token, /mcp and refresh, with the file store. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { DENO, ROOT } from "../release/helpers.ts";
import { startBridge } from "../support/bridge.ts";
import { ALICE, ALICE_HASH, fullFlow, initializeWith, postForm, tempDir } from "./support.ts";
import { ECHO_SERVER } from "../support/bridge.ts";

describe("the authorization server under Deno", { timeout: 120_000 }, () => {
  it("signs in, issues tokens that /mcp accepts, refreshes, and keeps state in the file store", async () => {
    const dir = tempDir();
    const bridge = await startBridge(
      {
        storage: { type: "file", path: dir },
        server: {
          mcp_server: { command: "node", args: [ECHO_SERVER] },
          oauth_server: { enabled: true, builtin: { users: [{ username: ALICE.username, password_hash: ALICE_HASH, scopes: ALICE.scopes }] } },
        },
      },
      { launcher: { command: DENO, args: ["run", "-A", join(ROOT, "src", "main.ts")], env: { HOME: process.env.HOME ?? "/root", PATH: process.env.PATH ?? "/usr/bin:/bin", DENO_NO_UPDATE_CHECK: "1" }, cwd: tempDir() } },
    );
    try {
      const { clientId, tokens } = await fullFlow(bridge);
      assert.equal((await initializeWith(bridge.url, tokens.access_token)).status, 200);
      const refreshed = await postForm(`${bridge.origin}/token`, { grant_type: "refresh_token", refresh_token: tokens.refresh_token!, client_id: clientId });
      assert.equal(refreshed.status, 200);
      const metadata = (await (await fetch(`${bridge.origin}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
      assert.equal(metadata.client_id_metadata_document_supported, false, "no connect-time address checks under Deno: not advertised");
    } finally {
      await bridge.stop();
    }
  });
});
