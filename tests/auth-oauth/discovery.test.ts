/** @module Discovery: OIDC then RFC 8414 (path-aware), exact issuer match, retries while the IdP is down, config errors. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { SignJWT } from "jose";
import { discoveryPlan, processDiscoveryResponse } from "../../src/auth/oauth/discovery.ts";
import { UpstreamError } from "../../src/auth/oauth/http.ts";
import { RESOURCE, makeAuthenticator, makeKey, rejectsWith, useIdp, waitFor, type Idp, type SigningKey } from "./support.ts";

/** A scripted IdP on a fetch function: path → JSON body (404 otherwise), counting requests. */
function fakeFetch(routes: Record<string, unknown>) {
  const hits: string[] = [];
  const fetchImpl = (async (input: string | URL | Request) => {
    const url = String(input instanceof Request ? input.url : input);
    hits.push(url);
    if (!(url in routes)) return new Response("not found", { status: 404 });
    return Response.json(routes[url]);
  }) as typeof fetch;
  return { fetch: fetchImpl, hits };
}

function sign(key: SigningKey, claims: Record<string, unknown>) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ aud: RESOURCE, sub: "u", iat: now, exp: now + 60, ...claims }).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "at+jwt" }).sign(key.privateKey);
}

describe("discovery against a real IdP", () => {
  let idp: Idp;
  useIdp((started) => (idp = started));

  test("startup does not fail while the IdP is down; 503 until discovery succeeds on retry", async () => {
    idp.setDown(true);
    const { auth, logger } = makeAuthenticator(idp);
    try {
      await auth.start(); // resolves, never throws
      assert.equal(auth.ready, false);
      const token = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";
      const error = await rejectsWith(auth.verify(token), "temporarily_unavailable", /not discovered/);
      assert.equal(error.status, 503);
      await waitFor(() => logger.lines.filter((line) => line.message.startsWith("OAuth discovery failed")).length >= 2, "two failed discoveries in the log");
    } finally {
      idp.setDown(false);
    }
    await waitFor(() => auth.ready, "the authenticator to be ready");
    assert.equal((await auth.verify(await idp.token())).subject, "m2m-client");
    assert.ok(logger.lines.some((line) => line.message === "OAuth authorization server discovered"));
    auth.close();
  });

  test("the seed's jwks_url-only config validates signatures without discovery", async () => {
    const { auth, logger } = makeAuthenticator(undefined, { jwks_url: `${idp.issuer}/jwks` });
    await auth.start();
    assert.equal((await auth.verify(await idp.token())).subject, "m2m-client");
    assert.ok(logger.lines.some((line) => line.level === "warn" && /"iss" claim is not checked/.test(line.message)));
    assert.deepEqual(auth.protectedResource.authorizationServers, []);
    auth.close();
  });

  test("jwks_url with issuer: iss is checked", async () => {
    const { auth } = makeAuthenticator(undefined, { jwks_url: `${idp.issuer}/jwks`, issuer: idp.issuer });
    await auth.start();
    assert.ok(await auth.verify(await idp.token()));
    await rejectsWith(auth.verify(await idp.sign({ iss: "https://other.example" })), "invalid_token", /"iss"/);
    assert.deepEqual(auth.protectedResource.authorizationServers, [idp.issuer]);
    auth.close();
  });
});

