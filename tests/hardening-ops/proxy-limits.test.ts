/** §3 Behind a reverse proxy: the failure limiter never locks honest users out; trusted_proxies name the client. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { startBridge } from "../support/bridge.ts";
import { callTool, initialize, logged, scripted } from "./support.ts";

const GOOD = "good-token-0123456789abcdef";
const FRESH = "fresh-token-0123456789abcdef";
const bearer = { type: "bearer", bearer: { valid_tokens: [GOOD, FRESH] } };
const auth = (token: string) => ({ authorization: `Bearer ${token}` });

describe("auth-failure limiter", () => {
  test("bad tokens from a shared address are throttled, while valid credentials and open sessions from that address keep working", async () => {
    const bridge = await startBridge({ server: { mcp_server: scripted(), auth_failure_limit: 5, auth: bearer } });
    try {
      const open = await initialize(bridge.url, auth(GOOD));
      assert.equal(open.status, 200);
      const statuses: number[] = [];
      for (let i = 0; i < 25; i++) statuses.push((await initialize(bridge.url, auth(`wrong-${i}-0123456789`))).status);
      assert.deepEqual(statuses.slice(0, 5), [401, 401, 401, 401, 401]);
      assert.ok(statuses.slice(5).every((status) => status === 429), String(statuses));
      // The open session, and a valid token never seen before, both pass.
      assert.equal((await callTool(bridge.url, open.session, 2, "echo", { text: "still here" }, auth(GOOD))).body.result.content[0].text, "still here");
      assert.equal((await initialize(bridge.url, auth(FRESH))).status, 200);
      // Failures go on being throttled, with Retry-After.
      const throttled = await initialize(bridge.url, auth("wrong-again-0123456789"));
      assert.equal(throttled.status, 429);
      assert.ok(Number(throttled.response.headers.get("retry-after")) >= 1);
      // Logged once as throttled, not once per failure.
      const logs = await logged(bridge, "authentication failures throttled");
      assert.equal(logs.split("\n").filter((line) => line.includes("authentication failures throttled")).length, 1);
      assert.equal(logs.split("\n").filter((line) => line.includes("authentication failed")).length, 5);
    } finally {
      await bridge.stop();
    }
  });

  test("why a token was rejected is logged at warn, without the token", async () => {
    const bridge = await startBridge({ server: { mcp_server: scripted(), auth: bearer } });
    try {
      await initialize(bridge.url, auth("secret-looking-wrong-token-42"));
      const logs = await logged(bridge, "authentication failed");
      assert.match(logs, /WARN +authentication failed .*reason="not one of the configured tokens"/);
      assert.doesNotMatch(logs, /secret-looking-wrong-token-42/);
    } finally {
      await bridge.stop();
    }
  });
});

describe("trusted proxies", () => {
  test("behind a trusted proxy each client has its own failure budget, and logs name the client", async () => {
    const bridge = await startBridge({ server: { mcp_server: scripted(), auth_failure_limit: 3, trusted_proxies: ["127.0.0.0/8", "::1"], auth: bearer } });
    try {
      const attacker = { "x-forwarded-for": "203.0.113.9" };
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push((await initialize(bridge.url, { ...attacker, ...auth(`wrong-${i}-0123456789`) })).status);
      assert.deepEqual(statuses, [401, 401, 401, 429, 429]);
      // Another client behind the same proxy: its own budget, so a 401 rather than a 429.
      assert.equal((await initialize(bridge.url, { "x-forwarded-for": "198.51.100.1", ...auth("typo-0123456789") })).status, 401);
      // The client cannot escape by writing the header itself: the proxy appends the real address.
      assert.equal((await initialize(bridge.url, { "x-forwarded-for": "192.0.2.77, 203.0.113.9", ...auth("wrong-x-0123456789") })).status, 429);
      // Forwarded (RFC 7239) too.
      assert.equal((await initialize(bridge.url, { forwarded: 'for="203.0.113.9:1234"', ...auth("wrong-y-0123456789") })).status, 429);
      const logs = await logged(bridge, "remote=203.0.113.9");
      assert.match(logs, /authentication failed remote=198\.51\.100\.1/);
    } finally {
      await bridge.stop();
    }
  });

  test("failures spread over many client addresses are logged in bursts with a count, not a line each", async () => {
    const bridge = await startBridge({ server: { mcp_server: scripted(), trusted_proxies: ["127.0.0.0/8", "::1"], auth: bearer } });
    try {
      for (let i = 0; i < 70; i++) assert.equal((await initialize(bridge.url, { "x-forwarded-for": `198.51.100.${i}`, ...auth(`wrong-${i}-0123456789`) })).status, 401);
      const logs = await logged(bridge, /authentication failures: lines not logged .*suppressed=20/);
      assert.equal(logs.split("\n").filter((line) => line.includes("authentication failed")).length, 50);
    } finally {
      await bridge.stop();
    }
  });

  test("forwarding headers from an untrusted peer are ignored", async () => {
    const bridge = await startBridge({ server: { mcp_server: scripted(), auth_failure_limit: 2, trusted_proxies: ["10.0.0.0/8"], auth: bearer } });
    try {
      const statuses: number[] = [];
      // A new spoofed address each time: all counted against the real peer.
      for (let i = 0; i < 4; i++) statuses.push((await initialize(bridge.url, { "x-forwarded-for": `203.0.113.${i}`, ...auth(`wrong-${i}-0123456789`) })).status);
      assert.deepEqual(statuses, [401, 401, 429, 429]);
      assert.doesNotMatch(bridge.logs(), /remote=203\.0\.113/);
    } finally {
      await bridge.stop();
    }
  });

  test("a trusted_proxies entry that is not a range is a config error naming the key", async () => {
    const { runCli, writeConfig } = await import("../support/bridge.ts");
    const path = writeConfig({ mode: "server", server: { mcp_server: scripted(), trusted_proxies: ["10.0.0.1/8"] } });
    const result = await runCli(["check-config", "-c", path]);
    assert.equal(result.code, 2);
    assert.match(result.stderr + result.stdout, /trusted_proxies/);
    assert.match(result.stderr + result.stdout, /did you mean "10\.0\.0\.0\/8"/);
  });
});
