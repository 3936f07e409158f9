/**
 * @module Federated mode end to end, through the built CLI, with oidc-provider as the upstream
 * identity provider: Chromium consents on the bridge's page and signs in at the provider; the
 * client redeems the bridge's code and calls a tool. Then the attacks a browser would not make,
 * driven by fetch.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { decodeJwt, type JWTPayload } from "jose";
import type { Browser } from "playwright-core";
import { ECHO_SERVER, runCli, startBridge, writeConfig, type RunningBridge } from "../support/bridge.ts";
import { authorizeInBrowser, useBrowser } from "../support/browser.ts";
import { signInAtIdp, useIdp, waitFor, type Idp, type SigningKey } from "../auth-oauth/support.ts";
import { join } from "node:path";
import { writeFileSync } from "node:fs";
import { DENO, ROOT } from "../release/helpers.ts";
import { setTimeout as sleep } from "node:timers/promises";
import { JWKS_REFETCH_COOLDOWN_MS } from "../../src/oauth-server/federated/index.ts";
import { ALICE, authorizeUrl, CLAUDE_CALLBACK, confirmCallback, cookieHeader, cookiesOf, fullFlow, initializeWith, openLoginPage, postForm, redeem, registerClient, startAsBridge, submitLogin, tempDir } from "./support.ts";

const UPSTREAM = { client_id: "mcp-bridge-upstream", client_secret: "upstream-secret-not-real-0123456789" };

let idp: Idp;
let browser: Browser;
useIdp((started) => (idp = started));
useBrowser((started) => (browser = started));

/** tools/call echo through the bridge with `token`, as one JSON-RPC exchange after initialize. */
async function callEcho(bridge: RunningBridge, token: string, text: string): Promise<unknown> {
  const headers = { "content-type": "application/json", accept: "application/json, text/event-stream", authorization: `Bearer ${token}` };
  const init = await fetch(bridge.url, {
    method: "POST",
    headers,
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "federated-e2e", version: "1" } } }),
  });
  assert.equal(init.status, 200, await init.clone().text());
  const session = init.headers.get("mcp-session-id")!;
  await init.body?.cancel();
  const sessionHeaders = { ...headers, "mcp-session-id": session, "mcp-protocol-version": "2025-06-18" };
  await (await fetch(bridge.url, { method: "POST", headers: sessionHeaders, body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }) })).body?.cancel();
  const call = await fetch(bridge.url, { method: "POST", headers: sessionHeaders, body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "echo", arguments: { text } } }) });
  const body = await call.text();
  assert.equal(call.status, 200, body);
  const json = body.startsWith("{") ? JSON.parse(body) : JSON.parse(/^data: (.*)$/m.exec(body)![1]!);
  return json.result.content;
}

describe("federated mode with a login_template", () => {
  test("the page after the provider's callback is the bridge's own, naming the account, not the template (which asks for a password, like the sign-in before it)", async () => {
    idp.accounts.set("alice", { email: "alice@example.com", email_verified: true, name: "Alice Liddell" });
    const template = join(tempDir(), "login.html");
    writeFileSync(template, `<!doctype html><html><body><h1>ACME portal</h1><form method="post" action="/oauth/authorize">{{hidden_fields}}<input name="username"><input name="password" type="password"><button name="action" value="allow">Sign in</button></form></body></html>`);
    const bridge = await startAsBridge({
      oauthServer: { mode: "federated", builtin: { users: [], login_template: template }, federated: { upstream_issuer: idp.issuer, client_id: "template-bridge", client_secret_env: "UPSTREAM_CLIENT_SECRET", default_scopes: ["mcp:read"] } },
      env: { UPSTREAM_CLIENT_SECRET: UPSTREAM.client_secret },
    });
    try {
      await idp.registerClient({ client_id: "template-bridge", client_secret: UPSTREAM.client_secret, redirect_uris: [`${bridge.origin}/oauth/callback`] });
      const { client_id: clientId } = await registerClient(bridge.origin);
      const form = await openLoginPage(authorizeUrl(bridge.origin, clientId, { resource: bridge.url }).url);
      assert.match(form.html, /ACME portal/, "the template is the sign-in page");
      const allow = await submitLogin(bridge.origin, form, {});
      assert.equal(allow.status, 303, await allow.text());
      const callback = await signInAtIdp(allow.headers.get("location")!, { account: "alice", redirectUri: `${bridge.origin}/oauth/callback` });
      const back = await fetch(callback, { redirect: "manual", headers: { cookie: cookieHeader({ ...form.cookies, ...cookiesOf(allow) }) } });
      const html = await back.text();
      assert.equal(back.status, 200, html);
      assert.match(html, /You signed in at .* as .*alice@example\.com/);
      assert.doesNotMatch(html, /ACME portal|type="password"/);
      const done = await confirmCallback(bridge.origin, new Response(html, { status: 200 }));
      assert.ok(new URL(done.headers.get("location")!).searchParams.get("code"), "a code after the confirmation");
    } finally {
      await bridge.stop();
    }
  });
});

