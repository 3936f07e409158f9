/**
 * @module Attacks on the authorization server's shared resources, third round: honest users must
 * never be locked out by someone else's load — a hosted client's shared address (claude.ai), a
 * store filled by registrations, metadata documents fetched at /token — and the state directory,
 * redirect URI lists and scope names must behave as documented.
 */
import assert from "node:assert/strict";
import bcrypt from "bcryptjs";
import { spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ClientRegistry } from "../../src/oauth-server/clients.ts";
import { nodePlatform } from "../../src/runtime/node.ts";
import { MemoryStore } from "../../src/store/memory.ts";
import { ECHO_SERVER, runCli, writeConfig } from "../support/bridge.ts";
import { ALICE_HASH, authorizeUrl, CLAUDE_CALLBACK, fullFlow, initializeWith, postForm, postJson, signIn, startAsBridge, tempDir } from "./support.ts";

/** The scope claim of an access token (a JWT) — what /mcp will act on. */
function scopeClaim(accessToken: string): unknown {
  return JSON.parse(Buffer.from(accessToken.split(".")[1]!, "base64url").toString()).scope;
}

test("Claude's shared address is not locked out: identical public registrations come back for free, a listed hosted client has its own, higher limit", { timeout: 180_000 }, async () => {
  const bridge = await startAsBridge({ storage: { type: "memory" } });
  try {
    const register = async (body: Record<string, unknown>) => {
      const response = await postJson(`${bridge.origin}/register`, body);
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    // Someone at the shared address uses up the ordinary quota with made-up clients.
    for (let i = 0; i < 30; i++) assert.equal((await register({ client_name: `junk ${i}`, redirect_uris: ["http://127.0.0.1/callback"], token_endpoint_auth_method: "none" })).status, 201);
    assert.equal((await register({ client_name: "junk 31", redirect_uris: ["http://127.0.0.1/callback"], token_endpoint_auth_method: "none" })).status, 429, "the ordinary limit still holds");
    // Claude (confidential, its callback listed by the operator) registers for user after user from the same address.
    for (let i = 0; i < 40; i++) {
      const { status, body } = await register({ client_name: "Claude", redirect_uris: [CLAUDE_CALLBACK], token_endpoint_auth_method: "client_secret_post", grant_types: ["authorization_code", "refresh_token"] });
      assert.equal(status, 201, `Claude registration ${i + 1}: ${JSON.stringify(body)}`);
      assert.ok(body.client_secret);
    }
    // A public client that registers again with the same metadata gets the same registration, at no cost.
    const first = await register({ client_name: "junk 0", redirect_uris: ["http://127.0.0.1/callback"], token_endpoint_auth_method: "none" });
    assert.equal(first.status, 201, JSON.stringify(first.body));
    const again = await register({ client_name: "junk 0", redirect_uris: ["http://127.0.0.1/callback"], token_endpoint_auth_method: "none" });
    assert.equal(again.body.client_id, first.body.client_id);
    assert.equal(again.body.client_secret, undefined);
  } finally {
    await bridge.stop();
  }
});

test("unused registrations are bounded: the oldest unused one gives way, however young; used ones stay", async () => {
  const now = 1_700_000_000_000;
  const store = new MemoryStore({ now: () => now });
  const clients = new ClientRegistry({ store, sha256: nodePlatform.sha256, allowedRedirectUris: [CLAUDE_CALLBACK], registrationLifetime: 30 * 86_400_000, maxUnusedRegistrations: 5, cimd: undefined, now: () => now });
  const register = async (name: string) => (await clients.register({ client_name: name, redirect_uris: [CLAUDE_CALLBACK], token_endpoint_auth_method: "none" }))!.client_id as string;
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push(await register(`client ${i}`));
  await clients.touch((await clients.lookup(ids[1]!))!, "alice"); // its first token, for alice
  // Five fresh unused registrations, the same second: the next ones still register (before, they
  // were refused for ten minutes, so a few addresses filling the ring locked everyone out).
  const newcomers = [await register("new 0"), await register("new 1")];
  assert.equal(await clients.lookup(ids[0]!), undefined, "the oldest unused registration was dropped");
  assert.ok(await clients.lookup(ids[1]!), "a used registration is never dropped");
  for (const id of [...ids.slice(2), ...newcomers]) assert.ok(await clients.lookup(id), id);
  await store.close();
});

test("one address cannot fill the ring of unused registrations (a small storage.max_entries), so other clients still register", { timeout: 120_000 }, async () => {
  // max_entries 100: a ring of 10 unused registrations; each address registers at most a quarter of it.
  const bridge = await startAsBridge({ storage: { type: "memory", max_entries: 100 }, server: { trusted_proxies: ["127.0.0.1/32"] } });
  try {
    const register = async (client: string, name: string) => {
      const response = await postJson(`${bridge.origin}/register`, { client_name: name, redirect_uris: ["http://127.0.0.1/callback"], token_endpoint_auth_method: "none" }, { "x-forwarded-for": client });
      await response.arrayBuffer();
      return response.status;
    };
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push(await register("203.0.113.9", `junk ${i}`));
    assert.deepEqual(statuses, [201, 201, 429, 429, 429, 429, 429, 429, 429, 429]);
    assert.equal(await register("198.51.100.7", "honest"), 201, "another address still registers");
  } finally {
    await bridge.stop();
  }
});

test("unknown scope names never widen a grant, at /authorize or at refresh, and never fail it", { timeout: 180_000 }, async () => {
  const bridge = await startAsBridge({ storage: { type: "memory" } });
  try {
    // Only names the server does not know: nothing is granted (not all of alice's scopes).
    const unknownOnly = await fullFlow(bridge, undefined, { scope: "claudeai" });
    assert.equal(unknownOnly.tokens.scope, "", JSON.stringify(unknownOnly.tokens));
    assert.ok(!scopeClaim(unknownOnly.tokens.access_token), "the access token carries no scope");
    // Known and unknown: the known ones the user has.
    const mixed = await fullFlow(bridge, undefined, { scope: "mcp:read claudeai" });
    assert.equal(mixed.tokens.scope, "mcp:read");
    // Refresh with an unknown name: ignored the same way, not invalid_scope; it narrows to what is known.
    const refresh = (scope: string, tokens: typeof mixed) => postForm(`${bridge.origin}/token`, { grant_type: "refresh_token", refresh_token: tokens.tokens.refresh_token!, client_id: tokens.clientId, scope });
    const narrowed = await refresh("mcp:read claudeai", mixed);
    const narrowedBody = (await narrowed.json()) as Record<string, string>;
    assert.equal(narrowed.status, 200, JSON.stringify(narrowedBody));
    assert.equal(scopeClaim(narrowedBody.access_token!), "mcp:read");
    const all = await fullFlow(bridge);
    const none = await refresh("claudeai", all);
    const noneBody = (await none.json()) as Record<string, string>;
    assert.equal(none.status, 200, JSON.stringify(noneBody));
    assert.ok(!scopeClaim(noneBody.access_token!), "a refresh naming only unknown scopes gets none");
  } finally {
    await bridge.stop();
  }
});

test("/mcp's 401 names the scopes to ask for: the authorization server's scopes_supported when no scope is required", { timeout: 120_000 }, async () => {
  const bridge = await startAsBridge({ storage: { type: "memory" } });
  try {
    const response = await initializeWith(bridge.url, undefined);
    await response.arrayBuffer();
    assert.equal(response.status, 401);
    assert.match(response.headers.get("www-authenticate") ?? "", /^Bearer resource_metadata="[^"]+", scope="mcp:read mcp:write"$/);
    const invalid = await initializeWith(bridge.url, "not-a-token");
    await invalid.arrayBuffer();
    assert.match(invalid.headers.get("www-authenticate") ?? "", /error="invalid_token", scope="mcp:read mcp:write"/);
  } finally {
    await bridge.stop();
  }
});

test("several redirect URIs: the usable ones are registered and listed, private-use schemes for native apps, [::1] loopback by default", { timeout: 180_000 }, async () => {
  const cursor = "cursor://anysphere.cursor-mcp/oauth/callback";
  const app = "com.example.app:/oauth/callback";
  const defaults = ["https://claude.ai/api/mcp/auth_callback", "http://127.0.0.1/callback", "http://[::1]/callback"];
  const bridge = await startAsBridge({ storage: { type: "memory" }, oauthServer: { allowed_redirect_uris: [...defaults, cursor, app] } });
  try {
    const register = async (redirectUris: string[], extra: Record<string, unknown> = {}) => {
      const response = await postJson(`${bridge.origin}/register`, { client_name: `c ${redirectUris.join(" ")}`, redirect_uris: redirectUris, token_endpoint_auth_method: "none", ...extra });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> & { client_id: string; redirect_uris: string[] } };
    };
    // Cursor-style: its own scheme, an https URI this server does not allow, and loopback.
    const mixed = await register([cursor, "https://cursor.example/callback", "http://127.0.0.1/callback"]);
    assert.equal(mixed.status, 201, JSON.stringify(mixed.body));
    assert.deepEqual(mixed.body.redirect_uris, [cursor, "http://127.0.0.1/callback"], "exactly what was registered");
    assert.equal(mixed.body.application_type, "native");
    // None usable: refused, naming why.
    const none = await register(["https://cursor.example/callback", "myapp:/callback"]);
    assert.equal(none.status, 400);
    assert.equal(none.body.error, "invalid_redirect_uri");
    // A web client cannot take a private-use scheme.
    assert.equal((await register([app], { application_type: "web" })).status, 400);
    // A reverse-domain scheme, end to end: the browser is sent back to the app with the code.
    const native = await register([app]);
    assert.equal(native.status, 201, JSON.stringify(native.body));
    const back = await signIn(authorizeUrl(bridge.origin, native.body.client_id, { redirectUri: app, resource: bridge.url }).url);
    assert.equal(`${back.protocol}${back.pathname}`, app);
    assert.ok(back.searchParams.get("code"));
    // IPv6 loopback, any port.
    const v6 = await register(["http://[::1]/callback"]);
    assert.equal(v6.status, 201, JSON.stringify(v6.body));
    const page = await fetch(authorizeUrl(bridge.origin, v6.body.client_id, { redirectUri: "http://[::1]:43123/callback" }).url, { redirect: "manual" });
    await page.arrayBuffer();
    assert.equal(page.status, 200);
  } finally {
    await bridge.stop();
  }
  // [::1] is in the default allow-list.
  const plain = await startAsBridge({ storage: { type: "memory" } });
  try {
    const response = await postJson(`${plain.origin}/register`, { redirect_uris: ["http://[::1]/callback"], token_endpoint_auth_method: "none" });
    assert.equal(response.status, 201, await response.text());
  } finally {
    await plain.stop();
  }
});

