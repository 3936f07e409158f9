/** @module Codes and refresh token families on a memory store with a controlled clock: single use, replay revocation, the concurrent-refresh grace and its end, absolute lifetime. */
import assert from "node:assert/strict";
import { before, test } from "node:test";
import { decodeJwt } from "jose";
import { createLogger } from "../../src/log/logger.ts";
import { Grants, REFRESH_GRACE_MS, type CodeRecord } from "../../src/oauth-server/grants.ts";
import { loadSigningKeys, type SigningKeys } from "../../src/oauth-server/keys.ts";
import { nodePlatform } from "../../src/runtime/node.ts";
import { MemoryStore } from "../../src/store/memory.ts";

const quiet = createLogger({ level: "error", format: "text", write: () => {} });
let keys: SigningKeys;
before(async () => {
  keys = await loadSigningKeys({ algorithm: "ES256", generate_key: true, previous_key_files: [] }, { platform: nodePlatform, logger: quiet, stateDirectory: undefined });
});

const RECORD: CodeRecord = { client_id: "c1", sub: "alice", scope: ["mcp:read"], resource: "https://mcp.example.com/mcp", redirect_uri: "https://claude.ai/api/mcp/auth_callback", code_challenge: "x".repeat(43), refresh: true };

function setup() {
  let now = 1_700_000_000_000;
  const events: string[] = [];
  const store = new MemoryStore({ now: () => now });
  const grants = new Grants({ store, sha256: nodePlatform.sha256, keys, issuer: "https://mcp.example.com", accessTokenLifetime: 3_600_000, refreshTokenLifetime: 86_400_000, codeLifetime: 600_000, heldScopes: (grant) => grant.scope, now: () => now, audit: (event) => events.push(event) });
  return { grants, store, events, advance: (ms: number) => (now += ms) };
}

async function issue(grants: Grants) {
  const code = await grants.createCode(RECORD);
  return grants.issueForCode(code, await grants.redeemCode(code, () => {}));
}

test("the access token carries the grant, and the store holds only hashes", async () => {
  const { grants, store } = setup();
  const code = await grants.createCode(RECORD);
  const tokens = await grants.issueForCode(code, await grants.redeemCode(code, () => {}));
  const claims = decodeJwt(tokens.access_token);
  assert.equal(claims.aud, RECORD.resource);
  assert.equal(claims.client_id, "c1");
  // Every key and value the store holds (its protected map, read as a persistence layer would).
  const stored = JSON.stringify([...(store as unknown as { entries: Map<string, unknown> }).entries]);
  assert.ok(!stored.includes(code), "no raw code");
  assert.ok(!stored.includes(tokens.refresh_token!), "no raw refresh token");
});

test("within the grace, a just-rotated token refreshes again; after it, it revokes the family", async () => {
  const { grants, advance, events } = setup();
  const first = await issue(grants);
  const second = await grants.refresh(first.refresh_token!, "c1", undefined);
  advance(REFRESH_GRACE_MS - 1);
  const parallel = await grants.refresh(first.refresh_token!, "c1", undefined);
  assert.ok(parallel.refresh_token, "the concurrent refresh got tokens");
  await grants.refresh(second.refresh_token!, "c1", undefined);
  advance(REFRESH_GRACE_MS + 1);
  await assert.rejects(grants.refresh(parallel.refresh_token!, "c1", undefined), /already used/);
  assert.ok(events.includes("refresh_reuse"));
  await assert.rejects(grants.refresh(second.refresh_token!, "c1", undefined), /invalid, expired or revoked/);
});

test("refresh may narrow the scope, never widen it", async () => {
  const { grants } = setup();
  const first = await issue(grants);
  await assert.rejects(grants.refresh(first.refresh_token!, "c1", ["mcp:admin"]), /only narrow/);
  const narrowed = await grants.refresh(first.refresh_token!, "c1", ["mcp:read"]);
  assert.equal(narrowed.scope, "mcp:read");
});

test("a family ends refresh_token_lifetime after sign-in, however often it is refreshed", async () => {
  const { grants, advance } = setup();
  let token = (await issue(grants)).refresh_token!;
  for (let hour = 0; hour < 23; hour++) {
    advance(3_600_000);
    token = (await grants.refresh(token, "c1", undefined)).refresh_token!;
  }
  advance(3_600_000);
  await assert.rejects(grants.refresh(token, "c1", undefined), /invalid, expired or revoked/);
});

test("a code is taken once; a replay revokes the family the first redemption started", async () => {
  const { grants, events } = setup();
  const code = await grants.createCode(RECORD);
  const tokens = await grants.issueForCode(code, await grants.redeemCode(code, () => {}));
  await assert.rejects(grants.redeemCode(code, () => {}), /already used/);
  assert.ok(events.includes("code_replay"));
  await assert.rejects(grants.refresh(tokens.refresh_token!, "c1", undefined), /invalid, expired or revoked/);
});

test("another client presenting the owner's rotated-away refresh token past the grace: refused, and the owner's grant is not revoked (the client check comes before the reuse check)", async () => {
  const { grants, advance, events } = setup();
  const first = await issue(grants);
  const second = await grants.refresh(first.refresh_token!, "c1", undefined);
  advance(REFRESH_GRACE_MS + 1);
  await assert.rejects(grants.refresh(first.refresh_token!, "c2", undefined), /issued to another client/);
  assert.ok(!events.includes("refresh_reuse"), events.join(", "));
  const third = await grants.refresh(second.refresh_token!, "c1", undefined);
  assert.ok(third.refresh_token, "the owner's current token still refreshes");
});
