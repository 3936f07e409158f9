/**
 * @module The official conformance suite's authorization-server scenarios
 * (`@modelcontextprotocol/conformance@0.2.0-alpha.12 authorization --url ISSUER`: metadata endpoint,
 * authorization-code grant) against the built CLI, the sign-in step done by Chromium on the
 * bridge's page.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Browser } from "playwright-core";
import type { RunningBridge } from "../support/bridge.ts";
import { authorizeInBrowser, useBrowser } from "../support/browser.ts";
import { freeLoopbackPort, runAuthorizationSuite, type ConformanceCheck } from "../support/conformance-as.ts";
import { ALICE, registerClient, startAsBridge, tempDir } from "./support.ts";

const SCENARIOS = ["authorization-server-metadata-endpoint", "authorization-code-grant"];

let browser: Browser;
useBrowser((started) => (browser = started));

function describeCheck(check: ConformanceCheck): string {
  return `[${check.status}] ${check.id}: ${check.errorMessage ?? check.name}`;
}

describe("conformance suite, authorization-server scenarios", () => {
  let bridge: RunningBridge;
  before(async () => {
    bridge = await startAsBridge();
  });
  after(async () => {
    await bridge?.stop();
  });

  test("every scenario passes, warnings included", { timeout: 240_000 }, async (t) => {
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
        await authorizeInBrowser(browser, url, {
          redirectUri: callback,
          interact: async (page) => {
            await page.locator("#username").fill(ALICE.username);
            await page.locator("#password").fill(ALICE.password);
            await page.getByRole("button", { name: /allow|sign in/i }).click();
          },
        });
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
  });
});
