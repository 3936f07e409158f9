/**
 * @module What the authorization server checks must be what another reader reads, through the built
 * CLI over HTTP: redirect URIs whose text and whose parse name different paths; emails that
 * Unicode case folding makes another person's; forwarding headers a client started itself.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { signInAtIdp, useIdp, type Idp } from "../auth-oauth/support.ts";
import { runCli, waitForLog, writeConfig } from "../support/bridge.ts";
import { authorizeUrl, confirmCallback, cookieHeader, cookiesOf, openLoginPage, postJson, redeem, registerClient, startAsBridge, submitLogin, useAsBridge } from "./support.ts";

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

  test("a redirect URI whose query already has a parameter the authorization response sets is refused: the client would get it twice (RFC 6749 §3.1)", async () => {
    for (const name of ["code", "state", "iss", "error"]) {
      const uri = `https://app.example/callback?${name}=planted`;
      const response = await postJson(`${bridge.origin}/register`, { redirect_uris: [uri], token_endpoint_auth_method: "none" });
      const body = (await response.json()) as { error?: string; error_description?: string };
      assert.equal(response.status, 400, `${uri}: ${JSON.stringify(body)}`);
      assert.match(body.error_description!, new RegExp(`'${name}' query parameter`));
    }
    assert.equal((await postJson(`${bridge.origin}/register`, { redirect_uris: ["https://app.example/callback?tenant=1"], token_endpoint_auth_method: "none" })).status, 201, "other query parameters stay fine");
  });

  test("a private-use scheme with an authority (com.example.evil://claude.ai/…) is shown as the app it goes to, not as that host", async () => {
    const uri = "com.example.evil://claude.ai/api/mcp/auth_callback";
    const { client_id } = await registerClient(bridge.origin, [uri], { client_name: "Claude" });
    const page = await (await fetch(authorizeUrl(bridge.origin, client_id, { redirectUri: uri }).url)).text();
    assert.doesNotMatch(page, /goes back to <strong>(?:<bdi>)?claude\.ai/, "the browser hands the code to the app that claims com.example.evil, not to claude.ai");
    assert.match(page, /goes back to <strong><bdi>com\.example\.evil<\/bdi><\/strong>/);
    const refused = await (await fetch(authorizeUrl(bridge.origin, client_id, { redirectUri: uri, method: "plain" }).url, { redirect: "manual" })).headers.get("location");
    assert.ok(refused?.startsWith(`${uri}?error=invalid_request`), "an error still goes back: the app is on the user's own computer");
  });
});

describe("federated mode: admin_users and allowed_domains compare emails case-insensitively in ASCII only", () => {
  let idp: Idp;
  useIdp((started) => (idp = started));

  test("a verified email spelled with the Kelvin sign (U+212A, which lower-cases to k) is not the administrator kate@example.com", { timeout: 180_000 }, async () => {
    // Another mailbox at the provider: local parts are the mail server's to compare, and it need not fold Unicode.
    idp.accounts.set("not-kate", { email: "\u212Aate@example.com", email_verified: true });
    idp.accounts.set("kate", { email: "KATE@example.com", email_verified: true });
    const upstream = { client_id: "bridge-upstream-kelvin", client_secret: "upstream-secret-not-real-0123456789" };
    const resource = "http://127.0.0.1:1/mcp";
    const callback = "http://127.0.0.1:1/oauth/callback";
    await idp.registerClient({ ...upstream, redirect_uris: [callback] });
    const bridge = await startAsBridge({
      storage: { type: "memory" },
      server: { public_url: resource },
      oauthServer: {
        mode: "federated",
        builtin: { users: [] },
        federated: { upstream_issuer: idp.issuer, client_id: upstream.client_id, client_secret_env: "UPSTREAM_SECRET", default_scopes: ["mcp:read"], admin_scopes: ["mcp:read", "mcp:admin"], allowed_domains: ["example.com"], admin_users: ["kate@example.com"] },
      },
      env: { UPSTREAM_SECRET: upstream.client_secret },
    });
    try {
      const grantedTo = async (account: string) => {
        const { client_id } = await registerClient(bridge.origin);
        const { url, verifier } = authorizeUrl(bridge.origin, client_id, { resource, scope: "mcp:read mcp:admin" });
        const form = await openLoginPage(url);
        const allow = await submitLogin(bridge.origin, form, {});
        assert.equal(allow.status, 303, await allow.text());
        // The provider sends the browser to the public URL; this bridge listens on its own port.
        const fromIdp = await signInAtIdp(allow.headers.get("location")!, { account, redirectUri: callback });
        const back = await confirmCallback(bridge.origin, await fetch(`${bridge.origin}${fromIdp.pathname}${fromIdp.search}`, { redirect: "manual", headers: { cookie: cookieHeader({ ...form.cookies, ...cookiesOf(allow) }) } }));
        assert.equal(back.status, 303, await back.text());
        const response = await redeem(bridge.origin, client_id, new URL(back.headers.get("location")!).searchParams.get("code")!, verifier, { resource });
        const body = (await response.json()) as { scope: string };
        assert.equal(response.status, 200, JSON.stringify(body));
        return body.scope;
      };
      assert.equal(await grantedTo("kate"), "mcp:read mcp:admin", "ASCII case still does not matter");
      assert.equal(await grantedTo("not-kate"), "mcp:read");
    } finally {
      await bridge.stop();
    }
  });
});

test("an issuer not written as browsers write its origin (upper case, :443) is refused by check-config, naming the spelling: the sign-in form's Origin is compared with it", async () => {
  for (const [issuer, written] of [["https://MCP.example.com", "https://mcp.example.com"], ["https://mcp.example.com:443", "https://mcp.example.com"], ["HTTP://127.0.0.1:8080", "http://127.0.0.1:8080"]] as const) {
    const path = writeConfig({ mode: "server", server: { listen: "127.0.0.1:8080", mcp_server: { command: "node" }, oauth_server: { enabled: true, issuer, builtin: { users: [{ username: "a", password_env: "P" }] } } } });
    const { code, stdout, stderr } = await runCli(["check-config", "-c", path], { env: { P: "a password" } });
    assert.equal(code, 2, `${issuer}: ${stdout}${stderr}`);
    assert.match(stderr, new RegExp(`server\\.oauth_server\\.issuer.*must be written as browsers write its origin, "${written.replace(/\./g, "\\.")}"`));
  }
});

test("behind a trusted proxy, a client's own unpaired quote in X-Forwarded-For or Forwarded does not swallow the address its proxy appended", { timeout: 120_000 }, async () => {
  const bridge = await startAsBridge({ storage: { type: "memory" }, server: { trusted_proxies: ["127.0.0.1/32"] } });
  try {
    const { client_id } = await registerClient(bridge.origin);
    // What the proxy passes on: the client's text, then ", <its address>" (X-Forwarded-For has no quoting).
    const cases: [string, Record<string, string>][] = [
      ["203.0.113.5", { "x-forwarded-for": '7.7.7.7, ", 203.0.113.5' }],
      ["203.0.113.6", { forwarded: 'for=7.7.7.7, for=", for=203.0.113.6' }],
      ["2001:db8::6", { forwarded: 'for=", for="[2001:db8::6]:4711"' }],
    ];
    for (const [client, headers] of cases) {
      const form = await openLoginPage(authorizeUrl(bridge.origin, client_id).url);
      const response = await submitLogin(bridge.origin, form, { username: "alice", password: "a wrong password" }, { headers });
      assert.match(await response.text(), /Wrong username or password/);
      await waitForLog(bridge, new RegExp(`login_failed.*remote=${client.replace(/[.:]/g, "\\$&")}(\\s|$)`, "m"));
    }
    assert.doesNotMatch(bridge.logs(), /login_failed[^\n]*remote=127\.0\.0\.1(\s|$)/m, "never counted as the proxy itself");
  } finally {
    await bridge.stop();
  }
});

test("a configured scope with a space, which the token's space-separated scope claim would read as several, is refused by check-config naming it", async () => {
  const path = writeConfig({
    mode: "server",
    server: { listen: "127.0.0.1:8080", mcp_server: { command: "node" }, oauth_server: { enabled: true, scopes_supported: ["mcp:read", "a\\b"], builtin: { users: [{ username: "a", password_env: "P", scopes: ["mcp:read", "notes mcp:admin"] }] } } },
  });
  const { code, stdout, stderr } = await runCli(["check-config", "-c", path], { env: { P: "a password" } });
  assert.equal(code, 2, stdout + stderr);
  assert.match(stderr, /server\.oauth_server\.builtin\.users\[0\]\.scopes\[1\].*"notes mcp:admin" is not one scope/);
  assert.match(stderr, /server\.oauth_server\.scopes_supported\[1\].*is not one scope/);
});
