/**
 * @module Password guesses from many addresses at once (each address's first guess is free, so the
 * per-address limiter cannot slow them): the bridge checks two passwords at a time and lets at most
 * 32 sign-ins wait, and tells the rest to retry, without counting that against them.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import bcrypt from "bcryptjs";
import { Secret } from "../../src/config/secret.ts";
import { createBuiltinUsers, loadCredentialKey } from "../../src/oauth-server/users.ts";
import { nodePlatform } from "../../src/runtime/node.ts";
import type { RunningBridge } from "../support/bridge.ts";
import { ALICE, ALICE_HASH, authorizeUrl, loginFrom, openLoginPage, registerClient, startAsBridge, startLoginFrom } from "./support.ts";

describe("a flood of sign-ins from many addresses", { timeout: 180_000 }, () => {
  let bridge: RunningBridge;
  let clientId: string;
  before(async () => {
    // A realistic cost: each check takes a noticeable time, as it does in production.
    bridge = await startAsBridge({ oauthServer: { builtin: { users: [{ username: ALICE.username, password_hash: bcrypt.hashSync(ALICE.password, 11), scopes: ALICE.scopes }] } } });
    ({ client_id: clientId } = await registerClient(bridge.origin));
  });
  after(async () => {
    await bridge?.stop();
  });

  test("is checked a few at a time: the rest are told to retry (503, Retry-After), and that refusal does not count against them", async () => {
    const form = await openLoginPage(authorizeUrl(bridge.origin, clientId).url);
    const addresses = Array.from({ length: 150 }, (_, i) => `127.0.${10 + Math.floor(i / 200)}.${(i % 200) + 1}`);
    const started = await Promise.all(addresses.map((address) => startLoginFrom(address, bridge.origin, form, `guess-${address}`)));
    for (const sign of started) sign.finish();
    const answers = await Promise.all(started.map((sign) => sign.answer));
    const statuses = answers.map((answer) => answer.status);
    assert.ok(statuses.every((status) => status === 400 || status === 503), `wrong passwords or busy: ${statuses.join(" ")}`);
    const busy = answers.flatMap((answer, i) => (answer.status === 503 ? [{ answer, address: addresses[i]! }] : []));
    assert.ok(busy.length > 0 && busy.length <= 150 - 34, `at most 2 checked and 32 waiting at once, the rest refused: ${busy.length} of 150 refused`);
    assert.equal(busy[0]!.answer.retryAfter, "5");
    assert.match(busy[0]!.answer.body, /Too many sign-ins are being checked right now/);
    assert.match(bridge.logs(), /login_busy/);
    // Told to retry, not failed: from such an address the right password passes at once (its one free attempt is intact).
    const retried = await loginFrom(busy[0]!.address, bridge.origin, form, ALICE.password);
    assert.equal(retried.status, 303, retried.body);
    assert.match(retried.location ?? "", /code=/);
  });
});

describe("a flood of sign-ins from one address", { timeout: 180_000 }, () => {
  test("holds at most a quarter of the waiting checks: another address still gets a turn while it holds its share", async () => {
    const users = await createBuiltinUsers({ users: [{ username: ALICE.username, password_hash: new Secret(ALICE_HASH), scopes: ALICE.scopes }] } as never, {}, await loadCredentialKey(nodePlatform, undefined));
    // 34 turns asked for by one address and not released (2 checking, 32 waiting, were there no share).
    const flood = Array.from({ length: 34 }, () => users.turn("127.0.20.1"));
    assert.equal(flood.filter((turn) => turn instanceof Promise).length, 8);
    assert.ok(flood.slice(8).every((turn) => turn === "address"), "the rest are the address's own excess");
    assert.ok(users.turn("127.0.20.2") instanceof Promise, "another address is not told to retry");
  });

  test("takes at most a quarter of the queue: another user's sign-in is still checked", async () => {
    // Its own bridge: no failures counted yet, so the address's first guesses are all checked (slowly, at a realistic cost).
    const bridge = await startAsBridge({ oauthServer: { builtin: { users: [{ username: ALICE.username, password_hash: bcrypt.hashSync(ALICE.password, 11), scopes: ALICE.scopes }] } } });
    try {
      const { client_id: clientId } = await registerClient(bridge.origin);
      const form = await openLoginPage(authorizeUrl(bridge.origin, clientId).url);
      const flood = await Promise.all(Array.from({ length: 100 }, (_, i) => startLoginFrom("127.0.20.1", bridge.origin, form, `guess-${i}`)));
      const honest = await startLoginFrom("127.0.20.2", bridge.origin, form, ALICE.password);
      for (const sign of flood) sign.finish();
      const statuses = Promise.all(flood.map((sign) => sign.answer.then((flooded) => flooded.status)));
      // The honest sign-in arrives once the flood has been told to slow down: the address's share of the queue is full then.
      await Promise.race([statuses, ...flood.map((sign) => sign.answer.then((flooded) => flooded.status === 429 || new Promise<never>(() => {})))]);
      honest.finish();
      const answer = await honest.answer;
      const flooded = await statuses;
      assert.ok(flooded.includes(429) && !flooded.includes(503), `past its share, the address's sign-ins are told to slow down (429), not that everyone must wait: ${flooded.join(" ")}`);
      assert.equal(answer.status, 303, answer.body);
      assert.match(answer.location ?? "", /code=/);
    } finally {
      await bridge.stop();
    }
  });
});
