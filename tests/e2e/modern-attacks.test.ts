/**
 * @module End-to-end attacks on the modern (2026-07-28) path through the built CLI: hostile
 * headers and envelopes, requestState abuse, one principal's load against another's service, and
 * children that misbehave. Each test is an attack that once broke, or must keep failing.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startBridge, type RunningBridge } from "../support/bridge.ts";
import { buildFixtures } from "../support/fixtures.ts";

const ALICE = "alice-token-0123456789";
const BOB = "bob-token-0123456789abc";
const MODERN = "2026-07-28";

type Body = { id: unknown; result?: Record<string, any>; error?: { code: number; message: string; data?: any } };

function meta(capabilities: Record<string, unknown> = { elicitation: {} }) {
  return { "io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": capabilities };
}

/** POSTs a modern request with its standard headers (overridable); `raw` replaces the body text. */
function post(bridge: RunningBridge, token: string, message: Record<string, any>, options: { headers?: Record<string, string>; signal?: AbortSignal; raw?: string; accept?: string } = {}): Promise<Response> {
  const name = message.params?.name ?? message.params?.uri;
  return fetch(bridge.url, {
    method: "POST",
    signal: options.signal,
    headers: {
      authorization: `Bearer ${token}`,
      "content-type": "application/json",
      accept: options.accept ?? "application/json, text/event-stream",
      "mcp-protocol-version": MODERN,
      "mcp-method": message.method,
      ...(typeof name === "string" && { "mcp-name": name }),
      ...options.headers,
    },
    body: options.raw ?? JSON.stringify({ jsonrpc: "2.0", ...message }),
  });
}

async function call(bridge: RunningBridge, token: string, message: Record<string, any>, options: Parameters<typeof post>[3] = {}): Promise<{ status: number; body: Body }> {
  const response = await post(bridge, token, message, options);
  return { status: response.status, body: (await response.json()) as Body };
}

function textOf(result: Record<string, any> | undefined): string {
  return (result?.content as Array<{ type: string; text?: string }> | undefined)?.find((block) => block.type === "text")?.text ?? "";
}

describe("one principal's load never locks another out", () => {
  let bridge: RunningBridge;
  before(async () => {
    const { everythingServer } = await buildFixtures();
    bridge = await startBridge({
      log: { level: "debug", format: "json" },
      server: {
        mcp_server: { command: process.execPath, args: [everythingServer], read_timeout: "20s" },
        auth: { type: "bearer", bearer: { valid_tokens: [ALICE, BOB] } },
        session: { modern_child: "shared", modern_pool_size: 2 },
      },
    });
  });
  after(async () => {
    await bridge?.stop();
  });

  test("with one shared child, a principal holding every subscriptions/listen stream it may open leaves another principal its own", async () => {
    const controllers: AbortController[] = [];
    const listen = (token: string, id: number, controller: AbortController) =>
      post(bridge, token, { id, method: "subscriptions/listen", params: { notifications: { toolsListChanged: true }, _meta: meta({}) } }, { signal: controller.signal, accept: "text/event-stream" });
    try {
      // Alice opens listen streams until the bridge refuses her.
      let refused: Response | undefined;
      for (let i = 0; i < 100 && !refused; i++) {
        const controller = new AbortController();
        controllers.push(controller);
        const response = await listen(ALICE, i, controller);
        if (response.status !== 200) refused = response;
      }
      assert.equal(refused?.status, 429, "alice's listen streams are bounded");
      const controller = new AbortController();
      controllers.push(controller);
      const bob = await listen(BOB, 1000, controller);
      assert.equal(bob.status, 200, `bob was refused a listen stream because of alice's: ${bob.status}`);
    } finally {
      for (const controller of controllers) controller.abort();
    }
  });
});

