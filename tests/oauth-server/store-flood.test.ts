/**
 * @module A store filled by people who never signed in, through the built CLI: sign-ins started
 * (GET /authorize, each a pending sign-in in the store) from many addresses — here loopback
 * addresses 127.0.0.2…, each its own bucket as each IPv6 /64 of an attacker's /48 is. Pending
 * sign-ins live in a ring of slots (an eighth of storage.max_entries), so the flood cuts short the
 * oldest pending ones and never fills the store: someone who did sign in still refreshes, and the
 * next person still signs in. Other unauthenticated keys get half the store at most, and the counters
 * among them give way, the longest-held first, when a new one finds that half full.
 */
import assert from "node:assert/strict";
import { get } from "node:http";
import { test } from "node:test";
import { ALICE, authorizeUrl, BOB, fullFlow, openLoginPage, postForm, registerClient, signIn, startAsBridge, submitLogin } from "./support.ts";

/** GET `url` from the local address `from`; the response's status. */
function getFrom(url: URL, from: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = get({ host: url.hostname, port: url.port, path: `${url.pathname}${url.search}`, localAddress: from }, (response) => {
      response.resume();
      response.on("end", () => resolve(response.statusCode ?? 0));
    });
    request.on("error", reject);
  });
}

test("sign-ins started from many addresses never fill the store: the oldest pending ones give way, a signed-in user still refreshes, and the next person still signs in", { timeout: 120_000 }, async (t) => {
  const bridge = await startAsBridge({ storage: { type: "memory", max_entries: 200 } });
  t.after(() => bridge.stop());
  const { clientId, tokens } = await fullFlow(bridge);
  assert.ok(tokens.refresh_token);
  // Someone opens the sign-in page, then takes their time.
  const slow = await openLoginPage(authorizeUrl(bridge.origin, clientId).url);

  const { client_id: flooder } = await registerClient(bridge.origin, undefined, { client_name: "Flooder" });
  const statuses = new Map<number, number>();
  // 100 pending sign-ins per address are allowed (then 429): four addresses are far more than the store holds.
  for (let host = 2; host <= 5; host++) {
    for (let i = 0; i < 100; i++) {
      const status = await getFrom(authorizeUrl(bridge.origin, flooder, { resource: bridge.url }).url, `127.0.0.${host}`);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
  }
  assert.deepEqual([...statuses], [[200, 400]], "every sign-in was started: none refused for want of room");

  const refreshed = await postForm(`${bridge.origin}/token`, { grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id: clientId });
  assert.equal(refreshed.status, 200, `the signed-in user still refreshes: ${await refreshed.text()}`);
  const next = await fullFlow(bridge, BOB);
  assert.ok(next.tokens.access_token, "the next person signs in");
  // The price: a sign-in pending through the whole flood was among the oldest, and gave way.
  const late = await submitLogin(bridge.origin, slow, { username: ALICE.username, password: ALICE.password });
  assert.equal(late.status, 400);
  assert.match(await late.text(), /Sign-in expired/);
});

test("one address's refused guesses at ever new usernames do not fill the store: other people still sign in", { timeout: 120_000 }, async (t) => {
  // Unauthenticated keys get 100 entries; the guesses come through a trusted proxy, from one client.
  const bridge = await startAsBridge({ storage: { type: "memory", max_entries: 200 }, server: { trusted_proxies: ["127.0.0.1/32"] } });
  t.after(() => bridge.stop());
  const { client_id: clientId } = await registerClient(bridge.origin);
  const form = await openLoginPage(authorizeUrl(bridge.origin, clientId).url);
  const statuses = new Map<number, number>();
  for (let i = 0; i < 150; i++) {
    const response = await submitLogin(bridge.origin, form, { username: `nobody-${i}`, password: "guess" }, { headers: { "x-forwarded-for": "203.0.113.9" } });
    await response.arrayBuffer();
    statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
  }
  // A few checked (wrong), the rest refused by the address's backoff: none failed for want of room.
  assert.deepEqual([...statuses.keys()].sort(), [400, 429], JSON.stringify([...statuses]));
  const redirect = await signIn(authorizeUrl(bridge.origin, clientId).url);
  assert.ok(redirect.searchParams.get("code"), "someone else still signs in");
});

test("one sign-in started from each of many addresses: their counters never fill the share either, the oldest count gives way and the next person signs in", { timeout: 120_000 }, async (t) => {
  // Unauthenticated keys get 100 entries, the ring of pending sign-ins about half of them; each address leaves a counter too.
  const bridge = await startAsBridge({ storage: { type: "memory", max_entries: 200 } });
  t.after(() => bridge.stop());
  const { client_id: flooder } = await registerClient(bridge.origin, undefined, { client_name: "Flooder" });
  const statuses = new Map<number, number>();
  for (let host = 2; host <= 121; host++) {
    const status = await getFrom(authorizeUrl(bridge.origin, flooder, { resource: bridge.url }).url, `127.0.0.${host}`);
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
  }
  assert.deepEqual([...statuses], [[200, 120]], "every sign-in was started: none refused for want of room");
  const next = await fullFlow(bridge, BOB);
  assert.ok(next.tokens.access_token, "the next person signs in");
  assert.doesNotMatch(bridge.logs(), /state store is full/);
});
