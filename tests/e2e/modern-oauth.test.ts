/**
 * @module End-to-end: modern (2026-07-28) requests behind `auth.type: oauth` (oidc-provider as
 * the authorization server): the same 401/403 challenges as legacy requests, per-method scopes
 * read from `Mcp-Method` before the body is read, and an SDK v2 client with a real access token.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { startIdp, type Idp } from "../auth-oauth/support.ts";
import { startBridge, type RunningBridge } from "../support/bridge.ts";
import { buildFixtures } from "../support/fixtures.ts";

const MODERN = "2026-07-28";

describe("modern requests behind OAuth", () => {
  let idp: Idp;
  let bridge: RunningBridge;

  before(async () => {
    const [{ everythingServer }, started] = await Promise.all([buildFixtures(), startIdp()]);
    idp = started;
    bridge = await startBridge({
      server: {
        mcp_server: { command: process.execPath, args: [everythingServer] },
        auth: { type: "oauth", oauth: { discovery_url: idp.issuer, required_scopes: ["mcp:read"], method_scopes: { "tools/call": ["mcp:write"] } } },
      },
    });
  });
  after(async () => {
    await bridge?.stop();
    await idp?.stop();
  });

  function headers(token: string | undefined, method: string, name?: string): Record<string, string> {
    return {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": MODERN,
      "mcp-method": method,
      ...(name && { "mcp-name": name }),
      ...(token && { authorization: `Bearer ${token}` }),
    };
  }

  test("without a token: 401 and a challenge naming the protected resource metadata", async () => {
    const response = await fetch(bridge.url, { method: "POST", headers: headers(undefined, "server/discover"), body: "{}" });
    assert.equal(response.status, 401);
    assert.match(response.headers.get("www-authenticate") ?? "", /resource_metadata="[^"]+oauth-protected-resource/);
  });

  test("a token without the method's scope gets 403 insufficient_scope from Mcp-Method alone, before the body is read", async () => {
    const token = await idp.token({ resource: bridge.url, scope: "mcp:read" });
    // Not JSON at all: a 400 would mean the body was parsed before the scope check.
    const response = await fetch(bridge.url, { method: "POST", headers: headers(token, "tools/call", "echo"), body: "this is not json" });
    assert.equal(response.status, 403);
    assert.match(response.headers.get("www-authenticate") ?? "", /error="insufficient_scope"/);
    assert.match(response.headers.get("www-authenticate") ?? "", /mcp:write/);
  });

  test("headers naming an allowed method over a body calling a forbidden one: refused, never run", async () => {
    const token = await idp.token({ resource: bridge.url, scope: "mcp:read" });
    const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "echo", arguments: { text: "smuggled" }, _meta: { "io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {} } } });
    for (const [label, sent] of <Array<[string, Record<string, string>]>>[
      ["Mcp-Method says tools/list", headers(token, "tools/list")],
      ["no MCP-Protocol-Version, Mcp-Method says tools/list", Object.fromEntries(Object.entries(headers(token, "tools/list")).filter(([key]) => key !== "mcp-protocol-version"))],
      ["no Mcp-Method", Object.fromEntries(Object.entries(headers(token, "tools/call", "echo")).filter(([key]) => key !== "mcp-method"))],
    ]) {
      const response = await fetch(bridge.url, { method: "POST", headers: sent, body });
      const text = await response.text();
      assert.ok(response.status === 400 || response.status === 403, `${label}: ${response.status} ${text}`);
      assert.doesNotMatch(text, /smuggled/, label);
    }
  });

  test("an SDK v2 client with a token carrying the scopes lists and calls tools in the modern era", async () => {
    const token = await idp.token({ resource: bridge.url, scope: "mcp:read mcp:write" });
    const client = new Client({ name: "modern-oauth", version: "1" }, { versionNegotiation: { mode: { pin: MODERN } } });
    const transport = new StreamableHTTPClientTransport(new URL(bridge.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } });
    await client.connect(transport);
    try {
      assert.equal(transport.protocolVersion, MODERN);
      assert.ok((await client.listTools()).tools.some((tool) => tool.name === "echo"));
      const result = await client.callTool({ name: "echo", arguments: { text: "through oauth" } });
      assert.deepEqual(result.content, [{ type: "text", text: "through oauth" }]);
    } finally {
      await client.close();
    }
  });
});
