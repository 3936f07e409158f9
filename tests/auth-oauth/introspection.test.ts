/** @module RFC 7662 introspection against oidc-provider: opaque tokens, active/inactive, outages, caching, the JWT fallback. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { validateIntrospection } from "../../src/auth/oauth/introspection.ts";
import { AuthError } from "../../src/auth/types.ts";
import { BRIDGE_CLIENT, M2M_CLIENT, OPAQUE_PREFIX, OTHER_RESOURCE, RESOURCE, makeAuthenticator, rejectsWith, sleep, type Idp, useIdp } from "./support.ts";

let idp: Idp;
useIdp((started) => (idp = started));

const INTROSPECTION = "/token/introspection";

function viaDiscovery(extra: Record<string, unknown> = {}) {
  return makeAuthenticator(idp, { introspection: { enabled: true, client_id: BRIDGE_CLIENT.id, client_secret: BRIDGE_CLIENT.secret, ...extra } });
}

describe("introspection with oidc-provider", () => {
  test("an active opaque token for this resource is accepted (endpoint from discovery, client_secret_basic)", async () => {
    const { auth } = viaDiscovery();
    await auth.start();
    const token = await idp.token({ resource: OPAQUE_PREFIX + RESOURCE, scope: "mcp:read" });
    assert.ok(!token.includes("."), "oidc-provider issued an opaque token");
    const principal = await auth.verify(token);
    // No sub for a client-credentials token: the client acts for itself.
    assert.equal(principal.subject, M2M_CLIENT.id);
    assert.equal(principal.clientId, M2M_CLIENT.id);
    assert.deepEqual(principal.scopes, ["mcp:read"]);
    assert.equal(typeof principal.expiresAt, "number");
    auth.close();
  });

  test("client_secret_post with the seed's introspection_url + client_id + client_secret keys", async () => {
    const { auth } = makeAuthenticator(undefined, {
      introspection_url: `${idp.issuer}${INTROSPECTION}`,
      client_id: BRIDGE_CLIENT.id,
      client_secret: BRIDGE_CLIENT.secret,
      introspection: { auth_method: "client_secret_post" },
    });
    await auth.start();
    assert.equal((await auth.verify(await idp.token({ resource: OPAQUE_PREFIX + RESOURCE }))).subject, M2M_CLIENT.id);
    auth.close();
  });

  test("active: false is invalid_token, and the answer is reused briefly", async () => {
    const { auth } = viaDiscovery();
    await auth.start();
    const before = idp.count(INTROSPECTION);
    const token = "not-a-token-the-idp-issued-0123456789";
    await rejectsWith(auth.verify(token), "invalid_token", /not active/, token);
    await rejectsWith(auth.verify(token), "invalid_token", /not active/, token);
    assert.equal(idp.count(INTROSPECTION) - before, 1);
    auth.close();
  });

  test("an active token for another resource is refused (same audience rule as JWTs)", async () => {
    const { auth } = viaDiscovery();
    await auth.start();
    const token = await idp.token({ resource: OPAQUE_PREFIX + OTHER_RESOURCE });
    await rejectsWith(auth.verify(token), "invalid_token", /"aud"/, token);
    auth.close();
  });

  test("IdP down: fail closed with 503, not cached; works again when it is back", async () => {
    const { auth } = viaDiscovery();
    await auth.start();
    const token = await idp.token({ resource: OPAQUE_PREFIX + RESOURCE });
    idp.setDown(true);
    try {
      const error = await rejectsWith(auth.verify(token), "temporarily_unavailable", /introspection/, token);
      assert.equal(error.status, 503);
    } finally {
      idp.setDown(false);
    }
    assert.ok(await auth.verify(token));
    auth.close();
  });

  test("answers are cached until min(exp, cache_ttl): no IdP call within the TTL, a new one after", async () => {
    const { auth } = viaDiscovery({ cache_ttl: "300ms" });
    await auth.start();
    const token = await idp.token({ resource: OPAQUE_PREFIX + RESOURCE });
    const before = idp.count(INTROSPECTION);
    await auth.verify(token);
    idp.setDown(true);
    try {
      assert.ok(await auth.verify(token), "served from the cache while the IdP is down");
    } finally {
      idp.setDown(false);
    }
    assert.equal(idp.count(INTROSPECTION) - before, 1);
    await sleep(350);
    await auth.verify(token);
    assert.equal(idp.count(INTROSPECTION) - before, 2);
    auth.close();
  });

  test("wrong client credentials at the introspection endpoint fail closed with 503", async () => {
    const { auth } = viaDiscovery({ client_secret: "wrong-secret" });
    await auth.start();
    await rejectsWith(auth.verify(await idp.token({ resource: OPAQUE_PREFIX + RESOURCE })), "temporarily_unavailable", /HTTP 401/);
    auth.close();
  });

  test("a JWT the IdP will not introspect (RFC 7009 unsupported_token_type) is invalid_token, not an outage", async () => {
    const { auth } = makeAuthenticator(undefined, { introspection_url: `${idp.issuer}${INTROSPECTION}`, client_id: BRIDGE_CLIENT.id, client_secret: BRIDGE_CLIENT.secret });
    await auth.start();
    await rejectsWith(auth.verify(await idp.token()), "invalid_token", /does not introspect/);
    auth.close();
  });

  test("a JWT is introspected when no JWKS is configured (scripted endpoint: checks the request too)", async () => {
    const requests: { auth: string | null; body: string }[] = [];
    const fetchImpl = (async (_input: unknown, init?: RequestInit) => {
      const headers = new Headers(init?.headers);
      requests.push({ auth: headers.get("authorization"), body: String(init?.body) });
      return Response.json({ active: true, aud: RESOURCE, sub: "jwt-user", scope: "mcp:read", exp: Math.floor(Date.now() / 1000) + 60 });
    }) as typeof fetch;
    const { auth } = makeAuthenticator(undefined, { introspection_url: "https://idp.example/introspect", client_id: "id:with colon", client_secret: "s&cret=+" }, { fetch: fetchImpl });
    await auth.start();
    const jwt = await idp.token();
    assert.equal((await auth.verify(jwt)).subject, "jwt-user");
    assert.equal(requests.length, 1);
    // RFC 6749 §2.3.1: form-encode, then base64.
    assert.equal(requests[0]!.auth, `Basic ${btoa("id%3Awith+colon:s%26cret%3D%2B")}`);
    assert.equal(new URLSearchParams(requests[0]!.body).get("token"), jwt);
    auth.close();
  });

  test("with discovery and no introspection, an opaque token is refused without an IdP call", async () => {
    const { auth } = makeAuthenticator(idp);
    await auth.start();
    const before = idp.count(INTROSPECTION);
    await rejectsWith(auth.verify(await idp.token({ resource: OPAQUE_PREFIX + RESOURCE })), "invalid_token", /introspection is not configured/);
    assert.equal(idp.count(INTROSPECTION), before);
    auth.close();
  });
});

describe("validateIntrospection", () => {
  const policy = { issuer: "https://idp.example", audience: RESOURCE, audienceRequired: true, clockSkew: 30, now: () => 1_000_000_000_000 };
  const now = 1_000_000_000;
  const base = { active: true, iss: "https://idp.example", aud: [RESOURCE, "other"], exp: now + 60, sub: "u" };
  for (const [name, answer, reason] of [
    ["inactive", { active: false }, /not active/],
    ["other issuer", { ...base, iss: "https://evil.example" }, /"iss"/],
    ["no aud", { ...base, aud: undefined }, /no "aud"/],
    ["other aud", { ...base, aud: "https://elsewhere" }, /unexpected "aud"/],
    ["expired", { ...base, exp: now - 31 }, /expired/],
    ["not yet valid", { ...base, nbf: now + 31 }, /"nbf"/],
    ["refresh token", { ...base, token_type: "refresh_token" }, /bearer/],
    ["DPoP-bound", { ...base, token_type: "DPoP", cnf: { jkt: "x" } }, /bearer/],
    ["cnf-bound", { ...base, cnf: { "x5t#S256": "x" } }, /cnf/],
  ] as const) {
    test(`refuses: ${name}`, () => {
      assert.throws(() => validateIntrospection(answer as never, policy), (error: unknown) => error instanceof AuthError && error.code === "invalid_token" && reason.test(error.reason));
    });
  }
  test("accepts a Bearer token within the skew", () => {
    assert.equal(validateIntrospection({ ...base, exp: now - 10, token_type: "Bearer" }, policy).sub, "u");
  });
  test("without a configured audience, an answer without aud is accepted and one naming another resource is not", () => {
    const defaulted = { ...policy, audienceRequired: false };
    assert.equal(validateIntrospection({ ...base, aud: undefined }, defaulted).sub, "u");
    assert.throws(() => validateIntrospection({ ...base, aud: "https://elsewhere" }, defaulted), /unexpected "aud"/);
  });
});
