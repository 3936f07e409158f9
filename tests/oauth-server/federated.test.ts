/**
 * Federated sign-in (src/oauth-server/federated) against a real OpenID Provider (oidc-provider) on
 * loopback: the bridge's UpstreamLogin from `begin` through the IdP's login form to `complete`.
 */
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { ConfigSchema, type OAuthServerConfig } from "../../src/config/schema.ts";
import { Secret } from "../../src/config/secret.ts";
import { FederatedLogin, JWKS_REFETCH_COOLDOWN_MS, resolveClientSecret, UpstreamLoginError } from "../../src/oauth-server/federated/index.ts";
import { MemoryStore } from "../../src/store/memory.ts";
import { pendingSignIns } from "../../src/oauth-server/pending.ts";

/** The memory store, with a look at how many live entries it holds. */
class InspectableStore extends MemoryStore {
  get entryCount(): number {
    return this.size;
  }
}
import { decodeJwt, decodeProtectedHeader, SignJWT } from "jose";
import { readFileSync } from "node:fs";
import { parse, stringify } from "yaml";
import { parseConfig } from "../../src/config/load.ts";
import { captureLogger, makeKey, signInAtIdp, useIdp, type Idp } from "../auth-oauth/support.ts";

const REDIRECT_URI = "https://mcp.example.test/oauth/callback";
const UPSTREAM_CLIENT = { client_id: "bridge-upstream", client_secret: "upstream-secret-not-real-0123456789", redirect_uris: [REDIRECT_URI] };

function federatedConfig(federated: Record<string, unknown>): OAuthServerConfig["federated"] {
  const config = ConfigSchema.parse({
    mode: "server",
    server: { mcp_server: { command: "true" }, oauth_server: { enabled: true, issuer: "https://mcp.example.test", mode: "federated", federated } },
  });
  return config.server!.oauth_server.federated;
}

let idp: Idp;
useIdp((started) => (idp = started));

async function setUp(federated: Record<string, unknown> = {}, options: { fetch?: typeof fetch } = {}) {
  if (!idpReady) {
    await idp.registerClient(UPSTREAM_CLIENT);
    idp.accounts.set("alice", { email: "Alice@Example.com", email_verified: true, name: "Alice" });
    idp.accounts.set("boss", { email: "boss@example.com", email_verified: true });
    idp.accounts.set("mallory", { email: "mallory@example.com", email_verified: false });
    idp.accounts.set("outsider", { email: "eve@elsewhere.test", email_verified: true });
    idp.accounts.set("anonymous", {});
    idpReady = true;
  }
  const store = new InspectableStore();
  const logger = captureLogger();
  const login = new FederatedLogin(federatedConfig({ upstream_issuer: idp.issuer, client_id: UPSTREAM_CLIENT.client_id, ...federated }), {
    store,
    pending: pendingSignIns(store, 100),
    redirectUri: REDIRECT_URI,
    clientSecret: new Secret(UPSTREAM_CLIENT.client_secret),
    logger,
    ...options,
  });
  return { login, store, logger };
}
let idpReady = false;

async function rejection(promise: Promise<unknown>): Promise<UpstreamLoginError> {
  let caught: unknown;
  await assert.rejects(promise, (error) => ((caught = error), true));
  assert.ok(caught instanceof UpstreamLoginError, `expected UpstreamLoginError, got ${String(caught)}`);
  return caught;
}

