/**
 * @module Attacks on the authorization server, fourth round: what a hostile party gains by sending
 * its attempts at once rather than one after another, and by using the bridge's own URL to send
 * people elsewhere.
 */
import assert from "node:assert/strict";
import bcrypt from "bcryptjs";
import { decodeJwt } from "jose";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, test } from "node:test";
import type { Browser } from "playwright-core";
import { useBrowser } from "../support/browser.ts";
import { signInAtIdp, useIdp, type Idp } from "../auth-oauth/support.ts";
import { ALICE, ALICE_HASH, authorizeUrl, BOB, BOB_HASH, confirmCallback, cookieHeader, cookiesOf, redeem, tempDir, fullFlow, openLoginPage, postForm, registerClient, signIn, startAsBridge, submitLogin } from "./support.ts";

test("password guesses sent all at once get no more checks than guesses sent one by one", { timeout: 180_000 }, async () => {
  // Cost 12: a check takes long enough (and yields to other requests as it runs) that the guesses are all in flight together.
  const bridge = await startAsBridge({ storage: { type: "memory" }, oauthServer: { builtin: { users: [{ username: ALICE.username, password_hash: bcrypt.hashSync(ALICE.password, 12), scopes: ALICE.scopes }] } } });
  try {
    const { client_id } = await registerClient(bridge.origin);
    const form = await openLoginPage(authorizeUrl(bridge.origin, client_id).url);
    const sent = performance.now();
    const responses = await Promise.all(Array.from({ length: 30 }, (_, i) => submitLogin(bridge.origin, form, { username: ALICE.username, password: `guess-${i}` })));
    const statuses = responses.map((response) => response.status);
    await Promise.all(responses.map((response) => response.text()));
    const seconds = (performance.now() - sent) / 1000;
    const checked = statuses.filter((status) => status === 400).length;
    // One by one, five guesses per username and address are checked at once, then one after 1 s
    // more, one after 2 s more, 4 s...: within `seconds`, 5 + ⌊log2(seconds + 1)⌋. On a slow host the
    // burst itself lasts seconds, and a guess admitted that late is one a guesser going one by one
    // would have had too. Checked in parallel (admitted before counted), all 30 would be.
    const oneByOne = 5 + Math.floor(Math.log2(seconds + 1));
    assert.ok(checked <= oneByOne, `at most ${oneByOne} of 30 simultaneous guesses are checked in ${seconds.toFixed(1)} s, got ${checked}: ${statuses.join(" ")}`);
    assert.equal(statuses.filter((status) => status === 429).length, 30 - checked, `the rest are told to wait: ${statuses.join(" ")}`);
  } finally {
    await bridge.stop();
  }
});

test('with allowed_redirect_uris ["*"], a request that fails its checks is not sent on by itself to a redirect URI nobody vouched for (RFC 9700 §4.11.2)', { timeout: 120_000 }, async () => {
  const bridge = await startAsBridge({ storage: { type: "memory" }, oauthServer: { allowed_redirect_uris: ["*"] } });
  try {
    // Anyone may register, so the bridge's own URL would otherwise send people to any site: a phishing link.
    const phishing = "https://evil.example/login";
    const { client_id } = await registerClient(bridge.origin, [phishing]);
    for (const broken of [{ method: "plain" }, { resource: "https://elsewhere.example/mcp" }, { state: "x".repeat(4096) }]) {
      const response = await fetch(authorizeUrl(bridge.origin, client_id, { redirectUri: phishing, ...broken }).url, { redirect: "manual" });
      const html = await response.text();
      assert.equal(response.status, 400, `${JSON.stringify(broken).slice(0, 60)}: an error page, not a redirect:\n${html.slice(0, 300)}`);
      assert.equal(response.headers.get("location"), null);
      assert.match(html, /evil\.example/, "the page names where the application wanted to go");
    }
    const fixedUp = new URL(authorizeUrl(bridge.origin, client_id, { redirectUri: phishing }).url);
    fixedUp.searchParams.set("response_type", "token");
    assert.equal((await fetch(fixedUp, { redirect: "manual" })).status, 400, "nor an unsupported response_type");

    // After the person has seen the page and chosen, the answer goes back as usual.
    const back = await signIn(authorizeUrl(bridge.origin, client_id, { redirectUri: phishing }).url);
    assert.equal(back.origin + back.pathname, phishing);
    assert.ok(back.searchParams.get("code"));

    // A loopback redirect URI stays on the person's own computer: errors still go back to it at once.
    const { client_id: native } = await registerClient(bridge.origin, ["http://127.0.0.1/callback"]);
    const local = await fetch(authorizeUrl(bridge.origin, native, { redirectUri: "http://127.0.0.1:5173/callback", method: "plain" }).url, { redirect: "manual" });
    assert.equal(local.status, 303);
    assert.equal(new URL(local.headers.get("location")!).searchParams.get("error"), "invalid_request");
  } finally {
    await bridge.stop();
  }
});

