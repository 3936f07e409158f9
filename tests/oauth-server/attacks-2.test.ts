/**
 * @module More attacks on the authorization server, found by trying to break it: a refresh that
 * asks for more scope, or meets a full store, must not cost the client its grant; a client
 * metadata document served one byte at a time must not outlive fetch_timeout; made-up client_id
 * URLs are throttled before they are fetched; one IPv6 /64 counts as one address; a registration
 * flood drains; an unusable state directory is a configuration error naming storage.path. Last,
 * tricks that held, kept as regressions (redirect URI spellings, CR LF in state, resource
 * variants, client authentication failures, JWKS and issuer).
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { calculateJwkThumbprint } from "jose";
import { createLogger } from "../../src/log/logger.ts";
import { ClientRegistry } from "../../src/oauth-server/clients.ts";
import { Grants, REFRESH_GRACE_MS } from "../../src/oauth-server/grants.ts";
import { createLoginLimiter } from "../../src/oauth-server/login-limiter.ts";
import { loadSigningKeys } from "../../src/oauth-server/keys.ts";
import { nodePlatform } from "../../src/runtime/node.ts";
import { isPublicAddress } from "../../src/runtime/node-lookup.ts";
import { MemoryStore } from "../../src/store/memory.ts";
import { runCli, writeConfig, ECHO_SERVER } from "../support/bridge.ts";
import { ALICE_HASH, authorizeUrl, CLAUDE_CALLBACK, postForm, postJson, registerClient, startAsBridge, tempDir } from "./support.ts";

test("a refresh asking for scope beyond the grant is refused without using up the refresh token", async () => {
  const quiet = createLogger({ level: "error", format: "text", write: () => {} });
  const keys = await loadSigningKeys({ algorithm: "ES256", generate_key: true, previous_key_files: [] }, { platform: nodePlatform, logger: quiet, stateDirectory: undefined });
  let now = 1_700_000_000_000;
  const grants = new Grants({ store: new MemoryStore({ now: () => now }), sha256: nodePlatform.sha256, keys, issuer: "https://mcp.example.com", accessTokenLifetime: 3_600_000, refreshTokenLifetime: 86_400_000, codeLifetime: 600_000, heldScopes: (grant) => grant.scope, now: () => now, audit: () => {} });
  const code = await grants.createCode({ client_id: "c1", sub: "alice", scope: ["mcp:read"], resource: "https://mcp.example.com/mcp", redirect_uri: CLAUDE_CALLBACK, code_challenge: "x".repeat(43), refresh: true });
  const first = await grants.issueForCode(code, await grants.redeemCode(code, () => {}));
  await assert.rejects(grants.refresh(first.refresh_token!, "c1", ["mcp:admin"]), /only narrow/);
  // The client never saw a new refresh token, so the one it holds must still be the live one — also after the concurrent-refresh grace.
  now += REFRESH_GRACE_MS + 1;
  const next = await grants.refresh(first.refresh_token!, "c1", undefined);
  assert.ok(next.refresh_token);
});

test("a refresh needs no room in a full store (it rewrites its grant's one entry): it rotates while someone else's entries fill the store", async () => {
  const quiet = createLogger({ level: "error", format: "text", write: () => {} });
  const keys = await loadSigningKeys({ algorithm: "ES256", generate_key: true, previous_key_files: [] }, { platform: nodePlatform, logger: quiet, stateDirectory: undefined });
  let now = 1_700_000_000_000;
  const store = new MemoryStore({ now: () => now, maxEntries: 50 });
  const grants = new Grants({ store, sha256: nodePlatform.sha256, keys, issuer: "https://mcp.example.com", accessTokenLifetime: 3_600_000, refreshTokenLifetime: 86_400_000, codeLifetime: 600_000, heldScopes: (grant) => grant.scope, now: () => now, audit: () => {} });
  const code = await grants.createCode({ client_id: "c1", sub: "alice", scope: ["mcp:read"], resource: "https://mcp.example.com/mcp", redirect_uri: CLAUDE_CALLBACK, code_challenge: "x".repeat(43), refresh: true });
  const first = await grants.issueForCode(code, await grants.redeemCode(code, () => {}));
  // Someone else fills the store with short-lived entries.
  for (let i = 0; ; i++) {
    try {
      await store.put(`flood:${i}`, i, 60_000);
    } catch {
      break;
    }
  }
  const next = await grants.refresh(first.refresh_token!, "c1", undefined);
  assert.ok(next.refresh_token);
  now += 60_001;
  assert.ok((await grants.refresh(next.refresh_token!, "c1", undefined)).refresh_token, "the rotated token works on");
});

test("password guessing from one IPv6 /64, a new address per attempt, is throttled as one address", async () => {
  const limiter = createLoginLimiter(new MemoryStore());
  // One host owns a whole /64: 2^64 addresses, so per-address limits must count the prefix.
  for (let i = 1; i <= 10; i++) await limiter.attempt(`user${i}`, `2001:db8:1:2::${i.toString(16)}`);
  assert.ok((await limiter.attempt("alice", "2001:db8:1:2:ffff::1")) > 0, "an eleventh address of the same /64 waits");
  assert.ok((await limiter.attempt("alice", "2001:0db8:0001:0002:0000:0000:0000:0abc")) > 0, "written out in full, too");
  assert.equal(await limiter.attempt("alice", "2001:db8:1:3::1"), 0, "the next /64 (another customer) does not");
  assert.equal(await limiter.attempt("alice", "192.0.2.1"), 0, "nor any IPv4 address");
});

test("registrations never used for a token are dropped after a day, so a registration flood drains instead of filling the store for a month", async () => {
  let now = 1_700_000_000_000;
  const store = new MemoryStore({ now: () => now });
  const clients = new ClientRegistry({ store, sha256: nodePlatform.sha256, allowedRedirectUris: [CLAUDE_CALLBACK], registrationLifetime: 30 * 86_400_000, cimd: undefined, now: () => now });
  const unused = (await clients.register({ client_name: "unused", redirect_uris: [CLAUDE_CALLBACK], token_endpoint_auth_method: "none" }))!.client_id as string;
  const used = (await clients.register({ client_name: "used", redirect_uris: [CLAUDE_CALLBACK], token_endpoint_auth_method: "none" }))!.client_id as string;
  now += 60_000;
  await clients.touch((await clients.lookup(used))!, "alice"); // its first token, for alice
  now += 86_400_000;
  assert.equal(await clients.lookup(unused), undefined, "the unused registration is gone");
  assert.ok(await clients.lookup(used), "the used one stays");
  now += 28 * 86_400_000;
  assert.ok(await clients.lookup(used), "for registration_lifetime after its last use");
  await store.close();
});

test("the metadata fetcher's address check: public IPv4 is public; IPv4-mapped private, local NAT64, 6to4, Teredo and site-local are not", () => {
  // Public IPv4 hosts must be reachable: a document on an IPv4-only host (or an IPv4-only bridge) was refused.
  for (const address of ["8.8.8.8", "1.1.1.1", "2001:4860:4860::8888", "2606:4700:4700::1111", "::ffff:8.8.8.8"]) assert.equal(isPublicAddress(address), true, address);
  for (const address of ["127.0.0.1", "169.254.169.254", "::ffff:127.0.0.1", "::ffff:7f00:1", "::ffff:a9fe:a9fe", "64:ff9b:1::a9fe:a9fe", "2002:a9fe:a9fe::1", "2002:7f00:1::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "fec0::1"]) {
    assert.equal(isPublicAddress(address), false, address);
  }
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
      assert.match(text, /could not be fetched/);
      assert.match(bridge.logs(), /client metadata document not fetched .*timed out/);
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

test("no state directory at all (no storage.path, HOME or XDG_STATE_HOME) is reported under storage.path", async () => {
  const config = writeConfig({
    mode: "server",
    server: { listen: "127.0.0.1:0", mcp_server: { command: process.execPath, args: [ECHO_SERVER] }, oauth_server: { enabled: true, builtin: { users: [{ username: "alice", password_hash: ALICE_HASH }] } } },
  });
  const result = await runCli(["run", "-c", config]);
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /^\s*storage\.path: no state directory/m);
});

test("behind a trusted proxy, the authorization server's per-address limits count the forwarded client, not the proxy", { timeout: 120_000 }, async () => {
  const bridge = await startAsBridge({ storage: { type: "memory" }, server: { trusted_proxies: ["127.0.0.1/32"] } });
  try {
    const { client_id } = await registerClient(bridge.origin);
    const url = authorizeUrl(bridge.origin, client_id).url;
    const from = async (client: string) => {
      const response = await fetch(url, { redirect: "manual", headers: { "x-forwarded-for": client } });
      await response.arrayBuffer();
      return response.status;
    };
    for (let i = 0; i < 100; i++) assert.equal(await from("203.0.113.7"), 200);
    assert.equal(await from("203.0.113.7"), 429, "the flooding client is throttled");
    assert.equal(await from("198.51.100.20"), 200, "another client behind the same proxy is not");
  } finally {
    await bridge.stop();
  }
});

describe("tricks that hold (kept as regressions)", () => {
  let bridge: Awaited<ReturnType<typeof startAsBridge>>;
  let loopbackClient: string;
  before(async () => {
    bridge = await startAsBridge({ storage: { type: "memory" } });
    loopbackClient = (await registerClient(bridge.origin, ["http://127.0.0.1/callback"])).client_id;
  });
  after(async () => {
    await bridge?.stop();
  });

  test("loopback redirect URIs: only the port varies — no other loopback spelling, port padding, query, escaping or backslash", async () => {
    const refused = [
      "http://localhost:5555/callback",
      "http://[::1]:5555/callback",
      "http://127.1:5555/callback",
      "http://127.0.0.1:05555/callback",
      "HTTP://127.0.0.1:5555/callback",
      "http://127.0.0.1:5555/callback/",
      "http://127.0.0.1:5555/callback?x=1",
      "http://127.0.0.1:5555/%63allback",
      "http://127.0.0.1:5555\\callback",
      "http://127.0.0.1:5555@evil.example/callback",
    ];
    for (const uri of refused) {
      const response = await fetch(authorizeUrl(bridge.origin, loopbackClient, { redirectUri: uri }).url, { redirect: "manual" });
      await response.arrayBuffer();
      assert.equal(response.status, 400, uri);
      assert.equal(response.headers.get("location"), null, uri);
    }
  });

  test("registration refuses trailing dots, default ports, other case and IPv4-mapped loopback", async () => {
    for (const uri of ["https://claude.ai./api/mcp/auth_callback", "https://claude.ai:443/api/mcp/auth_callback", "https://CLAUDE.ai/api/mcp/auth_callback", "http://localhost.:3000/callback", "http://[::ffff:127.0.0.1]:3000/callback", "http://2130706433:3000/callback"]) {
      const response = await postJson(`${bridge.origin}/register`, { redirect_uris: [uri], token_endpoint_auth_method: "none" });
      assert.equal(response.status, 400, uri);
      assert.equal(((await response.json()) as { error: string }).error, "invalid_redirect_uri", uri);
    }
  });

  test("state with CR LF is percent-encoded in the Location, with iss", async () => {
    const { url } = authorizeUrl(bridge.origin, loopbackClient, { redirectUri: "http://127.0.0.1:5555/callback", state: "a\r\nSet-Cookie: x=1", challenge: "too-short" });
    const response = await fetch(url, { redirect: "manual" });
    assert.equal(response.status, 303);
    assert.equal(response.headers.get("set-cookie"), null);
    const location = new URL(response.headers.get("location")!);
    assert.equal(location.searchParams.get("state"), "a\r\nSet-Cookie: x=1");
    assert.equal(location.searchParams.get("iss"), bridge.origin);
    assert.ok(!response.headers.get("location")!.includes("\n"));
  });

  test("resource: another path, another host spelling, a query or a fragment is invalid_target", async () => {
    for (const resource of [`${bridge.origin}/other`, bridge.url.replace("127.0.0.1", "localhost"), `${bridge.url}?x`, `${bridge.url}#f`, bridge.url.replace("/mcp", "/MCP")]) {
      const response = await fetch(authorizeUrl(bridge.origin, loopbackClient, { redirectUri: "http://127.0.0.1:5555/callback", resource }).url, { redirect: "manual" });
      assert.equal(response.status, 303, resource);
      assert.equal(new URL(response.headers.get("location")!).searchParams.get("error"), "invalid_target", resource);
    }
  });

  test("token and revocation failures of client authentication: 401 with a challenge, never cached", async () => {
    for (const path of ["/token", "/oauth/revoke"]) {
      const response = await postForm(`${bridge.origin}${path}`, { grant_type: "authorization_code", client_id: "nobody", code: "x", code_verifier: "y".repeat(43), token: "x" });
      assert.equal(response.status, 401, path);
      assert.match(response.headers.get("www-authenticate") ?? "", /^Basic /, path);
      assert.equal(response.headers.get("cache-control"), "no-store", path);
      assert.equal(response.headers.get("pragma"), "no-cache", path);
      assert.equal(((await response.json()) as { error: string }).error, "invalid_client");
    }
  });

  test("the JWKS publishes public members only, kid = RFC 7638 thumbprint; the metadata and PRM name one issuer byte for byte", async () => {
    const jwks = (await (await fetch(`${bridge.origin}/oauth/jwks`)).json()) as { keys: Record<string, string>[] };
    for (const key of jwks.keys) {
      for (const member of ["d", "p", "q", "dp", "dq", "qi", "k"]) assert.equal(key[member], undefined, member);
      assert.equal(key.kid, await calculateJwkThumbprint(key as never));
    }
    const metadata = (await (await fetch(`${bridge.origin}/.well-known/oauth-authorization-server`)).json()) as { issuer: string };
    const openid = (await (await fetch(`${bridge.origin}/.well-known/openid-configuration`)).json()) as { issuer: string };
    const prm = (await (await fetch(`${bridge.origin}/.well-known/oauth-protected-resource/mcp`)).json()) as { authorization_servers: string[] };
    assert.equal(metadata.issuer, bridge.origin);
    assert.equal(openid.issuer, metadata.issuer);
    assert.deepEqual(prm.authorization_servers, [metadata.issuer]);
  });
});