test("two bridges on one state directory: the second exits 2 naming storage.path and the fix, check-config agrees; a dead bridge's lock is taken over", { timeout: 180_000 }, async () => {
  const directory = tempDir();
  const settings = {
    mode: "server",
    storage: { type: "file", path: directory },
    server: { listen: "127.0.0.1:0", mcp_server: { command: process.execPath, args: [ECHO_SERVER] }, oauth_server: { enabled: true, builtin: { users: [{ username: "alice", password_hash: ALICE_HASH }] } } },
  };
  const config = writeConfig(settings);
  const env = { HOME: process.env.HOME ?? "/tmp" };
  const first = await startAsBridge({ storage: { type: "file", path: directory } });
  try {
    for (const command of ["run", "check-config"]) {
      const result = await runCli([command, "-c", config], { env });
      assert.equal(result.code, 2, `${command}: ${result.stderr}`);
      assert.match(result.stderr, /storage\.path: the state directory .* is in use by another mcp-bridge \(process \d+\)/, command);
      assert.match(result.stderr, /give each bridge its own storage\.path/, command);
    }
  } finally {
    await first.stop();
  }
  assert.ok(!existsSync(join(directory, "bridge.lock")), "a bridge that stops releases its lock");
  // A bridge killed outright leaves its lock behind; a process that is gone holds nothing.
  const gone = spawnSync(process.execPath, ["-e", "console.log(process.pid)"], { encoding: "utf8" });
  writeFileSync(join(directory, "bridge.lock"), JSON.stringify({ pid: Number(gone.stdout.trim()) }));
  assert.equal((await runCli(["check-config", "-c", config], { env })).code, 0);
  const second = await startAsBridge({ storage: { type: "file", path: directory } });
  try {
    assert.match(second.logs(), /taking over the state directory's lock/);
  } finally {
    await second.stop();
  }
});

test("check-config, like run, refuses a configuration with no state directory at all", async () => {
  const config = writeConfig({
    mode: "server",
    server: { listen: "127.0.0.1:0", mcp_server: { command: process.execPath, args: [ECHO_SERVER] }, oauth_server: { enabled: true, builtin: { users: [{ username: "alice", password_hash: ALICE_HASH }] } } },
  });
  const result = await runCli(["check-config", "-c", config]);
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /^\s*storage\.path: no state directory/m);
});

