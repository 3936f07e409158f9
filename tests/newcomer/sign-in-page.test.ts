/**
 * @module The built-in sign-in page as a person meets it in Chromium: wrong passwords are announced,
 * and once throttled the page says how long to wait in words a person reads ("1 second", not
 * "1 seconds"), with the same wait in Retry-After.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Browser } from "playwright-core";
import { useBrowser } from "../support/browser.ts";
import { ALICE, authorizeUrl, registerClient, useAsBridge } from "../oauth-server/support.ts";

const CALLBACK = "http://127.0.0.1:9/callback";
const bridge = useAsBridge();
let browser: Browser;
useBrowser((started) => (browser = started));

test("sign-in page: five wrong passwords, then 'Wait 1 second and try again.' (429, the same wait in Retry-After)", { timeout: 120_000 }, async () => {
  const client = await registerClient(bridge.origin, [CALLBACK]);
  const { url } = authorizeUrl(bridge.origin, client.client_id, { redirectUri: CALLBACK, scope: "mcp:read" });
  const page = await browser.newPage();
  try {
    page.setDefaultTimeout(60_000);
    await page.goto(url.href);
    const attempt = async (password: string) => {
      await page.fill('input[name="username"]', ALICE.username);
      await page.fill('input[name="password"]', password);
      const [response] = await Promise.all([page.waitForResponse((r) => r.request().method() === "POST"), page.click('button[value="allow"]')]);
      await page.waitForLoadState();
      return { status: response.status(), retryAfter: await response.headerValue("retry-after"), alert: (await page.locator('[role="alert"]').innerText()).trim() };
    };
    for (let i = 0; i < 5; i++) assert.deepEqual(await attempt(`wrong ${i}`), { status: 400, retryAfter: null, alert: "Wrong username or password." });
    // The 6th comes within the first 1 s delay unless the machine is slow; then a later one is refused with a longer wait.
    let refused = await attempt("wrong again");
    for (let i = 0; refused.status !== 429 && i < 5; i++) refused = await attempt(`wrong again ${i}`);
    assert.equal(refused.status, 429, refused.alert);
    const seconds = Number(refused.retryAfter);
    const minutes = Math.ceil(seconds / 60);
    const wait = seconds === 1 ? "1 second" : seconds < 60 ? `${seconds} seconds` : minutes === 1 ? "1 minute" : `${minutes} minutes`;
    assert.equal(refused.alert, `Too many failed attempts. Wait ${wait} and try again.`);
  } finally {
    await page.close();
  }
});
