/**
 * @module Replays what Claude (claude.ai and Claude Desktop remote connectors) does against the
 * built CLI with the authorization server on: POST /mcp → 401 → PRM → AS metadata → POST /register
 * with its callback → /authorize → sign-in → /token → /mcp → refresh. Root paths, as Claude builds them.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CLAUDE_CALLBACK, initializeWith, pkce, postForm, postJson, signIn, useAsBridge } from "./support.ts";

describe("Claude's connector flow against the bridge's own authorization server", () => {
  const bridge = useAsBridge();

  test("401 → PRM → metadata → register → authorize → sign in → token → tools/call → refresh", async () => {
    // 1. The first MCP request has no token.
    const first = await initializeWith(bridge.url, undefined);
    assert.equal(first.status, 401);
    const challenge = first.headers.get("www-authenticate") ?? "";
    const metadataUrl = /resource_metadata="([^"]+)"/.exec(challenge)?.[1];
    assert.ok(metadataUrl, challenge);

    // 2. Protected Resource Metadata names this bridge's own issuer.
    const prm = (await (await fetch(metadataUrl)).json()) as { resource: string; authorization_servers: string[] };
    assert.equal(prm.resource, bridge.url);
    assert.deepEqual(prm.authorization_servers, [bridge.origin]);
    const issuer = prm.authorization_servers[0]!;

    // 3. RFC 8414 metadata, issuer byte-identical, advertising exactly what Claude relies on.
    const metadataResponse = await fetch(`${issuer}/.well-known/oauth-authorization-server`);
    assert.equal(metadataResponse.status, 200);
    const metadata = (await metadataResponse.json()) as Record<string, unknown>;
    assert.equal(metadata.issuer, issuer);
    assert.deepEqual(metadata.code_challenge_methods_supported, ["S256"]);
    assert.ok((metadata.token_endpoint_auth_methods_supported as string[]).includes("none"));
    assert.equal(metadata.authorization_response_iss_parameter_supported, true);
    assert.equal(metadata.client_id_metadata_document_supported, true);
    assert.deepEqual(metadata.grant_types_supported, ["authorization_code", "refresh_token"]);
    const oidc = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    assert.equal(oidc.issuer, issuer);

    // 4. Claude registers at the root /register with a secret-based method and its own scope name.
    const registration = await postJson(`${issuer}/register`, {
      client_name: "Claude",
      redirect_uris: [CLAUDE_CALLBACK],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_post",
      scope: "claudeai",
    });
    assert.equal(registration.status, 201);
    const client = (await registration.json()) as { client_id: string; client_secret: string; redirect_uris: string[] };
    assert.ok(client.client_secret, "a confidential client gets a secret");
    assert.deepEqual(client.redirect_uris, [CLAUDE_CALLBACK]);

    // 5. /authorize at the root, with PKCE, state and the resource indicator.
    const { verifier, challenge: codeChallenge } = pkce();
    const authorize = new URL(`${issuer}/authorize`);
    for (const [key, value] of Object.entries({
      response_type: "code",
      client_id: client.client_id,
      redirect_uri: CLAUDE_CALLBACK,
      code_challenge: codeChallenge,
      code_challenge_method: "S256",
      state: "claude-state-xyz",
      scope: "claudeai",
      resource: bridge.url,
    })) {
      authorize.searchParams.set(key, value);
    }

    // 6. The user signs in; the browser goes back to Claude with code, state and iss.
    const back = await signIn(authorize);
    assert.equal(`${back.origin}${back.pathname}`, CLAUDE_CALLBACK);
    assert.equal(back.searchParams.get("state"), "claude-state-xyz");
    assert.equal(back.searchParams.get("iss"), issuer);
    const code = back.searchParams.get("code")!;

    // 7. Token at the root /token, client_secret_post.
    const tokenResponse = await postForm(`${issuer}/token`, {
      grant_type: "authorization_code",
      code,
      code_verifier: verifier,
      redirect_uri: CLAUDE_CALLBACK,
      client_id: client.client_id,
      client_secret: client.client_secret,
      resource: bridge.url,
    });
    assert.equal(tokenResponse.status, 200);
    assert.equal(tokenResponse.headers.get("cache-control"), "no-store");
    const tokens = (await tokenResponse.json()) as { access_token: string; refresh_token: string; token_type: string; expires_in: number; scope: string };
    assert.equal(tokens.token_type, "Bearer");
    assert.ok(tokens.refresh_token, "Claude asked for refresh_token in grant_types");
    assert.equal(tokens.expires_in, 3600);
    assert.equal(tokens.scope, "", "no scope Claude named is known: none is granted (and the response says so) (no scope rules here, so the token still serves)");

    // 8. The MCP endpoint accepts it: tools/call works.
    const mcp = new Client({ name: "claude-replay", version: "1" });
    await mcp.connect(new StreamableHTTPClientTransport(new URL(bridge.url), { requestInit: { headers: { authorization: `Bearer ${tokens.access_token}` } } }));
    const result = await mcp.callTool({ name: "echo", arguments: { text: "hello from claude" } });
    assert.deepEqual(result.content, [{ type: "text", text: "hello from claude" }]);
    await mcp.close();

    // 9. Refresh: a new pair; the new access token works too.
    const refreshed = await postForm(`${issuer}/token`, { grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id: client.client_id, client_secret: client.client_secret, resource: bridge.url });
    assert.equal(refreshed.status, 200);
    const second = (await refreshed.json()) as { access_token: string; refresh_token: string };
    assert.notEqual(second.refresh_token, tokens.refresh_token, "refresh tokens rotate");
    assert.equal((await initializeWith(bridge.url, second.access_token)).status, 200);
  });

  test("the audit log records the sign-in, the registration and the tokens, and no secret", () => {
    const logs = bridge.logs();
    for (const event of ["client_registered", "login_succeeded", "token_issued", "token_refreshed"]) assert.match(logs, new RegExp(`INFO  ${event} `), event);
    assert.doesNotMatch(logs, /correct horse/);
  });
});
