/**
 * @module End-to-end: `Mcp-Param-*` headers are checked against the body however a call races the
 * bridge's own listing of the child's tools (which is where the `x-mcp-header` declarations come
 * from). The child here answers tools/list late, and says on stderr which page it was asked for.
 * A gateway in front of the bridge may route on these headers: a call that skipped the check
 * while a listing was under way ran with a header that lied about its body.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { startBridge, useBridge, type RunningBridge } from "../support/bridge.ts";
import { call, meta, post, textOf, useMisbehavingBridge } from "../support/modern.ts";
import { waitFor } from "../support/poll.ts";

const ALICE = "alice-token-0123456789";

/** Resolves once `pattern` has matched `count` times in the bridge's log. */
function logged(bridge: RunningBridge, pattern: RegExp, count: number): Promise<boolean> {
  const global = new RegExp(pattern.source, "g");
  return waitFor(() => (bridge.logs().match(global)?.length ?? 0) >= count, `${pattern} logged ${count} times`);
}

for (const era of ["modern", "legacy"] as const) {
  describe(`x-mcp-header declarations of a ${era} child that lists its tools slowly`, { timeout: 60_000 }, () => {
    const bridge = useBridge(() =>
      startBridge({
        log: { level: "debug", format: "json" },
        server: {
          mcp_server: { command: process.execPath, args: ["tests/fixtures/misbehaving-server.mjs"], env: { MODE: era, TOOLS_LIST_DELAY_MS: "1500" }, read_timeout: "20s" },
          auth: { type: "bearer", bearer: { valid_tokens: [ALICE] } },
        },
      }),
    );
    const routed = (id: number, name: string, region: string, header: string) =>
      call(bridge, ALICE, { id, method: "tools/call", params: { name, arguments: { region }, _meta: meta({}) } }, { headers: { "mcp-param-region": header } });

    test("a call that arrives while the first listing is under way waits for it: its lying header is refused", async () => {
      const [honest, lying] = await Promise.all([routed(1, "routed", "eu", "eu"), routed(2, "routed", "eu", "us")]);
      assert.equal(textOf(honest.body.result), 'ok {"region":"eu"}', JSON.stringify(honest.body));
      assert.equal(lying.status, 400, JSON.stringify(lying.body));
      assert.equal(lying.body.error?.code, -32020);
    });

    test("while the bridge lists the tools again (a call named a tool it did not know), a tool of the second page is still checked", async () => {
      // The bridge lists again at most every 5 s.
      await new Promise((resolve) => setTimeout(resolve, 5_500));
      const asked = bridge.logs().match(/tools\/list asked for page-2/g)?.length ?? 0;
      const unknown = call(bridge, ALICE, { id: 3, method: "tools/call", params: { name: "no_such_tool", arguments: {}, _meta: meta({}) } }).catch((error: Error) => error);
      // The first page is in, the second is being answered: the window where only the first page was known.
      await logged(bridge, /tools\/list asked for page-2/, asked + 1);
      const lying = await routed(4, "routed_too", "eu", "us");
      assert.equal(lying.status, 400, JSON.stringify(lying.body));
      assert.equal(lying.body.error?.code, -32020);
      const honest = await routed(5, "routed_too", "eu", "eu");
      assert.equal(textOf(honest.body.result), 'ok {"region":"eu"}', JSON.stringify(honest.body));
      assert.ok(!((await unknown) instanceof Error));
    });
  });
}

for (const era of ["modern", "legacy"] as const) {
  describe(`a ${era} child whose tool declares x-mcp-header names that are not HTTP header names`, () => {
    const bridge = useMisbehavingBridge(era, "10s", ALICE);
    const odd = (id: number, headers: Record<string, string>) =>
      call(bridge, ALICE, { id, method: "tools/call", params: { name: "odd_header", arguments: { region: "eu", zone: "a b", city: "x" }, _meta: meta({}) } }, { headers });

    test("no header can carry those, so none is expected; the tool's valid declaration is still checked", async () => {
      const served = await odd(1, { "mcp-param-region": "eu" });
      assert.equal(served.status, 200, JSON.stringify(served.body));
      assert.match(textOf(served.body.result), /^ok /);
      const lying = await odd(2, { "mcp-param-region": "us" });
      assert.equal(lying.status, 400, JSON.stringify(lying.body));
      assert.equal(lying.body.error?.code, -32020);
    });
  });
}

