/**
 * @module End-to-end: `subscriptions/listen` asked in ways that cannot work. Its answer is a stream
 * (Streamable HTTP 2026-07-28 §Receiving Messages): a client that accepts only JSON can never be
 * answered, and used to wait forever, holding one of its principal's listen streams. And a pool of
 * legacy children that all see one change: the stream carries one list_changed for it, not one per child.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { ROOT, startBridge, useBridge } from "../support/bridge.ts";
import { call, eventReader, meta, post, textOf, withStreams, useMisbehavingBridge } from "../support/modern.ts";

const ALICE = "alice-token-0123456789";

for (const era of ["modern", "legacy"] as const) {
  describe(`subscriptions/listen in front of a ${era} child`, () => {
    const bridge = useMisbehavingBridge(era, "5s", ALICE);

    test("from a client that accepts only application/json: 406 at once, naming text/event-stream, and it holds no listen stream", async () => {
      for (let id = 1; id <= 40; id++) {
        const refused = await call(bridge, ALICE, { id, method: "subscriptions/listen", params: { notifications: { toolsListChanged: true }, _meta: meta({}) } }, { accept: "application/json", signal: AbortSignal.timeout(10_000) });
        assert.equal(refused.status, 406, JSON.stringify(refused.body));
        assert.equal(refused.body.id, id);
        assert.match(refused.body.error?.message ?? "", /text\/event-stream/);
      }
      // Other requests from such a client are answered as JSON.
      const listed = await call(bridge, ALICE, { id: 41, method: "tools/list", params: { _meta: meta({}) } }, { accept: "application/json" });
      assert.equal(listed.status, 200, JSON.stringify(listed.body));
      assert.ok(Array.isArray(listed.body.result?.tools));
    });

    test("a listen request over 65,536 characters (its stream would keep it): 400 Invalid Params naming the limit; one under it opens its stream", async () => {
      // 15 MB of resource URIs once made each open stream keep 10 MB.
      const uris = (length: number) => Array.from({ length: 100 }, (_, i) => `file:///${String(i).padStart(length, "x")}`);
      const big = await call(bridge, ALICE, { id: 50, method: "subscriptions/listen", params: { notifications: { resourceSubscriptions: uris(700) }, _meta: meta({}) } }, { signal: AbortSignal.timeout(10_000) });
      assert.equal(big.status, 400, JSON.stringify(big.body));
      assert.equal(big.body.id, 50);
      assert.equal(big.body.error?.code, -32602);
      assert.match(big.body.error?.message ?? "", /at most 65536 characters/);
      await withStreams(async (signal) => {
        const fits = await post(bridge, ALICE, { id: 51, method: "subscriptions/listen", params: { notifications: { toolsListChanged: true, resourceSubscriptions: uris(500) }, _meta: meta({}) } }, { signal });
        assert.equal(fits.status, 200);
        assert.match(fits.headers.get("content-type") ?? "", /text\/event-stream/);
      });
    });
  });
}

describe("subscriptions/listen in front of a pool of legacy children that all see one change", () => {
  const dir = mkdtempSync(join(tmpdir(), "mcp-bridge-watch-"));
  const initResult = { protocolVersion: "2025-11-25", capabilities: { tools: { listChanged: true }, resources: { subscribe: true } }, serverInfo: { name: "watching", version: "1" } };
  const bridge = useBridge(() =>
    startBridge({
      server: {
        // Watching, the fixture outlives stdin's end: it is ended after 1 s of grace, not 30.
        mcp_server: { command: process.execPath, args: ["tests/fixtures/misbehaving-server.mjs"], env: { MODE: "legacy", WATCH_DIR: dir, INIT_RESULT: JSON.stringify(initResult) }, read_timeout: "5s", graceful_shutdown_timeout: "1s" },
        auth: { type: "bearer", bearer: { valid_tokens: [ALICE] } },
        session: { modern_pool_size: 2 },
      },
      // SIGUSR2 steps the bridge's wall clock an hour back (an NTP correction; timers are not moved).
    }, { env: { NODE_OPTIONS: `--require ${ROOT}tests/support/clock-step.cjs`, CLOCK_STEP_MS: String(-3_600_000) } }),
  );
  /** Replaces the tool list every child reads (a rename: no child reads it half written). */
  const changeTools = (version: string) => {
    writeFileSync(join(dir, "tools.new"), version);
    renameSync(join(dir, "tools.new"), join(dir, "tools"));
  };
  const children = () => (existsSync(join(dir, "children")) ? readFileSync(join(dir, "children"), "utf8").split("\n").filter(Boolean).length : 0);

  test("the stream carries one tools/list_changed per change, and a change after the client listed again still reaches it, as does one after the window with the wall clock stepped back", async () => {
    await withStreams(async (signal) => {
      const response = await post(
        bridge,
        ALICE,
        { id: "listen", method: "subscriptions/listen", params: { notifications: { toolsListChanged: true, resourceSubscriptions: ["test://known-marker"] }, _meta: meta({}) } },
        { signal, accept: "text/event-stream" },
      );
      assert.equal(response.status, 200);
      const events = eventReader(response);
      const acknowledged = await events.next();
      assert.deepEqual(acknowledged.params?.notifications, { toolsListChanged: true, resourceSubscriptions: ["test://known-marker"] });
      // A call that must run alone (its kind is new) makes the pool start a spare: two children.
      assert.equal(textOf((await call(bridge, ALICE, { id: 1, method: "tools/call", params: { name: "ok", arguments: {}, _meta: meta({}) } })).body.result), "ok {}");
      while (children() < 2) {
        assert.ok(!signal.aborted, "the pool's second child did not start");
        await sleep(50);
      }
      /** Reads the stream until both children announced the change (each marks it after its list_changed): the list_changed it carried. */
      const listChangedSeen = async () => {
        let marks = 0;
        let changes = 0;
        while (marks < 2) {
          const event = await events.next();
          if (event.method === "notifications/resources/updated") marks++;
          else if (event.method === "notifications/tools/list_changed") changes++;
        }
        return changes;
      };
      changeTools("v2");
      assert.equal(await listChangedSeen(), 1, "one change, one tools/list_changed");
      // The client reads the list again: a change after that reaches it, however soon it comes.
      const listed = await call(bridge, ALICE, { id: 2, method: "tools/list", params: { _meta: meta({}) } });
      assert.equal(listed.status, 200, JSON.stringify(listed.body));
      changeTools("v3");
      assert.equal(await listChangedSeen(), 1, "the change after the client listed again, once");
      // The wall clock steps back an hour; a change after the coalescing window (2 s) is a new one,
      // and reaches the stream though its client has not listed again.
      bridge.process.kill("SIGUSR2");
      await sleep(2_500);
      changeTools("v4");
      assert.equal(await listChangedSeen(), 1, "a change after the window, the clock stepped back");
    });
  });
});
