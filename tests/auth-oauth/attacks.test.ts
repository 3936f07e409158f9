/** Attacks on token validation that the other files do not make: cache eviction by floods, hostile key sets. */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { SignJWT } from "jose";
import { startDrippingJsonServer } from "../support/drip.ts";
import { startJsonEndpoint } from "../support/json-endpoint.ts";
import { ECHO_SERVER, startBridge, useBridge } from "../support/bridge.ts";
import { initialize } from "../hardening/support.ts";
import { BRIDGE_CLIENT, makeAuthenticator, makeKey, RESOURCE, rejectsWith, waitFor } from "./support.ts";

describe("introspection under a flood of bad tokens", () => {
  test("an attacker's inactive tokens do not push an honest user's cached answer out: it still works while the IdP is down", async () => {
    const HONEST = "honest-opaque-token-0123456789";
    let honestCalls = 0;
    const idp = await startJsonEndpoint((body) => {
      const token = new URLSearchParams(body).get("token");
      if (token !== HONEST) return { status: 200, json: { active: false } };
      honestCalls++;
      return { status: 200, json: { active: true, sub: "alice", aud: RESOURCE, exp: Math.floor(Date.now() / 1000) + 3600, token_type: "Bearer" } };
    });
    const { auth } = makeAuthenticator(undefined, {
      introspection_url: `${idp.origin}/introspect`,
      client_id: BRIDGE_CLIENT.id,
      client_secret: BRIDGE_CLIENT.secret,
      introspection: { cache_ttl: "1h" },
    });
    try {
      await auth.start();
      assert.equal((await auth.verify(HONEST)).subject, "alice");
      // More distinct bad tokens than the bridge caches answers for (10 000), a few at a time.
      let next = 0;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < 10_100) await rejectsWith(auth.verify(`attacker-${next++}-0123456789`), "invalid_token", /not active/);
        }),
      );
      idp.state.down = true;
      assert.equal((await auth.verify(HONEST)).subject, "alice", "the honest answer is still cached");
      assert.equal(honestCalls, 1);
    } finally {
      auth.close();
      idp.close();
    }
  });
});

describe("a JWKS endpoint that answers with no usable key", () => {
  const brokenKeys = [{ kty: "RSA", kid: "broken" }, { kty: "EC", crv: "P-256" }, { kty: "OKP", crv: "Ed25519", x: 42 }];
  for (const [name, text, reason] of [
    ["an empty set", JSON.stringify({ keys: [] }), /no usable signing key/],
    ["only keys without their public members", JSON.stringify({ keys: brokenKeys }), /no usable signing key/],
    ["an HTML page", "<html>maintenance</html>", /not JSON/],
    ["a set over 512 KiB", JSON.stringify({ keys: [], padding: "x".repeat(600 * 1024) }), /larger than/],
    ["more than 100 keys", JSON.stringify({ keys: Array.from({ length: 101 }, (_, i) => ({ kty: "OKP", crv: "Ed25519", x: `k${i}` })) }), /at most 100/],
  ] as const) {
    test(`${name}: the keys already fetched keep working, and the refusal is logged`, async () => {
      const key = await makeKey("ES256");
      let answer = JSON.stringify({ keys: [key.publicJwk] });
      let fetches = 0;
      const jwks = await startJsonEndpoint(() => (fetches++, { status: 200, text: answer }));
      const { auth, logger } = makeAuthenticator(undefined, { jwks_url: `${jwks.origin}/jwks`, jwks: { refresh_interval: "100ms", cooldown: "100ms" } });
      const sign = (sub: string) =>
        new SignJWT({ sub, aud: RESOURCE }).setProtectedHeader({ alg: "ES256", kid: key.kid, typ: "at+jwt" }).setIssuedAt().setExpirationTime("5m").sign(key.privateKey);
      try {
        await auth.start();
        assert.equal((await auth.verify(await sign("before"))).subject, "before");
        answer = text;
        const seen = fetches;
        await waitFor(() => fetches >= seen + 2, "two more fetches");
        // A token not seen before: verified with the kept key, not refused for want of one.
        assert.equal((await auth.verify(await sign("after"))).subject, "after");
        assert.ok(logger.lines.some((line) => line.message.startsWith("JWKS refresh failed; keeping") && reason.test(String(line.fields.reason))), logger.text());
        // A kid the IdP never had is still refused.
        await rejectsWith(auth.verify(await new SignJWT({ sub: "x", aud: RESOURCE }).setProtectedHeader({ alg: "ES256", kid: "made-up" }).setExpirationTime("5m").sign(key.privateKey)), "temporarily_unavailable", /kid/);
      } finally {
        auth.close();
        jwks.close();
      }
    });
  }
});

