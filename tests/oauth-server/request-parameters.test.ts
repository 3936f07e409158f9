/**
 * @module Request parameters the authorization server must act on rather than ignore, through the
 * built CLI over HTTP: RFC 8707 resources repeated at /token, authorization request parameters
 * asking for something the server does not do (response_mode, prompt, max_age), and the revocation
 * of an access token, which it cannot revoke.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ALICE, authorizeUrl, CLAUDE_CALLBACK, cookieHeader, cookiesOf, fullFlow, openLoginPage, postForm, registerClient, signIn, submitLogin, useAsBridge } from "./support.ts";

describe("RFC 8707 resource repeated at /token", () => {
  const bridge = useAsBridge({ storage: { type: "memory" } });

  test("a foreign resource among several is invalid_target (RFC 8707 §2), not invalid_request; this server's own, written twice, is fine; a malformed scope at a refresh is invalid_scope", async () => {
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
    // A malformed scope at a refresh is invalid_scope (RFC 6749 §5.2), as at /authorize — not ignored like an unknown name.
    for (const scope of ['mcp:read "x', "mcp:read a\\b"]) {
      const malformed = await fetch(`${bridge.origin}/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id: clientId, scope }) });
      assert.equal(malformed.status, 400, scope);
      assert.equal(((await malformed.json()) as { error: string }).error, "invalid_scope", scope);
    }
    // Other parameters still may not repeat (RFC 6749 §3.1).
    const twice = await fetch(`${bridge.origin}/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: `grant_type=refresh_token&grant_type=refresh_token&client_id=${clientId}&refresh_token=x` });
    assert.equal(((await twice.json()) as { error: string }).error, "invalid_request");
  });
});

describe("authorization request parameters asking for what this server does not do", () => {
  const bridge = useAsBridge({ storage: { type: "memory" }, oauthServer: { login_session_lifetime: "1h" } });

  /** The error sent back to the client's redirect URI for `params` added to a valid request (with `cookies`). */
  async function refusal(clientId: string, params: Record<string, string>, cookies: Record<string, string> = {}, remove: string[] = []): Promise<URLSearchParams> {
    const { url } = authorizeUrl(bridge.origin, clientId, { state: "s-1" });
    for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
    for (const name of remove) url.searchParams.delete(name);
    const response = await fetch(url, { redirect: "manual", headers: Object.keys(cookies).length ? { cookie: cookieHeader(cookies) } : {} });
    assert.equal(response.status, 303, `${url.search}: ${await response.text()}`);
    const location = new URL(response.headers.get("location")!);
    assert.equal(location.origin + location.pathname, CLAUDE_CALLBACK);
    assert.equal(location.searchParams.get("state"), "s-1");
    assert.equal(location.searchParams.get("iss"), bridge.origin);
    assert.equal(location.searchParams.get("code"), null);
    return location.searchParams;
  }

  /** Signs in as ALICE and returns the browser's cookies (the login session among them). */
  async function signedInBrowser(clientId: string): Promise<Record<string, string>> {
    const form = await openLoginPage(authorizeUrl(bridge.origin, clientId).url);
    const response = await submitLogin(bridge.origin, form, { username: ALICE.username, password: ALICE.password });
    assert.equal(response.status, 303);
    return { ...form.cookies, ...cookiesOf(response) };
  }

  test("response_mode other than query (fragment, form_post, web_message) is invalid_request, never answered in the query the client does not read", async () => {
    const { client_id: clientId } = await registerClient(bridge.origin);
    for (const mode of ["fragment", "form_post", "web_message", "query.jwt"]) {
      assert.equal((await refusal(clientId, { response_mode: mode })).get("error"), "invalid_request", mode);
    }
    const { url } = authorizeUrl(bridge.origin, clientId);
    url.searchParams.set("response_mode", "query");
    await openLoginPage(url);
  });

  test("request and request_uri get the codes of RFC 9101 §10.2; a missing response_type is invalid_request, an unknown one unsupported_response_type", async () => {
    const { client_id: clientId } = await registerClient(bridge.origin);
    assert.equal((await refusal(clientId, { request: "eyJhbGciOiJub25lIn0.e30." })).get("error"), "request_not_supported");
    assert.equal((await refusal(clientId, { request_uri: "urn:ietf:params:oauth:request_uri:x" })).get("error"), "request_uri_not_supported");
    assert.equal((await refusal(clientId, {}, {}, ["response_type"])).get("error"), "invalid_request");
    assert.equal((await refusal(clientId, { response_type: "token" })).get("error"), "unsupported_response_type");
    // PKCE S256 only (OAuth 2.1 §4.1.1): no method (RFC 7636's default is plain), plain, or S256 in another case.
    for (const method of ["plain", "s256", "S512"]) assert.equal((await refusal(clientId, { code_challenge_method: method })).get("error"), "invalid_request", method);
    assert.equal((await refusal(clientId, {}, {}, ["code_challenge_method"])).get("error"), "invalid_request");
  });

  test("a repeated parameter goes back to the client as invalid_request (RFC 6749 §4.1.2.1), a repeated state not echoed; a repeated client_id or redirect_uri is the error page", async () => {
    const { client_id: clientId } = await registerClient(bridge.origin);
    // Appends each [name, value] to a valid request, which names each parameter once.
    const repeating = (...pairs: string[][]) => {
      const { url } = authorizeUrl(bridge.origin, clientId, { state: "s-1", scope: "mcp:read" });
      for (const [name, value] of pairs) url.searchParams.append(name!, value!);
      return fetch(url, { redirect: "manual" });
    };
    const twice = (name: string, value: string) => repeating([name, value]);
    for (const [name, value] of [["scope", "mcp:read"], ["code_challenge", "x".repeat(43)], ["response_type", "code"]]) {
      const response = await twice(name!, value!);
      assert.equal(response.status, 303, `${name}: ${await response.text()}`);
      const location = new URL(response.headers.get("location")!);
      assert.equal(location.searchParams.get("error"), "invalid_request", name);
      assert.equal(location.searchParams.get("state"), "s-1", name);
      assert.equal(location.searchParams.get("iss"), bridge.origin, name);
    }
    const state = await twice("state", "s-2");
    assert.equal(state.status, 303);
    const location = new URL(state.headers.get("location")!);
    assert.equal(location.searchParams.get("error"), "invalid_request");
    assert.equal(location.searchParams.get("state"), null, "neither state is echoed");
    // Another parameter repeated first does not hide a repeated state.
    const stateAfter = await repeating(["scope", "mcp:write"], ["state", "s-2"]);
    assert.equal(stateAfter.status, 303);
    assert.equal(new URL(stateAfter.headers.get("location")!).searchParams.get("state"), null, "neither state is echoed after another repeat");
    const { client_id: otherClient } = await registerClient(bridge.origin);
    for (const [name, value] of [["client_id", otherClient], ["redirect_uri", "http://127.0.0.1:1/other"]]) {
      // Alone, and after another repeated parameter (which once hid it: the error went to the first client's redirect URI).
      for (const response of [await twice(name!, value!), await repeating(["scope", "mcp:write"], [name!, value!])]) {
        assert.equal(response.status, 400, name);
        assert.equal(response.headers.get("location"), null, name);
        assert.match(await response.text(), new RegExp(`${name}.{0,12} is repeated`), name);
      }
    }
  });

  test("prompt=none shows no page: login_required without a login session, consent_required with one (this server always asks); malformed prompts are invalid_request", async () => {
    const { client_id: clientId } = await registerClient(bridge.origin);
    assert.equal((await refusal(clientId, { prompt: "none" })).get("error"), "login_required");
    const cookies = await signedInBrowser(clientId);
    assert.equal((await refusal(clientId, { prompt: "none" }, cookies)).get("error"), "consent_required");
    for (const prompt of ["none login", "none consent", "create", "bogus"]) {
      assert.equal((await refusal(clientId, { prompt })).get("error"), "invalid_request", prompt);
    }
    for (const maxAge of ["-1", "abc", "1.5", "1e3"]) {
      assert.equal((await refusal(clientId, { max_age: maxAge })).get("error"), "invalid_request", maxAge);
    }
  });

  test("prompt=login, select_account and max_age shorter than the login session's age ask for the password again, even when the form is sent without one", async () => {
    const { client_id: clientId } = await registerClient(bridge.origin);
    const cookies = await signedInBrowser(clientId);
    const pageFor = async (params: Record<string, string>) => {
      const { url } = authorizeUrl(bridge.origin, clientId);
      for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
      return openLoginPage(url, cookies);
    };
    assert.doesNotMatch((await pageFor({})).html, /type="password"/, "the login session signs in without a password");
    assert.doesNotMatch((await pageFor({ max_age: "3600" })).html, /type="password"/, "a session younger than max_age counts");
    assert.doesNotMatch((await pageFor({ prompt: "consent" })).html, /type="password"/, "consent is asked anyway");
    for (const params of [{ prompt: "login" }, { prompt: "select_account" }, { max_age: "0" }, { prompt: "consent login" }] as Record<string, string>[]) {
      const form = await pageFor(params);
      assert.match(form.html, /type="password"/, JSON.stringify(params));
      // Sent without credentials, as a page that hid the fields would: the old session does not count.
      const sent = await submitLogin(bridge.origin, form, {});
      assert.notEqual(sent.status, 303, `${JSON.stringify(params)}: no code without signing in again`);
      assert.match(await sent.text(), /Enter your username and password/);
    }
    const form = await pageFor({ prompt: "login" });
    const again = await submitLogin(bridge.origin, form, { username: ALICE.username, password: ALICE.password });
    assert.equal(again.status, 303);
    assert.ok(new URL(again.headers.get("location")!).searchParams.get("code"));
  });
});

