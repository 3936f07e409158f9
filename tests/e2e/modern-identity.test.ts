/**
 * @module End-to-end: `pass_identity` and modern children. A child of one principal's own carries
 * that principal's identity; one child shared by every principal (`modern_child: shared`) carries
 * nobody's — it used to carry the identity of whoever's request happened to start it, and served
 * every other user as that one — and its start is logged without a subject.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { call, meta, textOf, useDebugBridge } from "../support/modern.ts";

const ALICE = "alice-token-0123456789";
const BOB = "bob-token-0123456789abc";

for (const modernChild of ["shared", "per_principal"] as const) {
  describe(`pass_identity with modern_child: ${modernChild}`, () => {
    const bridge = useDebugBridge((everythingServer) => ({
      mcp_server: { command: process.execPath, args: [everythingServer], pass_identity: true, read_timeout: "20s" },
      auth: { type: "bearer", bearer: { valid_tokens: [ALICE, BOB] } },
      session: { modern_child: modernChild },
    }));
    const childStarts = () =>
      bridge
        .logs()
        .split("\n")
        .filter((line) => line.includes('"modern child started"'))
        .map((line) => JSON.parse(line) as { subject?: string });
    const whoami = async (token: string, id: number) => {
      const answer = await call(bridge, token, { id, method: "tools/call", params: { name: "whoami", arguments: {}, _meta: meta() } });
      return JSON.parse(textOf(answer.body.result)) as { subject: string | null; pid: number };
    };

    test(modernChild === "shared" ? "the one child carries no principal's identity: Bob is never served as Alice" : "each principal's child carries its own identity", async () => {
      const alice = await whoami(ALICE, 1);
      const bob = await whoami(BOB, 2);
      if (modernChild === "shared") {
        assert.equal(bob.pid, alice.pid, "one child");
        assert.equal(alice.subject, null);
        assert.equal(bob.subject, null);
        // Nor does the log tell the operator it is the child of whoever started it.
        assert.ok(childStarts().length > 0, "a modern child started");
        assert.deepEqual(childStarts().map((line) => line.subject), childStarts().map(() => undefined));
      } else {
        assert.notEqual(bob.pid, alice.pid);
        assert.ok(alice.subject && bob.subject && alice.subject !== bob.subject, JSON.stringify({ alice, bob }));
      }
    });
  });
}
