/**
 * @module A real browser for `browser_command` in end-to-end tests: Debian's Chromium (playwright-core)
 * opens the authorization URL given as the last argument, signs in at the test IdP's form as
 * --account NAME, and waits until the loopback callback page has loaded. With MCP_TEST_BROWSER_LOG,
 * appends the URL to that file, then `callback answered STATUS TITLE` and `callback text TEXT`
 * (the page's paragraph) once the callback page has loaded.
 */
import { appendFileSync } from "node:fs";
import { launchChromium } from "../support/browser.ts";

const args = process.argv.slice(2);
const url = args.pop()!;
const account = args.includes("--account") ? args[args.indexOf("--account") + 1]! : "alice";
if (process.env.MCP_TEST_BROWSER_LOG) appendFileSync(process.env.MCP_TEST_BROWSER_LOG, `${url}\n`);
const redirectUri = new URL(url).searchParams.get("redirect_uri")!;
const browser = await launchChromium();
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(60_000);
  await page.goto(url);
  await page.fill('input[name="login"]', account);
  const [callback] = await Promise.all([page.waitForResponse((response) => response.url().startsWith(redirectUri)), page.click('button[value="login"]')]);
  await page.waitForLoadState();
  const title = await page.title();
  process.stdout.write(`${title}\n`);
  if (process.env.MCP_TEST_BROWSER_LOG) appendFileSync(process.env.MCP_TEST_BROWSER_LOG, `callback answered ${callback.status()} ${title}\ncallback text ${(await page.textContent("p")) ?? ""}\n`);
} finally {
  await browser.close();
}
