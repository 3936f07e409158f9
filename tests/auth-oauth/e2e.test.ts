/**
 * @module End to end: the built CLI in server mode with auth.type oauth against oidc-provider,
 * driven by the MCP SDK's client — valid tokens, 401/403 challenges, PRM documents, and the SDK's
 * own OAuth discovery and client-credentials flow.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { ClientCredentialsProvider } from "@modelcontextprotocol/sdk/client/auth-extensions.js";
import { discoverAuthorizationServerMetadata, discoverOAuthProtectedResourceMetadata, extractWWWAuthenticateParams } from "@modelcontextprotocol/sdk/client/auth.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { RunningBridge } from "../support/bridge.ts";
import { M2M_CLIENT, useOAuthBridge, type Idp } from "./support.ts";

/** Parses `Bearer a="b", c="d"` into its auth-params (RFC 7235 §2.1). */
function challengeParams(header: string | null): Record<string, string> {
  assert.ok(header, "WWW-Authenticate present");
  assert.match(header, /^Bearer /);
  const params: Record<string, string> = {};
  for (const match of header.slice(7).matchAll(/([a-z_]+)="((?:[^"\\]|\\.)*)"/g)) params[match[1]!] = match[2]!.replace(/\\(.)/g, "$1");
  return params;
}

describe("OAuth through the built CLI", () => {
  let idp: Idp;
  let bridge: RunningBridge;
  let prmUrl: string;

  // No audience: it defaults to the bridge's own URL (RFC 8707).
  useOAuthBridge({ log: { level: "debug" }, oauth: { method_scopes: { "tools/call": ["mcp:write"], "tools/call:add": ["mcp:admin"] } } }, (started) => {
    ({ idp, bridge } = started);
    prmUrl = `${bridge.origin}/.well-known/oauth-protected-resource/mcp`;
  });

  async function connect(token: string): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
    const client = new Client({ name: "oauth-e2e", version: "1.0.0" });
    const transport = new StreamableHTTPClientTransport(new URL(bridge.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } });
    await client.connect(transport);
    return { client, transport };
  }

  function post(token: string | undefined, body: unknown, sessionId?: string): Promise<Response> {
    return fetch(bridge.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        ...(token && { authorization: `Bearer ${token}` }),
        ...(sessionId && { "mcp-session-id": sessionId, "mcp-protocol-version": "2025-06-18" }),
      },
      body: JSON.stringify(body),
    });
  }
  const initialize = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } } };

  test("a valid token for this resource: tools/call works", async () => {
    const { client } = await connect(await idp.token({ resource: bridge.url, scope: "mcp:read mcp:write" }));
    const result = await client.callTool({ name: "echo", arguments: { text: "hello" } });
    assert.deepEqual(result.content, [{ type: "text", text: "hello" }]);
    await client.close();
  });

  test("no token: 401 with resource_metadata and scope, no error code", async () => {
    const response = await post(undefined, initialize);
    assert.equal(response.status, 401);
    const params = challengeParams(response.headers.get("www-authenticate"));
    assert.equal(params.resource_metadata, prmUrl);
    assert.equal(params.scope, "mcp:read");
    assert.equal(params.error, undefined);
  });

  test("a token for another resource: 401 invalid_token, and the reason is not in the response", async () => {
    const token = await idp.token({ resource: "https://elsewhere.example/mcp" });
    const response = await post(token, initialize);
    assert.equal(response.status, 401);
    const params = challengeParams(response.headers.get("www-authenticate"));
    assert.equal(params.error, "invalid_token");
    assert.equal(params.resource_metadata, prmUrl);
    const body = await response.text();
    assert.ok(!/aud|audience/i.test(body), "the failure reason stays in the log");
    assert.ok(!bridge.logs().includes(token.split(".")[2]!), "the token is not logged");
  });

  test("insufficient scope: 403 insufficient_scope naming the scopes the call needs", async () => {
    const token = await idp.token({ resource: bridge.url, scope: "mcp:read mcp:write" });
    const { client, transport } = await connect(token);
    const response = await post(token, { jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "add", arguments: { a: 1, b: 2 } } }, transport.sessionId);
    assert.equal(response.status, 403);
    const params = challengeParams(response.headers.get("www-authenticate"));
    assert.equal(params.error, "insufficient_scope");
    assert.deepEqual(params.scope!.split(" ").sort(), ["mcp:admin", "mcp:read", "mcp:write"]);
    assert.equal(params.resource_metadata, prmUrl);
    await client.close();
  });

  test("a tool named by anything but a string (an array, an object, a number) is refused with 400: its per-tool scopes could not be checked", async () => {
    const token = await idp.token({ resource: bridge.url, scope: "mcp:read mcp:write" });
    const { client, transport } = await connect(token);
    for (const name of [["add"], { 0: "add" }, 7]) {
      const response = await post(token, { jsonrpc: "2.0", id: 8, method: "tools/call", params: { name, arguments: { a: 1, b: 2 } } }, transport.sessionId);
      assert.equal(response.status, 400, JSON.stringify(name));
      const body = (await response.json()) as { id: number; error: { code: number; message: string } };
      assert.equal(body.id, 8);
      assert.equal(body.error.code, -32602);
      assert.match(body.error.message, /params\.name must be a string/);
    }
    await client.close();
  });

  test("a token without required_scopes is refused with 403", async () => {
    const response = await post(await idp.token({ resource: bridge.url, scope: "mcp:write" }), initialize);
    assert.equal(response.status, 403);
    assert.equal(challengeParams(response.headers.get("www-authenticate")).error, "insufficient_scope");
  });

  test("PRM documents at the root and path-inserted URLs, field by field", async () => {
    for (const url of [`${bridge.origin}/.well-known/oauth-protected-resource`, prmUrl]) {
      const response = await fetch(url);
      assert.equal(response.status, 200, url);
      assert.match(response.headers.get("content-type") ?? "", /^application\/json/);
      const document = (await response.json()) as Record<string, unknown>;
      assert.equal(document.resource, bridge.url);
      assert.deepEqual(document.authorization_servers, [idp.issuer]);
      assert.deepEqual([...(document.scopes_supported as string[])].sort(), ["mcp:admin", "mcp:read", "mcp:write"]);
      assert.deepEqual(document.bearer_methods_supported, ["header"]);
    }
  });

  test("the SDK's own discovery reaches the PRM and the IdP's metadata", async () => {
    const unauthorized = await post(undefined, initialize);
    const { resourceMetadataUrl, scope } = extractWWWAuthenticateParams(unauthorized);
    assert.equal(resourceMetadataUrl?.href, prmUrl);
    assert.equal(scope, "mcp:read");
    const prm = await discoverOAuthProtectedResourceMetadata(bridge.url, { resourceMetadataUrl });
    assert.equal(prm.resource, bridge.url);
    const asMetadata = await discoverAuthorizationServerMetadata(prm.authorization_servers![0]!);
    assert.equal(asMetadata?.issuer, idp.issuer);
    assert.ok(asMetadata?.token_endpoint);
  });

  test("the SDK client gets its own token (client credentials, resource indicator) and calls a tool", async () => {
    const authProvider = new ClientCredentialsProvider({ clientId: M2M_CLIENT.id, clientSecret: M2M_CLIENT.secret, scope: "mcp:read mcp:write", expectedIssuer: idp.issuer });
    const client = new Client({ name: "oauth-e2e-cc", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(bridge.url), { authProvider }));
    const result = await client.callTool({ name: "echo", arguments: { text: "via sdk oauth" } });
    assert.deepEqual(result.content, [{ type: "text", text: "via sdk oauth" }]);
    await client.close();
  });
});