test("a refresh that repeats the authorization request's scope, offline_access alone, keeps the grant rather than emptying it", { timeout: 120_000 }, async () => {
  const bridge = await startAsBridge({ storage: { type: "memory" } });
  try {
    // offline_access names no access: at /authorize it leaves the grant at everything the user has.
    const { clientId, tokens } = await fullFlow(bridge, ALICE, { scope: "offline_access" });
    assert.equal(tokens.scope, ALICE.scopes.join(" "));
    const response = await postForm(`${bridge.origin}/token`, { grant_type: "refresh_token", refresh_token: tokens.refresh_token!, client_id: clientId, scope: "offline_access" });
    const body = (await response.json()) as Record<string, string>;
    assert.equal(response.status, 200, JSON.stringify(body));
    assert.equal(body.scope, ALICE.scopes.join(" "), "the same scope as before the refresh");
    assert.equal(decodeJwt(body.access_token!).scope, ALICE.scopes.join(" "));
  } finally {
    await bridge.stop();
  }
});

describe("federated mode, oidc-provider upstream", () => {
  let idp: Idp;
  useIdp((started) => (idp = started));

  test("a refresh after the operator changed admin_users or allowed_domains gets only what the configuration grants now", { timeout: 180_000 }, async () => {
    idp.accounts.set("boss", { email: "boss@example.com", email_verified: true });
    const upstream = { client_id: "bridge-upstream-restart", client_secret: "upstream-secret-not-real-0123456789" };
    const resource = "http://127.0.0.1:1/mcp";
    const callback = "http://127.0.0.1:1/oauth/callback";
    await idp.registerClient({ ...upstream, redirect_uris: [callback] });
    const dir = tempDir();
    const start = (federated: Record<string, unknown>) =>
      startAsBridge({
        storage: { type: "file", path: dir },
        server: { public_url: resource },
        oauthServer: { mode: "federated", builtin: { users: [] }, federated: { upstream_issuer: idp.issuer, client_id: upstream.client_id, client_secret_env: "UPSTREAM_SECRET", default_scopes: ["mcp:read"], admin_scopes: ["mcp:read", "mcp:admin"], ...federated } },
        env: { UPSTREAM_SECRET: upstream.client_secret },
      });
    const policy = { allowed_domains: ["example.com"], admin_users: ["boss@example.com"] };
    const first = await start(policy);
    let grant: { clientId: string; refreshToken: string };
    try {
      const { client_id } = await registerClient(first.origin);
      const { url, verifier } = authorizeUrl(first.origin, client_id, { resource, scope: "mcp:read mcp:admin" });
      const form = await openLoginPage(url);
      const allow = await submitLogin(first.origin, form, {});
      assert.equal(allow.status, 303, await allow.text());
      // The provider sends the browser to the public URL; this bridge listens on its own port.
      const fromIdp = await signInAtIdp(allow.headers.get("location")!, { account: "boss", redirectUri: callback });
      const back = await confirmCallback(first.origin, await fetch(`${first.origin}${fromIdp.pathname}${fromIdp.search}`, { redirect: "manual", headers: { cookie: cookieHeader({ ...form.cookies, ...cookiesOf(allow) }) } }));
      assert.equal(back.status, 303, await back.text());
      const response = await redeem(first.origin, client_id, new URL(back.headers.get("location")!).searchParams.get("code")!, verifier, { resource });
      const body = (await response.json()) as { refresh_token: string; scope: string };
      assert.equal(body.scope, "mcp:read mcp:admin", JSON.stringify(body));
      grant = { clientId: client_id, refreshToken: body.refresh_token };
    } finally {
      await first.stop();
    }
    const refresh = async (origin: string) => {
      const response = await postForm(`${origin}/token`, { grant_type: "refresh_token", refresh_token: grant.refreshToken, client_id: grant.clientId });
      const body = (await response.json()) as Record<string, string>;
      if (body.refresh_token) grant.refreshToken = body.refresh_token;
      return { status: response.status, body };
    };
    // No longer an administrator: the next access token has the default scopes only.
    const second = await start({ ...policy, admin_users: [] });
    try {
      const { status, body } = await refresh(second.origin);
      assert.equal(status, 200, JSON.stringify(body));
      assert.equal(body.scope, "mcp:read");
    } finally {
      await second.stop();
    }
    // The domain is no longer allowed: the grant ends.
    const third = await start({ ...policy, allowed_domains: ["elsewhere.example"] });
    try {
      const { status, body } = await refresh(third.origin);
      assert.equal(status, 400, JSON.stringify(body));
      assert.equal(body.error, "invalid_grant");
    } finally {
      await third.stop();
    }
  });

  test("Allow sent again and again for one sign-in request starts at most as many upstream sign-ins as an address may start requests", { timeout: 180_000 }, async () => {
    const upstream = { client_id: "bridge-upstream", client_secret: "upstream-secret-not-real-0123456789" };
    const bridge = await startAsBridge({
      storage: { type: "memory" },
      oauthServer: { mode: "federated", builtin: { users: [] }, federated: { upstream_issuer: idp.issuer, client_id: upstream.client_id, client_secret_env: "UPSTREAM_SECRET", default_scopes: ["mcp:read"] } },
      env: { UPSTREAM_SECRET: upstream.client_secret },
    });
    try {
      await idp.registerClient({ ...upstream, redirect_uris: [`${bridge.origin}/oauth/callback`] });
      const { client_id } = await registerClient(bridge.origin);
      const form = await openLoginPage(authorizeUrl(bridge.origin, client_id).url);
      // Each Allow keeps a state, nonce and PKCE verifier until the provider calls back (or 10 minutes pass).
      const statuses: number[] = [];
      for (let i = 0; i < 110; i++) {
        const response = await submitLogin(bridge.origin, form, {});
        await response.arrayBuffer();
        statuses.push(response.status);
      }
      assert.equal(statuses[0], 303, "the first goes to the provider");
      assert.ok(statuses.filter((status) => status === 303).length <= 100, statuses.join(" "));
      assert.equal(statuses.at(-1), 429, statuses.join(" "));
    } finally {
      await bridge.stop();
    }
  });
});