for (const era of ["modern", "legacy"] as const) {
  describe(`a ${era} child whose tool mirrors parameters named constructor and toString`, () => {
    const bridge = useMisbehavingBridge(era, "10s", ALICE);
    const inherited = (id: number, args: Record<string, unknown>, headers: Record<string, string>) =>
      call(bridge, ALICE, { id, method: "tools/call", params: { name: "inherited_names", arguments: args, _meta: meta({}) } }, { headers });

    test("left out, they are absent (no header expected), not the functions every object inherits; given, they are checked", async () => {
      const without = await inherited(1, {}, {});
      assert.equal(without.status, 200, JSON.stringify(without.body));
      assert.equal(textOf(without.body.result), "ok {}");
      const given = await inherited(2, { constructor: "a", toString: "b" }, { "mcp-param-ctor": "a", "mcp-param-str": "b" });
      assert.equal(given.status, 200, JSON.stringify(given.body));
      const lying = await inherited(3, { constructor: "a" }, { "mcp-param-ctor": "z" });
      assert.equal(lying.status, 400, JSON.stringify(lying.body));
      assert.equal(lying.body.error?.code, -32020);
      const sentForNothing = await inherited(4, {}, { "mcp-param-str": "b" });
      assert.equal(sentForNothing.status, 400, JSON.stringify(sentForNothing.body));
    });
  });
}

describe("a modern child whose tools/list brings ever new tools with x-mcp-header", { timeout: 120_000 }, () => {
  const bridge = useMisbehavingBridge("modern", "20s", ALICE);

  test("the bridge keeps the declarations of at most 10,000 tools per child (the oldest forgotten), not every tool ever listed", async () => {
    const TOOLS = 10_001;
    const inputSchema = { type: "object", properties: { region: { type: "string", "x-mcp-header": "Region" } } };
    const line = JSON.stringify({ jsonrpc: "2.0", id: 0, result: { resultType: "complete", tools: Array.from({ length: TOOLS }, (_, i) => ({ name: `t${i}`, inputSchema })) } }).replace('"id":0', '"id":ID');
    const listed = await call(bridge, ALICE, { id: 1, method: "tools/list", params: { rawLine: line, _meta: meta({}) } });
    assert.equal(listed.body.result?.tools?.length, TOOLS);
    const lying = (id: number, name: string) => call(bridge, ALICE, { id, method: "tools/call", params: { name, arguments: { region: "eu" }, _meta: meta({}) } }, { headers: { "mcp-param-region": "us" } });
    // The newest is still known: its lying header is refused from memory.
    assert.equal((await lying(2, `t${TOOLS - 1}`)).status, 400);
    // The oldest was forgotten: the bridge reads the child's tools again, and t0 is no longer among them.
    const oldest = await lying(3, "t0");
    assert.equal(oldest.status, 200, JSON.stringify(oldest.body));
  });
});

