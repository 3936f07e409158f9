/**
 * @module Attacks on the authorization server, fifth round: a signed-in client using up the state
 * store by refreshing in a loop, a few addresses filling the ring of unused registrations, and the
 * client metadata document fetcher's errors telling an outsider which internal host names exist.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { RunningBridge } from "../support/bridge.ts";
import { CLIENTS_PER_SUBJECT } from "../../src/oauth-server/clients.ts";
import { GRANTS_PER_SUBJECT } from "../../src/oauth-server/grants.ts";
import { ALICE, authorizeUrl, BOB, CLAUDE_CALLBACK, fullFlow, openLoginPage, postForm, postJson, redeem, registerClient, startAsBridge, submitLogin } from "./support.ts";

test("a client refreshing in a loop does not fill the state store: every refresh rotates, and other people still sign in and refresh", { timeout: 180_000 }, async () => {
  // 300 entries, half of them for what signed-in people hold. Before, each rotation left a link per
  // token until the grant's end: one client filled the store in about 150 refreshes, and everyone's
  // refreshes and sign-ins got 503 for refresh_token_lifetime.
  const bridge = await startAsBridge({ storage: { type: "memory", max_entries: 300 } });
  try {
    const alice = await fullFlow(bridge, ALICE, { scope: "mcp:read offline_access" });
    const bob = await fullFlow(bridge, BOB, { scope: "mcp:read offline_access" });
    let token = bob.tokens.refresh_token!;
    for (let i = 0; i < 600; i++) {
      const response = await postForm(`${bridge.origin}/token`, { grant_type: "refresh_token", refresh_token: token, client_id: bob.clientId });
      const body = (await response.json()) as { refresh_token?: string };
      assert.equal(response.status, 200, `refresh ${i + 1}: ${JSON.stringify(body)}`);
      token = body.refresh_token!;
    }
    const refreshed = await postForm(`${bridge.origin}/token`, { grant_type: "refresh_token", refresh_token: alice.tokens.refresh_token!, client_id: alice.clientId });
    assert.equal(refreshed.status, 200, await refreshed.text());
    await fullFlow(bridge, ALICE);
    assert.doesNotMatch(bridge.logs(), /state store is full/);
  } finally {
    await bridge.stop();
  }
});

test("a refresh token names its grant: one made up from a real token's first part (a logged prefix) revokes nothing; a rotated-away one revokes the grant, up to 16 rotations back", { timeout: 120_000 }, async () => {
  const bridge = await startAsBridge({ storage: { type: "memory" } });
  try {
    const { clientId, tokens } = await fullFlow(bridge, ALICE, { scope: "mcp:read offline_access" });
    const refresh = (refreshToken: string) => postForm(`${bridge.origin}/token`, { grant_type: "refresh_token", refresh_token: refreshToken, client_id: clientId });
    const first = tokens.refresh_token!;
    assert.match(first, /^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/);
    const forged = `${first.slice(0, 22)}.${"Z".repeat(43)}`;
    for (const invalid of ["x".repeat(66), `${"A".repeat(22)}.${"B".repeat(43)}`, `${first}x`, first.replace(".", ""), forged]) {
      const response = await refresh(invalid);
      assert.equal(response.status, 400);
      assert.equal(((await response.json()) as { error: string }).error, "invalid_grant");
    }
    const revoked = await postForm(`${bridge.origin}/oauth/revoke`, { token: forged, client_id: clientId });
    assert.equal(revoked.status, 200, "an unknown token is answered as such (RFC 7009 §2.2)");
    assert.doesNotMatch(bridge.logs(), /grant_revoked|refresh_reuse/, "a made-up token revokes nothing");
    let current = first;
    for (let i = 0; i < 3; i++) current = ((await (await refresh(current)).json()) as { refresh_token: string }).refresh_token;
    // Three rotations ago, and past the 10 s grace only for the latest: the first token is reuse.
    const reused = await refresh(first);
    assert.equal(reused.status, 400);
    assert.match(((await reused.json()) as { error_description: string }).error_description, /already used; its grant is revoked/);
    const after = await refresh(current);
    assert.equal(after.status, 400, "the grant is revoked: its current token no longer refreshes");
    // A grant rotated 17 times: its first token is no longer recognized, and is only refused.
    const other = await fullFlow(bridge, ALICE, { scope: "mcp:read offline_access" });
    let latest = other.tokens.refresh_token!;
    for (let i = 0; i < 17; i++) latest = ((await (await postForm(`${bridge.origin}/token`, { grant_type: "refresh_token", refresh_token: latest, client_id: other.clientId })).json()) as { refresh_token: string }).refresh_token;
    const ancient = await postForm(`${bridge.origin}/token`, { grant_type: "refresh_token", refresh_token: other.tokens.refresh_token!, client_id: other.clientId });
    assert.match(((await ancient.json()) as { error_description: string }).error_description, /invalid, expired or revoked/);
    const still = await postForm(`${bridge.origin}/token`, { grant_type: "refresh_token", refresh_token: latest, client_id: other.clientId });
    assert.equal(still.status, 200, "the grant still works");
  } finally {
    await bridge.stop();
  }
});

test("a few addresses filling the ring of unused registrations with fresh ones: others still register (the oldest unused gives way), for loopback and hosted clients alike", { timeout: 120_000 }, async () => {
  // max_entries 100: a ring of 10 unused registrations, each address allowed a quarter of it (2).
  // Before, five addresses filled it and every registration after was refused for ten minutes.
  const bridge = await startAsBridge({ storage: { type: "memory", max_entries: 100 }, server: { trusted_proxies: ["127.0.0.1/32"] } });
  try {
    const register = async (from: string, name: string, redirectUri: string) => {
      const response = await postJson(`${bridge.origin}/register`, { client_name: name, redirect_uris: [redirectUri], token_endpoint_auth_method: "none" }, { "x-forwarded-for": from });
      await response.arrayBuffer();
      return response.status;
    };
    for (let address = 1; address <= 5; address++) {
      for (let i = 0; i < 2; i++) assert.equal(await register(`203.0.113.${address}`, `junk ${address}-${i}`, "http://127.0.0.1/callback"), 201);
    }
    assert.equal(await register("198.51.100.7", "honest loopback client", "http://127.0.0.1:3334/callback"), 201);
    assert.equal(await register("198.51.100.8", "Claude", CLAUDE_CALLBACK), 201);
  } finally {
    await bridge.stop();
  }
});

test("fresh public registrations from many addresses, far more than the ring holds, never fill the store: the metadata keys go with their registrations, and the next person signs in", { timeout: 120_000 }, async () => {
  // max_entries 400: a ring of 40 unused registrations, 10 per address and hour. Before, each
  // registration's metadata key outlived its slot for a day: 40 addresses filled the store (503).
  const bridge = await startAsBridge({ storage: { type: "memory", max_entries: 400 }, server: { trusted_proxies: ["127.0.0.1/32"] } });
  try {
    const statuses = new Map<number, number>();
    for (let address = 1; address <= 40; address++) {
      for (let i = 0; i < 10; i++) {
        const response = await postJson(`${bridge.origin}/register`, { client_name: `junk ${address}-${i}`, redirect_uris: [CLAUDE_CALLBACK], token_endpoint_auth_method: "none" }, { "x-forwarded-for": `203.0.113.${address}` });
        await response.arrayBuffer();
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      }
    }
    assert.deepEqual([...statuses], [[201, 400]]);
    const { tokens } = await fullFlow(bridge);
    assert.ok(tokens.access_token, "the next person registers and signs in");
    assert.doesNotMatch(bridge.logs(), /state store is full/);
  } finally {
    await bridge.stop();
  }
});

/**
 * Alice's sign-in at `bridge` for `clientId` from `from` (X-Forwarded-For): with her password when
 * `cookies` holds no login session, else with it. Her cookies after it, and the refresh token.
 */