test("a refresh after the operator removed a user, or took scopes away, no longer gets what the old configuration granted", { timeout: 180_000 }, async () => {
  const dir = tempDir();
  const resource = "http://127.0.0.1:1/mcp";
  const users = (alice: string[], withBob: boolean) => ({ builtin: { users: [{ username: ALICE.username, password_hash: ALICE_HASH, scopes: alice }, ...(withBob ? [{ username: BOB.username, password_hash: BOB_HASH, scopes: BOB.scopes }] : [])] } });
  const options = { storage: { type: "file", path: dir }, server: { public_url: resource } };
  const first = await startAsBridge({ ...options, oauthServer: users(ALICE.scopes, true) });
  const grants: Record<string, { clientId: string; refreshToken: string }> = {};
  try {
    for (const user of [ALICE, BOB]) {
      const { client_id } = await registerClient(first.origin);
      const { url, verifier } = authorizeUrl(first.origin, client_id, { resource });
      const response = await redeem(first.origin, client_id, (await signIn(url, user)).searchParams.get("code")!, verifier);
      const body = (await response.json()) as { refresh_token: string; scope: string };
      assert.equal(response.status, 200, JSON.stringify(body));
      assert.equal(body.scope, user.scopes.join(" "));
      grants[user.username] = { clientId: client_id, refreshToken: body.refresh_token };
    }
  } finally {
    await first.stop();
  }
  // Bob leaves; Alice may only read now.
  const second = await startAsBridge({ ...options, oauthServer: users(["mcp:read"], false) });
  try {
    const refresh = (username: string) => postForm(`${second.origin}/token`, { grant_type: "refresh_token", refresh_token: grants[username]!.refreshToken, client_id: grants[username]!.clientId });
    const bob = await refresh(BOB.username);
    const bobBody = (await bob.json()) as Record<string, string>;
    assert.equal(bob.status, 400, JSON.stringify(bobBody));
    assert.equal(bobBody.error, "invalid_grant");
    const alice = await refresh(ALICE.username);
    const aliceBody = (await alice.json()) as Record<string, string>;
    assert.equal(alice.status, 200, JSON.stringify(aliceBody));
    assert.equal(aliceBody.scope, "mcp:read");
    assert.equal(decodeJwt(aliceBody.access_token!).scope, "mcp:read");
  } finally {
    await second.stop();
  }
});

