/**
 * @module Test support: Debian's Chromium driven by playwright-core, as the browser in which a user
 * signs in (the bridge's login page, an upstream identity provider's). `.ci/run` installs it.
 */
import { after, before } from "node:test";
import { chromium, type Browser, type Page } from "playwright-core";

/** Where Debian puts Chromium; CHROMIUM_PATH overrides it. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** Headless Chromium without the background traffic (updates, sync) that a test machine has no network for. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      // Only loopback resolves: a test's made-up hosts (a client's https callback) fail at once, offline.
      "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
    ],
    timeout: 60_000,
  });
}

/** Launches Chromium before the calling file's (or suite's) tests and closes it after; `started` receives it. */
export function useBrowser(started: (browser: Browser) => void): void {
  let browser: Browser | undefined;
  before(async () => {
    browser = await launchChromium();
    started(browser);
  });
  after(async () => {
    await browser?.close();
  });
}

export interface BrowserAuthorization {
  /** The URL the browser was sent to at `redirectUri`: the authorization response (code, state, iss, or error). */
  callback: URL;
  /** Every page the browser loaded on the way, with its HTTP status, for assertions and failure reports. */
  visited: { url: string; status: number }[];
}

/**
 * Opens `authorizationUrl` in a fresh browser context (no cookies) and lets `interact` act on each
 * page as a user would (fill in and submit forms), until the browser is sent to a URL starting with
 * `redirectUri`: the URL of that request is the result. The browser goes on to load it (a real
 * callback server gets it; a made-up host fails at once, see the resolver rules in launchChromium).
 * `interact` is called with the page after each load that is not the callback; it should submit
 * something, or the wait times out after `timeoutMs`.
 */
export async function authorizeInBrowser(
  browser: Browser,
  authorizationUrl: URL | string,
  options: { redirectUri: string; interact: (page: Page) => Promise<void>; timeoutMs?: number },
): Promise<BrowserAuthorization> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const context = await browser.newContext();
  const visited: { url: string; status: number }[] = [];
  try {
    const page = await context.newPage();
    page.setDefaultTimeout(timeoutMs);
    page.on("response", (response) => {
      if (response.request().isNavigationRequest()) visited.push({ url: response.url(), status: response.status() });
    });
    let resolveCallback!: (url: URL) => void;
    const reached = new Promise<URL>((resolve) => (resolveCallback = resolve));
    // A request event, not a route: Chromium follows redirects without consulting routes, and the
    // callback is always reached through the server's redirect.
    page.on("request", (request) => {
      if (request.isNavigationRequest() && request.url().startsWith(options.redirectUri)) resolveCallback(new URL(request.url()));
    });
    let done = false;
    const callback = reached.then((url) => ((done = true), url));
    // Loading a made-up callback host fails; that is the end of the journey, not an error.
    await page.goto(String(authorizationUrl)).catch((error: unknown) => {
      if (!done) throw error;
    });
    const deadline = Date.now() + timeoutMs;
    while (!done) {
      if (Date.now() > deadline) throw new Error(`the browser did not reach ${options.redirectUri}; pages: ${JSON.stringify(visited)}`);
      // Listening before acting: a form posted back to the same URL (a wrong password) navigates too.
      const navigated = page.waitForEvent("framenavigated", { predicate: (frame) => frame === page.mainFrame(), timeout: timeoutMs });
      navigated.catch(() => {}); // the callback may win the race; the context's close then rejects this
      await options.interact(page);
      await Promise.race([callback, navigated.then(() => page.waitForLoadState())]);
    }
    return { callback: await callback, visited };
  } finally {
    await context.close();
  }
}