describe("an x-mcp-header argument whose value no header can mirror", () => {
  const bridge = useMisbehavingBridge("legacy", "10s", ALICE);
  const routed = (id: number, raw: string, header?: string) =>
    call(bridge, ALICE, { id, method: "tools/call", params: { name: "routed" } }, {
      raw: `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"routed","arguments":{"region":${raw}},"_meta":${JSON.stringify(meta({}))}}}`,
      headers: header === undefined ? {} : { "mcp-param-region": header },
    });

  test("an object, an array, an integer past 2^53: refused with or without a header (a gateway routing on the header would not see what the tool gets)", async () => {
    // An integer past 2^53 is refused before any header is compared (Invalid params: it would reach the tool as another number).
    for (const [raw, header, code] of [['{"x":"eu"}', "eu", -32020], ['["eu"]', "eu", -32020], ["1152921504606846976", "1152921504606846976", -32602], ["1e300", "1", -32020], ['{"x":"eu"}', undefined, -32020]] as const) {
      const refused = await routed(1, raw, header);
      assert.equal(refused.status, 400, `${raw} ${header}: ${JSON.stringify(refused.body)}`);
      assert.equal(refused.body.error?.code, code, `${raw} ${header}: ${JSON.stringify(refused.body)}`);
    }
  });

  test("a number the header spells alike, and a null or absent value without a header: served", async () => {
    assert.match(textOf((await routed(2, "12", "12")).body.result), /^ok /);
    assert.match(textOf((await routed(3, "null")).body.result), /^ok /);
    const absent = await call(bridge, ALICE, { id: 4, method: "tools/call", params: { name: "routed", arguments: {}, _meta: meta({}) } });
    assert.match(textOf(absent.body.result), /^ok /);
  });

  test("a header for a null or absent value: refused (a gateway would route on a value the tool never gets)", async () => {
    const nulled = await routed(5, "null", "eu");
    assert.equal(nulled.status, 400, JSON.stringify(nulled.body));
    assert.equal(nulled.body.error?.code, -32020);
    assert.match(nulled.body.error?.message ?? "", /Mcp-Param-Region/);
    const absent = await call(bridge, ALICE, { id: 6, method: "tools/call", params: { name: "routed", arguments: {}, _meta: meta({}) } }, { headers: { "mcp-param-region": "eu" } });
    assert.equal(absent.status, 400, JSON.stringify(absent.body));
    assert.equal(absent.body.error?.code, -32020);
  });
});

for (const era of ["modern", "legacy"] as const) {
  describe(`a ${era} child whose tool list changes`, () => {
    const bridge = useMisbehavingBridge(era, "10s", ALICE);
    const shifty = (id: number, header: string) =>
      call(bridge, ALICE, { id, method: "tools/call", params: { name: "shifty", arguments: { region: "eu" }, _meta: meta({}) } }, { headers: { "mcp-param-region": header } });

    test("a header declared after notifications/tools/list_changed is checked from then on", async () => {
      // Declares nothing yet: any header passes.
      assert.match(textOf((await shifty(1, "us")).body.result), /^ok /);
      const scheduled = await call(bridge, ALICE, { id: 2, method: "tools/call", params: { name: "change_later", arguments: { ms: 0 }, _meta: meta({}) } });
      assert.equal(textOf(scheduled.body.result), "scheduled");
      // The change reaches the bridge on its own time: ask until the lying header is refused.
      let answer = await shifty(3, "us");
      for (let attempt = 0; answer.status === 200 && attempt < 40; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        answer = await shifty(4 + attempt, "us");
      }
      assert.equal(answer.status, 400, JSON.stringify(answer.body));
      assert.equal(answer.body.error?.code, -32020);
      assert.match(textOf((await shifty(100, "eu")).body.result), /^ok /);
    });
  });
}

describe("a modern child whose tool list changes, told on a subscriptions/listen stream", () => {
  const bridge = useMisbehavingBridge("modern", "10s", ALICE);
  const shifty = (id: number, header: string) =>
    call(bridge, ALICE, { id, method: "tools/call", params: { name: "shifty", arguments: { region: "eu" }, _meta: meta({}) } }, { headers: { "mcp-param-region": header } });

  test("the change tagged for the stream counts as well", async () => {
    assert.match(textOf((await shifty(1, "us")).body.result), /^ok /);
    const controller = new AbortController();
    const listen = await post(bridge, ALICE, { id: "listen-1", method: "subscriptions/listen", params: { notifications: { toolsListChanged: true }, _meta: meta({}) } }, { signal: controller.signal });
    const reader = listen.body!.getReader();
    let seen = "";
    try {
      // The acknowledgement, then the change (tagged with the listen id by the child).
      while (!seen.includes("acknowledged")) seen += new TextDecoder().decode((await reader.read()).value);
      await call(bridge, ALICE, { id: 2, method: "tools/call", params: { name: "change_later", arguments: { ms: 0 }, _meta: meta({}) } });
      while (!seen.includes("tools/list_changed")) seen += new TextDecoder().decode((await reader.read()).value);
      const answer = await shifty(3, "us");
      assert.equal(answer.status, 400, JSON.stringify(answer.body));
      assert.equal(answer.body.error?.code, -32020);
    } finally {
      controller.abort();
      await reader.cancel().catch(() => undefined);
    }
  });
});
