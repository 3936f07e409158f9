/**
 * @module Request parameters the authorization server must act on rather than ignore, through the
 * built CLI over HTTP: RFC 8707 resources repeated at /token, and authorization request parameters
 * asking for something the server does not do (response_mode, prompt, max_age).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { authorizeUrl, registerClient, signIn, useAsBridge } from "./support.ts";

describe("RFC 8707 resource repeated at /token", () => {
  const bridge = useAsBridge({ storage: { type: "memory" } });

  test("a foreign resource among several is invalid_target (RFC 8707 §2), not invalid_request; this server's own, written twice, is fine", async () => {
    const { client_id: clientId } = await registerClient(bridge.origin);
    const signedIn = async () => {
      const { url, verifier } = authorizeUrl(bridge.origin, clientId, { resource: bridge.url });
      return { code: (await signIn(url)).searchParams.get("code")!, verifier };
    };
    const redeemWith = (code: string, verifier: string, resources: string[]) => {
      const body = new URLSearchParams({ grant_type: "authorization_code", code, code_verifier: verifier, client_id: clientId, redirect_uri: "https://claude.ai/api/mcp/auth_callback" });
      for (const resource of resources) body.append("resource", resource);
      return fetch(`${bridge.origin}/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body });
    };
    const first = await signedIn();
    const refused = await redeemWith(first.code, first.verifier, [bridge.url, "https://evil.example/mcp"]);
    assert.equal(refused.status, 400);
    assert.equal(((await refused.json()) as { error: string }).error, "invalid_target");

    const second = await signedIn();
    const accepted = await redeemWith(second.code, second.verifier, [bridge.url, `${bridge.url}/`]);
    const tokens = (await accepted.json()) as { refresh_token: string };
    assert.equal(accepted.status, 200, JSON.stringify(tokens));

    const refresh = new URLSearchParams({ grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id: clientId });
    refresh.append("resource", bridge.url);
    refresh.append("resource", "https://evil.example/mcp");
    const refreshRefused = await fetch(`${bridge.origin}/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: refresh });
    assert.equal(refreshRefused.status, 400);
    assert.equal(((await refreshRefused.json()) as { error: string }).error, "invalid_target");
    // Other parameters still may not repeat (RFC 6749 §3.1).
    const twice = await fetch(`${bridge.origin}/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: `grant_type=refresh_token&grant_type=refresh_token&client_id=${clientId}&refresh_token=x` });
    assert.equal(((await twice.json()) as { error: string }).error, "invalid_request");
  });
});