describe("RFC 7009 revocation of a token this server cannot revoke", () => {
  const bridge = useAsBridge({ storage: { type: "memory" } });

  test("an access token at /oauth/revoke is unsupported_token_type (RFC 7009 §2.2.1), not a 200 the client takes for its end; the refresh token still revokes the grant", async () => {
    const { clientId, tokens } = await fullFlow(bridge);
    for (const hint of [{}, { token_type_hint: "access_token" }, { token_type_hint: "refresh_token" }] as Record<string, string>[]) {
      const response = await postForm(`${bridge.origin}/oauth/revoke`, { token: tokens.access_token, client_id: clientId, ...hint });
      assert.equal(response.status, 400, JSON.stringify(hint));
      const body = (await response.json()) as { error: string; error_description: string };
      assert.equal(body.error, "unsupported_token_type");
      assert.ok(!body.error_description.includes(tokens.access_token), "the token is not repeated");
    }
    const revoked = await postForm(`${bridge.origin}/oauth/revoke`, { token: tokens.refresh_token!, client_id: clientId, token_type_hint: "access_token" });
    assert.equal(revoked.status, 200, "a wrong hint does not matter (RFC 7009 §2.1)");
    const refresh = await postForm(`${bridge.origin}/token`, { grant_type: "refresh_token", refresh_token: tokens.refresh_token!, client_id: clientId });
    assert.equal(((await refresh.json()) as { error: string }).error, "invalid_grant");
  });
});

