/** Chromium (playwright-core) signs in at the upstream IdP's own page for federated mode; the bridge side finishes with the callback the browser was sent to. */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Browser } from "playwright-core";
import { ConfigSchema } from "../../src/config/schema.ts";
import { Secret } from "../../src/config/secret.ts";
import { FederatedLogin } from "../../src/oauth-server/federated/index.ts";
import { authorizeInBrowser, useBrowser } from "../support/browser.ts";
import { captureLogger, useIdp, type Idp } from "../auth-oauth/support.ts";
import { memoryStore } from "./test-store.ts";

const REDIRECT_URI = "https://mcp.example.test/oauth/callback";
let idp: Idp;
let browser: Browser;
useIdp((started) => (idp = started));
useBrowser((started) => (browser = started));

test("Chromium completes the upstream IdP's sign-in form; the callback it lands on signs the user in", { timeout: 120_000 }, async () => {
  await idp.registerClient({ client_id: "bridge-upstream", client_secret: "upstream-secret-not-real-0123456789", redirect_uris: [REDIRECT_URI] });
  idp.accounts.set("alice", { email: "alice@example.com", email_verified: true, name: "Alice" });
  const federated = ConfigSchema.parse({
    mode: "server",
    server: { mcp_server: { command: "true" }, oauth_server: { enabled: true, mode: "federated", federated: { upstream_issuer: idp.issuer, client_id: "bridge-upstream", allowed_domains: ["example.com"], default_scopes: ["mcp:read"] } } },
  }).server!.oauth_server.federated;
  const login = new FederatedLogin(federated, { store: memoryStore(), redirectUri: REDIRECT_URI, clientSecret: new Secret("upstream-secret-not-real-0123456789"), logger: captureLogger() });
  try {
    const { callback, visited } = await authorizeInBrowser(browser, await login.begin("pending-browser"), {
      redirectUri: REDIRECT_URI,
      interact: async (page) => {
        assert.equal(await page.title(), "Upstream IdP");
        await page.getByLabel("Account").fill("alice");
        await page.getByRole("button", { name: "Sign in" }).click();
      },
    });
    assert.ok(visited.some((page) => page.url.startsWith(`${idp.issuer}/interaction/`) && page.status === 200), "the IdP's login page was shown");
    const { pendingId, user } = await login.complete(callback);
    assert.equal(pendingId, "pending-browser");
    assert.deepEqual(user, { subject: "alice", email: "alice@example.com", name: "Alice", scopes: ["mcp:read"] });
  } finally {
    login.close();
  }
});