test("lowering storage.max_entries below what the state directory holds is refused at start, naming the key, and nothing is dropped", { timeout: 180_000 }, async () => {
  const directory = tempDir();
  const storage = { type: "file", path: directory };
  const first = await startAsBridge({ storage });
  const ids: string[] = [];
  try {
    for (let i = 0; i < 3; i++) ids.push((await postJson(`${first.origin}/register`, { client_name: `kept ${i}`, redirect_uris: [CLAUDE_CALLBACK], token_endpoint_auth_method: "none" }).then((response) => response.json()) as { client_id: string }).client_id);
  } finally {
    await first.stop();
  }
  const config = writeConfig({
    mode: "server",
    storage: { ...storage, max_entries: 4 },
    server: { listen: "127.0.0.1:0", mcp_server: { command: process.execPath, args: [ECHO_SERVER] }, oauth_server: { enabled: true, builtin: { users: [{ username: "alice", password_hash: ALICE_HASH }] } } },
  });
  const result = await runCli(["run", "-c", config], { env: { HOME: process.env.HOME ?? "/tmp" } });
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /storage\.max_entries: is 4, but the state directory holds \d+ live entries; raise it/);
  const again = await startAsBridge({ storage });
  try {
    for (const id of ids) {
      const page = await fetch(authorizeUrl(again.origin, id).url, { redirect: "manual" });
      await page.arrayBuffer();
      assert.equal(page.status, 200, `registration ${id} is still there`);
    }
  } finally {
    await again.stop();
  }
});

test("built-in users whose hashes have different bcrypt costs are warned about at start (the cheaper one's name could be told by timing)", { timeout: 120_000 }, async () => {
  const cheap = bcrypt.hashSync("a password", 4);
  const dear = bcrypt.hashSync("another password", 5);
  const bridge = await startAsBridge({ storage: { type: "memory" }, oauthServer: { builtin: { users: [{ username: "alice", password_hash: cheap }, { username: "bob", password_hash: dear }] } } });
  try {
    assert.match(bridge.logs(), /different bcrypt costs.*costs=4,5/);
  } finally {
    await bridge.stop();
  }
});