describe("an introspection endpoint that answers too slowly", () => {
  test("a body dripped past http_timeout fails closed with 503 (temporarily_unavailable), named as a timeout", async () => {
    const idp = await startDrippingJsonServer('{"active": ');
    const { auth } = makeAuthenticator(undefined, {
      introspection_url: `${idp.origin}/introspect`,
      client_id: BRIDGE_CLIENT.id,
      client_secret: BRIDGE_CLIENT.secret,
      http_timeout: "500ms",
    });
    try {
      await rejectsWith(auth.verify("opaque-token-0123456789"), "temporarily_unavailable", /introspection failed: introspection endpoint timed out/);
    } finally {
      auth.close();
      idp.close();
    }
  });
});

describe("introspection answers whose claims have the wrong types, through the built CLI", () => {
  const now = () => Math.floor(Date.now() / 1000);
  // Token → the IdP's answer; every one active, for the same client.
  const answers: Record<string, Record<string, unknown>> = {
    "numeric-sub-alice-0123456789": { sub: 1001 },
    "numeric-sub-bob-0123456789": { sub: 2002 },
    "empty-sub-0123456789": { sub: "" },
    "string-exp-0123456789": { sub: "carol", exp: String(now() - 3600) },
    "null-exp-0123456789": { sub: "carol", exp: null },
    "string-nbf-0123456789": { sub: "carol", nbf: String(now() + 3600) },
    "array-token-type-0123456789": { sub: "carol", token_type: ["refresh_token"] },
    "no-sub-0123456789": {},
  };
  let idp: Awaited<ReturnType<typeof startJsonEndpoint>>;
  const bridge = useBridge(async () => {
    idp = await startJsonEndpoint((body) => {
      const answer = answers[new URLSearchParams(body).get("token") ?? ""];
      return { status: 200, json: answer ? { active: true, client_id: "shared-app", ...answer } : { active: false } };
    });
    const auth = { type: "oauth", oauth: { introspection_url: `${idp.origin}/introspect`, client_id: BRIDGE_CLIENT.id, client_secret: BRIDGE_CLIENT.secret } };
    return startBridge({ server: { mcp_server: { command: process.execPath, args: [ECHO_SERVER] }, auth } });
  });
  after(() => idp?.close());

  for (const token of Object.keys(answers).filter((token) => token !== "no-sub-0123456789")) {
    // A numeric or empty sub fell back to the shared client_id (two users, one owner of sessions); mistyped times and types were ignored.
    test(`${token.replace(/-0123456789$/, "")}: 401, neither an identity nor a live token`, async () => {
      const { response, body } = await initialize(bridge.url, { authorization: `Bearer ${token}` });
      assert.equal(response.status, 401, body);
      assert.match(body, /invalid_token/);
    });
  }

  test("an answer without sub acts for its client (RFC 7662 §2.2), as documented", async () => {
    const { response, session, body } = await initialize(bridge.url, { authorization: "Bearer no-sub-0123456789" });
    assert.equal(response.status, 200, body);
    assert.ok(session);
  });
});

describe("a key set holding several keys a token could be verified with, through the built CLI", () => {
  let jwks: Awaited<ReturnType<typeof startJsonEndpoint>>;
  let keys: Array<Awaited<ReturnType<typeof makeKey>>>;
  const bridge = useBridge(async () => {
    keys = await Promise.all([makeKey("RS256", "k1"), makeKey("RS256", "k2"), makeKey("RS256", "k3")]);
    // k1 listed twice (an IdP's duplicate), k2 once; k3 is nobody's.
    jwks = await startJsonEndpoint(() => ({ status: 200, json: { keys: [keys[0]!.publicJwk, keys[0]!.publicJwk, keys[1]!.publicJwk] } }));
    return startBridge({ server: { mcp_server: { command: process.execPath, args: [ECHO_SERVER] }, auth: { type: "oauth", oauth: { jwks_url: `${jwks.origin}/jwks` } } } });
  });
  after(() => jwks?.close());

  const token = (key: Awaited<ReturnType<typeof makeKey>>, withKid: boolean, expires = "5m") =>
    new SignJWT({ sub: "alice", aud: bridge.url }).setProtectedHeader({ alg: "RS256", ...(withKid && { kid: key.kid }) }).setIssuedAt().setExpirationTime(expires).sign(key.privateKey);

  for (const [what, make, status] of [
    ["a token without kid signed by the set's second RSA key (kid is optional, RFC 7515 §4.1.4)", () => token(keys[1]!, false), 200],
    ["a token without kid signed by its first", () => token(keys[0]!, false), 200],
    ["a token whose kid the set lists twice", () => token(keys[0]!, true), 200],
    ["a token without kid signed by a key the set does not hold", () => token(keys[2]!, false), 401],
    ["an expired token without kid, signed by a key of the set", () => token(keys[1]!, false, "-1h"), 401],
  ] as const) {
    test(`${what}: ${status}`, async () => {
      const { response, body } = await initialize(bridge.url, { authorization: `Bearer ${await make()}` });
      assert.equal(response.status, status, body);
    });
  }
});