/** Alice consents (signing in when `cookies` hold no login session) from address `from`: her code, its verifier, and the cookies after. */
async function aliceAuthorizes(bridge: RunningBridge, clientId: string, cookies: Record<string, string>, from: string): Promise<{ cookies: Record<string, string>; code: string; verifier: string }> {
  const headers = { "x-forwarded-for": from };
  const { url, verifier } = authorizeUrl(bridge.origin, clientId, { resource: bridge.url });
  const form = await openLoginPage(url, cookies, headers);
  const answer = await submitLogin(bridge.origin, form, cookies["mcp-bridge-session"] ? {} : { username: ALICE.username, password: ALICE.password }, { headers });
  assert.equal(answer.status, 303, await answer.text());
  const session = answer.headers.getSetCookie().find((line) => line.startsWith("mcp-bridge-session="));
  const code = new URL(answer.headers.get("location")!).searchParams.get("code")!;
  return { cookies: session ? { ...form.cookies, "mcp-bridge-session": session.split(";")[0]!.slice("mcp-bridge-session=".length) } : cookies, code, verifier };
}

/** aliceAuthorizes, then the code redeemed: her refresh token. */
async function aliceSignsIn(bridge: RunningBridge, clientId: string, cookies: Record<string, string>, from: string): Promise<{ cookies: Record<string, string>; refreshToken: string }> {
  const authorized = await aliceAuthorizes(bridge, clientId, cookies, from);
  const tokens = (await (await redeem(bridge.origin, clientId, authorized.code, authorized.verifier, { resource: bridge.url })).json()) as { refresh_token: string };
  return { cookies: authorized.cookies, refreshToken: tokens.refresh_token };
}

