/**
 * @module The wall clock stepped back an hour under a running bridge (an NTP correction;
 * tests/support/clock-step.cjs moves Date.now() on SIGUSR2), through the built CLI: the state it
 * keeps holds times of the old clock. A refresh token rotated away before the step must still be
 * detected as reused (not taken for a concurrent refresh "just rotated" until the clock catches
 * up), a login throttle must not grow by the step (never beyond its 15-minute cap), and a login
 * session made before the step must not count as younger than any max_age.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeJwt } from "jose";
import { ROOT, type RunningBridge } from "../support/bridge.ts";
import { ALICE, authorizeUrl, BOB, cookiesOf, fullFlow, openLoginPage, postForm, registerClient, startAsBridge, submitLogin } from "./support.ts";

const HOUR = 3_600_000;

function startSteppable(oauthServer: Record<string, unknown> = {}): Promise<RunningBridge> {
  return startAsBridge({ storage: { type: "memory" }, oauthServer, env: { NODE_OPTIONS: `--require ${ROOT}tests/support/clock-step.cjs`, CLOCK_STEP_MS: String(-HOUR) } });
}

async function refresh(bridge: RunningBridge, clientId: string, token: string): Promise<Response> {
  return postForm(`${bridge.origin}/token`, { grant_type: "refresh_token", refresh_token: token, client_id: clientId });
}

/**
 * Steps the bridge's clock back an hour and waits until it shows: the `iat` of the access tokens a
 * grant of its own (`witness`, rotated as it goes) gets.
 */
async function stepBack(bridge: RunningBridge, witness: { clientId: string; refreshToken: string }): Promise<void> {
  const before = Date.now();
  bridge.process.kill("SIGUSR2");
  for (;;) {
    const response = await refresh(bridge, witness.clientId, witness.refreshToken);
    const body = (await response.json()) as { access_token: string; refresh_token: string };
    assert.equal(response.status, 200, JSON.stringify(body));
    witness.refreshToken = body.refresh_token;
    if (decodeJwt(body.access_token).iat! * 1000 < before - HOUR / 2) return;
  }
}

async function witnessGrant(bridge: RunningBridge): Promise<{ clientId: string; refreshToken: string }> {
  const { clientId, tokens } = await fullFlow(bridge, BOB, { scope: "mcp:read offline_access" });
  assert.ok(tokens.refresh_token);
  return { clientId, refreshToken: tokens.refresh_token };
}

test("a refresh token rotated away before the clock stepped back is still reuse: refused, and its grant revoked", { timeout: 120_000 }, async (t) => {
  const bridge = await startSteppable();
  t.after(() => bridge.stop());
  const witness = await witnessGrant(bridge);
  const { clientId, tokens } = await fullFlow(bridge, ALICE, { scope: "mcp:read offline_access" });
  const rotated = await refresh(bridge, clientId, tokens.refresh_token!);
  const current = ((await rotated.json()) as { refresh_token: string }).refresh_token;
  assert.equal(rotated.status, 200);

  await stepBack(bridge, witness);
  const reused = await refresh(bridge, clientId, tokens.refresh_token!);
  const body = await reused.text();
  assert.equal(reused.status, 400, `the rotated-away token is refused: ${body}`);
  assert.match(body, /already used; its grant is revoked/);
  assert.equal((await refresh(bridge, clientId, current)).status, 400, "the grant it belonged to is revoked");
});

test("a login throttle set before the clock stepped back is not lengthened by the step: its wait stays within the 15-minute cap", { timeout: 120_000 }, async (t) => {
  const bridge = await startSteppable();
  t.after(() => bridge.stop());
  const witness = await witnessGrant(bridge);
  const { client_id: clientId } = await registerClient(bridge.origin, undefined, { client_name: "Throttled" });
  const form = await openLoginPage(authorizeUrl(bridge.origin, clientId, { resource: bridge.url }).url);
  // Five free failures of one username from one address; the next attempt waits.
  for (let i = 0; i < 5; i++) {
    const response = await submitLogin(bridge.origin, form, { username: ALICE.username, password: `wrong ${i}` });
    assert.match(await response.text(), /Wrong username or password/);
  }
  await stepBack(bridge, witness);
  const response = await submitLogin(bridge.origin, form, { username: ALICE.username, password: "wrong again" });
  await response.arrayBuffer();
  const retryAfter = Number(response.headers.get("retry-after") ?? 0);
  assert.ok(retryAfter <= 15 * 60, `wait ${retryAfter} s (status ${response.status})`);
});

test("a login session made before the clock stepped back is not younger than max_age: the password is asked again", { timeout: 120_000 }, async (t) => {
  const bridge = await startSteppable({ login_session_lifetime: "2h" });
  t.after(() => bridge.stop());
  const witness = await witnessGrant(bridge);
  const { client_id: clientId } = await registerClient(bridge.origin, undefined, { client_name: "Fresh sign-in" });
  const first = await openLoginPage(authorizeUrl(bridge.origin, clientId).url);
  const signedIn = await submitLogin(bridge.origin, first, { username: ALICE.username, password: ALICE.password });
  assert.equal(signedIn.status, 303);
  const cookies = { ...first.cookies, ...cookiesOf(signedIn) };
  await stepBack(bridge, witness);
  const { url } = authorizeUrl(bridge.origin, clientId);
  assert.doesNotMatch((await openLoginPage(url, cookies)).html, /type="password"/, "the session itself still counts");
  url.searchParams.set("max_age", "60");
  // Its age on the stepped clock is minus an hour: that is no proof of a sign-in within the last minute.
  assert.match((await openLoginPage(url, cookies)).html, /type="password"/);
});
