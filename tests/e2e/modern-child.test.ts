/**
 * @module End-to-end: the bridge in front of a 2026-07-28 stdio server (the SDK v2 fixture): modern
 * clients pass through to a child per principal, legacy clients get sessions of their own, at once.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from "@modelcontextprotocol/client";
import { Client as LegacyClient } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport as LegacyTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { startBridge, type RunningBridge } from "../support/bridge.ts";
import { bundle } from "../support/fixtures.ts";

const ALICE = "alice-token-0123456789";
const BOB = "bob-token-0123456789abc";
const MODERN = "2026-07-28";

function textOf(result: unknown): string {
  return ((result as { content?: Array<{ type: string; text?: string }> }).content ?? []).find((block) => block.type === "text")?.text ?? "";
}

describe("in front of a 2026-07-28 stdio server", () => {
  let bridge: RunningBridge;

  before(async () => {
    const modernServer = await bundle("tests/fixtures/modern-server.ts", "modern-server.cjs");
    bridge = await startBridge({
      log: { level: "debug", format: "json" },
      server: { mcp_server: { command: process.execPath, args: [modernServer], pass_identity: true }, auth: { type: "bearer", bearer: { valid_tokens: [ALICE, BOB] } } },
    });
  });
  after(async () => {
    await bridge?.stop();
  });

  async function modernClient(token: string): Promise<ModernClient> {
    const client = new ModernClient({ name: "modern", version: "1" }, { capabilities: { elicitation: {} }, versionNegotiation: { mode: { pin: MODERN } } });
    client.setRequestHandler("elicitation/create", async () => ({ action: "accept", content: { name: "Modern Ada" } }));
    await client.connect(new ModernTransport(new URL(bridge.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    return client;
  }

  test("SDK v2 and SDK v1 clients at once: MRTR passes through for the one, elicitation requests reach the other", async () => {
    const modern = await modernClient(ALICE);
    const legacy = new LegacyClient({ name: "legacy", version: "1" }, { capabilities: { elicitation: {} } });
    legacy.setRequestHandler(ElicitRequestSchema, async () => ({ action: "accept", content: { name: "Legacy Ada" } }));
    await legacy.connect(new LegacyTransport(new URL(bridge.url), { requestInit: { headers: { authorization: `Bearer ${BOB}` } } }));
    try {
      const [fromModern, fromLegacy] = await Promise.all([
        modern.callTool({ name: "test_input_required_result_elicitation", arguments: {} }),
        legacy.callTool({ name: "test_input_required_result_elicitation", arguments: {} }),
      ]);
      assert.equal(textOf(fromModern), "Hello, Modern Ada!");
      assert.equal(textOf(fromLegacy), "Hello, Legacy Ada!");
      assert.match(bridge.logs(), /"msg":"modern child ready","child":"m\d+","era":"modern"/);
    } finally {
      await Promise.all([modern.close(), legacy.close()]);
    }
  });

  test("two principals get two children; a principal's requests reuse its child", async () => {
    const [alice, bob] = await Promise.all([modernClient(ALICE), modernClient(BOB)]);
    try {
      const who = async (client: ModernClient) => JSON.parse(textOf(await client.callTool({ name: "whoami", arguments: {} }))) as { subject: string; pid: number };
      const [a1, b1] = await Promise.all([who(alice), who(bob)]);
      const [a2, b2] = await Promise.all([who(alice), who(bob)]);
      assert.notEqual(a1.pid, b1.pid);
      assert.notEqual(a1.subject, b1.subject);
      assert.equal(a2.pid, a1.pid, "a modern child serves every request of its principal");
      assert.equal(b2.pid, b1.pid);
    } finally {
      await Promise.all([alice.close(), bob.close()]);
    }
  });
});