describe("methods an endpoint does not serve", () => {
  const bridge = useAsBridge({ storage: { type: "memory" } });

  test("get 405 with Allow and a JSON body (RFC 9110 §15.5.6), not 404 as if nothing were there; an unknown path stays 404", async () => {
    const cases: [string, string, string][] = [
      ["GET", "/oauth/token", "POST, OPTIONS"],
      ["GET", "/token", "POST, OPTIONS"],
      ["GET", "/oauth/revoke", "POST, OPTIONS"],
      ["PUT", "/register", "POST, OPTIONS"],
      ["POST", "/.well-known/oauth-authorization-server", "GET, HEAD, OPTIONS"],
      ["DELETE", "/oauth/jwks", "GET, HEAD, OPTIONS"],
      ["DELETE", "/oauth/authorize", "GET, POST"],
      ["POST", "/oauth/callback", "GET"],
    ];
    for (const [method, path, allow] of cases) {
      const response = await fetch(`${bridge.origin}${path}`, { method });
      assert.equal(response.status, 405, `${method} ${path}`);
      assert.equal(response.headers.get("allow"), allow, `${method} ${path}`);
      assert.equal(((await response.json()) as { error: string }).error, "method_not_allowed");
    }
    // HEAD must change nothing (RFC 9110 §9.2.1), and these two would: a pending request, a sign-in taken.
    for (const [path, allow] of [["/oauth/authorize", "GET, POST"], ["/authorize", "GET, POST"], ["/oauth/callback", "GET"]] as const) {
      const head = await fetch(`${bridge.origin}${path}?response_type=code&client_id=x&state=s`, { method: "HEAD" });
      assert.equal(head.status, 405, `HEAD ${path}`);
      assert.equal(head.headers.get("allow"), allow, `HEAD ${path}`);
    }
    const nothing = await fetch(`${bridge.origin}/oauth/nothing`);
    assert.equal(nothing.status, 404);
    await nothing.body?.cancel();
    const preflight = await fetch(`${bridge.origin}/oauth/token`, { method: "OPTIONS", headers: { origin: "http://localhost:6274", "access-control-request-method": "POST" } });
    assert.equal(preflight.status, 204, "CORS preflights still answered");
  });
});

