/** @module RFC 9728 metadata documents and RFC 6750 / RFC 9728 challenges, field by field. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { challengeHeader, protectedResourceMetadata, protectedResourceMetadataUrl } from "../../src/auth/prm.ts";
import { AuthError } from "../../src/auth/types.ts";

const PRM_URL = "https://mcp.example.test/.well-known/oauth-protected-resource/mcp";

test("the PRM document has resource, authorization_servers, scopes_supported and header-only bearer methods", () => {
  assert.deepEqual(protectedResourceMetadata({ resource: "https://mcp.example.test/mcp", authorizationServers: ["https://idp.example"], scopesSupported: ["mcp:read", "mcp:write", "mcp:read"] }), {
    resource: "https://mcp.example.test/mcp",
    authorization_servers: ["https://idp.example"],
    scopes_supported: ["mcp:read", "mcp:write"],
    bearer_methods_supported: ["header"],
  });
  const minimal = protectedResourceMetadata({ resource: "https://mcp.example.test/mcp", authorizationServers: [], scopesSupported: [], resourceName: "Files" });
  assert.deepEqual(minimal, { resource: "https://mcp.example.test/mcp", bearer_methods_supported: ["header"], resource_name: "Files" });
});

test("the path-inserted metadata URL (RFC 9728 §3.1)", () => {
  assert.equal(protectedResourceMetadataUrl("https://mcp.example.test/mcp"), PRM_URL);
  assert.equal(protectedResourceMetadataUrl("https://mcp.example.test/"), "https://mcp.example.test/.well-known/oauth-protected-resource");
  assert.equal(protectedResourceMetadataUrl("http://127.0.0.1:8080/a/b/"), "http://127.0.0.1:8080/.well-known/oauth-protected-resource/a/b");
});

test("no token: resource_metadata and scope, no error code (RFC 6750 §3.1)", () => {
  assert.equal(challengeHeader(undefined, { resourceMetadataUrl: PRM_URL, scopes: ["mcp:read"] }), `Bearer resource_metadata="${PRM_URL}", scope="mcp:read"`);
  assert.equal(challengeHeader(new AuthError("missing_token", "none"), { resourceMetadataUrl: PRM_URL, scopes: [] }), `Bearer resource_metadata="${PRM_URL}"`);
});

test("a rejected token: error=invalid_token, and the reason is never included", () => {
  const header = challengeHeader(new AuthError("invalid_token", "token expired"), { resourceMetadataUrl: PRM_URL, scopes: ["mcp:read", "mcp:write"] });
  assert.equal(header, `Bearer resource_metadata="${PRM_URL}", error="invalid_token", scope="mcp:read mcp:write"`);
  assert.ok(!header.includes("expired"));
});

test("insufficient scope: error=insufficient_scope with the scopes the request needed", () => {
  const error = new AuthError("insufficient_scope", "missing scopes: mcp:write", { requiredScopes: ["mcp:read", "mcp:write"] });
  assert.equal(challengeHeader(error, { resourceMetadataUrl: PRM_URL, scopes: ["mcp:read"] }), `Bearer resource_metadata="${PRM_URL}", error="insufficient_scope", scope="mcp:read mcp:write"`);
});

test("quoted-string escaping (RFC 7235 §2.2) and no control characters", () => {
  assert.equal(challengeHeader(undefined, { resourceMetadataUrl: 'https://x/"a\\b', scopes: [] }), 'Bearer resource_metadata="https://x/\\"a\\\\b"');
  assert.throws(() => challengeHeader(undefined, { resourceMetadataUrl: "https://x/\r\nSet-Cookie: a=b", scopes: [] }), TypeError);
});

test("temporarily_unavailable carries no RFC 6750 error code", () => {
  assert.equal(challengeHeader(new AuthError("temporarily_unavailable", "down"), { resourceMetadataUrl: PRM_URL, scopes: [] }), `Bearer resource_metadata="${PRM_URL}"`);
});
