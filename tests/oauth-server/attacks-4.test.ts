/**
 * @module Attacks on the authorization server, fourth round: what a hostile party gains by sending
 * its attempts at once rather than one after another, and by using the bridge's own URL to send
 * people elsewhere.
 */
import assert from "node:assert/strict";
import bcrypt from "bcryptjs";
import { test } from "node:test";
import { ALICE, authorizeUrl, openLoginPage, registerClient, startAsBridge, submitLogin } from "./support.ts";

test("password guesses sent all at once get no more checks than guesses sent one by one", { timeout: 180_000 }, async () => {
  // Cost 12: a check takes long enough (and yields to other requests as it runs) that the guesses are all in flight together.
  const bridge = await startAsBridge({ storage: { type: "memory" }, oauthServer: { builtin: { users: [{ username: ALICE.username, password_hash: bcrypt.hashSync(ALICE.password, 12), scopes: ALICE.scopes }] } } });
  try {
    const { client_id } = await registerClient(bridge.origin);
    const form = await openLoginPage(authorizeUrl(bridge.origin, client_id).url);
    const responses = await Promise.all(Array.from({ length: 30 }, (_, i) => submitLogin(bridge.origin, form, { username: ALICE.username, password: `guess-${i}` })));
    const statuses = responses.map((response) => response.status);
    await Promise.all(responses.map((response) => response.text()));
    const checked = statuses.filter((status) => status === 400).length;
    // One by one, five guesses per username and address are checked before the waits begin.
    assert.ok(checked <= 5, `at most 5 of 30 simultaneous guesses are checked, got ${checked}: ${statuses.join(" ")}`);
    assert.equal(statuses.filter((status) => status === 429).length, 30 - checked, `the rest are told to wait: ${statuses.join(" ")}`);
  } finally {
    await bridge.stop();
  }
});