describe("discovery rules (scripted IdP)", () => {
  test("RFC 8414 path-aware fallback when there is no OIDC document", async () => {
    const key = await makeKey("ES256");
    const issuer = "https://idp.example/tenant1";
    const { fetch, hits } = fakeFetch({
      "https://idp.example/.well-known/oauth-authorization-server/tenant1": { issuer, jwks_uri: "https://idp.example/tenant1/keys" },
      "https://idp.example/tenant1/keys": { keys: [key.publicJwk] },
    });
    const { auth } = makeAuthenticator({ issuer }, {}, { fetch });
    await auth.start();
    assert.deepEqual(hits.slice(0, 2), ["https://idp.example/tenant1/.well-known/openid-configuration", "https://idp.example/.well-known/oauth-authorization-server/tenant1"]);
    assert.equal((await auth.verify(await sign(key, { iss: issuer }))).subject, "u");
    auth.close();
  });

  test("an issuer mismatch is refused, not retried at the RFC 8414 location, and requests get 503", async () => {
    const { fetch, hits } = fakeFetch({
      "https://idp.example/.well-known/openid-configuration": { issuer: "https://evil.example", jwks_uri: "https://evil.example/keys" },
      "https://idp.example/.well-known/oauth-authorization-server": { issuer: "https://idp.example", jwks_uri: "https://idp.example/keys" },
    });
    const { auth, logger } = makeAuthenticator({ issuer: "https://idp.example" }, {}, { fetch });
    await auth.start();
    assert.equal(auth.ready, false);
    assert.equal(hits.filter((url) => url.includes("oauth-authorization-server")).length, 0);
    assert.ok(logger.lines.some((line) => line.level === "error" && /does not match/.test(String(line.fields.reason))));
    await rejectsWith(auth.verify("opaque-token"), "temporarily_unavailable", /not discovered/);
    auth.close();
  });

  test('discovery_url without the trailing "/" accepts the issuer with it (Auth0), and iss must then match the document exactly', async () => {
    const key = await makeKey("RS256");
    const { fetch } = fakeFetch({
      "https://tenant.example/.well-known/openid-configuration": { issuer: "https://tenant.example/", jwks_uri: "https://tenant.example/.well-known/jwks.json" },
      "https://tenant.example/.well-known/jwks.json": { keys: [key.publicJwk] },
    });
    const { auth } = makeAuthenticator({ issuer: "https://tenant.example" }, {}, { fetch });
    await auth.start();
    assert.ok(await auth.verify(await sign(key, { iss: "https://tenant.example/" })));
    await rejectsWith(auth.verify(await sign(key, { iss: "https://tenant.example" })), "invalid_token", /"iss"/);
    auth.close();
  });

  test("a configured issuer is compared byte for byte (Entra: discovery by tenant name, issuer by tenant id)", async () => {
    const tenantId = "9188040d-6c67-4c5b-b112-36a304b66dad";
    const issuer = `https://login.example/${tenantId}/v2.0`;
    const key = await makeKey("RS256");
    const { fetch } = fakeFetch({
      "https://login.example/contoso.example/v2.0/.well-known/openid-configuration": { issuer, jwks_uri: "https://login.example/common/discovery/v2.0/keys" },
      "https://login.example/common/discovery/v2.0/keys": { keys: [key.publicJwk] },
    });
    const { auth } = makeAuthenticator({ issuer: "https://login.example/contoso.example/v2.0" }, { issuer }, { fetch });
    await auth.start();
    assert.ok(await auth.verify(await sign(key, { iss: issuer })));
    auth.close();
    const wrong = makeAuthenticator({ issuer: "https://login.example/contoso.example/v2.0" }, { issuer: `${issuer}/` }, { fetch });
    await wrong.auth.start();
    assert.equal(wrong.auth.ready, false);
    wrong.auth.close();
  });

  test("a full well-known URL as discovery_url is used as given", () => {
    const plan = discoveryPlan("https://your-org.okta.com/oauth2/default/.well-known/openid-configuration", undefined);
    assert.deepEqual(plan.urls, ["https://your-org.okta.com/oauth2/default/.well-known/openid-configuration"]);
    assert.deepEqual(plan.expected, { issuer: "https://your-org.okta.com/oauth2/default", exact: false });
    const root = discoveryPlan("https://accounts.google.com", undefined);
    assert.deepEqual(root.urls, ["https://accounts.google.com/.well-known/openid-configuration", "https://accounts.google.com/.well-known/oauth-authorization-server"]);
  });

  test("processDiscoveryResponse refuses non-JSON, errors, oversized bodies and plain-http endpoints", async () => {
    const expected = { issuer: "https://idp.example", exact: true };
    const reasons: string[] = [];
    for (const response of [
      new Response("<html>", { status: 200 }),
      new Response("{}", { status: 500 }),
      Response.json({ issuer: 42 }),
      Response.json({ issuer: "https://idp.example", pad: "x".repeat(300 * 1024) }),
      Response.json({ issuer: "https://idp.example", jwks_uri: "http://idp.example/keys" }),
    ]) {
      await assert.rejects(processDiscoveryResponse(expected, response), (error: unknown) => {
        assert.ok(error instanceof UpstreamError);
        reasons.push(error.reason);
        return true;
      });
    }
    assert.match(reasons.join("\n"), /not JSON[\s\S]*HTTP 500[\s\S]*"issuer"[\s\S]*larger than[\s\S]*https/);
    const ok = await processDiscoveryResponse(expected, Response.json({ issuer: "https://idp.example", jwks_uri: "https://idp.example/keys", scopes_supported: "junk" }));
    assert.equal(ok.jwks_uri, "https://idp.example/keys");
    // Loopback endpoints only for an issuer there itself: a remote one must not point at this machine.
    for (const jwks of ["http://127.0.0.1:9/keys", "http://localhost:9/keys", "http://[::1]:9/keys", "https://127.0.0.1:9/keys"]) {
      await assert.rejects(processDiscoveryResponse(expected, Response.json({ issuer: "https://idp.example", jwks_uri: jwks })), /must be an https URL/, jwks);
    }
    for (const issuer of ["http://127.0.0.1:8080", "https://localhost:8443"]) {
      const local = await processDiscoveryResponse({ issuer, exact: true }, Response.json({ issuer, jwks_uri: "http://127.0.0.1:8080/keys" }));
      assert.equal(local.jwks_uri, "http://127.0.0.1:8080/keys", issuer);
    }
  });
});

describe("configuration errors are TypeErrors at construction", () => {
  test("no way to validate tokens", () => {
    assert.throws(() => makeAuthenticator(undefined, {}), /discovery_url/);
  });
  test("plain http to a non-loopback IdP", () => {
    assert.throws(() => makeAuthenticator({ issuer: "http://idp.example" }), /https/);
    assert.throws(() => makeAuthenticator(undefined, { jwks_url: "http://idp.example/keys" }), /https/);
  });
  test("introspection without client credentials", () => {
    assert.throws(() => makeAuthenticator(undefined, { introspection_url: "https://idp.example/introspect" }), /client_id/);
  });
});
