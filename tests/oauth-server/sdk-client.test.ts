/**
 * @module The MCP SDK (v1) client's own OAuth flow against the built CLI with the authorization
 * server on: discovery from the 401, dynamic registration, PKCE, sign-in by posting the form,
 * token, tools/call, and refresh — no step done by hand but the person typing the password.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { auth } from "@modelcontextprotocol/sdk/client/auth.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";
import { ALICE, MemoryProvider, signIn, useAsBridge } from "./support.ts";

/** A loopback callback, as Claude Code and MCP Inspector register (any port matches the default allow-list). */
const REDIRECT = "http://127.0.0.1:33418/callback";

/** An in-memory provider whose "browser" is signIn(): it follows the authorization URL and keeps the code. */
class TestProvider extends MemoryProvider {
  code: string | undefined;
  redirects: URL[] = [];
  constructor() {
    super(REDIRECT, "SDK test client", "sdk-state");
  }
  async redirectToAuthorization(url: URL) {
    this.redirects.push(url);
    const back = await signIn(url, ALICE);
    assert.equal(back.searchParams.get("state"), "sdk-state");
    this.code = back.searchParams.get("code") ?? undefined;
  }
}

describe("the SDK client's OAuth flow", () => {
  const bridge = useAsBridge();

  test("discovery, registration, PKCE, sign-in, token, tools/call, then refresh", async () => {
    const provider = new TestProvider();
    const transport = new StreamableHTTPClientTransport(new URL(bridge.url), { authProvider: provider });
    const client = new Client({ name: "sdk-oauth", version: "1.0.0" });
    // The first connect meets the 401, discovers, registers and sends the "browser" to sign in.
    await assert.rejects(client.connect(transport), UnauthorizedError);
    assert.ok(provider.information?.client_id, "the client registered dynamically");
    const authorization = provider.redirects[0]!;
    assert.equal(authorization.origin + authorization.pathname, `${bridge.origin}/oauth/authorize`);
    assert.equal(authorization.searchParams.get("code_challenge_method"), "S256");
    assert.equal(authorization.searchParams.get("resource"), bridge.url);
    assert.ok(provider.code, "the sign-in gave a code");
    await transport.finishAuth(provider.code);
    assert.ok(provider.saved?.access_token);
    assert.ok(provider.saved?.refresh_token, "a client that can refresh gets a refresh token");

    const connected = new Client({ name: "sdk-oauth", version: "1.0.0" });
    await connected.connect(new StreamableHTTPClientTransport(new URL(bridge.url), { authProvider: provider }));
    const result = await connected.callTool({ name: "echo", arguments: { text: "signed in" } });
    assert.deepEqual(result.content, [{ type: "text", text: "signed in" }]);
    await connected.close();

    // Refresh through the SDK's own code path.
    const before = provider.saved!;
    assert.equal(await auth(provider, { serverUrl: new URL(bridge.url) }), "AUTHORIZED");
    assert.notEqual(provider.saved!.access_token, before.access_token);
    assert.notEqual(provider.saved!.refresh_token, before.refresh_token);
    const again = new Client({ name: "sdk-oauth", version: "1.0.0" });
    await again.connect(new StreamableHTTPClientTransport(new URL(bridge.url), { authProvider: provider }));
    assert.deepEqual((await again.callTool({ name: "echo", arguments: { text: "refreshed" } })).content, [{ type: "text", text: "refreshed" }]);
    await again.close();
  });
});