describe("what the consent page says is granted", () => {
  const bridge = useAsBridge({ storage: { type: "memory" } });

  test("a request naming no scope lists every scope it will get (all the user's), not none; one naming only unknown scopes says it gets nothing", async () => {
    const { client_id: clientId } = await registerClient(bridge.origin);
    const listed = (html: string) => [...html.matchAll(/<li><code><bdi>([^<]*)<\/bdi><\/code><\/li>/g)].map((match) => match[1]);
    const unnamed = await openLoginPage(authorizeUrl(bridge.origin, clientId).url);
    assert.deepEqual(listed(unnamed.html), ["mcp:read", "mcp:write"], "what the page asks the user to allow");
    const back = await submitLogin(bridge.origin, unnamed, { username: ALICE.username, password: ALICE.password });
    const code = new URL(back.headers.get("location")!).searchParams.get("code")!;
    assert.ok(code);
    const unknown = await openLoginPage(authorizeUrl(bridge.origin, clientId, { scope: "claudeai" }).url);
    assert.deepEqual(listed(unknown.html), []);
    assert.match(unknown.html, /gets no access/);
  });
});

describe("error_description on the wire", () => {
  const bridge = useAsBridge({ storage: { type: "memory" } });
  /** RFC 6749 §4.1.2.1, §5.2: %x20-21 / %x23-5B / %x5D-7E — no double quote, backslash, control or non-ASCII character. */
  const ALLOWED = /^[\x20\x21\x23-\x5B\x5D-\x7E]+$/;

  test("holds only the characters RFC 6749 allows, at /register, /token and in an authorization error redirect, whatever the request held", async () => {
    const registration = await fetch(`${bridge.origin}/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ redirect_uris: ["https://app.example/cb?code=\"x\"&y=\u00e9\\"], token_endpoint_auth_method: "none" }),
    });
    const refused = (await registration.json()) as { error: string; error_description: string };
    assert.equal(registration.status, 400);
    assert.equal(refused.error, "invalid_redirect_uri");
    assert.match(refused.error_description, ALLOWED);

    const { client_id: clientId } = await registerClient(bridge.origin);
    const { url } = authorizeUrl(bridge.origin, clientId, { state: "s-1" });
    url.searchParams.set("response_mode", "fragment");
    const redirect = await fetch(url, { redirect: "manual" });
    const description = new URL(redirect.headers.get("location")!).searchParams.get("error_description")!;
    assert.match(description, ALLOWED);
    assert.match(description, /'query'/);

    const token = await fetch(`${bridge.origin}/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: `grant_type=refresh_token&client_id=${clientId}&refresh_token=x&\u00e9\"=1&\u00e9\"=2` });
    const body = (await token.json()) as { error: string; error_description: string };
    assert.equal(body.error, "invalid_request");
    assert.match(body.error_description, ALLOWED);
  });
});