describe("Chromium, and a page of another program on the same loopback host", () => {
  let browser: Browser;
  useBrowser((started) => (browser = started));

  test("cannot plant its own CSRF cookie and post the consent form for a signed-in user: cookies ignore ports, so the form must come from the bridge's own origin", { timeout: 180_000 }, async () => {
    const bridge = await startAsBridge({ storage: { type: "memory" }, oauthServer: { login_session_lifetime: "1h" } });
    const planted = "A".repeat(43);
    const stolen: string[] = [];
    let form = "";
    // Another program's web page on 127.0.0.1 (a dev server showing someone else's HTML): same site as the bridge.
    const attacker = createServer((request, response) => {
      if (request.url?.startsWith("/callback")) {
        stolen.push(request.url);
        response.end("thanks");
        return;
      }
      response.writeHead(200, { "content-type": "text/html", "set-cookie": `mcp-bridge-csrf=${planted}; Path=/` });
      response.end(`<!doctype html><meta name="referrer" content="no-referrer"><body>${form}<script>document.forms[0].submit()</script>`);
    });
    await new Promise<void>((resolve) => attacker.listen(0, "127.0.0.1", resolve));
    const attackerOrigin = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}`;
    const context = await browser.newContext();
    try {
      // Alice signs in once, in her browser, for her own client.
      const { client_id: hers } = await registerClient(bridge.origin);
      const page = await context.newPage();
      await page.goto(authorizeUrl(bridge.origin, hers).url.href);
      await page.fill('input[name="username"]', ALICE.username);
      await page.fill('input[name="password"]', ALICE.password);
      await Promise.all([page.waitForRequest((request) => request.url().startsWith("https://claude.ai/")), page.click('button[value="allow"]')]);

      // The attacker's own authorization request, made with the CSRF cookie value it will plant.
      const { client_id: theirs } = await registerClient(bridge.origin, ["http://127.0.0.1/callback"]);
      const pending = await fetch(authorizeUrl(bridge.origin, theirs, { redirectUri: `${attackerOrigin}/callback` }).url, { headers: { cookie: `mcp-bridge-csrf=${planted}` } });
      const html = await pending.text();
      const requestId = /name="request_id" value="([^"]+)"/.exec(html)![1]!;
      assert.match(html, new RegExp(`name="csrf_token" value="${planted}"`), "the pending request took the planted value");
      form = `<form method="post" action="${bridge.origin}/oauth/authorize"><input name="request_id" value="${requestId}"><input name="csrf_token" value="${planted}"><input name="action" value="allow"></form>`;

      // Alice, still signed in, visits the other program's page in another tab.
      const visit = await context.newPage();
      await visit.goto(attackerOrigin);
      await visit.waitForURL((url) => url.pathname === "/callback" || (url.origin === bridge.origin && url.pathname === "/oauth/authorize"));
      await visit.waitForLoadState();
      assert.deepEqual(stolen, [], "no code for Alice reaches the other program");
      assert.match(await visit.content(), /Request refused/);
    } finally {
      await context.close();
      attacker.close();
      await bridge.stop();
    }
  });
});