describe("federated sign-in at an upstream OpenID Provider", () => {
  it("signs a user in: PKCE S256, state and nonce upstream, then the verified email and default scopes", async () => {
    const { login, store, logger } = await setUp({ default_scopes: ["mcp:read"], allowed_domains: ["example.com"] });
    const upstream = await login.begin("pending-1");
    assert.equal(upstream.origin, idp.issuer);
    const query = upstream.searchParams;
    assert.equal(query.get("response_type"), "code");
    assert.equal(query.get("client_id"), UPSTREAM_CLIENT.client_id);
    assert.equal(query.get("redirect_uri"), REDIRECT_URI);
    assert.equal(query.get("scope"), "openid email profile");
    assert.equal(query.get("code_challenge_method"), "S256");
    assert.match(query.get("code_challenge") ?? "", /^[A-Za-z0-9_-]{43}$/);
    assert.ok((query.get("state") ?? "").length >= 32 && (query.get("nonce") ?? "").length >= 32);
    assert.notEqual(query.get("state"), query.get("nonce"));
    // The state record, its slot in the ring of pending sign-ins, and the ring's sequence.
    assert.equal(store.entryCount, 3);

    const callback = await signInAtIdp(upstream, { account: "alice", redirectUri: REDIRECT_URI });
    assert.equal(callback.searchParams.get("iss"), idp.issuer, "the IdP sends iss (RFC 9207), which complete() checks");
    const { pendingId, user } = await login.complete(callback);
    assert.equal(pendingId, "pending-1");
    // credential: what the grant rests on, the provider and this client there (its subjects are theirs).
    assert.deepEqual(user, { subject: "alice", email: "alice@example.com", name: "Alice", scopes: ["mcp:read"], credential: `upstream ${JSON.stringify([idp.issuer, UPSTREAM_CLIENT.client_id])}` });
    assert.equal(store.entryCount, 2, "the state record is gone once used (its slot and the sequence expire on their own)");
    assert.ok(!logger.text().includes(callback.searchParams.get("code")!), "the code never reaches the log");
  });

  it("grants admin_scopes to admin_users only (verified email, any case)", async () => {
    const { login } = await setUp({ default_scopes: ["mcp:read"], admin_users: ["BOSS@example.com"], admin_scopes: ["mcp:read", "mcp:write", "mcp:admin"] });
    const boss = await login.complete(await signInAtIdp(await login.begin("p-boss"), { account: "boss", redirectUri: REDIRECT_URI }));
    assert.deepEqual(boss.user.scopes, ["mcp:read", "mcp:write", "mcp:admin"]);
    const alice = await login.complete(await signInAtIdp(await login.begin("p-alice"), { account: "alice", redirectUri: REDIRECT_URI }));
    assert.deepEqual(alice.user.scopes, ["mcp:read"]);
  });

  it("refuses an unverified email in an allowed domain, another domain, and an account without email", async () => {
    const { login } = await setUp({ allowed_domains: ["example.com"] });
    for (const account of ["mallory", "outsider", "anonymous"]) {
      const error = await rejection(login.complete(await signInAtIdp(await login.begin(`p-${account}`), { account, redirectUri: REDIRECT_URI })));
      assert.equal(error.code, "account_not_allowed", account);
      assert.equal(error.pendingId, `p-${account}`, "the pending request is named, so the client can be told access_denied");
      assert.equal(error.clientError, "access_denied");
    }
  });

  it("without allowed_domains, an unverified email signs in but is not passed on (nor makes an admin)", async () => {
    const { login } = await setUp({ admin_users: ["mallory@example.com"], admin_scopes: ["mcp:admin"] });
    const { user } = await login.complete(await signInAtIdp(await login.begin("p"), { account: "mallory", redirectUri: REDIRECT_URI }));
    assert.deepEqual(user, { subject: "mallory", scopes: [], credential: `upstream ${JSON.stringify([idp.issuer, UPSTREAM_CLIENT.client_id])}` });
  });

  it("refuses a replayed callback (state is single-use), an unknown state and a missing one", async () => {
    const { login } = await setUp();
    const callback = await signInAtIdp(await login.begin("p-replay"), { account: "alice", redirectUri: REDIRECT_URI });
    await login.complete(callback);
    const replay = await rejection(login.complete(callback));
    assert.equal(replay.code, "invalid_state");
    assert.equal(replay.pendingId, undefined);

    const forged = new URL(callback);
    forged.searchParams.set("state", "an-attacker-chosen-state-value-0123456789");
    assert.equal((await rejection(login.complete(forged))).code, "invalid_state");
    const none = new URL(callback);
    none.searchParams.delete("state");
    assert.equal((await rejection(login.complete(none))).code, "invalid_state");
    const twice = new URL(callback);
    twice.searchParams.append("state", "x");
    assert.equal((await rejection(login.complete(twice))).code, "invalid_state");
  });

  it("refuses an ID token whose nonce is not the one sent (a code injected from another sign-in)", async () => {
    const { login } = await setUp();
    const upstream = await login.begin("p-nonce");
    // The attacker's own sign-in at the IdP, with its own nonce, delivered to the victim's callback.
    upstream.searchParams.set("nonce", "attacker-nonce-0123456789-0123456789");
    const callback = await signInAtIdp(upstream, { account: "alice", redirectUri: REDIRECT_URI });
    const error = await rejection(login.complete(callback));
    assert.equal(error.code, "upstream_error");
    assert.equal(error.pendingId, "p-nonce");
    assert.match(error.reason, /nonce/);
  });

  it("refuses an ID token the IdP issued to another of its clients, even with the nonce sent (aud)", async () => {
    const other = { client_id: "other-app", client_secret: "other-secret-not-real-0123456789", redirect_uris: ["https://other.example.test/cb"] };
    await idp.registerClient(other);
    // The IdP's genuine ID token for another client, minted with the nonce of the bridge's sign-in.
    const stolen = async (nonce: string) => {
      const verifier = "v".repeat(43);
      const url = new URL(`${idp.issuer}/auth`);
      const challenge = Buffer.from(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))).toString("base64url");
      for (const [name, value] of Object.entries({ response_type: "code", client_id: other.client_id, redirect_uri: other.redirect_uris[0]!, scope: "openid email", nonce, state: "s", code_challenge: challenge, code_challenge_method: "S256" })) url.searchParams.set(name, value);
      const callback = await signInAtIdp(url, { account: "alice", redirectUri: other.redirect_uris[0]! });
      const response = await fetch(`${idp.issuer}/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", authorization: `Basic ${Buffer.from(`${other.client_id}:${other.client_secret}`).toString("base64")}` },
        body: new URLSearchParams({ grant_type: "authorization_code", code: callback.searchParams.get("code")!, redirect_uri: other.redirect_uris[0]!, code_verifier: verifier }),
      });
      const body = (await response.json()) as { id_token: string };
      assert.equal(response.status, 200, JSON.stringify(body));
      assert.equal(decodeJwt(body.id_token).aud, other.client_id);
      return body.id_token;
    };
    let substitute = "";
    // A token endpoint on the path swaps in the other client's ID token.
    const swapping: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (!String(input).endsWith("/token")) return response;
      return Response.json({ ...((await response.json()) as object), id_token: substitute }, { status: response.status });
    };
    const { login } = await setUp({}, { fetch: swapping });
    const upstream = await login.begin("p-aud");
    substitute = await stolen(upstream.searchParams.get("nonce")!);
    const error = await rejection(login.complete(await signInAtIdp(upstream, { account: "alice", redirectUri: REDIRECT_URI })));
    assert.equal(error.code, "upstream_error");
    assert.equal(error.pendingId, "p-aud");
    assert.match(error.reason, /aud/);
  });

  it("refuses a callback whose code came with another sign-in's state", async () => {
    const { login } = await setUp();
    const first = await signInAtIdp(await login.begin("p-first"), { account: "alice", redirectUri: REDIRECT_URI });
    const second = await signInAtIdp(await login.begin("p-second"), { account: "alice", redirectUri: REDIRECT_URI });
    const swapped = new URL(first);
    swapped.searchParams.set("state", second.searchParams.get("state")!);
    const error = await rejection(login.complete(swapped));
    // The code was bound to the first sign-in's PKCE verifier and nonce: the second one's fail.
    assert.equal(error.code, "upstream_error");
    assert.equal(error.pendingId, "p-second");
  });

  it("never repeats the IdP's error text: a cancelled sign-in is access_denied with a fixed message", async () => {
    const { login, logger } = await setUp();
    const callback = await signInAtIdp(await login.begin("p-deny"), { deny: true, redirectUri: REDIRECT_URI });
    assert.match(callback.searchParams.get("error_description") ?? "", /<script>/, "the IdP did send markup");
    const error = await rejection(login.complete(callback));
    assert.equal(error.code, "access_denied");
    assert.equal(error.pendingId, "p-deny");
    assert.equal(error.message, "Sign-in was cancelled at the identity provider.");
    assert.ok(!logger.text().includes("<script>") && !error.reason.includes("script"), "nor is it logged raw");
  });

  it("refuses a callback claiming another issuer (RFC 9207 mix-up defence)", async () => {
    const { login } = await setUp();
    const callback = await signInAtIdp(await login.begin("p-iss"), { account: "alice", redirectUri: REDIRECT_URI });
    callback.searchParams.set("iss", "https://evil.example");
    const error = await rejection(login.complete(callback));
    assert.equal(error.code, "upstream_error");
    assert.match(error.reason, /iss/);
  });

  it("refuses an ID token not signed by the IdP's keys, even from its token endpoint", async () => {
    const forger = await makeKey("RS256");
    // A token endpoint on the path (or compromised) re-signs the ID token with a key of its own, reusing the IdP's kid.
    const tampering: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (!String(input).endsWith("/token")) return response;
      const body = (await response.json()) as { id_token: string };
      const header = decodeProtectedHeader(body.id_token);
      body.id_token = await new SignJWT(decodeJwt(body.id_token)).setProtectedHeader({ alg: "RS256", kid: header.kid! }).sign(forger.privateKey);
      return Response.json(body, { status: response.status });
    };
    const { login } = await setUp({}, { fetch: tampering });
    const error = await rejection(login.complete(await signInAtIdp(await login.begin("p-forged"), { account: "alice", redirectUri: REDIRECT_URI })));
    assert.equal(error.code, "upstream_error");
    assert.match(error.reason, /signature/);
  });

  it("refuses ID tokens a broken or hostile token endpoint sends: alg none, HS256 keyed with the IdP's public key, expired, iat in the future, nonce left out, another iss, another azp, a sub over 255 characters", async () => {
    const now = Math.floor(Date.now() / 1000);
    const publicPem = Buffer.from(JSON.stringify(idp.keys[0]!.publicJwk));
    const forgeries: Record<string, (claims: Record<string, unknown>, kid: string) => Promise<string>> = {
      "alg none": async (claims) => `${Buffer.from('{"alg":"none"}').toString("base64url")}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.`,
      "HS256 with the public key": async (claims, kid) => new SignJWT(claims).setProtectedHeader({ alg: "HS256", kid }).sign(publicPem),
      expired: async (claims) => idp.sign({ ...claims, iat: now - 7200, exp: now - 3600 }, { header: { typ: "JWT" } }),
      "iat a day ahead": async (claims) => idp.sign({ ...claims, iat: now + 86_400, exp: now + 90_000 }, { header: { typ: "JWT" } }),
      "no nonce": async (claims) => idp.sign({ ...claims, nonce: undefined }, { header: { typ: "JWT" } }),
      "another issuer": async (claims) => idp.sign({ ...claims, iss: "https://evil.example" }, { header: { typ: "JWT" } }),
      "azp of another client": async (claims) => idp.sign({ ...claims, aud: [UPSTREAM_CLIENT.client_id, "other-app"], azp: "other-app" }, { header: { typ: "JWT" } }),
      "two audiences, no azp": async (claims) => idp.sign({ ...claims, aud: [UPSTREAM_CLIENT.client_id, "other-app"], azp: undefined }, { header: { typ: "JWT" } }),
      // OIDC Core §2: at most 255 characters; it would go into every code, grant and token.
      "a sub of 256 characters": async (claims) => idp.sign({ ...claims, sub: "a".repeat(256) }, { header: { typ: "JWT" } }),
    };
    for (const [name, forge] of Object.entries(forgeries)) {
      const tampering: typeof fetch = async (input, init) => {
        const response = await fetch(input, init);
        if (!String(input).endsWith("/token")) return response;
        const body = (await response.json()) as { id_token: string };
        body.id_token = await forge(decodeJwt(body.id_token) as Record<string, unknown>, decodeProtectedHeader(body.id_token).kid!);
        return Response.json(body, { status: response.status });
      };
      const { login } = await setUp({}, { fetch: tampering });
      const outcome = await login.complete(await signInAtIdp(await login.begin(`p-${name}`), { account: "alice", redirectUri: REDIRECT_URI })).catch((error: unknown) => error);
      assert.ok(outcome instanceof UpstreamLoginError, `${name}: signed in as ${JSON.stringify(outcome)}`);
      const error = outcome;
      assert.equal(error.code, "upstream_error", name);
      assert.equal(error.pendingId, `p-${name}`, name);
    }
  });

  it("prompt=login at a provider that does not list auth_time among its claims (Google without session age claims): an ID token without one signs in; one that lists it must send it", async () => {
    for (const listed of [false, true]) {
      const withoutAuthTime: typeof fetch = async (input, init) => {
        const response = await fetch(input, init);
        if (String(input).endsWith("/.well-known/openid-configuration")) {
          const metadata = (await response.json()) as { claims_supported?: string[] };
          return Response.json({ ...metadata, claims_supported: (metadata.claims_supported ?? []).filter((claim) => listed || claim !== "auth_time") });
        }
        if (!String(input).endsWith("/token")) return response;
        const body = (await response.json()) as { id_token: string };
        body.id_token = await idp.sign({ ...(decodeJwt(body.id_token) as Record<string, unknown>), auth_time: undefined }, { header: { typ: "JWT" } });
        return Response.json(body, { status: response.status });
      };
      const { login } = await setUp({}, { fetch: withoutAuthTime });
      const upstream = await login.begin(`p-${listed}`, { prompt: ["login"] });
      assert.equal(upstream.searchParams.get("max_age"), "0");
      const outcome = await login.complete(await signInAtIdp(upstream, { account: "alice", redirectUri: REDIRECT_URI })).catch((error: unknown) => error);
      if (listed) assert.match((outcome as UpstreamLoginError).reason, /no auth_time/);
      else assert.equal((outcome as { user?: { subject?: string } }).user?.subject, "alice", String(outcome));
    }
  });

  it('refuses email_verified that is the string "true" (only the boolean counts)', async () => {
    idp.accounts.set("stringly", { email: "stringly@example.com", email_verified: "true" });
    const { login } = await setUp({ allowed_domains: ["example.com"] });
    const error = await rejection(login.complete(await signInAtIdp(await login.begin("p-string"), { account: "stringly", redirectUri: REDIRECT_URI })));
    assert.equal(error.code, "account_not_allowed");
  });

  it("does not join an ID token's email_verified (about no email) to UserInfo's unverified address", async () => {
    // The provider's ID token says email_verified: true but names no email; UserInfo gives mallory's unverified one.
    const flagging: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (!String(input).endsWith("/token")) return response;
      const body = (await response.json()) as { id_token: string };
      body.id_token = await idp.sign({ ...decodeJwt(body.id_token), email_verified: true }, { header: { typ: "JWT" } });
      return Response.json(body, { status: response.status });
    };
    const { login } = await setUp({ allowed_domains: ["example.com"] }, { fetch: flagging });
    const error = await rejection(login.complete(await signInAtIdp(await login.begin("p-mixed"), { account: "mallory", redirectUri: REDIRECT_URI })));
    assert.equal(error.code, "account_not_allowed");
    assert.match(error.reason, /not verified/);
  });

  it("refuses UserInfo about another subject, and an oversized token answer", async () => {
    const otherSubject: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (!String(input).endsWith("/me")) return response;
      return Response.json({ ...((await response.json()) as object), sub: "someone-else" });
    };
    const swapped = await setUp({}, { fetch: otherSubject });
    const error = await rejection(swapped.login.complete(await signInAtIdp(await swapped.login.begin("p-ui"), { account: "alice", redirectUri: REDIRECT_URI })));
    assert.equal(error.code, "upstream_error");
    assert.match(error.reason, /sub/);

    const huge: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (!String(input).endsWith("/token")) return response;
      await response.body?.cancel();
      return new Response(`{"access_token":"${"a".repeat(300 * 1024)}"}`, { headers: { "content-type": "application/json" } });
    };
    const flooded = await setUp({}, { fetch: huge });
    const big = await rejection(flooded.login.complete(await signInAtIdp(await flooded.login.begin("p-big"), { account: "alice", redirectUri: REDIRECT_URI })));
    assert.equal(big.code, "upstream_error");
    assert.match(big.reason, /larger than/);
  });

  it("finds the provider from upstream_discovery_url alone", async () => {
    const { login } = await setUp({ upstream_issuer: undefined, upstream_discovery_url: `${idp.issuer}/.well-known/openid-configuration` });
    const { user } = await login.complete(await signInAtIdp(await login.begin("p-disc"), { account: "alice", redirectUri: REDIRECT_URI }));
    assert.equal(user.subject, "alice");
  });

  it("refetches the IdP's keys when an ID token names a new kid (key rotation)", async () => {
    const { login } = await setUp();
    await login.complete(await signInAtIdp(await login.begin("p-1"), { account: "alice", redirectUri: REDIRECT_URI }));
    await idp.rotateKeys();
    idp.resetCounts();
    // Past the refetch cooldown, which runs on the monotonic clock (an injected wall clock cannot move it).
    await sleep(JWKS_REFETCH_COOLDOWN_MS);
    const { user } = await login.complete(await signInAtIdp(await login.begin("p-2"), { account: "alice", redirectUri: REDIRECT_URI }));
    assert.equal(user.subject, "alice");
    assert.equal(idp.count("/jwks"), 1, "one refetch for the new kid");
  });

  it("reports an unreachable IdP as upstream_unavailable, bound to the pending request", async () => {
    const { login } = await setUp();
    const callback = await signInAtIdp(await login.begin("p-down"), { account: "alice", redirectUri: REDIRECT_URI });
    idp.setDown(true);
    try {
      const error = await rejection(login.complete(callback));
      assert.equal(error.code, "upstream_unavailable");
      assert.equal(error.pendingId, "p-down");
      assert.equal(error.clientError, "temporarily_unavailable");
    } finally {
      idp.setDown(false);
    }
  });

  it("gives up on an IdP that does not answer within http_timeout", async () => {
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    try {
      const { login } = await setUp({ upstream_issuer: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`, http_timeout: "300ms" });
      const error = await rejection(login.begin("p-slow"));
      assert.equal(error.code, "upstream_unavailable");
      assert.match(error.reason, /timed out/);
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });

  it("gives up on a token endpoint that sends its headers and then its body a byte at a time", async () => {
    const drip = createServer((_request, response) => {
      response.writeHead(200, { "content-type": "application/json" });
      response.write('{"access_token":"');
      const timer = setInterval(() => response.write("a"), 50);
      response.on("close", () => clearInterval(timer));
    });
    await new Promise<void>((resolve) => drip.listen(0, "127.0.0.1", resolve));
    try {
      // The provider's own endpoints, but its token answers come from the dripping server (the request's signal passed on).
      const dripping: typeof fetch = (input, init) => (String(input).endsWith("/token") ? fetch(`http://127.0.0.1:${(drip.address() as AddressInfo).port}/token`, init) : fetch(input, init));
      const { login } = await setUp({ http_timeout: "1s" }, { fetch: dripping });
      const error = await rejection(login.complete(await signInAtIdp(await login.begin("p-drip"), { account: "alice", redirectUri: REDIRECT_URI })));
      assert.equal(error.code, "upstream_unavailable", error.reason);
      assert.equal(error.pendingId, "p-drip");
    } finally {
      drip.closeAllConnections();
      drip.close();
    }
  });

  it("refuses metadata whose issuer is not the configured one", async () => {
    const { login } = await setUp({ upstream_issuer: `${idp.issuer}/`, upstream_discovery_url: `${idp.issuer}/.well-known/openid-configuration` });
    const error = await rejection(login.begin("p"));
    assert.equal(error.code, "upstream_error");
    assert.match(error.reason, /does not match/);
  });

  it("refuses a remote provider's metadata naming an endpoint on this machine, plain http or not (its token request would carry the client secret there)", async () => {
    const remote = "https://idp.remote.test";
    for (const [key, local] of [["authorization_endpoint", "http://127.0.0.1:9/a"], ["token_endpoint", "http://127.0.0.1:9/internal/admin"], ["jwks_uri", "http://[::1]:9/keys"], ["userinfo_endpoint", "http://localhost:9/me"], ["token_endpoint", "https://127.0.0.1:9/token"]]) {
      const metadata = { issuer: remote, authorization_endpoint: `${remote}/auth`, token_endpoint: `${remote}/token`, jwks_uri: `${remote}/keys`, [key!]: local };
      const discovery: typeof fetch = async (input) => (String(input).startsWith(`${remote}/.well-known/`) ? Response.json(metadata) : new Response(null, { status: 404 }));
      const { login } = await setUp({ upstream_issuer: remote }, { fetch: discovery });
      const error = await rejection(login.begin("p"));
      assert.equal(error.code, "upstream_error", local);
      assert.match(error.reason, new RegExp(`"${key}" must be an https URL \\(an address on this machine only for an issuer there too\\)`), local);
    }
    // A provider on this machine itself (as here in tests) may name its own plain-http endpoints.
    const { login } = await setUp();
    assert.equal((await login.begin("p-local")).protocol, "http:");
  });

  it("takes the client secret from client_secret_env, and says which variable is missing", () => {
    const config = federatedConfig({ upstream_issuer: "https://idp.example", client_id: "x", client_secret_env: "UPSTREAM_SECRET" });
    assert.equal(resolveClientSecret(config, { UPSTREAM_SECRET: "s3cret" }).reveal(), "s3cret");
    assert.throws(() => resolveClientSecret(config, {}), /server\.oauth_server\.federated\.client_secret_env: environment variable UPSTREAM_SECRET is not set/);
  });
});

