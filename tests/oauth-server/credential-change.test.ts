/**
 * @module A built-in user's password changed in the config (or the user removed) and the bridge
 * restarted: what their sign-ins led to before (the browser's login session, unredeemed codes,
 * refresh-token families) stops working, and everyone else's keeps working across the restart.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import bcrypt from "bcryptjs";
import type { RunningBridge } from "../support/bridge.ts";
import { ALICE, ALICE_HASH, authorizeUrl, BOB, BOB_HASH, cookiesOf, openLoginPage, postForm, redeem, registerClient, startAsBridge, submitLogin, tempDir } from "./support.ts";

const CAROL = { username: "carol", password: "carol's secret from the environment" };

/** What a browser and its client hold after `user` signed in: the login cookies, a redeemed grant's refresh token, and a code not yet redeemed. */
interface Held {
  cookies: Record<string, string>;
  refreshToken: string;
  code: string;
  verifier: string;
}

async function signInAndKeep(bridge: RunningBridge, clientId: string, user: { username: string; password: string }): Promise<Held> {
  const first = authorizeUrl(bridge.origin, clientId);
  const form = await openLoginPage(first.url);
  const signedIn = await submitLogin(bridge.origin, form, { username: user.username, password: user.password });
  assert.equal(signedIn.status, 303, await signedIn.text());
  const cookies = { ...form.cookies, ...cookiesOf(signedIn) };
  const redeemed = await redeem(bridge.origin, clientId, new URL(signedIn.headers.get("location")!).searchParams.get("code")!, first.verifier);
  const tokens = (await redeemed.json()) as { refresh_token?: string };
  assert.ok(tokens.refresh_token, JSON.stringify(tokens));
  // A second authorization through the login session (consent only): its code is kept unredeemed.
  const second = authorizeUrl(bridge.origin, clientId);
  const consent = await openLoginPage(second.url, cookies);
  assert.doesNotMatch(consent.html, /name="password"/, "the login session skips the password");
  const allowed = await submitLogin(bridge.origin, consent, {}, { cookies: consent.cookies });
  assert.equal(allowed.status, 303, await allowed.text());
  return { cookies, refreshToken: tokens.refresh_token, code: new URL(allowed.headers.get("location")!).searchParams.get("code")!, verifier: second.verifier };
}

function refresh(bridge: RunningBridge, clientId: string, refreshToken: string): Promise<Response> {
  return postForm(`${bridge.origin}/token`, { grant_type: "refresh_token", refresh_token: refreshToken, client_id: clientId });
}

function start(directory: string, aliceHash: string | undefined): Promise<RunningBridge> {
  const users = [
    ...(aliceHash !== undefined ? [{ username: ALICE.username, password_hash: aliceHash, scopes: ALICE.scopes }] : []),
    { username: BOB.username, password_hash: BOB_HASH, scopes: BOB.scopes },
    { username: CAROL.username, password_env: "CAROL_PASSWORD", scopes: ["mcp:read"] },
  ];
  return startAsBridge({ storage: { type: "file", path: directory }, env: { CAROL_PASSWORD: CAROL.password }, oauthServer: { login_session_lifetime: "1h", builtin: { users } } });
}

for (const change of ["a new password_hash", "the user removed"] as const) {
  test(`after a restart with ${change}, the user's login session, unredeemed code and refresh tokens stop working; other users' keep working`, { timeout: 120_000 }, async () => {
    const directory = tempDir();
    const first = await start(directory, ALICE_HASH);
    let clientId: string;
    let alice: Held, bob: Held, carol: Held;
    try {
      ({ client_id: clientId } = await registerClient(first.origin));
      alice = await signInAndKeep(first, clientId, ALICE);
      bob = await signInAndKeep(first, clientId, BOB);
      carol = await signInAndKeep(first, clientId, CAROL);
    } finally {
      await first.stop();
    }

    const second = await start(directory, change === "the user removed" ? undefined : bcrypt.hashSync("a new password after a reset", 4));
    try {
      const refused = await refresh(second, clientId, alice.refreshToken);
      const body = (await refused.json()) as { error?: string };
      assert.equal(refused.status, 400, JSON.stringify(body));
      assert.equal(body.error, "invalid_grant");
      const code = await redeem(second.origin, clientId, alice.code, alice.verifier);
      assert.equal(code.status, 400, "the unredeemed code is refused");
      assert.equal(((await code.json()) as { error?: string }).error, "invalid_grant");
      const page = await openLoginPage(authorizeUrl(second.origin, clientId).url, alice.cookies);
      assert.match(page.html, /name="password"/, "the login session no longer skips the sign-in");

      for (const [name, held] of [["bob (password_hash)", bob], ["carol (password_env)", carol]] as const) {
        const refreshed = await refresh(second, clientId, held.refreshToken);
        assert.equal(refreshed.status, 200, `${name}: refresh after the restart: ${await refreshed.text()}`);
        assert.equal((await redeem(second.origin, clientId, held.code, held.verifier)).status, 200, `${name}: the code is redeemed after the restart`);
        const consent = await openLoginPage(authorizeUrl(second.origin, clientId).url, held.cookies);
        assert.doesNotMatch(consent.html, /name="password"/, `${name}: the login session still skips the password`);
      }
      assert.doesNotMatch(second.logs(), /carol's secret|\$2[aby]\$/, "neither the password nor a hash is logged");
    } finally {
      await second.stop();
    }
  });
}