describe("federated mode through the CLI, oidc-provider upstream", () => {
  let bridge: RunningBridge;
  before(async () => {
    idp.accounts.set("alice", { email: "alice@example.com", email_verified: true, name: "Alice Liddell" });
    idp.accounts.set("boss", { email: "boss@example.com", email_verified: true });
    idp.accounts.set("mallory", { email: "mallory@example.com", email_verified: false });
    bridge = await startAsBridge({
      oauthServer: {
        mode: "federated",
        builtin: { users: [] },
        federated: {
          upstream_issuer: idp.issuer,
          client_id: UPSTREAM.client_id,
          client_secret_env: "UPSTREAM_CLIENT_SECRET",
          allowed_domains: ["example.com"],
          default_scopes: ["mcp:read"],
          admin_users: ["boss@example.com"],
          admin_scopes: ["mcp:read", "mcp:write", "mcp:admin"],
        },
      },
      env: { UPSTREAM_CLIENT_SECRET: UPSTREAM.client_secret },
    });
    // The bridge's callback is known once it listens: register it at the provider now.
    await idp.registerClient({ ...UPSTREAM, redirect_uris: [`${bridge.origin}/oauth/callback`] });
  });
  after(async () => {
    await bridge?.stop();
  });

  test("Chromium: consent on the bridge, sign-in at the provider, code back to the client; the token calls a tool", { timeout: 120_000 }, async () => {
    const { client_id: clientId } = await registerClient(bridge.origin);
    const { url, verifier } = authorizeUrl(bridge.origin, clientId, { resource: bridge.url, state: "claude-state-1" });
    const pages: string[] = [];
    const { callback } = await authorizeInBrowser(browser, url, {
      redirectUri: CLAUDE_CALLBACK,
      interact: async (page) => {
        pages.push(new URL(page.url()).origin);
        if (page.url().startsWith(bridge.origin)) {
          // The bridge's own consent page names the client and where it will be sent, before going
          // upstream; back from there, its page names the account too.
          const text = await page.textContent("body");
          assert.match(text ?? "", /Test client/);
          assert.match(text ?? "", /claude\.ai/);
          if (pages.length > 1) assert.match(text ?? "", /You signed in at .* as .*alice@example\.com/);
          await page.getByRole("button", { name: /allow|continue/i }).click();
        } else {
          assert.equal(await page.title(), "Upstream IdP");
          await page.getByLabel("Account").fill("alice");
          await page.getByRole("button", { name: "Sign in" }).click();
        }
      },
    });
    assert.deepEqual(pages, [bridge.origin, idp.issuer, bridge.origin], "the bridge's consent first, then the provider's sign-in, then the bridge's confirmation of who signed in");
    assert.equal(callback.searchParams.get("state"), "claude-state-1");
    assert.equal(callback.searchParams.get("iss"), bridge.origin, "RFC 9207: the bridge's issuer, not the provider's");
    const code = callback.searchParams.get("code");
    assert.ok(code, `a code comes back: ${callback}`);

    const response = await redeem(bridge.origin, clientId, code, verifier, { resource: bridge.url });
    const tokens = (await response.json()) as { access_token: string };
    assert.equal(response.status, 200, JSON.stringify(tokens));
    const claims = decodeJwt(tokens.access_token);
    assert.equal(claims.iss, bridge.origin, "the bridge issues its own token: the provider's never leaves the bridge");
    assert.equal(claims.sub, "alice");
    assert.equal(claims.aud, bridge.url);
    assert.equal(claims.scope, "mcp:read");
    assert.deepEqual(await callEcho(bridge, tokens.access_token, "federated hello"), [{ type: "text", text: "federated hello" }]);
    assert.match(bridge.logs(), /login_succeeded[^\n]*alice@example\.com/, "the audit log names who signed in");
  });

  /** Consents on the bridge with fetch; returns the provider URL and the bridge cookies (the state cookie among them). */
  async function consent(clientId: string, state = "s-1", extra: Record<string, string> = {}): Promise<{ upstream: URL; cookies: Record<string, string>; verifier: string }> {
    const { url, verifier } = authorizeUrl(bridge.origin, clientId, { resource: bridge.url, state });
    for (const [name, value] of Object.entries(extra)) url.searchParams.set(name, value);
    const form = await openLoginPage(url);
    const response = await submitLogin(bridge.origin, form, {});
    assert.equal(response.status, 303, await response.text());
    const upstream = new URL(response.headers.get("location")!);
    assert.equal(upstream.origin, idp.issuer);
    return { upstream, cookies: { ...form.cookies, ...cookiesOf(response) }, verifier };
  }

  /** The callback in the browser holding `cookies`, and its page confirming who signed in sent with Allow. */
  async function callbackWith(url: URL, cookies: Record<string, string>): Promise<Response> {
    return confirmCallback(bridge.origin, await fetch(url, { redirect: "manual", headers: { cookie: cookieHeader(cookies) } }), cookies);
  }

  test("admin_users get admin_scopes; the requested scopes are granted only if the user has them", async () => {
    const { client_id: clientId } = await registerClient(bridge.origin);
    const { url, verifier } = authorizeUrl(bridge.origin, clientId, { resource: bridge.url, scope: "mcp:read mcp:admin" });
    const form = await openLoginPage(url);
    const allow = await submitLogin(bridge.origin, form, {});
    const back = await callbackWith(await signInAtIdp(allow.headers.get("location")!, { account: "boss", redirectUri: `${bridge.origin}/oauth/callback` }), { ...form.cookies, ...cookiesOf(allow) });
    assert.equal(back.status, 303);
    const code = new URL(back.headers.get("location")!).searchParams.get("code")!;
    const tokens = (await (await redeem(bridge.origin, clientId, code, verifier, { resource: bridge.url })).json()) as { access_token: string };
    assert.equal(decodeJwt(tokens.access_token).scope, "mcp:read mcp:admin");
  });

  test("an unverified email in an allowed domain is refused: the client gets access_denied, not a code", async () => {
    const { client_id: clientId } = await registerClient(bridge.origin);
    const { upstream, cookies } = await consent(clientId, "s-mallory");
    const back = await callbackWith(await signInAtIdp(upstream, { account: "mallory", redirectUri: `${bridge.origin}/oauth/callback` }), cookies);
    assert.equal(back.status, 303);
    const location = new URL(back.headers.get("location")!);
    assert.equal(location.origin + location.pathname, CLAUDE_CALLBACK);
    assert.equal(location.searchParams.get("error"), "access_denied");
    assert.equal(location.searchParams.get("state"), "s-mallory");
    assert.equal(location.searchParams.get("iss"), bridge.origin);
    assert.equal(location.searchParams.get("code"), null);
  });

  test("the provider's error text is never repeated: Cancel there is access_denied here, with the bridge's own words", async () => {
    const { client_id: clientId } = await registerClient(bridge.origin);
    const { upstream, cookies } = await consent(clientId, "s-cancel");
    const fromIdp = await signInAtIdp(upstream, { deny: true, redirectUri: `${bridge.origin}/oauth/callback` });
    assert.match(fromIdp.searchParams.get("error_description") ?? "", /<script>/);
    const back = await callbackWith(fromIdp, cookies);
    const location = new URL(back.headers.get("location")!);
    assert.equal(location.searchParams.get("error"), "access_denied");
    assert.doesNotMatch(location.href, /%3Cscript|<script|said/i);
    assert.doesNotMatch(bridge.logs(), /<script>|the user said no/);
  });

  test("a callback in another browser (no state cookie: someone sent this person the provider's link) is refused and ends that sign-in, so its URL read later cannot finish it", async () => {
    const { client_id: clientId } = await registerClient(bridge.origin);
    // The attacker consents (their client, their cookies) and sends the provider's link to alice.
    const { upstream, cookies } = await consent(clientId, "s-lured");
    const callback = await signInAtIdp(upstream, { account: "alice", redirectUri: `${bridge.origin}/oauth/callback` });
    const { [Object.keys(cookies).find((name) => name.includes("upstream"))!]: _state, ...others } = cookies;
    const lured = await callbackWith(callback, others);
    assert.equal(lured.status, 400);
    assert.equal(lured.headers.get("location"), null, "no code goes anywhere");
    assert.match(await lured.text(), /not started in this browser/);
    // The callback URL leaks (history, a proxy's log): the attacker sends it with their cookies.
    const replay = await callbackWith(callback, cookies);
    assert.equal(replay.status, 400, "the attacker finished alice's sign-in for their own client");
    assert.equal(replay.headers.get("location"), null);
    // A replayed callback of a finished sign-in is refused too.
    const { upstream: again, cookies: own } = await consent(clientId, "s-own");
    const ownCallback = await signInAtIdp(again, { account: "alice", redirectUri: `${bridge.origin}/oauth/callback` });
    assert.equal((await callbackWith(ownCallback, own)).status, 303);
    assert.equal((await callbackWith(ownCallback, own)).status, 400);
  });

  test("a state cookie planted by a page of another program on this host (cookies ignore ports) gets no code: the callback asks the person who came back, naming the client and the account, on a form only this origin can send", async () => {
    const { client_id: clientId } = await registerClient(bridge.origin);
    // The attacker consents in its own user agent (its client, its redirect URI) and keeps what it was given.
    const form = await openLoginPage(authorizeUrl(bridge.origin, clientId, { resource: bridge.url, state: "s-planted" }).url);
    const allow = await submitLogin(bridge.origin, form, {});
    assert.equal(allow.status, 303, await allow.text());
    const planted = Object.fromEntries(Object.entries(cookiesOf(allow)).filter(([name]) => name.includes("upstream")));
    assert.equal(Object.keys(planted).length, 1, "the state cookie");
    // alice, signed in at the provider, is sent through the provider's URL with only the planted cookie.
    const callback = await signInAtIdp(allow.headers.get("location")!, { account: "alice", redirectUri: `${bridge.origin}/oauth/callback` });
    const back = await fetch(callback, { redirect: "manual", headers: { cookie: cookieHeader(planted) } });
    const html = await back.text();
    assert.equal(back.status, 200, html);
    assert.equal(back.headers.get("location"), null, "no code goes anywhere");
    assert.match(html, /Test client/);
    assert.match(html, /claude\.ai/);
    assert.match(html, /alice@example\.com/);
    // What the attacker knows (its request id, its CSRF token and cookie) no longer ends the request.
    const replayed = await submitLogin(bridge.origin, form, {}, { cookies: { ...form.cookies, ...planted } });
    assert.notEqual(replayed.status, 303, "the attacker's own form issued a code");
    // The page's form sent from another origin (the attacker's port) is refused.
    const request_id = /name="request_id" value="([^"]*)"/.exec(html)![1]!;
    const csrf_token = /name="csrf_token" value="([^"]*)"/.exec(html)![1]!;
    const otherPort = `http://127.0.0.1:${Number(new URL(bridge.origin).port) + 1}`;
    for (const headers of [{ origin: otherPort }, { origin: "null", "sec-fetch-site": "same-site" }] as Array<Record<string, string>>) {
      const forged = await fetch(`${bridge.origin}/oauth/authorize`, { method: "POST", redirect: "manual", headers: { "content-type": "application/x-www-form-urlencoded", ...headers }, body: new URLSearchParams({ request_id, csrf_token, action: "allow" }) });
      assert.equal(forged.status, 403, JSON.stringify(headers));
    }
    // alice sees an application she did not start, and denies it: the client gets access_denied.
    const denied = await confirmCallback(bridge.origin, new Response(html, { status: 200 }), {}, "deny");
    const location = new URL(denied.headers.get("location")!);
    assert.equal(location.searchParams.get("error"), "access_denied");
    assert.equal(location.searchParams.get("code"), null);
  });

  test("HEAD on the callback (a link checker's) changes nothing (RFC 9110 §9.2.1): 405, and the sign-in it carries still finishes", async () => {
    const { client_id: clientId } = await registerClient(bridge.origin);
    const { upstream, cookies, verifier } = await consent(clientId, "s-head");
    const callback = await signInAtIdp(upstream, { account: "alice", redirectUri: `${bridge.origin}/oauth/callback` });
    const head = await fetch(callback, { method: "HEAD", redirect: "manual", headers: { cookie: cookieHeader(cookies) } });
    assert.equal(head.status, 405);
    assert.equal(head.headers.get("allow"), "GET");
    assert.equal(head.headers.get("location"), null, "no code goes anywhere");
    const own = await callbackWith(callback, cookies);
    assert.equal(own.status, 303, await own.text());
    const code = new URL(own.headers.get("location")!).searchParams.get("code")!;
    assert.equal((await redeem(bridge.origin, clientId, code, verifier, { resource: bridge.url })).status, 200);
  });

  test("prompt=login and max_age go on to the provider (OIDC Core §3.1.2.1), whose ID token then carries auth_time; prompt=none is login_required", async () => {
    const { client_id: clientId } = await registerClient(bridge.origin);
    const { upstream, cookies, verifier } = await consent(clientId, "s-fresh", { prompt: "login", max_age: "300" });
    assert.equal(upstream.searchParams.get("prompt"), "login");
    assert.equal(upstream.searchParams.get("max_age"), "300");
    const back = await callbackWith(await signInAtIdp(upstream, { account: "alice", redirectUri: `${bridge.origin}/oauth/callback` }), cookies);
    assert.equal(back.status, 303, await back.text());
    const code = new URL(back.headers.get("location")!).searchParams.get("code")!;
    assert.equal((await redeem(bridge.origin, clientId, code, verifier, { resource: bridge.url })).status, 200);
    const login = await consent(clientId, "s-login", { prompt: "login" });
    assert.equal(login.upstream.searchParams.get("max_age"), "0", "prompt=login alone: max_age=0, so that the provider says when the person signed in");
    const plain = await consent(clientId, "s-plain");
    assert.equal(plain.upstream.searchParams.get("prompt"), null);
    assert.equal(plain.upstream.searchParams.get("max_age"), null);

    const { url } = authorizeUrl(bridge.origin, clientId, { resource: bridge.url, state: "s-none" });
    url.searchParams.set("prompt", "none");
    const silent = await fetch(url, { redirect: "manual" });
    assert.equal(silent.status, 303, "no page: the bridge cannot sign anyone in without one");
    const location = new URL(silent.headers.get("location")!);
    assert.equal(location.searchParams.get("error"), "login_required");
    assert.equal(location.searchParams.get("state"), "s-none");
  });

  test("two sign-ins in progress in one browser (two tabs) both finish", async () => {
    const { client_id: clientId } = await registerClient(bridge.origin);
    const first = await consent(clientId, "tab-1");
    const second = await consent(clientId, "tab-2");
    // One browser: the cookies of both consents are in its jar.
    const jar = { ...first.cookies, ...second.cookies };
    for (const [tab, started] of [["tab-2", second], ["tab-1", first]] as const) {
      const back = await callbackWith(await signInAtIdp(started.upstream, { account: "alice", redirectUri: `${bridge.origin}/oauth/callback` }), jar);
      assert.equal(back.status, 303, tab);
      const location = new URL(back.headers.get("location")!);
      assert.equal(location.searchParams.get("state"), tab);
      assert.ok(location.searchParams.get("code"), tab);
    }
  });

  test("a provider unreachable at the callback sends the client temporarily_unavailable; sign-in works again once it is back", async () => {
    const { client_id: clientId } = await registerClient(bridge.origin);
    const { url } = authorizeUrl(bridge.origin, clientId, { resource: bridge.url, state: "s-down" });
    const form = await openLoginPage(url);
    // Metadata is cached since start-up: the outage shows at the callback's token exchange.
    const { upstream, cookies } = await consent(clientId, "s-down-2");
    const callback = await signInAtIdp(upstream, { account: "alice", redirectUri: `${bridge.origin}/oauth/callback` });
    idp.setDown(true);
    try {
      const back = await callbackWith(callback, cookies);
      const location = new URL(back.headers.get("location")!);
      assert.equal(location.searchParams.get("error"), "temporarily_unavailable");
      assert.equal(location.searchParams.get("state"), "s-down-2");
    } finally {
      idp.setDown(false);
    }
    assert.equal((await submitLogin(bridge.origin, form, {})).status, 303, "and sign-in works again once it is back");
  });
});

