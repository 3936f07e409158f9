/** @module JWT access tokens against a real IdP (oidc-provider): every claim and header check, alone. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { SignJWT, base64url, exportSPKI, importJWK } from "jose";
import { AuthError } from "../../src/auth/types.ts";
import { M2M_CLIENT, OTHER_RESOURCE, RESOURCE, makeAuthenticator, makeKey, rejectsWith, type Idp, useIdp } from "./support.ts";

let idp: Idp;
useIdp((started) => (idp = started));

function ready(oauth: Record<string, unknown> = {}) {
  const made = makeAuthenticator(idp, oauth);
  return { ...made, started: made.auth.start() };
}

describe("valid tokens", () => {
  test("a client-credentials JWT with the resource indicator is accepted and mapped to a principal", async () => {
    const { auth, started } = ready();
    await started;
    assert.equal(auth.ready, true);
    const token = await idp.token({ scope: "mcp:read mcp:write" });
    const principal = await auth.verify(token);
    assert.equal(principal.subject, M2M_CLIENT.id);
    assert.equal(principal.clientId, M2M_CLIENT.id);
    assert.deepEqual(principal.scopes, ["mcp:read", "mcp:write"]);
    assert.equal(typeof principal.expiresAt, "number");
    assert.equal(principal.claims?.iss, idp.issuer);
    auth.close();
  });

  test("a validated token is served from the cache (same principal object)", async () => {
    const { auth, started } = ready();
    await started;
    const token = await idp.token();
    const first = await auth.verify(token);
    const second = await auth.verify(token);
    assert.equal(first, second);
    auth.close();
  });

  test('typ "JWT" and no typ are accepted alongside "at+jwt"', async () => {
    const { auth, started } = ready();
    await started;
    assert.equal((await auth.verify(await idp.sign({}, { header: { typ: "JWT" } }))).subject, "user-1");
    assert.equal((await auth.verify(await idp.sign({ sub: "user-2" }, { header: { typ: "application/at+jwt" } }))).subject, "user-2");
    assert.equal((await auth.verify(await idp.sign({ sub: "user-3" }, { header: { typ: undefined } }))).subject, "user-3");
    auth.close();
  });

  test("with validation.require_at_jwt (RFC 9068 §4), only typ at+jwt passes: JWT and no typ are refused", async () => {
    const { auth, started } = ready({ validation: { require_at_jwt: true } });
    await started;
    assert.equal((await auth.verify(await idp.sign({}, { header: { typ: "at+jwt" } }))).subject, "user-1");
    assert.equal((await auth.verify(await idp.sign({ sub: "user-2" }, { header: { typ: "application/at+jwt" } }))).subject, "user-2");
    await rejectsWith(auth.verify(await idp.sign({ sub: "user-3" }, { header: { typ: "JWT" } })), "invalid_token", /typ "JWT" is not at\+jwt, which validation\.require_at_jwt asks for/);
    await rejectsWith(auth.verify(await idp.sign({ sub: "user-4" }, { header: { typ: undefined } })), "invalid_token", /typ \(none\) is not at\+jwt/);
    auth.close();
  });

  test("claims map to email, roles (nested path), client id and scp arrays", async () => {
    const { auth, started } = ready({ claims: { roles_claim: "realm_access.roles", email_claim: "email" } });
    await started;
    const token = await idp.sign({ email: "a@example.com", realm_access: { roles: ["admin", "dev"] }, azp: "cli", scope: undefined, scp: ["mcp:read", "x"] });
    const principal = await auth.verify(token);
    assert.equal(principal.email, "a@example.com");
    assert.deepEqual(principal.roles, ["admin", "dev"]);
    assert.equal(principal.clientId, "cli");
    assert.deepEqual(principal.scopes, ["mcp:read", "x"]);
    auth.close();
  });

  test("Entra-style scp as a space-separated string", async () => {
    const { auth, started } = ready();
    await started;
    const principal = await auth.verify(await idp.sign({ scope: undefined, scp: "mcp:read mcp:write" }));
    assert.deepEqual(principal.scopes, ["mcp:read", "mcp:write"]);
    auth.close();
  });
});

describe("claim checks, each failing alone", () => {
  test("wrong issuer (signed with the IdP's own key)", async () => {
    const { auth, started } = ready();
    await started;
    const token = await idp.sign({ iss: "https://evil.example" });
    await rejectsWith(auth.verify(token), "invalid_token", /"iss"/, token);
    auth.close();
  });

  test("wrong audience: a real token for another resource", async () => {
    const { auth, started } = ready();
    await started;
    const token = await idp.token({ resource: OTHER_RESOURCE });
    await rejectsWith(auth.verify(token), "invalid_token", /"aud"/, token);
    auth.close();
  });

  test("audience defaults to the canonical resource URL", async () => {
    const made = makeAuthenticator(idp, { audience: undefined });
    await made.auth.start();
    assert.equal((await made.auth.verify(await idp.token())).subject, M2M_CLIENT.id);
    await rejectsWith(made.auth.verify(await idp.token({ resource: OTHER_RESOURCE })), "invalid_token", /"aud"/);
    made.auth.close();
  });

  test("missing aud", async () => {
    const { auth, started } = ready();
    await started;
    await rejectsWith(auth.verify(await idp.sign({ aud: undefined })), "invalid_token", /"aud" is missing/);
    auth.close();
  });

  test("expired, beyond the clock skew", async () => {
    const { auth, started } = ready({ validation: { clock_skew: "30s" } });
    await started;
    const now = Math.floor(Date.now() / 1000);
    const token = await idp.sign({ iat: now - 600, exp: now - 31 });
    await rejectsWith(auth.verify(token), "invalid_token", /expired/, token);
    // Within the skew it still passes.
    assert.equal((await auth.verify(await idp.sign({ iat: now - 600, exp: now - 20 }))).subject, "user-1");
    auth.close();
  });

  test("not yet valid (nbf), beyond the clock skew", async () => {
    const { auth, started } = ready({ validation: { clock_skew: "10s" } });
    await started;
    const now = Math.floor(Date.now() / 1000);
    await rejectsWith(auth.verify(await idp.sign({ nbf: now + 60 })), "invalid_token", /"nbf"/);
    assert.equal((await auth.verify(await idp.sign({ nbf: now + 5 }))).subject, "user-1");
    auth.close();
  });

  test("iat in the future", async () => {
    const { auth, started } = ready({ validation: { clock_skew: "10s" } });
    await started;
    await rejectsWith(auth.verify(await idp.sign({ iat: Math.floor(Date.now() / 1000) + 120 })), "invalid_token", /"iat"/);
    auth.close();
  });

  test("too old for max_token_age, and iat required then", async () => {
    const { auth, started } = ready({ validation: { max_token_age: "5m", clock_skew: "0s" } });
    await started;
    const now = Math.floor(Date.now() / 1000);
    await rejectsWith(auth.verify(await idp.sign({ iat: now - 301 })), "invalid_token", /max_token_age/);
    await rejectsWith(auth.verify(await idp.sign({ iat: undefined })), "invalid_token", /"iat" is missing/);
    assert.equal((await auth.verify(await idp.sign({ iat: now - 200 }))).subject, "user-1");
    auth.close();
  });

  test("missing exp with require_expiration (default), accepted when it is off", async () => {
    const strict = ready();
    await strict.started;
    await rejectsWith(strict.auth.verify(await idp.sign({ exp: undefined })), "invalid_token", /"exp" is missing/);
    strict.auth.close();
    const lax = ready({ validation: { require_expiration: false } });
    await lax.started;
    assert.equal((await lax.auth.verify(await idp.sign({ exp: undefined }))).subject, "user-1");
    lax.auth.close();
  });

  test("missing subject", async () => {
    const { auth, started } = ready();
    await started;
    await rejectsWith(auth.verify(await idp.sign({ sub: undefined })), "invalid_token", /"sub"/);
    auth.close();
  });

  test("a sender-constrained token (cnf) is not a bearer token", async () => {
    const { auth, started } = ready();
    await started;
    await rejectsWith(auth.verify(await idp.sign({ cnf: { jkt: "abc" } })), "invalid_token", /cnf/);
    auth.close();
  });
});

describe("header and signature attacks", () => {
  test('alg "none" is refused before any key lookup', async () => {
    const { auth, started } = ready();
    await started;
    const jwksBefore = idp.count("/jwks");
    const header = base64url.encode(JSON.stringify({ alg: "none", typ: "JWT" }));
    const now = Math.floor(Date.now() / 1000);
    const payload = base64url.encode(JSON.stringify({ iss: idp.issuer, aud: RESOURCE, sub: "admin", exp: now + 300, iat: now }));
    await rejectsWith(auth.verify(`${header}.${payload}.`), "invalid_token", /alg "none" is not allowed/);
    await rejectsWith(auth.verify(`${header}.${payload}`), "invalid_token", /not a JWT/);
    assert.equal(idp.count("/jwks"), jwksBefore);
    auth.close();
  });

  test("HS256 signed with the IdP's public key as the HMAC secret", async () => {
    const { auth, started } = ready({ validation: { allowed_algorithms: ["RS256", "ES256"] } });
    await started;
    const rsa = idp.keys.find((key) => key.alg === "RS256")!;
    const publicPem = await exportSPKI((await importJWK(rsa.publicJwk, "RS256", { extractable: true })) as CryptoKey);
    const now = Math.floor(Date.now() / 1000);
    for (const secret of [new TextEncoder().encode(publicPem), new TextEncoder().encode(JSON.stringify(rsa.publicJwk))]) {
      const token = await new SignJWT({ iss: idp.issuer, aud: RESOURCE, sub: "admin", iat: now, exp: now + 300 }).setProtectedHeader({ alg: "HS256", kid: rsa.kid, typ: "JWT" }).sign(secret);
      await rejectsWith(auth.verify(token), "invalid_token", /alg "HS256" is not allowed/, token);
    }
    auth.close();
  });

  test("an allowed algorithm that does not match the key type of the kid", async () => {
    const { auth, started } = ready({ validation: { allowed_algorithms: ["RS256", "ES256", "PS256"] } });
    await started;
    const ec = idp.keys.find((key) => key.alg === "ES256")!;
    const rsa = idp.keys.find((key) => key.alg === "RS256")!;
    // RS256 header naming the EC key's kid, signed with the RSA key.
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ iss: idp.issuer, aud: RESOURCE, sub: "admin", iat: now, exp: now + 300 })
      .setProtectedHeader({ alg: "RS256", kid: ec.kid, typ: "JWT" })
      .sign(rsa.privateKey);
    await rejectsWith(auth.verify(token), "invalid_token", /no key for kid/, token);
    // PS256 with the RSA key's kid: the JWK says alg RS256, so it is not a candidate either.
    const psKey = await importJWK({ ...rsa.privateJwk, alg: "PS256" }, "PS256");
    const ps = await new SignJWT({ iss: idp.issuer, aud: RESOURCE, sub: "admin", iat: now, exp: now + 300 }).setProtectedHeader({ alg: "PS256", kid: rsa.kid }).sign(psKey);
    await rejectsWith(auth.verify(ps), "invalid_token", /no key for kid/, ps);
    auth.close();
  });

  test("an algorithm outside allowed_algorithms, even with a valid signature", async () => {
    const { auth, started } = ready({ validation: { allowed_algorithms: ["ES256"] } });
    await started;
    const rsa = idp.keys.find((key) => key.alg === "RS256")!;
    await rejectsWith(auth.verify(await idp.sign({}, { key: rsa })), "invalid_token", /alg "RS256" is not allowed/);
    auth.close();
  });

  test("a token from another issuer with the same kid", async () => {
    const { auth, started } = ready();
    await started;
    const real = idp.keys[0]!;
    const impostor = await makeKey(real.alg, real.kid);
    for (const iss of ["https://other-idp.example", idp.issuer]) {
      const token = await idp.sign({ iss }, { key: impostor });
      await rejectsWith(auth.verify(token), "invalid_token", /signature verification failed/, token);
    }
    auth.close();
  });

  test("a tampered payload fails the signature check", async () => {
    const { auth, started } = ready();
    await started;
    const token = await idp.token();
    const [h, p, s] = token.split(".");
    const claims = JSON.parse(new TextDecoder().decode(base64url.decode(p!)));
    claims.scope = "mcp:read mcp:write mcp:admin";
    const forged = `${h}.${base64url.encode(JSON.stringify(claims))}.${s}`;
    await rejectsWith(auth.verify(forged), "invalid_token", /signature/, forged);
    auth.close();
  });

  test("a JWT of another kind (typ dpop+jwt) is not an access token", async () => {
    const { auth, started } = ready();
    await started;
    await rejectsWith(auth.verify(await idp.sign({}, { header: { typ: "dpop+jwt" } })), "invalid_token", /typ/);
    auth.close();
  });

  test("keys named by the token itself (jku / jwk) are refused", async () => {
    const { auth, started } = ready();
    await started;
    await rejectsWith(auth.verify(await idp.sign({}, { header: { jku: "https://evil.example/jwks" } })), "invalid_token", /jku/);
    auth.close();
  });
});

describe("malformed and oversized tokens", () => {
  test("garbage is invalid_token without any IdP call", async () => {
    const { auth, started } = ready();
    await started;
    idp.resetCounts();
    for (const token of ["abc", "a.b.c", "eyJhbGciOiJFUzI1NiJ9.e30", "eyJ.eyJ.sig", "has space", "x".repeat(100) + "==a", "é"]) {
      const error = await rejectsWith(auth.verify(token), "invalid_token", /./);
      assert.ok(error instanceof AuthError);
    }
    assert.equal(idp.count("/jwks") + idp.count("/token/introspection"), 0);
    auth.close();
  });

  test("a token over 16 KiB is refused unread", async () => {
    const { auth, started } = ready();
    await started;
    const huge = (await idp.sign({ pad: "x".repeat(17 * 1024) })) as string;
    await rejectsWith(auth.verify(huge), "invalid_token", /longer than 16384/);
    await rejectsWith(auth.verify("a".repeat(16 * 1024 + 1)), "invalid_token", /longer than/);
    auth.close();
  });
});

describe("scopes", () => {
  test("required_scopes are enforced in verify (403 insufficient_scope) and advertised", async () => {
    const { auth, started } = ready({ required_scopes: ["mcp:read", "mcp:admin"], method_scopes: { "tools/call": ["mcp:write"], "tools/call:delete": ["mcp:admin"] } });
    await started;
    const error = await rejectsWith(auth.verify(await idp.token({ scope: "mcp:read" })), "insufficient_scope", /mcp:admin/);
    assert.equal(error.status, 403);
    assert.deepEqual(error.requiredScopes, ["mcp:read", "mcp:admin"]);
    assert.deepEqual(auth.requiredScopes, ["mcp:read", "mcp:admin"]);
    assert.ok((await auth.verify(await idp.token({ scope: "mcp:read mcp:admin" }))).scopes.includes("mcp:admin"));
    assert.deepEqual(auth.scopesFor!("tools/call", "echo"), ["mcp:write"]);
    assert.deepEqual(auth.scopesFor!("tools/call", "delete"), ["mcp:write", "mcp:admin"]);
    assert.deepEqual(auth.scopesFor!("resources/read"), []);
    assert.deepEqual(auth.scopesFor!("constructor"), []);
    assert.deepEqual(auth.protectedResource, { authorizationServers: [idp.issuer], scopesSupported: ["mcp:read", "mcp:admin", "mcp:write"] });
    auth.close();
  });

  test("a scope that cannot be carried in a challenge is a configuration error", () => {
    assert.throws(() => makeAuthenticator(idp, { required_scopes: ['bad "scope'] }), TypeError);
  });
});

test("no token or part of it reaches the log", async () => {
  const { auth, started, logger } = ready();
  await started;
  const tokens = [await idp.token(), await idp.sign({ iss: "https://evil.example" }), await idp.sign({}, { header: { kid: "nope" } })];
  for (const token of tokens) await auth.verify(token).catch(() => {});
  const text = logger.text();
  for (const token of tokens) {
    for (const part of token.split(".")) assert.ok(!text.includes(part), "a token segment appears in the log");
  }
  auth.close();
});
