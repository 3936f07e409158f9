/**
 * @module End-to-end: a legacy child's pool grows for calls that must run alone; a child that
 * fails to start must not turn such a call into an HTTP 500 (a bug's answer, with no JSON-RPC id).
 * The call waits for the children that did start, as it would at the pool's size.
 */
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { startBridge, useBridge, waitForLog } from "../support/bridge.ts";
import { waitFor } from "../hardening/support.ts";
import { call, meta, post, textOf, type Body } from "../support/modern.ts";

const ALICE = "alice-token-0123456789";

describe("a legacy child whose further processes cannot start", () => {
  const failFile = join(mkdtempSync(join(tmpdir(), "mcp-bridge-fail-")), "fail");
  const bridge = useBridge(() =>
    startBridge({
      server: {
        // Slow to start: the first process is under way, its spare not yet, when no process may start any more.
        mcp_server: { command: process.execPath, args: ["tests/fixtures/misbehaving-server.mjs"], env: { MODE: "legacy", FAIL_FILE: failFile, START_DELAY_MS: "1000" }, read_timeout: "20s" },
        auth: { type: "bearer", bearer: { valid_tokens: [ALICE] } },
      },
    }),
  );
  const tool = (id: number, name: string) => call(bridge, ALICE, { id, method: "tools/call", params: { name, arguments: {}, _meta: meta() } });

  test("a call that needed a new child of the pool waits for the one running instead, and is answered", async () => {
    const listing = call(bridge, ALICE, { id: 1, method: "tools/list", params: { _meta: meta() } });
    // The first process is past its FAIL_FILE check once it reads initialize.
    await waitForLog(bridge, /initialize: started/);
    writeFileSync(failFile, "");
    const listed = await listing;
    assert.ok(Array.isArray(listed.body.result?.tools), JSON.stringify(listed.body));
    // Two calls of kinds never seen: each must run alone, so the second needs another child.
    const [waited, ok] = await Promise.all([tool(2, "wait"), tool(3, "ok")]);
    assert.equal(textOf(waited.body.result), "waited", JSON.stringify(waited.body));
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(textOf(ok.body.result), "ok {}", JSON.stringify(ok.body));
    assert.equal(bridge.logs().match(/modern child ready/g)?.length, 1, bridge.logs());
  });

  test("a process that could not start is not started again for every call that would have liked a child of its own", async () => {
    const count = (pattern: RegExp) => bridge.logs().match(pattern)?.length ?? 0;
    const started = () => count(/modern child started/g);
    // Every process but the first has ended (none could start): what a call a moment later finds.
    const settled = () => count(/modern child ended/g) === started() - 1;
    await waitFor(settled, "the processes beside the first to end");
    const before = started();
    // Kinds never seen: each runs alone, and would have a spare started beside it.
    for (let id = 10; id < 16; id++) {
      const answered = await tool(id, `fresh_${id}`);
      assert.equal(textOf(answered.body.result), "ok {}", JSON.stringify(answered.body));
      await waitFor(settled, "the processes beside the first to end");
    }
    // Before, each call started a process; now, after one failed, the group waits START_PAUSE_MS (10 s) before it tries again.
    assert.ok(started() - before <= 1, `${started() - before} processes started for 6 calls:\n${bridge.logs()}`);
    assert.equal(textOf((await tool(16, "ok")).body.result), "ok {}");
  });
});

describe("a legacy child slow to start", () => {
  const START_MS = 1500;
  const bridge = useBridge(() =>
    startBridge({
      server: {
        mcp_server: { command: process.execPath, args: ["tests/fixtures/misbehaving-server.mjs"], env: { MODE: "legacy", START_DELAY_MS: String(START_MS) }, read_timeout: "20s" },
        auth: { type: "bearer", bearer: { valid_tokens: [ALICE] } },
      },
    }),
  );
  const readyChildren = () => bridge.logs().match(/modern child ready/g)?.length ?? 0;

  test("the spare starts with the first child; a call that must run alone while it starts runs on it, not on a child started for it", async () => {
    const listed = await call(bridge, ALICE, { id: 1, method: "tools/list", params: { _meta: meta() } });
    assert.ok(Array.isArray(listed.body.result?.tools), JSON.stringify(listed.body));
    // The spare starts with the first child, before any call needs it.
    await waitForLog(bridge, /modern child started[^\n]*\bm2\b/);
    // A round waiting for its client holds the first child.
    const asked = await call(bridge, ALICE, { id: 2, method: "tools/call", params: { name: "ask_then_wait", arguments: {}, _meta: meta() } });
    assert.equal(asked.body.result?.resultType, "input_required", JSON.stringify(asked.body));
    // A kind never seen runs alone: the spare is what it waits for. A child started for it would
    // have to be ready before the call could be answered; the spare's own spare, started as the
    // call begins, cannot be ready until START_MS later.
    const ok = await call(bridge, ALICE, { id: 3, method: "tools/call", params: { name: "ok", arguments: {}, _meta: meta() } });
    assert.equal(textOf(ok.body.result), "ok {}", JSON.stringify(ok.body));
    assert.equal(readyChildren(), 2, bridge.logs());
  });
});

describe("a server that cannot start at all", () => {
  const failFile = join(mkdtempSync(join(tmpdir(), "mcp-bridge-fail-")), "fail");
  writeFileSync(failFile, "");
  const bridge = useBridge(() =>
    startBridge({
      server: {
        mcp_server: { command: process.execPath, args: ["tests/fixtures/misbehaving-server.mjs"], env: { MODE: "legacy", FAIL_FILE: failFile } },
        auth: { type: "bearer", bearer: { valid_tokens: [ALICE] } },
      },
    }),
  );

  test("is not started again for every request: after its first child failed, a principal's requests get 503 for a while", async () => {
    const count = (pattern: RegExp) => bridge.logs().match(pattern)?.length ?? 0;
    for (let id = 1; id <= 6; id++) {
      const answered = await post(bridge, ALICE, { id, method: "tools/list", params: { _meta: meta() } });
      const body = (await answered.json()) as Body;
      assert.equal(answered.status, 503, JSON.stringify(body));
      assert.equal(body.id, id);
      assert.ok(Number(answered.headers.get("retry-after")) >= 1, "Retry-After says when to come back");
    }
    // Before, each request started a process (6 for 6); now the principal's next one is started after START_PAUSE_MS (10 s).
    assert.equal(count(/modern child started/g), 1, bridge.logs());
    assert.ok(count(/no MCP server for a modern request|could not start/g) <= 2, bridge.logs());
  });
});
