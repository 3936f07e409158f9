/**
 * @module Client mode's token cache shared by several instances (one user's MCP hosts, each
 * running `mcp-bridge connect` to one server): when the cached token is stale, instances starting
 * at once must not each present the same refresh token. oidc-provider rotates refresh tokens and
 * treats a rotated-away one presented again as reuse (RFC 9700 §4.14.2: the grant is revoked), so
 * a second refresh signs everyone out. One instance refreshes; the others take its tokens from the
 * cache; the grant keeps working without the browser.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import type { RunningBridge } from "../support/bridge.ts";
import { useOAuthBridge, type Idp } from "../auth-oauth/support.ts";
import { call, makeSource, opened, testBrowser } from "./support.ts";

const BROWSER = await testBrowser.fetch();

describe("instances sharing one token cache refresh once", () => {
  let idp: Idp;
  let bridge: RunningBridge;
  const work = mkdtempSync(join(tmpdir(), "mcp-bridge-shared-refresh-"));
  useOAuthBridge({ accounts: { alice: { email: "alice@example.com" } } }, (started) => ({ idp, bridge } = started));

  /** Marks the cached token expired, as a start the next day finds it. */
  function expireCached(dataDir: string): string {
    const cacheFile = join(dataDir, readdirSync(dataDir).find((file) => file.endsWith(".json"))!);
    const cached = JSON.parse(readFileSync(cacheFile, "utf8"));
    const state = cached.issuers[cached.current];
    assert.ok(state.tokens.refreshToken, "a refresh token was cached");
    state.tokens.expiresAt = Date.now() - 1000;
    writeFileSync(cacheFile, JSON.stringify(cached), { mode: 0o600 });
    return state.tokens.accessToken as string;
  }

  test("three instances finding the cached token stale at once: one refresh grant, one shared new token, and the grant still refreshes afterwards", { timeout: 120_000 }, async () => {
    const log = join(work, "browser.log");
    const dataDir = join(work, "cache");
    process.env.MCP_TEST_BROWSER_LOG = log;
    const make = () => makeSource({ type: "oauth", oauth: { browser_command: [process.execPath, BROWSER], authorization_timeout: "60s" } }, bridge.url, { dataDir });
    const { source: first } = await make();
    assert.equal((await call(first, bridge.url)).status, 200);
    assert.equal(opened(log).length, 1);

    const old = expireCached(dataDir);
    const refreshes = idp.count("/token");
    const instances = await Promise.all([make(), make(), make()]);
    const headers = await Promise.all(instances.map(({ source }) => source.authorization()));
    const logs = instances.map(({ logger }) => logger.text()).join("\n");
    assert.equal(idp.count("/token"), refreshes + 1, `one refresh grant for three instances:\n${logs}`);
    assert.equal(new Set(headers).size, 1, `they share the refreshed token:\n${logs}`);
    assert.notEqual(headers[0]?.slice(7), old);

    // The next day: the grant still refreshes, without the browser.
    expireCached(dataDir);
    const { source: later, logger } = await make();
    const header = await later.authorization();
    assert.notEqual(header, headers[0], logger.text());
    assert.equal((await call(later, bridge.url)).status, 200);
    assert.equal(opened(log).length, 1, `the browser opened once, for the first sign-in only:\n${logger.text()}`);
  });
});
