/**
 * @module Client mode, authorization code + PKCE for a person: oidc-provider as the authorization
 * server (dynamic registration, login form, RFC 9207 iss), the bridge's server mode as the MCP
 * server answering 401 + PRM, and a browser_command that signs in. Then the cache, refresh, several
 * instances sharing one login, and the attacks on the callback.
 */
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, watch, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import type { RunningBridge } from "../support/bridge.ts";
import { signInAtIdp, useOAuthBridge, type Idp } from "../auth-oauth/support.ts";
import { waitFor } from "../support/poll.ts";
import { call, callbackAnswers, claimsOf, makeSource, opened, testBrowser } from "./support.ts";

const BROWSER = await testBrowser.fetch();

/** browser_command running the fetch-based browser with `options`, logging each URL it opens to `log`. */
function browser(log: string, ...options: string[]) {
  return [process.execPath, BROWSER, ...options];
}

describe("authorization code + PKCE against oidc-provider and the bridge's server mode", () => {
  let idp: Idp;
  let bridge: RunningBridge;
  const work = mkdtempSync(join(tmpdir(), "mcp-bridge-authcode-"));
  useOAuthBridge({ accounts: { alice: { email: "alice@example.com" } } }, (started) => ({ idp, bridge } = started));

  function source(name: string, oauth: Record<string, unknown> = {}, browserOptions: string[] = []) {
    const log = join(work, `${name}.log`);
    const dataDir = join(work, name);
    process.env.MCP_TEST_BROWSER_LOG = log;
    return { log, dataDir, make: (dir = dataDir) => makeSource({ type: "oauth", oauth: { browser_command: browser(log, ...browserOptions), authorization_timeout: "60s", ...oauth } }, bridge.url, { dataDir: dir }) };
  }

  test("401 → PRM → AS metadata → registration → sign-in in the browser → token for this server; cached 0600 for the next start", async () => {
    const { log, dataDir, make } = source("happy");
    const registrations = idp.count("/reg");
    const { source: first, logger, stderr } = await make();
    const response = await call(first, bridge.url);
    assert.equal(response.status, 200, `${logger.text()}\n${stderr()}`);
    const header = await first.authorization();
    const claims = claimsOf(header);
    assert.equal(claims.aud, bridge.url, "resource sent in the authorization and token requests");
    assert.match(String(claims.scope), /mcp:read/);
    assert.equal(idp.count("/reg"), registrations + 1, "one dynamic registration");

    const [url] = opened(log);
    assert.ok(url, "browser_command got the authorization URL as its last argument");
    const params = new URL(url).searchParams;
    assert.equal(params.get("code_challenge_method"), "S256");
    assert.ok(params.get("code_challenge") && params.get("state"));
    assert.equal(params.get("resource"), bridge.url);
    assert.match(params.get("redirect_uri")!, /^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    assert.match(stderr(), /sign-in required/);
    assert.ok(!logger.text().includes(header!.slice(7, 40)), "no token in the log");

    const files = readdirSync(dataDir).filter((file) => file.endsWith(".json"));
    assert.equal(files.length, 1);
    const cacheFile = join(dataDir, files[0]!);
    assert.equal(statSync(cacheFile).mode & 0o777, 0o600);
    assert.equal(statSync(dataDir).mode & 0o777, 0o700);
    const cached = JSON.parse(readFileSync(cacheFile, "utf8"));
    assert.equal(cached.current, idp.issuer, "keyed by the issuer");

    // A second start reuses the cached token: no browser, no registration.
    const { source: second } = await make();
    assert.equal(await second.authorization(), header);
    assert.equal((await call(second, bridge.url)).status, 200);
    assert.equal(opened(log).length, 1, "no second sign-in");
  });

  test("a pre-registered client with configured endpoints (no discovery): authorization_url + token_url", async () => {
    const registered = await fetch(`${idp.issuer}/reg`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ application_type: "native", redirect_uris: ["http://127.0.0.1/callback"], token_endpoint_auth_method: "none", grant_types: ["authorization_code"], response_types: ["code"] }),
    });
    assert.equal(registered.status, 201, await registered.clone().text());
    const { client_id } = (await registered.json()) as { client_id: string };
    const { log, make } = source("configured-endpoints", { client_id, token_url: `${idp.issuer}/token`, authorization_url: `${idp.issuer}/auth`, issuer: idp.issuer, scopes: ["mcp:read"] });
    const { source: s, logger } = await make();
    const seen = idp.count("/.well-known/openid-configuration") + idp.count("/.well-known/oauth-authorization-server");
    assert.equal((await call(s, bridge.url)).status, 200, logger.text());
    assert.equal(idp.count("/.well-known/openid-configuration") + idp.count("/.well-known/oauth-authorization-server"), seen, "no metadata fetched");
    assert.equal(new URL(opened(log)[0]!).searchParams.get("client_id"), client_id);
  });

  test("an expired token is refreshed with the refresh token, without the browser", async () => {
    const { log, dataDir, make } = source("refresh");
    const { source: first } = await make();
    assert.equal((await call(first, bridge.url)).status, 200);
    const files = readdirSync(dataDir).filter((file) => file.endsWith(".json"));
    const cacheFile = join(dataDir, files[0]!);
    const cached = JSON.parse(readFileSync(cacheFile, "utf8"));
    const state = cached.issuers[cached.current];
    assert.ok(state.tokens.refreshToken, "offline_access was asked for (the AS offers it), so a refresh token came");
    // The next start finds a token past its expiry.
    state.tokens.expiresAt = Date.now() - 1000;
    writeFileSync(cacheFile, JSON.stringify(cached), { mode: 0o600 });
    const refreshes = idp.count("/token");
    const { source: second } = await make();
    const header = await second.authorization();
    assert.notEqual(header?.slice(7), state.tokens.accessToken);
    assert.equal(idp.count("/token"), refreshes + 1, "one refresh grant");
    assert.equal((await call(second, bridge.url)).status, 200);
    assert.equal(opened(log).length, 1, "the browser opened once, for the first sign-in only");
  });

  test("a client the authorization server no longer knows (refresh answers invalid_client) is registered anew", async () => {
    const { log, dataDir, make } = source("forgotten-client");
    const { source: first } = await make();
    assert.equal((await call(first, bridge.url)).status, 200);
    const cacheFile = join(dataDir, readdirSync(dataDir).find((file) => file.endsWith(".json"))!);
    const cached = JSON.parse(readFileSync(cacheFile, "utf8"));
    const state = cached.issuers[cached.current];
    // The AS lost the registration (e.g. its store was reset); the token the server had accepted is gone too.
    state.registration.clientId = "client-the-as-forgot";
    state.tokens.accessToken = "token-the-server-refuses";
    writeFileSync(cacheFile, JSON.stringify(cached), { mode: 0o600 });
    const registrations = idp.count("/reg");
    const { source: second, logger } = await make();
    assert.equal((await call(second, bridge.url)).status, 200, logger.text());
    assert.match(logger.text(), /refresh refused; authorizing again.*invalid_client/s);
    assert.equal(idp.count("/reg"), registrations + 1, "registered again");
    assert.equal(opened(log).length, 2);
  });

  test("several instances starting at once share one sign-in instead of racing for the browser", async () => {
    const { log, dataDir, make } = source("shared");
    // An instance waiting for the login lock takes it as soon as it is released and looks in the
    // cache: the tokens must be there by then, or it signs in a second time.
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const cachedAtRelease: boolean[] = [];
    const watcher = watch(dataDir, (_event, file) => {
      if (!file?.endsWith(".json.lock") || existsSync(join(dataDir, file))) return;
      const cacheFile = join(dataDir, file.slice(0, -".lock".length));
      const cached = existsSync(cacheFile) ? JSON.parse(readFileSync(cacheFile, "utf8")) : undefined;
      cachedAtRelease.push(Boolean(cached?.issuers?.[cached.current]?.tokens));
    });
    try {
      const sources = await Promise.all([make(), make(), make()]);
      const responses = await Promise.all(sources.map(({ source }) => call(source, bridge.url)));
      assert.deepEqual(responses.map((response) => response.status), [200, 200, 200]);
      assert.equal(opened(log).length, 1, "one browser sign-in for three instances");
      const headers = await Promise.all(sources.map(({ source }) => source.authorization()));
      assert.equal(new Set(headers).size, 1, "they share the token");
      assert.ok(cachedAtRelease.length > 0, "the login lock was taken and released");
      assert.ok(cachedAtRelease.every(Boolean), "the tokens were cached before the login lock was released");
    } finally {
      watcher.close();
    }
  });

  test("a login lock left by a crashed instance is broken once expired", async () => {
    const { log, dataDir, make } = source("stale-lock");
    const { source: first } = await make();
    assert.equal((await call(first, bridge.url)).status, 200);
    const cacheFile = join(dataDir, readdirSync(dataDir).find((file) => file.endsWith(".json"))!);
    // Another start finds no usable cache and a lock whose holder died long ago.
    writeFileSync(cacheFile, "{}", { mode: 0o600 });
    writeFileSync(`${cacheFile}.lock`, JSON.stringify({ until: Date.now() - 1000 }), { mode: 0o600 });
    const { source: second, logger } = await make();
    assert.equal((await call(second, bridge.url)).status, 200);
    assert.match(logger.text(), /breaking a stale login lock/);
    assert.equal(opened(log).length, 2);
    assert.ok(!existsSync(`${cacheFile}.lock`), "the lock is released after the sign-in");
  });

  test("a cache file others can read is not used (and is replaced), the user signs in again", async () => {
    const { log, dataDir, make } = source("perms");
    const { source: first } = await make();
    assert.equal((await call(first, bridge.url)).status, 200);
    const cacheFile = join(dataDir, readdirSync(dataDir).find((file) => file.endsWith(".json"))!);
    chmodSync(cacheFile, 0o644);
    const { source: second, logger } = await make();
    assert.equal(await second.authorization(), undefined, "no token from a world-readable cache");
    assert.match(logger.text(), /not private to this user/);
    assert.equal((await call(second, bridge.url)).status, 200);
    assert.equal(opened(log).length, 2);
    assert.equal(statSync(cacheFile).mode & 0o777, 0o600, "replaced with a private file");
  });

  test("a registration cached for another issuer is never used with this one", async () => {
    const { dataDir, make } = source("other-issuer");
    const { source: first } = await make();
    assert.equal((await call(first, bridge.url)).status, 200);
    const cacheFile = join(dataDir, readdirSync(dataDir).find((file) => file.endsWith(".json"))!);
    const cached = JSON.parse(readFileSync(cacheFile, "utf8"));
    // The cache claims the server used to be at another authorization server, with a client and tokens there.
    const stale = { ...cached.issuers[cached.current], registration: { clientId: "client-of-another-as", via: "dcr", redirectUri: "http://127.0.0.1:1/callback" } };
    cached.issuers = { "https://other-as.example": { ...stale, tokens: { ...stale.tokens, accessToken: "token-from-another-as" } } };
    cached.current = "https://other-as.example";
    writeFileSync(cacheFile, JSON.stringify(cached), { mode: 0o600 });
    const registrations = idp.count("/reg");
    const { source: second } = await make();
    assert.equal((await call(second, bridge.url)).status, 200, "the server refuses the other AS's token; discovery finds this AS; a new registration");
    assert.equal(idp.count("/reg"), registrations + 1);
    const after = JSON.parse(readFileSync(cacheFile, "utf8"));
    assert.equal(after.current, idp.issuer);
    assert.notEqual(after.issuers[idp.issuer].registration.clientId, "client-of-another-as");
  });

  test("an authorization response with another iss (mix-up) is refused before the code is redeemed", async () => {
    const { make } = source("wrong-iss", {}, ["--tamper", "iss=https://attacker.example"]);
    const { source: s, logger } = await make();
    const tokens = idp.count("/token");
    assert.equal((await call(s, bridge.url)).status, 401);
    assert.match(logger.text(), /authorization response rejected: unexpected .{1,2}iss.{1,2} \(issuer\)/);
    assert.equal(idp.count("/token"), tokens, "the code never reached the token endpoint");
  });

  test("an authorization response without iss, from a server that promised it, is refused", async () => {
    const { make } = source("no-iss", {}, ["--drop", "iss"]);
    const { source: s, logger } = await make();
    const tokens = idp.count("/token");
    assert.equal((await call(s, bridge.url)).status, 401);
    assert.match(logger.text(), /.iss.{1,2} \(issuer\) missing/);
    assert.equal(idp.count("/token"), tokens);
  });

  test("a callback with another state is ignored (the sign-in times out), never redeemed", async () => {
    // Long enough for the browser to start and reach the listener on a busy machine; the wait is what the test is about, not its length.
    const { log, make } = source("wrong-state", { authorization_timeout: "8s" }, ["--tamper", "state=forged"]);
    const { source: s, logger } = await make();
    const tokens = idp.count("/token");
    assert.equal((await call(s, bridge.url)).status, 401);
    assert.match(logger.text(), /sign-in not completed: no sign-in completed within 8 s/);
    assert.deepEqual(callbackAnswers(log), ["400 Sign-in not recognised"], "the browser reached the listener and was refused");
    assert.equal(idp.count("/token"), tokens);
  });

  test("a callback reaching the listener under another Host (DNS rebinding from a web page) is refused", async () => {
    // The timeout leaves a slow browser start (a busy machine) time to reach the listener.
    const { log, make } = source("rebinding", { authorization_timeout: "8s" }, ["--host", "attacker.example:80"]);
    const { source: s, logger } = await make();
    const tokens = idp.count("/token");
    assert.equal((await call(s, bridge.url)).status, 401);
    assert.match(logger.text(), /sign-in not completed/);
    assert.equal(opened(log).length, 1);
    assert.deepEqual(callbackAnswers(log), ["400 Wrong address"], "the browser reached the listener and was refused");
    assert.equal(idp.count("/token"), tokens);
  });

  test("headless (browser_command: none): the URL is printed; signing in elsewhere and opening the callback address here completes it", async () => {
    const { source: s, stderr } = await makeSource({ type: "oauth", oauth: { browser_command: "none", authorization_timeout: "60s" } }, bridge.url, { dataDir: join(work, "headless") });
    const pending = call(s, bridge.url);
    const printed = await waitFor(() => /^\s+(http:\/\/127\.0\.0\.1:\d+\/auth\?\S+)$/m.exec(stderr())?.[1], () => `the authorization URL printed to stderr:\n${stderr()}`);
    assert.match(stderr(), /copy the address of the page that fails to load/);
    // Another machine's browser signs in; its redirect to 127.0.0.1 fails there, so the person copies it…
    const callback = await signInAtIdp(printed, { account: "alice", redirectUri: new URL(printed).searchParams.get("redirect_uri")! });
    // …and opens it on this machine (curl).
    const delivered = await fetch(callback);
    assert.equal(delivered.status, 200);
    assert.equal((await pending).status, 200);
  });

  test("closing the source (the bridge shuts down) ends a sign-in in progress and its listener", async () => {
    const { source: s, stderr } = await makeSource({ type: "oauth", oauth: { browser_command: "none", authorization_timeout: "5m" } }, bridge.url, { dataDir: join(work, "closing") });
    const pending = call(s, bridge.url);
    const redirect = await waitFor(() => /redirect_uri=([^&\s]+)/.exec(stderr())?.[1], () => `the redirect URI printed to stderr:\n${stderr()}`);
    await s.close();
    assert.equal((await pending).status, 401, "the request ends now, not after authorization_timeout");
    await assert.rejects(fetch(decodeURIComponent(redirect)), "the callback port is closed");
  });

  test("the person refusing consent ends the attempt with the server's error code", async () => {
    const { make } = source("deny", {}, ["--deny"]);
    const { source: s, logger } = await make();
    assert.equal((await call(s, bridge.url)).status, 401);
    assert.match(logger.text(), /refused the sign-in \(access_denied\)/);
    assert.ok(!logger.text().includes("<script>"), "the server's description is not repeated");
  });
});