test("one user's codes redeemed all at once each get their tokens: writers of the user's list of grants take turns, none is refused after its code was used", { timeout: 120_000 }, async () => {
  // Each redemption adds to the user's list of grants by compare-and-set (five attempts); one that
  // lost every race would get 503 with its code spent, and its user would sign in again.
  const bridge = await startAsBridge({ server: { trusted_proxies: ["127.0.0.1/32"] }, oauthServer: { login_session_lifetime: "1h" } });
  try {
    const { client_id: clientId } = await registerClient(bridge.origin);
    let cookies: Record<string, string> = {};
    const codes: Array<{ code: string; verifier: string }> = [];
    for (let i = 0; i < 16; i++) {
      const authorized = await aliceAuthorizes(bridge, clientId, cookies, "203.0.113.9");
      cookies = authorized.cookies;
      codes.push(authorized);
    }
    const answers = await Promise.all(codes.map(({ code, verifier }) => redeem(bridge.origin, clientId, code, verifier, { resource: bridge.url })));
    const bodies = await Promise.all(answers.map((answer) => answer.json() as Promise<{ refresh_token?: string; error?: string }>));
    assert.deepEqual(
      answers.map((answer) => answer.status),
      answers.map(() => 200),
      JSON.stringify(bodies.filter((body) => body.error)),
    );
    assert.equal(new Set(bodies.map((body) => body.refresh_token)).size, 16, "16 grants");
  } finally {
    await bridge.stop();
  }
});

test(`one user signing in again and again keeps at most ${GRANTS_PER_SUBJECT} grants: the next ends the oldest, not the store; other users are untouched`, { timeout: 180_000 }, async () => {
  // A login session, so that each sign-in is a consent only; the authorization requests come from
  // a new address every 50 (the bridge allows 100 pending sign-ins per address and window).
  const bridge = await startAsBridge({ storage: { type: "memory" }, server: { trusted_proxies: ["127.0.0.1/32"] }, oauthServer: { login_session_lifetime: "1h" } });
  try {
    const bob = await fullFlow(bridge, BOB);
    const { client_id: clientId } = await registerClient(bridge.origin);
    let cookies: Record<string, string> = {};
    const refreshTokens: string[] = [];
    for (let i = 0; i <= GRANTS_PER_SUBJECT; i++) {
      const signedIn = await aliceSignsIn(bridge, clientId, cookies, `203.0.113.${1 + Math.floor(i / 50)}`);
      cookies = signedIn.cookies;
      refreshTokens.push(signedIn.refreshToken);
    }
    const refresh = async (clientId: string, token: string) => {
      const answer = await postForm(`${bridge.origin}/token`, { grant_type: "refresh_token", refresh_token: token, client_id: clientId });
      return { status: answer.status, body: (await answer.json()) as { error?: string } };
    };
    assert.deepEqual(await refresh(clientId, refreshTokens[0]!), { status: 400, body: { error: "invalid_grant", error_description: "the refresh token is invalid, expired or revoked" } }, "the oldest grant ended");
    assert.equal((await refresh(clientId, refreshTokens[1]!)).status, 200, "the one after it is still live");
    assert.equal((await refresh(clientId, refreshTokens.at(-1)!)).status, 200);
    assert.equal((await refresh(bob.clientId, bob.tokens.refresh_token!)).status, 200, "another user's grant is untouched");
    assert.match(bridge.logs(), new RegExp(`grant_revoked[^\\n]*grants passed ${GRANTS_PER_SUBJECT}`));
  } finally {
    await bridge.stop();
  }
});

