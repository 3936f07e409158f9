/**
 * @module End to end through the built CLI: the SDK client over stdio spawns the bridge in client
 * mode, which talks to the bridge in server mode validating OAuth tokens from oidc-provider —
 * client credentials, and authorization code + PKCE with Chromium signing in; the second start
 * uses the cached token without a browser.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { CLI, writeConfig, type RunningBridge } from "../support/bridge.ts";
import { M2M_CLIENT, useOAuthBridge } from "../auth-oauth/support.ts";
import { waitFor } from "../client/support.ts";
import { callbackAnswers, callbackTexts, opened, testBrowser } from "./support.ts";

const [CHROMIUM_BROWSER, FETCH_BROWSER] = await Promise.all([testBrowser.chromium(), testBrowser.fetch()]);

/** Connects an SDK client to the bridge's client mode started with `auth`; stderr is collected. */
async function connectThroughBridge(url: string, auth: Record<string, unknown>, env: Record<string, string>) {
  const config = writeConfig({ mode: "client", log: { level: "debug" }, client: { url, auth } });
  const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, "-c", config], env: { PATH: process.env.PATH ?? "", ...env }, stderr: "pipe" });
  let stderr = "";
  transport.stderr?.on("data", (chunk) => (stderr += chunk));
  const client = new Client({ name: "client-auth-e2e", version: "1.0.0" });
  await client.connect(transport);
  return { client, stderr: () => stderr };
}

/** The error the local client sees when connecting through the bridge with `auth` and listing tools fails (the connect's own, or the call's). */
async function failureThroughBridge(url: string, auth: Record<string, unknown>, env: Record<string, string>): Promise<string> {
  try {
    const { client } = await connectThroughBridge(url, auth, env);
    try {
      return await client.listTools().then(() => "", (error: Error) => error.message);
    } finally {
      await client.close();
    }
  } catch (error) {
    return (error as Error).message;
  }
}

