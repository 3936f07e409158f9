/**
 * @module More attacks on the authorization server, found by trying to break it: a refresh that
 * asks for more scope must not cost the client its grant, a client metadata document served one
 * byte at a time must not hold a sign-in (and a connection) open past fetch_timeout, and an
 * unusable state directory is a configuration error naming storage.path, not a crash.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createLogger } from "../../src/log/logger.ts";
import { ClientRegistry } from "../../src/oauth-server/clients.ts";
import { Grants, REFRESH_GRACE_MS } from "../../src/oauth-server/grants.ts";
import { createLoginLimiter } from "../../src/oauth-server/login-limiter.ts";
import { loadSigningKeys } from "../../src/oauth-server/keys.ts";
import { nodePlatform } from "../../src/runtime/node.ts";
import { MemoryStore } from "../../src/store/memory.ts";
import { runCli, writeConfig, ECHO_SERVER } from "../support/bridge.ts";
import { ALICE_HASH, authorizeUrl, CLAUDE_CALLBACK, startAsBridge, tempDir } from "./support.ts";

test("a refresh asking for scope beyond the grant is refused without using up the refresh token", async () => {
  const quiet = createLogger({ level: "error", format: "text", write: () => {} });
  const keys = await loadSigningKeys({ algorithm: "ES256", generate_key: true, previous_key_files: [] }, { platform: nodePlatform, logger: quiet, stateDirectory: undefined });
  let now = 1_700_000_000_000;
  const grants = new Grants({ store: new MemoryStore({ now: () => now }), sha256: nodePlatform.sha256, keys, issuer: "https://mcp.example.com", accessTokenLifetime: 3_600_000, refreshTokenLifetime: 86_400_000, codeLifetime: 600_000, now: () => now, audit: () => {} });
  const code = await grants.createCode({ client_id: "c1", sub: "alice", scope: ["mcp:read"], resource: "https://mcp.example.com/mcp", redirect_uri: CLAUDE_CALLBACK, code_challenge: "x".repeat(43), refresh: true });
  const first = await grants.issueForCode(code, await grants.redeemCode(code));
  await assert.rejects(grants.refresh(first.refresh_token!, "c1", ["mcp:admin"]), /only narrow/);
  // The client never saw a new refresh token, so the one it holds must still be the live one — also after the concurrent-refresh grace.
  now += REFRESH_GRACE_MS + 1;
  const next = await grants.refresh(first.refresh_token!, "c1", undefined);
  assert.ok(next.refresh_token);
});

test("a refresh refused because the store is full leaves the refresh token working once there is room again", async () => {
  const quiet = createLogger({ level: "error", format: "text", write: () => {} });
  const keys = await loadSigningKeys({ algorithm: "ES256", generate_key: true, previous_key_files: [] }, { platform: nodePlatform, logger: quiet, stateDirectory: undefined });
  let now = 1_700_000_000_000;
  const store = new MemoryStore({ now: () => now, maxEntries: 50 });
  const grants = new Grants({ store, sha256: nodePlatform.sha256, keys, issuer: "https://mcp.example.com", accessTokenLifetime: 3_600_000, refreshTokenLifetime: 86_400_000, codeLifetime: 600_000, now: () => now, audit: () => {} });
  const code = await grants.createCode({ client_id: "c1", sub: "alice", scope: ["mcp:read"], resource: "https://mcp.example.com/mcp", redirect_uri: CLAUDE_CALLBACK, code_challenge: "x".repeat(43), refresh: true });
  const first = await grants.issueForCode(code, await grants.redeemCode(code));
  // Someone else fills the store with short-lived entries.
  for (let i = 0; ; i++) {
    try {
      await store.put(`flood:${i}`, i, 60_000);
    } catch {
      break;
    }
  }
  await assert.rejects(grants.refresh(first.refresh_token!, "c1", undefined), /STORE_FULL|limit/);
  now += 60_001;
  const next = await grants.refresh(first.refresh_token!, "c1", undefined);
  assert.ok(next.refresh_token, "the token the client still holds works again");
});

test("password guessing from one IPv6 /64, a new address per attempt, is throttled as one address", async () => {
  const limiter = createLoginLimiter(new MemoryStore());
  // One host owns a whole /64: 2^64 addresses, so per-address limits must count the prefix.
  for (let i = 1; i <= 10; i++) await limiter.failed(`user${i}`, `2001:db8:1:2::${i.toString(16)}`);
  assert.ok((await limiter.waitFor("alice", "2001:db8:1:2:ffff::1")) > 0, "an eleventh address of the same /64 waits");
  assert.ok((await limiter.waitFor("alice", "2001:0db8:0001:0002:0000:0000:0000:0abc")) > 0, "written out in full, too");
  assert.equal(await limiter.waitFor("alice", "2001:db8:1:3::1"), 0, "the next /64 (another customer) does not");
  assert.equal(await limiter.waitFor("alice", "192.0.2.1"), 0, "nor any IPv4 address");
});

test("registrations never used for a token are dropped after a day, so a registration flood drains instead of filling the store for a month", async () => {
  let now = 1_700_000_000_000;
  const store = new MemoryStore({ now: () => now });
  const clients = new ClientRegistry({ store, sha256: nodePlatform.sha256, allowedRedirectUris: [CLAUDE_CALLBACK], registrationLifetime: 30 * 86_400_000, cimd: undefined, now: () => now });
  const unused = (await clients.register({ redirect_uris: [CLAUDE_CALLBACK], token_endpoint_auth_method: "none" })).client_id as string;
  const used = (await clients.register({ redirect_uris: [CLAUDE_CALLBACK], token_endpoint_auth_method: "none" })).client_id as string;
  now += 60_000;
  await clients.touch((await clients.lookup(used))!); // its first token
  now += 86_400_000;
  assert.equal(await clients.lookup(unused), undefined, "the unused registration is gone");
  assert.ok(await clients.lookup(used), "the used one stays");
  now += 28 * 86_400_000;
  assert.ok(await clients.lookup(used), "for registration_lifetime after its last use");
  await store.close();
});

const NO_OPENSSL = spawnSync("openssl", ["version"]).status === 0 ? false : "openssl is not installed";

describe("client metadata documents from a hostile sender", { skip: NO_OPENSSL }, () => {
  let server: Server;
  const hits: string[] = [];
  let origin: string;
  let caFile: string;
  const drips = new Set<ReturnType<typeof setInterval>>();
  before(async () => {
    const dir = tempDir();
    const key = join(dir, "key.pem");
    caFile = join(dir, "cert.pem");
    execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", caFile, "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], { stdio: "ignore" });
    // Headers at once, then one space (valid JSON whitespace) every 200 ms: never idle, never done, far below the size limit for minutes.
    server = createServer({ key: readFileSync(key), cert: readFileSync(caFile) }, (request, response) => {
      hits.push(request.url ?? "");
      if (request.url !== "/slow.json") return void response.writeHead(404).end();
      response.writeHead(200, { "content-type": "application/json" });
      const drip = setInterval(() => response.write(" "), 200);
      drips.add(drip);
      response.on("close", () => {
        clearInterval(drip);
        drips.delete(drip);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    origin = `https://localhost:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    for (const drip of drips) clearInterval(drip);
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
  });

  test("is refused once fetch_timeout has passed in all, not only when the connection goes idle", { timeout: 90_000 }, async () => {
    const bridge = await startAsBridge({ env: { NODE_EXTRA_CA_CERTS: caFile }, oauthServer: { client_metadata_documents: { allow_private_addresses: true, allowed_hosts: ["localhost"], fetch_timeout: "1s" } } });
    try {
      const response = await fetch(authorizeUrl(bridge.origin, `${origin}/slow.json`).url, { redirect: "manual" });
      const text = await response.text();
      assert.equal(response.status, 400);
      assert.match(text, /timed out/);
      assert.doesNotMatch(text, /name="password"/);
    } finally {
      await bridge.stop();
    }
  });

  test("a flood of made-up client_id URLs from one address is throttled before they are fetched", { timeout: 120_000 }, async () => {
    const bridge = await startAsBridge({ storage: { type: "memory" }, env: { NODE_EXTRA_CA_CERTS: caFile }, oauthServer: { client_metadata_documents: { allow_private_addresses: true, allowed_hosts: ["localhost"] } } });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 101; i++) {
        const response = await fetch(authorizeUrl(bridge.origin, `${origin}/made-up-${i}.json`).url, { redirect: "manual" });
        await response.arrayBuffer();
        statuses.push(response.status);
      }
      assert.equal(statuses[100], 429, "the 101st request from the address is refused");
      assert.ok(!hits.includes("/made-up-100.json"), "and its document was never fetched");
    } finally {
      await bridge.stop();
    }
  });
});

test("a state directory that cannot be used is a configuration error naming storage.path, exit 2", async () => {
  const dir = tempDir();
  const file = join(dir, "not-a-directory");
  writeFileSync(file, "");
  const config = writeConfig({
    mode: "server",
    storage: { type: "file", path: join(file, "state") },
    server: { listen: "127.0.0.1:0", mcp_server: { command: process.execPath, args: [ECHO_SERVER] }, oauth_server: { enabled: true, builtin: { users: [{ username: "alice", password_hash: ALICE_HASH }] } } },
  });
  const result = await runCli(["run", "-c", config]);
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /storage\.path/);
  assert.match(result.stderr, /not-a-directory/);
});
