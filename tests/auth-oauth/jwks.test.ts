/** @module The JWKS cache against a real IdP: unknown-kid floods, key rotation, scheduled refresh, outages. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { makeAuthenticator, makeKey, rejectsWith, sleep, waitFor, type Idp, useIdp } from "./support.ts";

let idp: Idp;
useIdp((started) => (idp = started));

test("a flood of unknown kids causes at most one JWKS refetch per cooldown", async () => {
  // A cooldown long enough that the whole flood below fits in one, even on a loaded machine.
  const { auth } = makeAuthenticator(idp, { jwks: { cooldown: "3s", refresh_interval: "1h" } });
  await auth.start();
  await sleep(3100); // past the cooldown that the initial fetch started
  const before = idp.count("/jwks");
  const forged = await Promise.all(Array.from({ length: 20 }, async (_, i) => idp.sign({ sub: `x${i}` }, { key: await makeKey("ES256") })));
  // Concurrent burst, then a sequential stream, all within one cooldown.
  await Promise.all(forged.map((token) => auth.verify(token).catch(() => undefined)));
  for (const token of forged) await rejectsWith(auth.verify(token), "invalid_token", /no key for kid/, token);
  for (let i = 0; i < 50; i++) await rejectsWith(auth.verify(await idp.sign({ sub: `y${i}` }, { header: { kid: `random-${i}` } })), "invalid_token", /no key for kid/);
  assert.equal(idp.count("/jwks") - before, 1, "exactly one refetch for the whole flood");
  // The next cooldown allows one more, not one per token.
  await sleep(3100);
  await Promise.all(Array.from({ length: 20 }, async (_, i) => auth.verify(await idp.sign({}, { header: { kid: `later-${i}` } })).catch(() => undefined)));
  assert.equal(idp.count("/jwks") - before, 2);
  auth.close();
});

test("key rotation at the IdP works without a restart", async () => {
  const { auth } = makeAuthenticator(idp, { jwks: { cooldown: "100ms", refresh_interval: "1h" } });
  await auth.start();
  const oldKey = idp.keys[0]!;
  const oldToken = await idp.token();
  assert.ok(await auth.verify(oldToken));
  await idp.rotateKeys();
  await sleep(150);
  const newToken = await idp.token();
  assert.notEqual(JSON.parse(atob(newToken.split(".")[0]!)).kid, oldKey.kid);
  assert.equal((await auth.verify(newToken)).subject, "m2m-client");
  // The old key is gone from the IdP's set, so new tokens signed with it are refused…
  await rejectsWith(auth.verify(await idp.sign({ sub: "late" }, { key: oldKey })), "invalid_token", /no key for kid/);
  // …while a token validated before the rotation stays valid from the cache until it is re-checked.
  assert.ok(await auth.verify(oldToken));
  auth.close();
});

test("the JWKS is refetched every refresh_interval", async () => {
  const { auth } = makeAuthenticator(idp, { jwks: { refresh_interval: "200ms", cooldown: "1h" } });
  const before = idp.count("/jwks");
  await auth.start();
  await waitFor(() => idp.count("/jwks") - before >= 4, "four more JWKS fetches");
  auth.close();
  const stopped = idp.count("/jwks");
  await sleep(400);
  assert.equal(idp.count("/jwks"), stopped, "close() stops the refresh");
});

test("IdP down: cached keys keep working; refresh failures keep them; an unknown kid fails closed with 503", async () => {
  const { auth, logger } = makeAuthenticator(idp, { jwks: { refresh_interval: "150ms", cooldown: "100ms" } });
  await auth.start();
  assert.ok(await auth.verify(await idp.token()));
  const unverified = await idp.token();
  idp.setDown(true);
  try {
    assert.equal((await auth.verify(unverified)).subject, "m2m-client");
    await waitFor(() => logger.lines.some((line) => line.message.startsWith("JWKS refresh failed; keeping")), "the failed refresh in the log");
    assert.equal((await auth.verify(await idp.sign({ sub: "during-outage" }))).subject, "during-outage");
    await sleep(120);
    await rejectsWith(auth.verify(await idp.sign({}, { header: { kid: "rotated-maybe" } })), "temporarily_unavailable", /refetch/);
    // Other checks still run on cached keys.
    await rejectsWith(auth.verify(await idp.sign({ aud: "https://elsewhere" })), "invalid_token", /"aud"/);
  } finally {
    idp.setDown(false);
  }
  await waitFor(() => logger.lines.some((line) => line.message === "JWKS fetched again"), "the JWKS fetched again");
  auth.close();
});