describe("step-up on 403 insufficient_scope", () => {
  let bridge: RunningBridge;
  const work = mkdtempSync(join(tmpdir(), "mcp-bridge-stepup-"));
  useOAuthBridge({ accounts: { alice: {} }, oauth: { method_scopes: { "tools/call": ["mcp:write"] } } }, (started) => ({ bridge } = started));

  test("a person signs in again for the union of the scopes held and the scopes the challenge names", async () => {
    const log = join(work, "browser.log");
    process.env.MCP_TEST_BROWSER_LOG = log;
    const { source } = await makeSource({ type: "oauth", oauth: { browser_command: browser(log), authorization_timeout: "60s" } }, bridge.url, { dataDir: join(work, "data") });
    const initialized = await call(source, bridge.url);
    assert.equal(initialized.status, 200);
    const session = initialized.headers.get("mcp-session-id")!;
    const headers = { "mcp-session-id": session, "mcp-protocol-version": "2025-06-18" };
    await call(source, bridge.url, { jsonrpc: "2.0", method: "notifications/initialized" }, headers);
    const response = await call(source, bridge.url, { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "echo", arguments: { text: "hi" } } }, headers);
    assert.equal(response.status, 200, "refused with 403, stepped up, retried");
    const scopes = String(claimsOf(await source.authorization()).scope).split(" ");
    assert.ok(scopes.includes("mcp:read") && scopes.includes("mcp:write"), `union of scopes, got ${scopes.join(" ")}`);
    const urls = opened(log);
    assert.equal(urls.length, 2, "signed in, then stepped up once");
    assert.deepEqual(new URL(urls[1]!).searchParams.get("scope")!.split(" ").sort(), ["mcp:read", "mcp:write", "offline_access"]);
  });

  test("client credentials step up too, and give up after three authorizations for the same scopes", async () => {
    const { M2M_CLIENT } = await import("../auth-oauth/support.ts");
    const { source, logger } = await makeSource({ type: "oauth", oauth: { client_id: M2M_CLIENT.id, client_secret: M2M_CLIENT.secret } }, bridge.url);
    const initialized = await call(source, bridge.url);
    assert.equal(initialized.status, 200);
    const headers = { "mcp-session-id": initialized.headers.get("mcp-session-id")!, "mcp-protocol-version": "2025-06-18" };
    const response = await call(source, bridge.url, { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "echo", arguments: { text: "hi" } } }, headers);
    assert.equal(response.status, 200);
    // A challenge the server will never be satisfied with (a scope the IdP does not grant):
    const impossible = { status: 403 as const, wwwAuthenticate: 'Bearer error="insufficient_scope", scope="mcp:nonexistent"', resourceUrl: bridge.url };
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(await source.handleChallenge(impossible));
    assert.ok(answers.slice(3).every((answer) => answer === false), `gave up after at most three tries: ${answers}`);
    assert.match(logger.text(), /keeps refusing tokens|invalid_scope/);
  });

  test("a server naming a new scope in every challenge gets six authorizations in all, not three per scope without end", async () => {
    const { M2M_CLIENT } = await import("../auth-oauth/support.ts");
    const { source, logger } = await makeSource({ type: "oauth", oauth: { client_id: M2M_CLIENT.id, client_secret: M2M_CLIENT.secret } }, bridge.url);
    assert.equal((await call(source, bridge.url)).status, 200);
    const answers = [];
    for (let i = 0; i < 12; i++) {
      answers.push(await source.handleChallenge({ status: 403, wwwAuthenticate: `Bearer error="insufficient_scope", scope="mcp:made-up-${i}"`, resourceUrl: bridge.url }));
    }
    assert.equal(answers.filter((answer) => answer !== false).length, 5, `the first sign-in and five step-ups: ${answers}`);
    assert.ok(answers.slice(5).every((answer) => answer === false));
    assert.match(logger.text(), /keeps refusing tokens/);
  });
});