test("one user signing in again and again is throttled after 60 sign-ins in a window, and keeps at most 10 login sessions; other users sign in", { timeout: 180_000 }, async () => {
  const bridge = await startAsBridge({ storage: { type: "memory" }, server: { trusted_proxies: ["127.0.0.1/32"] }, oauthServer: { login_session_lifetime: "1h" } });
  try {
    const { client_id: clientId } = await registerClient(bridge.origin);
    /** One authorization from `from`, signing in with a password (a new login session) or with the session in `cookies`. */
    const authorize = async (from: string, cookies: Record<string, string>, password: boolean) => {
      const headers = { "x-forwarded-for": from };
      const form = await openLoginPage(authorizeUrl(bridge.origin, clientId, { resource: bridge.url }).url, cookies, headers);
      const askedPassword = /name="password"/.test(form.html);
      const answer = await submitLogin(bridge.origin, form, password ? { username: ALICE.username, password: ALICE.password } : {}, { headers });
      const session = answer.headers.getSetCookie().find((line) => line.startsWith("mcp-bridge-session="));
      return { askedPassword, status: answer.status, text: await answer.text(), session: session === undefined ? undefined : { "mcp-bridge-session": session.split(";")[0]!.slice("mcp-bridge-session=".length) } };
    };
    const sessions: Record<string, string>[] = [];
    for (let i = 0; i < 11; i++) {
      const signedIn = await authorize("203.0.113.1", {}, true);
      assert.equal(signedIn.status, 303, signedIn.text);
      sessions.push(signedIn.session!);
    }
    assert.equal((await authorize("203.0.113.2", sessions[0]!, false)).askedPassword, true, "the oldest of 11 login sessions ended: its browser is asked for the password");
    const latest = await authorize("203.0.113.2", sessions[10]!, false);
    assert.equal(latest.askedPassword, false, "the newest still only asks for consent");
    assert.equal(latest.status, 303);
    // 11 password sign-ins and 2 with a session so far: up to 60 in the window.
    const statuses: number[] = [];
    for (let i = 13; i <= 61; i++) statuses.push((await authorize(`203.0.113.${3 + Math.floor(i / 40)}`, sessions[10]!, false)).status);
    assert.deepEqual(statuses.slice(0, -1), Array(48).fill(303));
    assert.equal(statuses.at(-1), 429, "the 61st sign-in in the window is refused");
    assert.match(bridge.logs(), /authorization_throttled[^\n]*alice/);
    assert.ok((await fullFlow(bridge, BOB)).tokens.access_token, "another user signs in");
  } finally {
    await bridge.stop();
  }
});

test(`one user making a new client lasting at each sign-in: past ${CLIENTS_PER_SUBJECT} a new client gets its tokens but stays unused, and gives way in the ring like any unused one`, { timeout: 180_000 }, async () => {
  // max_entries 1000: a ring of 100 unused registrations. Each registration comes from an address of its own group of 5.
  const bridge = await startAsBridge({ storage: { type: "memory", max_entries: 1000 }, server: { trusted_proxies: ["127.0.0.1/32"] }, oauthServer: { login_session_lifetime: "1h" } });
  try {
    const register = async (from: string, name: string) => {
      const response = await postJson(`${bridge.origin}/register`, { client_name: name, redirect_uris: [CLAUDE_CALLBACK], token_endpoint_auth_method: "none", grant_types: ["authorization_code", "refresh_token"] }, { "x-forwarded-for": from });
      assert.equal(response.status, 201);
      return ((await response.json()) as { client_id: string }).client_id;
    };
    let cookies: Record<string, string> = {};
    const grants: { clientId: string; refreshToken: string }[] = [];
    for (let i = 0; i <= CLIENTS_PER_SUBJECT; i++) {
      const from = `198.51.100.${1 + Math.floor(i / 5)}`;
      const clientId = await register(from, `alice's client ${i}`);
      const signedIn = await aliceSignsIn(bridge, clientId, cookies, from);
      cookies = signedIn.cookies;
      grants.push({ clientId, refreshToken: signedIn.refreshToken });
    }
    // Others register 100 fresh clients: the ring of unused registrations turns over once.
    for (let j = 0; j < 100; j++) await register(`203.0.113.${1 + Math.floor(j / 5)}`, `someone else's ${j}`);
    const refresh = async ({ clientId, refreshToken }: { clientId: string; refreshToken: string }) =>
      (await postForm(`${bridge.origin}/token`, { grant_type: "refresh_token", refresh_token: refreshToken, client_id: clientId })).status;
    assert.equal(await refresh(grants[CLIENTS_PER_SUBJECT - 1]!), 200, `the ${CLIENTS_PER_SUBJECT}th client was made lasting`);
    assert.equal(await refresh(grants[CLIENTS_PER_SUBJECT]!), 401, "the one past it stayed unused, and gave way (invalid_client: it registers again)");
  } finally {
    await bridge.stop();
  }
});
