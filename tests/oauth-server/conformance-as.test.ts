/**
 * @module The official conformance suite's authorization-server scenarios
 * (`@modelcontextprotocol/conformance@0.2.0-alpha.12 authorization --url ISSUER`: metadata endpoint,
 * authorization-code grant) against the built CLI, in builtin and in federated mode, the sign-in
 * step done by Chromium (on the bridge's page; at the upstream provider in federated mode).
 */
import assert from "node:assert/strict";
import { after, before, describe, test, type TestContext } from "node:test";
import type { Browser, Page } from "playwright-core";
import { useIdp, type Idp } from "../auth-oauth/support.ts";
import type { RunningBridge } from "../support/bridge.ts";
import { authorizeInBrowser, useBrowser } from "../support/browser.ts";
import { freeLoopbackPort, runAuthorizationSuite, type ConformanceCheck } from "../support/conformance-as.ts";
import { ALICE, registerClient, startAsBridge, tempDir, useAsBridge } from "./support.ts";

const SCENARIOS = ["authorization-server-metadata-endpoint", "authorization-code-grant"];

let browser: Browser;
useBrowser((started) => (browser = started));

function describeCheck(check: ConformanceCheck): string {
  return `[${check.status}] ${check.id}: ${check.errorMessage ?? check.name}`;
}

/** Runs the suite against `bridge`, `signIn` doing the browser's part, and asserts every check passed. */
async function assertSuitePasses(t: TestContext, bridge: RunningBridge, signIn: (page: Page) => Promise<void>): Promise<void> {
  const port = await freeLoopbackPort();
  const callback = `http://127.0.0.1:${port}/callback`;
  const { client_id: clientId } = await registerClient(bridge.origin, [callback]);
  let signedIn = false;
  const run = await runAuthorizationSuite({
    issuer: bridge.origin,
    clientId,
    resource: bridge.url,
    port,
    outputDir: tempDir(),
    authorize: async (url) => {
      assert.equal(url.origin, bridge.origin);
      await authorizeInBrowser(browser, url, { redirectUri: callback, interact: signIn });
      signedIn = true;
    },
  });
  const report = `exit ${run.exitCode}\n--- stdout ---\n${run.stdout.slice(-3000)}\n--- stderr ---\n${run.stderr.slice(-2000)}`;
  assert.ok(signedIn, `the suite asked for a sign-in and the browser did it\n${report}`);
  assert.deepEqual([...run.checks.keys()].sort(), [...SCENARIOS].sort(), `every scenario wrote its checks\n${report}`);
  for (const scenario of SCENARIOS) {
    await t.test(scenario, () => {
      const checks = run.checks.get(scenario)!;
      assert.ok(checks.length > 0);
      const bad = checks.filter((check) => check.status !== "SUCCESS");
      assert.equal(bad.length, 0, `${bad.map(describeCheck).join("\n")}\n${report}`);
    });
  }
  assert.equal(run.exitCode, 0, report);
}

describe("conformance suite, authorization-server scenarios, builtin mode", () => {
  const bridge = useAsBridge();

  test("every scenario passes, warnings included", { timeout: 240_000 }, (t) =>
    assertSuitePasses(t, bridge, async (page) => {
      await page.locator("#username").fill(ALICE.username);
      await page.locator("#password").fill(ALICE.password);
      await page.getByRole("button", { name: /allow|sign in/i }).click();
    }));
});

describe("conformance suite, authorization-server scenarios, federated mode (oidc-provider upstream)", () => {
  let idp: Idp;
  useIdp((started) => (idp = started));
  let bridge: RunningBridge;
  before(async () => {
    idp.accounts.set("alice", { email: "alice@example.com", email_verified: true });
    bridge = await startAsBridge({
      oauthServer: { mode: "federated", builtin: { users: [] }, federated: { upstream_issuer: idp.issuer, client_id: "bridge", client_secret_env: "UPSTREAM_SECRET", default_scopes: ["mcp:read"] } },
      env: { UPSTREAM_SECRET: "upstream-secret-not-real-0123456789" },
    });
    await idp.registerClient({ client_id: "bridge", client_secret: "upstream-secret-not-real-0123456789", redirect_uris: [`${bridge.origin}/oauth/callback`] });
  });
  after(async () => {
    await bridge?.stop();
  });

  test("every scenario passes, warnings included", { timeout: 240_000 }, (t) =>
    assertSuitePasses(t, bridge, async (page) => {
      if (page.url().startsWith(bridge.origin)) {
        await page.getByRole("button", { name: /allow|continue/i }).click();
      } else {
        await page.getByLabel("Account").fill("alice");
        await page.getByRole("button", { name: "Sign in" }).click();
      }
    }));
});
