/**
 * @module Single-use authorization codes against someone who intercepted one (the threat PKCE is
 * for), through the built CLI over HTTP: without the client's code_verifier (or as another client)
 * they can neither use the code up before the client redeems it, nor revoke the client's grant by
 * replaying it afterwards. A replay that does carry the verifier still revokes what the code
 * started (RFC 6749 §4.1.2, RFC 9700 §4.5).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { authorizeUrl, postForm, redeem, registerClient, signIn, useAsBridge } from "./support.ts";

describe("authorization codes presented by someone without the verifier", () => {
  const bridge = useAsBridge();

  /** A signed-in user's fresh code for a newly registered client. */
  async function freshCode(): Promise<{ clientId: string; code: string; verifier: string }> {
    const { client_id: clientId } = await registerClient(bridge.origin);
    const { url, verifier } = authorizeUrl(bridge.origin, clientId, { resource: bridge.url, scope: "mcp:read offline_access" });
    const code = (await signIn(url)).searchParams.get("code");
    assert.ok(code);
    return { clientId, code, verifier };
  }

  async function refreshWorks(clientId: string, refreshToken: string): Promise<void> {
    const response = await postForm(`${bridge.origin}/token`, { grant_type: "refresh_token", refresh_token: refreshToken, client_id: clientId });
    assert.equal(response.status, 200, `the client's grant still works: ${await response.text()}`);
  }

  const wrongVerifier = () => randomBytes(32).toString("base64url");

  test("replayed with a wrong verifier after the client redeemed it: refused, and the client's grant is not revoked", async () => {
    const { clientId, code, verifier } = await freshCode();
    const redeemed = await redeem(bridge.origin, clientId, code, verifier, { resource: bridge.url });
    const tokens = (await redeemed.json()) as { refresh_token?: string };
    assert.equal(redeemed.status, 200, JSON.stringify(tokens));
    assert.ok(tokens.refresh_token);

    const replay = await redeem(bridge.origin, clientId, code, wrongVerifier(), { resource: bridge.url });
    assert.equal(replay.status, 400);
    assert.equal(((await replay.json()) as { error: string }).error, "invalid_grant");
    await refreshWorks(clientId, tokens.refresh_token);
  });

  test("replayed by another client after the client redeemed it: refused, and the client's grant is not revoked", async () => {
    const { clientId, code, verifier } = await freshCode();
    const tokens = (await (await redeem(bridge.origin, clientId, code, verifier, { resource: bridge.url })).json()) as { refresh_token: string };
    const { client_id: other } = await registerClient(bridge.origin, undefined, { client_name: "Someone else" });
    assert.notEqual(other, clientId);
    const replay = await redeem(bridge.origin, other, code, verifier, { resource: bridge.url });
    assert.equal(replay.status, 400);
    await refreshWorks(clientId, tokens.refresh_token);
  });

  test("presented with a wrong verifier before the client redeems it: refused, and the client's redemption still succeeds", async () => {
    const { clientId, code, verifier } = await freshCode();
    const early = await redeem(bridge.origin, clientId, code, wrongVerifier(), { resource: bridge.url });
    assert.equal(early.status, 400);
    assert.match(((await early.json()) as { error_description: string }).error_description, /code_verifier does not match/);
    const redeemed = await redeem(bridge.origin, clientId, code, verifier, { resource: bridge.url });
    assert.equal(redeemed.status, 200, await redeemed.text());
  });

  test("presented by another client, with the verifier, before the client redeems it: refused, and the client's redemption still succeeds", async () => {
    const { clientId, code, verifier } = await freshCode();
    const { client_id: other } = await registerClient(bridge.origin, undefined, { client_name: "Someone else" });
    const early = await redeem(bridge.origin, other, code, verifier, { resource: bridge.url });
    assert.equal(early.status, 400);
    const body = (await early.json()) as { error: string; access_token?: string };
    assert.equal(body.error, "invalid_grant");
    assert.equal(body.access_token, undefined);
    const redeemed = await redeem(bridge.origin, clientId, code, verifier, { resource: bridge.url });
    const tokens = (await redeemed.json()) as { refresh_token: string };
    assert.equal(redeemed.status, 200, JSON.stringify(tokens));
    await refreshWorks(clientId, tokens.refresh_token);
  });

  test("replayed with the verifier (someone who has both): refused, and what the code started is revoked", async () => {
    const { clientId, code, verifier } = await freshCode();
    const tokens = (await (await redeem(bridge.origin, clientId, code, verifier, { resource: bridge.url })).json()) as { refresh_token: string };
    const replay = await redeem(bridge.origin, clientId, code, verifier, { resource: bridge.url });
    assert.equal(replay.status, 400);
    assert.match(((await replay.json()) as { error_description: string }).error_description, /already used; the tokens issued for it are revoked/);
    const refreshed = await postForm(`${bridge.origin}/token`, { grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id: clientId });
    assert.equal(refreshed.status, 400);
  });

  test("of many redemptions of one code at once, with its verifier, exactly one gets tokens", async () => {
    const { clientId, code, verifier } = await freshCode();
    const responses = await Promise.all(Array.from({ length: 8 }, () => redeem(bridge.origin, clientId, code, verifier, { resource: bridge.url })));
    const statuses = await Promise.all(responses.map(async (response) => (await response.arrayBuffer(), response.status)));
    assert.deepEqual(statuses.filter((status) => status === 200).length, 1, statuses.join(","));
    assert.ok(statuses.every((status) => status === 200 || status === 400), statuses.join(","));
  });

  test("redeemed several times at once, with its verifier: the refresh token the one success got is revoked too", async () => {
    // The replays may arrive while the winner is still issuing its tokens; each round is a fresh race.
    for (let round = 0; round < 4; round++) {
      const { clientId, code, verifier } = await freshCode();
      const responses = await Promise.all(Array.from({ length: 4 }, () => redeem(bridge.origin, clientId, code, verifier, { resource: bridge.url })));
      const bodies = await Promise.all(responses.map(async (response) => ({ status: response.status, body: (await response.json()) as { refresh_token?: string; error_description?: string } })));
      const winner = bodies.find(({ status }) => status === 200);
      assert.ok(winner?.body.refresh_token, JSON.stringify(bodies));
      for (const { status, body } of bodies.filter((answer) => answer !== winner)) {
        assert.equal(status, 400);
        assert.match(body.error_description!, /already used; the tokens issued for it are revoked/);
      }
      const refreshed = await postForm(`${bridge.origin}/token`, { grant_type: "refresh_token", refresh_token: winner.body.refresh_token, client_id: clientId });
      assert.equal(refreshed.status, 400, `round ${round}: the replays said the tokens were revoked, so the refresh token is dead`);
    }
  });

  test("a code sent to another loopback port than the registered one cannot be redeemed without naming it (RFC 6749 §4.1.3)", async () => {
    const { client_id: clientId } = await registerClient(bridge.origin, ["http://127.0.0.1:4000/callback"]);
    const { url, verifier } = authorizeUrl(bridge.origin, clientId, { redirectUri: "http://127.0.0.1:5555/callback" });
    const code = (await signIn(url)).searchParams.get("code")!;
    const omitted = await postForm(`${bridge.origin}/token`, { grant_type: "authorization_code", code, code_verifier: verifier, client_id: clientId });
    assert.equal(omitted.status, 400);
    assert.match(((await omitted.json()) as { error_description: string }).error_description, /redirect_uri differs/);
    const named = await redeem(bridge.origin, clientId, code, verifier, { redirect_uri: "http://127.0.0.1:5555/callback" });
    assert.equal(named.status, 200, "refused without using the code up");
  });

  test("a code sent to the client's only redirect URI may still be redeemed without redirect_uri", async () => {
    const { clientId, code, verifier } = await freshCode();
    const response = await postForm(`${bridge.origin}/token`, { grant_type: "authorization_code", code, code_verifier: verifier, client_id: clientId, resource: bridge.url });
    assert.equal(response.status, 200, await response.text());
  });
});
