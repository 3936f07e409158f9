/**
 * @module Client mode, OAuth client credentials: tokens from oidc-provider, sent to the bridge's
 * own server mode validating them (discovery from its 401, PRM, AS metadata), refreshed when the
 * server refuses them, and refused cleanly when the configuration or the server is wrong.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { RunningBridge } from "../support/bridge.ts";
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exportJWK, exportPKCS8, generateKeyPair } from "jose";
import { M2M_CLIENT, useOAuthBridge, type Idp } from "../auth-oauth/support.ts";
import { call, claimsOf, makeSource } from "./support.ts";

describe("client credentials against the bridge's server mode and oidc-provider", () => {
  let idp: Idp;
  let bridge: RunningBridge;
  useOAuthBridge({}, (started) => ({ idp, bridge } = started));

  test("discovers the authorization server from the 401 and PRM, gets a token for the server's resource, and is let in", async () => {
    const { source, logger } = await makeSource({ type: "oauth", oauth: { client_id: M2M_CLIENT.id, client_secret: M2M_CLIENT.secret } }, bridge.url);
    assert.equal(await source.authorization(), undefined, "no token before the server asked for one");
    const response = await call(source, bridge.url);
    assert.equal(response.status, 200, await response.clone().text());
    const header = await source.authorization();
    const claims = claimsOf(header);
    assert.equal(claims.aud, bridge.url, "the token is bound to the MCP server (RFC 8707 resource)");
    assert.equal(claims.iss, idp.issuer);
    assert.match(String(claims.scope), /mcp:read/, "scopes from the challenge / PRM");
    assert.ok(!logger.text().includes(header!.slice(7, 40)), "the token never reaches the log");
    await source.close();
  });

  test("discovery_url pins the authorization server: the one the server names is used, another is refused before any secret is sent", async () => {
    const pinned = await makeSource({ type: "oauth", oauth: { discovery_url: `${idp.issuer}/.well-known/openid-configuration`, client_id: M2M_CLIENT.id, client_secret: M2M_CLIENT.secret } }, bridge.url);
    assert.equal((await call(pinned.source, bridge.url)).status, 200);
    const grants = idp.count("/token");
    const other = await makeSource({ type: "oauth", oauth: { discovery_url: "https://other-as.example", client_id: M2M_CLIENT.id, client_secret: M2M_CLIENT.secret } }, bridge.url);
    assert.equal((await call(other.source, bridge.url)).status, 401);
    assert.match(other.logger.text(), /client\.auth\.oauth names https:\/\/other-as\.example: credentials for one are never sent to another/);
    assert.equal(idp.count("/token"), grants);
  });

  test("with token_url, the token is fetched before the first request and sent on it", async () => {
    const { source } = await makeSource(
      { type: "oauth", oauth: { token_url: `${idp.issuer}/token`, client_id: M2M_CLIENT.id, client_secret: M2M_CLIENT.secret, scopes: ["mcp:read"], resource: bridge.url } },
      bridge.url,
    );
    const before = idp.count("/token");
    const header = await source.authorization();
    assert.ok(header?.startsWith("Bearer "));
    assert.equal(idp.count("/token"), before + 1);
    const response = await call(source, bridge.url);
    assert.equal(response.status, 200);
    assert.equal(idp.count("/token"), before + 1, "the cached token is reused");
  });

  test("a 401 refusing the token it sent gets a new token once; refusals of an older token are answered without another grant", async () => {
    const { source } = await makeSource({ type: "oauth", oauth: { client_id: M2M_CLIENT.id, client_secret: M2M_CLIENT.secret } }, bridge.url);
    assert.equal((await call(source, bridge.url)).status, 200);
    const first = await source.authorization();
    // The server's own challenge for a token it refuses (here: one it cannot verify).
    const refused = await fetch(bridge.url, { method: "POST", headers: { authorization: "Bearer not-a-valid-token", "content-type": "application/json" }, body: "{}" });
    assert.equal(refused.status, 401);
    const challenge = { status: 401 as const, wwwAuthenticate: refused.headers.get("www-authenticate"), resourceUrl: bridge.url };
    const grants = idp.count("/token");
    assert.equal(await source.handleChallenge({ ...challenge, sentAuthorization: first! }), true);
    const second = await source.authorization();
    assert.notEqual(second, first, "a new token");
    assert.equal(idp.count("/token"), grants + 1);
    // A request that went out with the first token and comes back refused now: no second grant.
    assert.equal(await source.handleChallenge({ ...challenge, sentAuthorization: first! }), true);
    assert.equal(idp.count("/token"), grants + 1);
    assert.equal((await call(source, bridge.url)).status, 200);
  });

  test("client_secret_post is used when configured", async () => {
    const seen: string[] = [];
    const recording: typeof fetch = async (input, init) => {
      if (String(input).endsWith("/token")) seen.push(new Headers(init?.headers).has("authorization") ? "basic" : String(init?.body).includes("client_secret=") ? "post" : "none");
      return fetch(input, init);
    };
    const { source } = await makeSource(
      { type: "oauth", oauth: { client_id: M2M_CLIENT.id, client_secret: M2M_CLIENT.secret, token_endpoint_auth_method: "client_secret_post" } },
      bridge.url,
      { fetch: recording },
    );
    assert.equal((await call(source, bridge.url)).status, 200);
    assert.deepEqual(seen, ["post"]);
  });

  test("a wrong secret: 401 to the request, a clear reason in the log, no secret in it", async () => {
    const { source, logger } = await makeSource({ type: "oauth", oauth: { client_id: M2M_CLIENT.id, client_secret: "wrong-secret-0123456789" } }, bridge.url);
    assert.equal((await call(source, bridge.url)).status, 401);
    assert.match(logger.text(), /invalid_client/);
    assert.ok(!logger.text().includes("wrong-secret-0123456789"));
  });

  test("private_key_jwt (RFC 7523): a client registered with its public key gets tokens with assertions signed by private_key_file", async () => {
    const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
    const registered = await fetch(`${idp.issuer}/reg`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        grant_types: ["client_credentials"],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: "private_key_jwt",
        token_endpoint_auth_signing_alg: "ES256",
        jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256", use: "sig" }] },
      }),
    });
    assert.equal(registered.status, 201, await registered.clone().text());
    const { client_id } = (await registered.json()) as { client_id: string };
    const keyFile = join(mkdtempSync(join(tmpdir(), "mcp-bridge-pkjwt-")), "key.pem");
    writeFileSync(keyFile, await exportPKCS8(privateKey), { mode: 0o600 });
    const { source, logger } = await makeSource(
      { type: "oauth", oauth: { client_id, private_key_file: keyFile, signing_algorithm: "ES256", private_key_id: "k1", scopes: ["mcp:read"] } },
      bridge.url,
    );
    const response = await call(source, bridge.url);
    assert.equal(response.status, 200, logger.text());
    assert.equal(claimsOf(await source.authorization()).client_id, client_id);
  });

  test("a private_key_file that is not a key for signing_algorithm is a configuration error naming the key", async () => {
    const keyFile = join(mkdtempSync(join(tmpdir(), "mcp-bridge-pkjwt-")), "key.pem");
    // A PEM frame around no key at all (the label is put together so no scanner takes it for a key).
    const label = ["PRIVATE", "KEY"].join(" ");
    writeFileSync(keyFile, `-----BEGIN ${label}-----\nnot a key\n-----END ${label}-----\n`);
    await assert.rejects(
      makeSource({ type: "oauth", oauth: { client_id: "c", private_key_file: keyFile, signing_algorithm: "ES256" } }, bridge.url),
      (error: Error & { code?: string }) => error.code === "config" && /client\.auth\.oauth\.private_key_file: .* is not a PKCS#8 PEM private key for ES256/.test(error.message),
    );
    await assert.rejects(
      makeSource({ type: "oauth", oauth: { client_id: "c", private_key_file: join(tmpdir(), "does-not-exist.pem") } }, bridge.url),
      /client\.auth\.oauth\.private_key_file: cannot read/,
    );
  });
});