describe("children at max_sessions", () => {
  let bridge: RunningBridge;
  before(async () => {
    const { everythingServer } = await buildFixtures();
    bridge = await startBridge({
      log: { level: "debug", format: "json" },
      server: {
        mcp_server: { command: process.execPath, args: [everythingServer], read_timeout: "20s" },
        auth: { type: "bearer", bearer: { valid_tokens: [ALICE, BOB] } },
        session: { max_sessions: 3, modern_pool_size: 8 },
      },
    });
  });
  after(async () => {
    await bridge?.stop();
  });

  test("a principal whose rounds fill every place still gets its calls served (its oldest waiting round makes way), and another principal is not locked out", async () => {
    const ask = (token: string, id: number, tag: string) => call(bridge, token, { id, method: "tools/call", params: { name: "elicit_tag", arguments: { tag }, _meta: meta() } });
    // Alice starts rounds she never finishes, more than there are places for children.
    const rounds = await Promise.all(Array.from({ length: 6 }, (_, i) => ask(ALICE, i, `a${i}`)));
    assert.deepEqual(
      rounds.map((round) => `${round.status} ${round.body.result?.resultType ?? round.body.error?.message}`),
      rounds.map(() => "200 input_required"),
    );
    // Bob's first requests: a child of his own takes the place of one of Alice's extra children.
    const echo = await call(bridge, BOB, { id: 100, method: "tools/call", params: { name: "echo", arguments: { text: "bob here" }, _meta: meta() } });
    assert.equal(echo.status, 200, JSON.stringify(echo.body));
    assert.equal(textOf(echo.body.result), "bob here");
    const bobRound = await ask(BOB, 101, "b");
    assert.equal(bobRound.body.result?.resultType, "input_required", JSON.stringify(bobRound.body));
    const [key] = Object.keys(bobRound.body.result?.inputRequests ?? {});
    const done = await call(bridge, BOB, { id: 102, method: "tools/call", params: { name: "elicit_tag", arguments: { tag: "b" }, inputResponses: { [key!]: { action: "accept", content: { value: "ok" } } }, requestState: bobRound.body.result?.requestState, _meta: meta() } });
    assert.equal(textOf(done.body.result), "b=ok");
  });
});

describe("clients that leave", () => {
  let bridge: RunningBridge;
  before(async () => {
    const { everythingServer } = await buildFixtures();
    bridge = await startBridge({
      log: { level: "debug", format: "json" },
      server: {
        // Children take a second to start, so that a client can leave while its first one starts.
        mcp_server: { command: "/bin/sh", args: ["-c", `sleep 1; exec "${process.execPath}" "${everythingServer}"`], read_timeout: "60s" },
        auth: { type: "bearer", bearer: { valid_tokens: [ALICE, BOB] } },
        session: { modern_pool_size: 1 },
      },
    });
  });
  after(async () => {
    await bridge?.stop();
  });

  test("a call whose client left while it waited for a child never runs there: the principal's next call gets the child", async () => {
    const slow = (id: number, ms: number, signal: AbortSignal) => post(bridge, ALICE, { id, method: "tools/call", params: { name: "slow", arguments: { ms }, _meta: meta() } }, { signal });
    const first = new AbortController();
    const running = slow(1, 60_000, first.signal).catch(() => undefined);
    const second = new AbortController();
    // The only child is taken: this call waits for it, and its client gives up meanwhile.
    const waiting = slow(2, 60_000, second.signal).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 500));
    second.abort();
    await waiting;
    first.abort();
    await running;
    // Had the abandoned call started, it would hold the child for a minute.
    const next = await call(bridge, ALICE, { id: 3, method: "tools/call", params: { name: "slow", arguments: { ms: 0 }, _meta: meta() } }, { signal: AbortSignal.timeout(20_000) });
    assert.equal(textOf(next.body.result), "done");
  });
  test("a call whose client left while its principal's first child was starting never runs there", async () => {
    const abandoned = new AbortController();
    const call1 = post(bridge, BOB, { id: 1, method: "tools/call", params: { name: "slow", arguments: { ms: 60_000 }, _meta: meta() } }, { signal: abandoned.signal }).catch(() => undefined);
    // Bob has no child yet: the bridge starts one (hundreds of milliseconds) while he gives up.
    await new Promise((resolve) => setTimeout(resolve, 300));
    abandoned.abort();
    await call1;
    const next = await call(bridge, BOB, { id: 2, method: "tools/call", params: { name: "slow", arguments: { ms: 0 }, _meta: meta() } }, { signal: AbortSignal.timeout(20_000) });
    assert.equal(textOf(next.body.result), "done");
  });
});
