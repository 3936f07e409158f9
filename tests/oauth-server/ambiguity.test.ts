/**
 * @module What the authorization server checks must be what another reader reads, through the built
 * CLI over HTTP: redirect URIs whose text and whose parse name different paths.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { postJson, useAsBridge } from "./support.ts";

describe('allowed_redirect_uris ["*"]: what a registered redirect URI says is where the browser goes', () => {
  const bridge = useAsBridge({ storage: { type: "memory" }, oauthServer: { allowed_redirect_uris: ["*"] } });

  test("percent-encoded dot segments, which URL parsers resolve (the browser would go elsewhere than the text says), are refused like plain ones", async () => {
    for (const uri of ["https://app.example/a/%2e%2e/callback", "https://app.example/a/%2E./callback", "https://app.example/%2e/callback", "http://127.0.0.1:3000/callback/%2e%2e/x", "com.example.app:/a/%2e%2e/cb"]) {
      assert.equal(new URL(uri).href.includes("%2"), false, `${uri}: the parser resolves it`);
      const response = await postJson(`${bridge.origin}/register`, { redirect_uris: [uri], token_endpoint_auth_method: "none" });
      const body = (await response.json()) as { error?: string; error_description?: string };
      assert.equal(response.status, 400, `${uri}: ${JSON.stringify(body)}`);
      assert.equal(body.error, "invalid_redirect_uri");
      assert.match(body.error_description!, /encoded or dot path segment/);
    }
  });
});