describe("federated configuration", () => {
  const yaml = (federated: string) => `mode: server
server:
  mcp_server: {command: "true"}
  oauth_server:
    enabled: true
    issuer: https://mcp.example.com
    mode: federated
    signing: {generate_key: true}
    federated:
${federated}`;

  it("refuses a plain-http upstream outside loopback, naming the key", () => {
    assert.throws(
      () => parseConfig(yaml("      upstream_issuer: http://accounts.example.com\n      client_id: x\n      client_secret_env: S\n"), {}),
      /server\.oauth_server\.federated\.upstream_issuer: must be an https URL/,
    );
    assert.throws(
      () => parseConfig(yaml("      upstream_discovery_url: http://idp.example.com/.well-known/openid-configuration\n      client_id: x\n      client_secret: y\n"), {}),
      /federated\.upstream_discovery_url: must be an https URL/,
    );
    parseConfig(yaml("      upstream_issuer: http://127.0.0.1:9000\n      client_id: x\n      client_secret_env: S\n"), {});
  });

  it("refuses allowed_domains that are not domain names", () => {
    const base = "      upstream_issuer: https://idp.example.com\n      client_id: x\n      client_secret_env: S\n";
    assert.throws(
      () => parseConfig(yaml(`${base}      allowed_domains: ["https://example.com", "example.com"]\n`), {}),
      (error: Error) => {
        assert.match(error.message, /federated\.allowed_domains\[0\]: must be a domain name/);
        assert.doesNotMatch(error.message, /allowed_domains\[1\]/);
        return true;
      },
    );
    parseConfig(yaml(`${base}      allowed_domains: ["example.com", "@corp.example.org"]\n      admin_users: [ops@example.com]\n`), {});
  });

  it("requires an upstream, a client id, a secret, and openid among the scopes", () => {
    assert.throws(() => parseConfig(yaml("      scopes: [email]\n"), {}), (error: Error) => {
      for (const key of ["upstream_issuer", "client_id", "client_secret_env", "scopes"]) assert.match(error.message, new RegExp(`federated\\.${key}: `));
      return true;
    });
  });

  it("every federated example in docs/authorization-server.md passes check-config's rules", () => {
    const text = readFileSync(new URL("../../docs/authorization-server.md", import.meta.url), "utf8");
    const section = text.slice(text.indexOf("## Federated sign-in"));
    const blocks = [...section.matchAll(/```yaml\n([\s\S]*?)```/g)].map((match) => match[1]!).filter((block) => block.includes("upstream_issuer"));
    assert.deepEqual(
      ["accounts.google.com", "okta.com", "keycloak"].filter((host) => !blocks.some((block) => block.includes(host))),
      [],
      "Google, Okta and Keycloak each have an example",
    );
    for (const block of blocks) {
      const parsed = parse(block) as Record<string, Record<string, unknown>>;
      const oauthServer = parsed.oauth_server ?? { enabled: true, issuer: "https://mcp.example.com", ...parsed };
      const config = parseConfig(stringify({ mode: "server", server: { mcp_server: { command: "true" }, oauth_server: oauthServer } }), {});
      const federated = config.server!.oauth_server.federated;
      assert.equal(config.server!.oauth_server.mode, "federated");
      assert.ok(resolveClientSecret(federated, { [federated.client_secret_env!]: "from-the-environment" }));
    }
  });
});
