/**
 * @module Chromium (playwright-core) signs in on the bridge's built-in page, in the flow of an MCP
 * SDK client that listens for its callback on loopback, as Claude Code and MCP Inspector do: the
 * SDK discovers and registers, the browser signs in (a wrong password first), the SDK's callback
 * server receives the code, and the token calls a tool.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Browser } from "playwright-core";
import { authorizeInBrowser, useBrowser } from "../support/browser.ts";
import { ALICE, MemoryProvider, useAsBridge } from "./support.ts";

/** The client side: a loopback server that receives the authorization response, as a desktop client runs. */
async function startCallbackServer(): Promise<{ server: Server; redirectUri: string; received: Promise<URL> }> {
  let resolve!: (url: URL) => void;
  const received = new Promise<URL>((done) => (resolve = done));
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", `http://${req.headers.host}`);
    if (url.pathname !== "/callback") return void res.writeHead(404).end();
    res.writeHead(200, { "content-type": "text/html" }).end("<p>You can close this window.</p>");
    resolve(url);
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  return { server, redirectUri: `http://127.0.0.1:${(server.address() as AddressInfo).port}/callback`, received };
}

/** An OAuthClientProvider whose browser is Chromium, driven by `signIn`. */
class BrowserProvider extends MemoryProvider {
  pages: { url: string; status: number }[] = [];
  constructor(
    redirectUrl: string,
    private readonly browser: Browser,
    private readonly signIn: (page: import("playwright-core").Page) => Promise<void>,
  ) {
    super(redirectUrl, "Browser SDK client", "browser-state");
  }
  async redirectToAuthorization(url: URL) {
    const { visited } = await authorizeInBrowser(this.browser, url, { redirectUri: this.redirectUrl, interact: this.signIn });
    this.pages = visited;
  }
}

let browser: Browser;
useBrowser((started) => (browser = started));

describe("Chromium on the built-in sign-in page", () => {
  const bridge = useAsBridge();

  test("an SDK client's flow whose authorization step is done in the browser, wrong password first", { timeout: 120_000 }, async () => {
    const callback = await startCallbackServer();
    try {
      let attempts = 0;
      const provider = new BrowserProvider(callback.redirectUri, browser, async (page) => {
        assert.equal(new URL(page.url()).origin, bridge.origin, "the sign-in page is the bridge's own");
        // Consent: the page names the client and where the browser will be sent.
        assert.match((await page.textContent("body")) ?? "", /Browser SDK client/);
        if (attempts++ > 0) assert.match((await page.getByRole("alert").textContent()) ?? "", /Wrong username or password/);
        await page.locator("#username").fill(ALICE.username);
        await page.locator("#password").fill(attempts === 1 ? "not the password" : ALICE.password);
        await page.getByRole("button", { name: /allow|sign in/i }).click();
      });
      const transport = new StreamableHTTPClientTransport(new URL(bridge.url), { authProvider: provider });
      await assert.rejects(new Client({ name: "browser-sdk", version: "1.0.0" }).connect(transport), UnauthorizedError);
      assert.equal(attempts, 2, "one failed attempt, then the right password");
      const back = await callback.received;
      assert.equal(back.searchParams.get("state"), "browser-state");
      assert.equal(back.searchParams.get("iss"), bridge.origin);
      await transport.finishAuth(back.searchParams.get("code")!);

      const client = new Client({ name: "browser-sdk", version: "1.0.0" });
      await client.connect(new StreamableHTTPClientTransport(new URL(bridge.url), { authProvider: provider }));
      assert.deepEqual((await client.callTool({ name: "echo", arguments: { text: "from the browser" } })).content, [{ type: "text", text: "from the browser" }]);
      await client.close();
      assert.match(bridge.logs(), /login_failed/);
      assert.match(bridge.logs(), /login_succeeded/);
    } finally {
      callback.server.close();
    }
  });
});