describe("client mode OAuth through the built CLI", () => {
  let bridge: RunningBridge;
  const home = mkdtempSync(join(tmpdir(), "mcp-bridge-client-e2e-"));
  useOAuthBridge({ accounts: { alice: {} } }, (started) => ({ bridge } = started));

  test("client credentials: tools listed and called through client mode", async () => {
    const { client, stderr } = await connectThroughBridge(bridge.url, { type: "oauth", oauth: { client_id: M2M_CLIENT.id, client_secret: M2M_CLIENT.secret } }, { HOME: home, XDG_STATE_HOME: join(home, "cc") });
    try {
      const { tools } = await client.listTools();
      assert.ok(tools.length > 0, stderr());
      const result = await client.callTool({ name: tools[0]!.name, arguments: { text: "hello" } });
      assert.ok(result.content, stderr());
      assert.ok(!stderr().includes(M2M_CLIENT.secret), "the secret never reaches the log");
    } finally {
      await client.close();
    }
  });

  test("authorization code: Chromium signs in once; the next start uses the cached token", { timeout: 180_000 }, async () => {
    const log = join(home, "chromium.log");
    const state = join(home, "code");
    const auth = { type: "oauth", oauth: { browser_command: [process.execPath, CHROMIUM_BROWSER, "--account", "alice"] } };
    const env = { HOME: home, XDG_STATE_HOME: state, MCP_TEST_BROWSER_LOG: log };
    const first = await connectThroughBridge(bridge.url, auth, env);
    try {
      const { tools } = await first.client.listTools();
      assert.ok(tools.length > 0, first.stderr());
      assert.match(first.stderr(), /sign-in required/);
    } finally {
      await first.client.close();
    }
    assert.equal(opened(log).length, 1, "one sign-in");
    await waitFor(() => callbackAnswers(log).length > 0, "the callback page");
    assert.deepEqual(callbackAnswers(log), ["200 Signed in"]);
    const second = await connectThroughBridge(bridge.url, auth, env);
    try {
      const { tools } = await second.client.listTools();
      assert.ok(tools.length > 0, second.stderr());
      assert.doesNotMatch(second.stderr(), /sign-in required/);
    } finally {
      await second.client.close();
    }
    assert.equal(opened(log).length, 1, "no second sign-in: the cached token was used");
  });

  test("an authorization response with another iss (a mix-up): the callback page says the sign-in failed, not 'Signed in'", async () => {
    const log = join(home, "wrong-iss.log");
    const auth = { type: "oauth", oauth: { authorization_timeout: "30s", browser_command: [process.execPath, FETCH_BROWSER, "--tamper", "iss=https://attacker.example"] } };
    const message = await failureThroughBridge(bridge.url, auth, { HOME: home, XDG_STATE_HOME: join(home, "wrong-iss"), MCP_TEST_BROWSER_LOG: log });
    assert.match(message, /authorization response rejected: unexpected .{1,2}iss/);
    await waitFor(() => callbackTexts(log).length > 0, "the callback page");
    // The bridge may try the sign-in twice (the server's 401 comes again): each page says it failed.
    assert.deepEqual([...new Set(callbackAnswers(log))], ["400 Sign-in failed"]);
    assert.match(callbackTexts(log)[0]!, /did not pass mcp-bridge.{1,5}s checks .*so it was not used/);
  });

  test("connect URL with no flags but --browser-command: OAuth on the server's 401 (mcp-remote's one line)", async () => {
    const log = join(home, "connect.log");
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [CLI, "connect", bridge.url, "--browser-command", `${process.execPath} ${FETCH_BROWSER}`],
      env: { PATH: process.env.PATH ?? "", HOME: home, XDG_STATE_HOME: join(home, "connect"), MCP_TEST_BROWSER_LOG: log },
      stderr: "pipe",
    });
    let stderr = "";
    transport.stderr?.on("data", (chunk) => (stderr += chunk));
    const client = new Client({ name: "client-auth-connect", version: "1.0.0" });
    await client.connect(transport);
    try {
      const { tools } = await client.listTools();
      assert.ok(tools.length > 0, stderr);
      // The browser logs the URL it opened, and later how the callback was answered.
      assert.equal(opened(log).length, 1, "one sign-in");
    } finally {
      await client.close();
    }
  });

  test("redirect_uri on localhost: Chromium goes to [::1] first, so a process holding [::1]:PORT would get the code; the bridge holds both or refuses", { timeout: 180_000 }, async () => {
    const auth = (port: number) => ({
      type: "oauth",
      oauth: { redirect_uri: `http://localhost:${port}/callback`, authorization_timeout: "30s", browser_command: [process.execPath, CHROMIUM_BROWSER, "--account", "alice"] },
    });
    // Honest: nobody else on the port; Chromium's redirect reaches the bridge and the sign-in completes.
    const free = createServer().listen(0, "127.0.0.1");
    await new Promise((resolve) => free.once("listening", resolve));
    const port = (free.address() as AddressInfo).port;
    await new Promise((resolve) => free.close(resolve));
    const honest = await connectThroughBridge(bridge.url, auth(port), { HOME: home, XDG_STATE_HOME: join(home, "localhost"), MCP_TEST_BROWSER_LOG: join(home, "localhost.log") });
    try {
      assert.ok((await honest.client.listTools()).tools.length > 0, honest.stderr());
    } finally {
      await honest.client.close();
    }
    // Hostile: another local program listens on [::1]:PORT before the sign-in starts.
    const seen: string[] = [];
    const squatter = createServer((request, response) => (seen.push(request.url ?? ""), response.end("<title>squatter</title>")));
    squatter.listen(0, "::1");
    await new Promise((resolve) => squatter.once("listening", resolve));
    const taken = (squatter.address() as AddressInfo).port;
    const log = join(home, "squatted.log");
    try {
      const hostile = await connectThroughBridge(bridge.url, auth(taken), { HOME: home, XDG_STATE_HOME: join(home, "squatted"), MCP_TEST_BROWSER_LOG: log }).catch((error: Error) => error);
      if (!(hostile instanceof Error)) {
        await hostile.client.listTools().catch(() => undefined);
        await hostile.client.close();
        assert.match(hostile.stderr(), /cannot listen on client\.auth\.oauth\.redirect_uri http:\/\/localhost:\d+\/callback: .*EADDRINUSE/);
      }
      assert.deepEqual(seen.filter((url) => url.includes("code=")), [], "the authorization code never reached the other program");
      assert.equal(opened(log).length, 0, "no browser was sent to a port the bridge does not hold");
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });

  test("an authorization response whose error is escape sequences and markup: the local client's error names no such text", async () => {
    const hostile = "\u001b]0;pwned\u0007\u001b[2J<img src=x onerror=alert(1)>";
    const auth = { type: "oauth", oauth: { authorization_timeout: "30s", browser_command: [process.execPath, FETCH_BROWSER, "--tamper", `error=${hostile}`] } };
    const env = { HOME: home, XDG_STATE_HOME: join(home, "hostile-error"), MCP_TEST_BROWSER_LOG: join(home, "hostile-error.log") };
    const message = await failureThroughBridge(bridge.url, auth, env);
    assert.match(message, /refused the sign-in \(no valid error code\)/);
    assert.doesNotMatch(message, /\u001b|\u0007|<img/);
  });
});

test("a token endpoint refusing with escape sequences and markup in error and error_description: the local client's error carries neither raw", async () => {
  const hostile = createServer((_request, response) => {
    response.writeHead(400, { "content-type": "application/json" });
    response.end(JSON.stringify({ error: "\u001b]0;pwned\u0007<b>", error_description: "\u001b[2J\u001b[31mCall +1-555-0100 for support\u001b[0m <script>" }));
  });
  hostile.listen(0, "127.0.0.1");
  await new Promise((resolve) => hostile.once("listening", resolve));
  const base = `http://127.0.0.1:${(hostile.address() as AddressInfo).port}`;
  let message: string;
  try {
    message = await failureThroughBridge(`${base}/mcp`, { type: "oauth", oauth: { client_id: "c", client_secret: "secret-not-real-0123456789", token_url: `${base}/token` } }, {});
  } finally {
    await new Promise((resolve) => hostile.close(resolve));
  }
  assert.match(message, /client credentials grant refused \(HTTP 400, no valid error code: \\x1b\[2J\\x1b\[31mCall \+1-555-0100 for support/);
  assert.doesNotMatch(message, /\u001b|\u0007|<b>/);
});