describe("federated mode through the CLI, the provider's token endpoint answering through a proxy that rewrites the ID token", () => {
  const proxied = { client_id: "mcp-bridge-proxied", client_secret: "proxied-secret-not-real-0123456789" };
  let bridge: RunningBridge;
  let proxy: Server;
  /** How the next ID token is rewritten (re-signed with the provider's own key, as a provider with these claims would). */
  let rewrite: (claims: JWTPayload) => JWTPayload = (claims) => claims;
  /** The key the next ID token is signed with, when not the provider's current one. */
  let signingKey: SigningKey | undefined;
  /** The provider's JWKS, through the proxy: how often it was asked, and whether it answers 503. */
  let jwksFetches = 0;
  let jwksDown = false;
  before(async () => {
    idp.accounts.set("mallory", { email: "mallory@example.com", email_verified: false });
    idp.accounts.set("alice", { email: "alice@example.com", email_verified: true });
    proxy = createServer(async (request, response) => {
      const origin = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
      if (request.url === "/.well-known/openid-configuration") {
        const metadata = (await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
        response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ ...metadata, token_endpoint: `${origin}/token`, jwks_uri: `${origin}/jwks` }));
        return;
      }
      if (request.url === "/jwks") {
        jwksFetches++;
        if (jwksDown) response.writeHead(503, { "content-type": "application/json" }).end('{"error":"down"}');
        else response.writeHead(200, { "content-type": "application/json" }).end(await (await fetch(`${idp.issuer}/jwks`)).text());
        return;
      }
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const answer = await fetch(`${idp.issuer}/token`, { method: "POST", headers: { "content-type": request.headers["content-type"]!, authorization: request.headers.authorization! }, body: Buffer.concat(chunks) });
      const body = (await answer.json()) as { id_token?: string };
      if (body.id_token) body.id_token = await idp.sign(rewrite(decodeJwt(body.id_token)), { header: { typ: "JWT" }, ...(signingKey && { key: signingKey }) });
      response.writeHead(answer.status, { "content-type": "application/json" }).end(JSON.stringify(body));
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    bridge = await startAsBridge({
      storage: { type: "memory" },
      oauthServer: {
        mode: "federated",
        builtin: { users: [] },
        federated: {
          upstream_issuer: idp.issuer,
          upstream_discovery_url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/.well-known/openid-configuration`,
          client_id: proxied.client_id,
          client_secret_env: "UPSTREAM_CLIENT_SECRET",
          allowed_domains: ["example.com"],
          default_scopes: ["mcp:read"],
        },
      },
      env: { UPSTREAM_CLIENT_SECRET: proxied.client_secret },
    });
    await idp.registerClient({ ...proxied, redirect_uris: [`${bridge.origin}/oauth/callback`] });
  });
  after(async () => {
    await bridge?.stop();
    proxy?.closeAllConnections();
    proxy?.close();
  });

  /** Consent, sign-in at the provider as `account`, callback: the redirect back to the client. */
  async function signInAs(account: string, extra: Record<string, string> = {}): Promise<URL> {
    const { client_id: clientId } = await registerClient(bridge.origin);
    const { url } = authorizeUrl(bridge.origin, clientId, { resource: bridge.url, state: `s-${account}` });
    for (const [name, value] of Object.entries(extra)) url.searchParams.set(name, value);
    const form = await openLoginPage(url);
    const allow = await submitLogin(bridge.origin, form, {});
    assert.equal(allow.status, 303, await allow.text());
    const callback = await signInAtIdp(allow.headers.get("location")!, { account, redirectUri: `${bridge.origin}/oauth/callback` });
    const back = await confirmCallback(bridge.origin, await fetch(callback, { redirect: "manual", headers: { cookie: cookieHeader({ ...form.cookies, ...cookiesOf(allow) }) } }));
    assert.equal(back.status, 303, await back.text());
    return new URL(back.headers.get("location")!);
  }

  test("an untouched ID token signs in (the proxy itself changes nothing)", async () => {
    rewrite = (claims) => claims;
    assert.ok((await signInAs("alice")).searchParams.get("code"));
  });

  test("an ID token issued a day ahead of the bridge's clock is refused: server_error, no code", async () => {
    const now = Math.floor(Date.now() / 1000);
    rewrite = (claims) => ({ ...claims, iat: now + 86_400, exp: now + 90_000 });
    const back = await signInAs("alice");
    assert.equal(back.searchParams.get("error"), "server_error");
    assert.equal(back.searchParams.get("code"), null);
    assert.match(bridge.logs(), /login_failed[^\n]*iat/);
  });

  test("email_verified: true in an ID token that names no email does not vouch for UserInfo's unverified address", async () => {
    rewrite = (claims) => ({ ...claims, email_verified: true });
    const back = await signInAs("mallory");
    assert.equal(back.searchParams.get("error"), "access_denied");
    assert.equal(back.searchParams.get("code"), null);
  });

  test("an ID token for this client whose azp names another (OIDC Core §3.1.3.7 step 5; one audience) is refused: server_error, no code", async () => {
    rewrite = (claims) => ({ ...claims, azp: "other-app" });
    const back = await signInAs("alice");
    assert.equal(back.searchParams.get("error"), "server_error");
    assert.equal(back.searchParams.get("code"), null);
    assert.match(bridge.logs(), /login_failed[^\n]*azp/);
  });

  test("a verified email that is no plain mailbox (two @, a quoted local part, a list, angle brackets, a line break, a NUL, a bidi override, half a surrogate pair) counts as none: outside allowed_domains, no code", async () => {
    for (const email of ["alice@example.com@example.com", '"alice@evil.test"@example.com', "mallory@evil.test,alice@example.com", "mallory<x>@example.com", "alice\n@example.com", "alice\u0000@example.com", "alice\u202e@example.com", "alice\ud800@example.com"]) {
      rewrite = (claims) => ({ ...claims, email, email_verified: true });
      const back = await signInAs("alice");
      assert.equal(back.searchParams.get("error"), "access_denied", JSON.stringify(email));
      assert.equal(back.searchParams.get("code"), null, JSON.stringify(email));
    }
    rewrite = (claims) => ({ ...claims, email: "Alice@Example.com", email_verified: true });
    assert.ok((await signInAs("alice")).searchParams.get("code"), "a plain mailbox still signs in");
  });

  test("prompt=login answered with an auth_time from before the sign-in began (the provider did not sign the person in again) is refused: server_error, no code", async () => {
    rewrite = (claims) => ({ ...claims, auth_time: Math.floor(Date.now() / 1000) - 86_400 });
    const stale = await signInAs("alice", { prompt: "login" });
    assert.equal(stale.searchParams.get("error"), "server_error");
    assert.equal(stale.searchParams.get("code"), null);
    assert.match(bridge.logs(), /login_failed[^\n]*auth_time predates/);
    assert.ok((await signInAs("alice")).searchParams.get("code"), "without prompt=login an old sign-in at the provider is fine");
    rewrite = (claims) => ({ ...claims, auth_time: Math.floor(Date.now() / 1000) });
    assert.ok((await signInAs("alice", { prompt: "login" })).searchParams.get("code"), "a fresh auth_time signs in");
  });

  test("prompt=login answered with no auth_time at all (prompt and max_age dropped from the provider's URL, an old sign-in reused) is refused: server_error, no code", async () => {
    rewrite = ({ auth_time: _dropped, ...claims }) => claims;
    const back = await signInAs("alice", { prompt: "login" });
    assert.equal(back.searchParams.get("error"), "server_error");
    assert.equal(back.searchParams.get("code"), null);
    assert.match(bridge.logs(), /login_failed[^\n]*no auth_time/);
    assert.ok((await signInAs("alice")).searchParams.get("code"), "without prompt=login none is needed");
  });

  test("keys the provider cannot serve are asked for once per cooldown, not at every sign-in; the keys fetched before still sign people in", { timeout: 60_000 }, async () => {
    rewrite = (claims) => claims;
    assert.ok((await signInAs("alice")).searchParams.get("code"), "signed in: the bridge holds the provider's keys");
    await sleep(JWKS_REFETCH_COOLDOWN_MS);
    jwksDown = true;
    try {
      const before = jwksFetches;
      for (let i = 0; i < 3; i++) assert.ok((await signInAs("alice")).searchParams.get("code"), "the keys fetched before still count");
      assert.equal(jwksFetches - before, 1, "one fetch of the keys for three sign-ins within the cooldown");
      assert.match(bridge.logs(), /keys could not be fetched again/);
    } finally {
      jwksDown = false;
    }
  });

  // Last in this describe: the provider's keys change for every bridge of this file.
  test("a key the provider withdrew from its JWKS stops counting once the keys are fetched again (at most once per cooldown, at a sign-in)", { timeout: 60_000 }, async () => {
    rewrite = (claims) => claims;
    assert.ok((await signInAs("alice")).searchParams.get("code"), "signed in: the bridge holds the provider's keys");
    const withdrawn = idp.keys[0]!;
    await idp.rotateKeys();
    signingKey = withdrawn;
    try {
      await sleep(JWKS_REFETCH_COOLDOWN_MS);
      const back = await signInAs("alice");
      assert.equal(back.searchParams.get("code"), null, "an ID token signed with the withdrawn key signed someone in");
      assert.equal(back.searchParams.get("error"), "server_error");
    } finally {
      signingKey = undefined;
    }
    assert.ok((await signInAs("alice")).searchParams.get("code"), "the provider's current key signs in");
  });
});

describe("what a sign-in led to ends when the identity source changes (a restart on the same state directory)", () => {
  const clients = ["mcp-bridge-source-a", "mcp-bridge-source-b"].map((client_id) => ({ client_id, client_secret: `${client_id}-secret-not-real-0123` }));
  /** The provider named by its issuer, or by the well-known URL of its metadata (the same provider). */
  const federated = (client: (typeof clients)[number], named: "issuer" | "discovery_url") => ({
    mode: "federated",
    builtin: { users: [] },
    federated: {
      ...(named === "issuer" ? { upstream_issuer: idp.issuer } : { upstream_discovery_url: `${idp.issuer}/.well-known/openid-configuration` }),
      client_id: client.client_id,
      client_secret_env: "UPSTREAM_CLIENT_SECRET",
      default_scopes: ["mcp:read"],
    },
  });
  const start = (directory: string, client?: (typeof clients)[number], named: "issuer" | "discovery_url" = "issuer") =>
    startAsBridge({ storage: { type: "file", path: directory }, ...(client && { oauthServer: federated(client, named), env: { UPSTREAM_CLIENT_SECRET: client.client_secret } }) });
  const refresh = (bridge: RunningBridge, clientId: string, refreshToken: string) => postForm(`${bridge.origin}/token`, { grant_type: "refresh_token", refresh_token: refreshToken, client_id: clientId });

  /** A refresh token and its client, from a federated sign-in as `account` at `bridge`. */
  async function federatedGrant(bridge: RunningBridge, client: (typeof clients)[number], account: string): Promise<{ clientId: string; refreshToken: string }> {
    await idp.registerClient({ ...client, redirect_uris: [`${bridge.origin}/oauth/callback`] });
    const { client_id: clientId } = await registerClient(bridge.origin);
    const { url, verifier } = authorizeUrl(bridge.origin, clientId, { resource: bridge.url });
    const form = await openLoginPage(url);
    const allow = await submitLogin(bridge.origin, form, {});
    assert.equal(allow.status, 303, await allow.text());
    const callback = await signInAtIdp(allow.headers.get("location")!, { account, redirectUri: `${bridge.origin}/oauth/callback` });
    const back = await confirmCallback(bridge.origin, await fetch(callback, { redirect: "manual", headers: { cookie: cookieHeader({ ...form.cookies, ...cookiesOf(allow) }) } }));
    const code = new URL(back.headers.get("location")!).searchParams.get("code");
    assert.ok(code, `a code comes back: ${back.headers.get("location")}`);
    const tokens = (await (await redeem(bridge.origin, clientId, code, verifier, { resource: bridge.url })).json()) as { refresh_token?: string };
    assert.ok(tokens.refresh_token, JSON.stringify(tokens));
    return { clientId, refreshToken: tokens.refresh_token };
  }

  async function refusedAfter(directory: string, client: (typeof clients)[number], grant: { clientId: string; refreshToken: string }, what: string): Promise<void> {
    const bridge = await start(directory, client);
    try {
      const answer = await refresh(bridge, grant.clientId, grant.refreshToken);
      const body = (await answer.json()) as { error?: string };
      assert.equal(answer.status, 400, `${what}: ${JSON.stringify(body)}`);
      assert.equal(body.error, "invalid_grant", what);
    } finally {
      await bridge.stop();
    }
  }

  test("a built-in user's refresh token is refused once the bridge signs people in at a provider, where that subject is someone else's", { timeout: 120_000 }, async () => {
    const directory = tempDir();
    const builtin = await start(directory);
    let grant: { clientId: string; refreshToken: string };
    try {
      const { clientId, tokens } = await fullFlow(builtin, ALICE);
      grant = { clientId, refreshToken: tokens.refresh_token! };
    } finally {
      await builtin.stop();
    }
    await refusedAfter(directory, clients[0]!, grant, "builtin, then federated");
  });

  test("a provider's sign-in keeps refreshing across restarts, also with the provider named by its discovery URL instead, and is refused once the bridge is another client at the provider (pairwise subjects)", { timeout: 120_000 }, async () => {
    idp.accounts.set("tester", { email: "tester@example.com", email_verified: true });
    const directory = tempDir();
    let bridge = await start(directory, clients[0]);
    let grant: { clientId: string; refreshToken: string };
    try {
      grant = await federatedGrant(bridge, clients[0]!, "tester");
    } finally {
      await bridge.stop();
    }
    bridge = await start(directory, clients[0], "discovery_url");
    try {
      const answer = await refresh(bridge, grant.clientId, grant.refreshToken);
      const tokens = (await answer.json()) as { refresh_token?: string; access_token?: string };
      assert.equal(answer.status, 200, `the same provider (named by its discovery URL) and client after a restart: ${JSON.stringify(tokens)}`);
      assert.equal(decodeJwt(tokens.access_token!).sub, "tester");
      grant = { clientId: grant.clientId, refreshToken: tokens.refresh_token! };
    } finally {
      await bridge.stop();
    }
    await refusedAfter(directory, clients[1]!, grant, "another client at the provider");
  });
});

describe("federated configuration through the CLI", () => {
  const config = (federated: Record<string, unknown>) =>
    writeConfig({
      mode: "server",
      storage: { type: "memory" },
      server: { mcp_server: { command: process.execPath, args: [ECHO_SERVER] }, oauth_server: { enabled: true, mode: "federated", signing: { generate_key: true }, federated } },
    });

  test("check-config names an unset client_secret_env variable and an http upstream, exit 2", async () => {
    const path = config({ upstream_issuer: "http://idp.example.com", client_id: "x", client_secret_env: "NOT_SET_ANYWHERE" });
    const bad = await runCli(["check-config", "-c", path]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /server\.oauth_server\.federated\.upstream_issuer: must be an https URL/);
    const unset = await runCli(["check-config", "-c", config({ upstream_issuer: "https://idp.example.com", client_id: "x", client_secret_env: "NOT_SET_ANYWHERE" })]);
    assert.equal(unset.code, 2);
    assert.match(unset.stderr, /server\.oauth_server\.federated\.client_secret_env: environment variable NOT_SET_ANYWHERE is not set/);
    const ok = await runCli(["check-config", "--quiet", "-c", config({ upstream_issuer: "https://idp.example.com", client_id: "x", client_secret_env: "SET_HERE" })], { env: { SET_HERE: "s" } });
    assert.equal(ok.code, 0, ok.stderr);
  });

  test("an unreachable provider does not stop the bridge: it warns, and the client is told temporarily_unavailable", async () => {
    // A port nothing listens on.
    const bridge = await startBridge(
      {
        storage: { type: "memory" },
        server: {
          mcp_server: { command: process.execPath, args: [ECHO_SERVER] },
          oauth_server: { enabled: true, mode: "federated", signing: { generate_key: true }, federated: { upstream_issuer: "http://127.0.0.1:9", client_id: "x", client_secret_env: "S" } },
        },
      },
      { env: { S: "secret-value-not-real" } },
    );
    try {
      await waitFor(() => /identity provider not usable yet/.test(bridge.logs()), "the unusable identity provider in the log");
      assert.doesNotMatch(bridge.logs(), /secret-value-not-real/);
      const { client_id: clientId } = await registerClient(bridge.origin);
      const form = await openLoginPage(authorizeUrl(bridge.origin, clientId, { resource: bridge.url, state: "s-x" }).url);
      const allow = await submitLogin(bridge.origin, form, {});
      assert.equal(allow.status, 303);
      const location = new URL(allow.headers.get("location")!);
      assert.equal(location.origin + location.pathname, CLAUDE_CALLBACK);
      assert.equal(location.searchParams.get("error"), "temporarily_unavailable");
      assert.equal(location.searchParams.get("state"), "s-x");
    } finally {
      await bridge.stop();
    }
  });
});

describe("federated mode under Deno", { timeout: 120_000 }, () => {
  test("consent, sign-in at the provider, code, token, /mcp — the same flow on `deno run`", async () => {
    const bridge = await startBridge(
      {
        storage: { type: "memory" },
        server: {
          mcp_server: { command: "node", args: [ECHO_SERVER] },
          oauth_server: { enabled: true, mode: "federated", signing: { generate_key: true }, federated: { upstream_issuer: idp.issuer, client_id: "deno-bridge", client_secret_env: "S", default_scopes: ["mcp:read"] } },
        },
      },
      { launcher: { command: DENO, args: ["run", "-A", join(ROOT, "src", "main.ts")], env: { HOME: process.env.HOME ?? "/root", PATH: process.env.PATH ?? "/usr/bin:/bin", DENO_NO_UPDATE_CHECK: "1", S: UPSTREAM.client_secret }, cwd: tempDir() } },
    );
    try {
      idp.accounts.set("alice", { email: "alice@example.com", email_verified: true });
      await idp.registerClient({ client_id: "deno-bridge", client_secret: UPSTREAM.client_secret, redirect_uris: [`${bridge.origin}/oauth/callback`] });
      const { client_id: clientId } = await registerClient(bridge.origin);
      const { url, verifier } = authorizeUrl(bridge.origin, clientId, { resource: bridge.url });
      const form = await openLoginPage(url);
      const allow = await submitLogin(bridge.origin, form, {});
      assert.equal(allow.status, 303);
      const callback = await signInAtIdp(allow.headers.get("location")!, { account: "alice", redirectUri: `${bridge.origin}/oauth/callback` });
      const back = await confirmCallback(bridge.origin, await fetch(callback, { redirect: "manual", headers: { cookie: cookieHeader({ ...form.cookies, ...cookiesOf(allow) }) } }));
      assert.equal(back.status, 303, await back.text());
      const code = new URL(back.headers.get("location")!).searchParams.get("code")!;
      const tokens = (await (await redeem(bridge.origin, clientId, code, verifier, { resource: bridge.url })).json()) as { access_token: string };
      assert.equal(decodeJwt(tokens.access_token).sub, "alice");
      assert.equal((await initializeWith(bridge.url, tokens.access_token)).status, 200);
    } finally {
      await bridge.stop();
    }
  });
});

