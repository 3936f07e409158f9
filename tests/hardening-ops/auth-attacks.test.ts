/** Server mode's request validation under attack: bearer tokens, failure throttling, sessions of other principals, legacy transports. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { request } from "node:http";
import { describe, test } from "node:test";
import { runCli, startBridge, writeConfig } from "../support/bridge.ts";
import { startDrippingJsonServer } from "../support/drip.ts";
import { startJsonEndpoint } from "../support/json-endpoint.ts";
import { callTool, initialize, logged, scripted, waitFor } from "./support.ts";
import { call, meta } from "../support/modern.ts";

const GOOD = "good-token-0123456789abcdef";

describe("static bearer tokens", { timeout: 60_000 }, () => {
  test("a valid_tokens entry no client can send (not an RFC 6750 b64token) is a config error naming the entry, without its value", async () => {
    const bad = "correct horse battery!";
    const path = writeConfig({ mode: "server", server: { listen: "127.0.0.1:0", mcp_server: scripted(), auth: { type: "bearer", bearer: { valid_tokens: [GOOD, bad] } } } });
    for (const args of [["check-config", "-c", path], ["-c", path]]) {
      const result = await runCli(args);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, /server\.auth\.bearer\.valid_tokens\[1\]: is not a token a client can send .*RFC 6750/);
      assert.doesNotMatch(result.stderr, /horse/);
    }
    // What is sendable still is: base64 with padding, and the hashed form.
    const fine = writeConfig({ mode: "server", server: { listen: "127.0.0.1:0", mcp_server: scripted(), auth: { type: "bearer", bearer: { valid_tokens: ["aGVsbG8+d29ybGQ/Lw==", `sha256:${"ab".repeat(32)}`] } } } });
    const result = await runCli(["check-config", "-c", fine]);
    assert.equal(result.code, 0, result.stderr);
  });

  test("the b64token characters all pass end to end (a token with + / = ~ works)", async () => {
    const token = "A-Z.a_z~0+9/x==";
    const bridge = await startBridge({ server: { mcp_server: scripted(), auth: { type: "bearer", bearer: { valid_tokens: [token] } } } });
    try {
      assert.equal((await initialize(bridge.url, { authorization: `Bearer ${token}` })).status, 200);
    } finally {
      await bridge.stop();
    }
  });
});

/** A request that passes authentication and then fails for want of a session (400): no child is started. */
async function authStatus(url: string, token: string): Promise<number> {
  const response = await fetch(url, { method: "DELETE", headers: { authorization: `Bearer ${token}` } });
  await response.body?.cancel();
  return response.status;
}

/** Runs `count` calls of `task`, `width` at a time. */
async function flood(count: number, width: number, task: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < count) await task(next++);
  }));
}

describe("remote validation (bearer.validation_endpoint) under a flood of bad tokens", { timeout: 300_000 }, () => {
  test("an attacker's refused tokens do not push an honest user's cached answer out: it still works while the endpoint is down", async () => {
    const HONEST = "honest-remote-token-0123456789";
    let down = false;
    const calls = { honest: 0, other: 0 };
    const endpoint = await startJsonEndpoint((body) => {
      if (down) return { status: 503 };
      const honest = (JSON.parse(body) as { token: string }).token === HONEST;
      calls[honest ? "honest" : "other"]++;
      return { status: 200, json: honest ? { valid: true, subject: "alice" } : { valid: false } };
    });
    const validation_endpoint = `${endpoint.origin}/validate`;
    const bridge = await startBridge({ server: { mcp_server: scripted(), auth: { type: "bearer", bearer: { validation_endpoint, cache_ttl: "1h", negative_cache_ttl: "1h" } } } });
    try {
      assert.equal(await authStatus(bridge.url, HONEST), 400);
      // More distinct bad tokens than the bridge caches answers for (10 000).
      await flood(10_100, 16, async (i) => assert.ok([401, 429].includes(await authStatus(bridge.url, `attacker-${i}-0123456789`))));
      assert.equal(calls.other, 10_100, "every bad token was asked about");
      down = true;
      assert.equal(await authStatus(bridge.url, HONEST), 400, "the honest answer is still cached");
      assert.equal(calls.honest, 1);
    } finally {
      await bridge.stop();
      endpoint.close();
    }
  });
});

describe("remote validation and /ready", { timeout: 60_000 }, () => {
  test("a token the endpoint fails on (500) gets 503, but /ready stays 200 while the endpoint answers other tokens; an endpoint down for all makes it 503", async () => {
    const state = { all: false };
    const asked: string[] = [];
    const endpoint = await startJsonEndpoint((body) => {
      const token = (JSON.parse(body) as { token: string }).token;
      asked.push(token);
      if (state.all || token.startsWith("crafted")) return { status: 500 };
      return { status: 200, json: token === "honest-0123456789" ? { valid: true, subject: "alice" } : { valid: false } };
    });
    const bridge = await startBridge({ server: { mcp_server: scripted(), auth: { type: "bearer", bearer: { validation_endpoint: `${endpoint.origin}/validate` } } } });
    const readiness = async () => {
      const response = await fetch(`${bridge.origin}/ready`);
      return { status: response.status, auth: ((await response.json()) as { auth: string }).auth };
    };
    try {
      for (let i = 0; i < 5; i++) {
        assert.equal(await authStatus(bridge.url, `crafted-${i}-0123456789`), 503, "a failure to decide fails closed");
        assert.deepEqual(await readiness(), { status: 200, auth: "ready" }, "one token's failure says nothing about the endpoint");
      }
      assert.ok(asked.some((token) => !token.startsWith("crafted")), "the bridge asked the endpoint about a token of its own");
      assert.equal(await authStatus(bridge.url, "honest-0123456789"), 400, "honest users pass meanwhile");
      // Down for every token: /ready says so after the next failure, and recovers with the next clear answer.
      state.all = true;
      await new Promise((resolve) => setTimeout(resolve, 1100));
      assert.equal(await authStatus(bridge.url, "someone-else-0123456789"), 503);
      assert.deepEqual(await readiness(), { status: 503, auth: "unavailable" });
      state.all = false;
      // Back up, and no client sends a token (a load balancer keeps traffic from an unready bridge): /ready finds out by itself.
      const ready = await waitFor(async () => {
        const now = await readiness();
        return now.status === 200 && now;
      }, "/ready to recover without a request", 60_000);
      assert.deepEqual(ready, { status: 200, auth: "ready" });
      state.all = true;
      await new Promise((resolve) => setTimeout(resolve, 1100));
      assert.equal(await authStatus(bridge.url, "someone-else-0123456789"), 503);
      assert.deepEqual(await readiness(), { status: 503, auth: "unavailable" });
      state.all = false;
      assert.equal(await authStatus(bridge.url, "unknown-0123456789"), 401);
      assert.deepEqual(await readiness(), { status: 200, auth: "ready" });
    } finally {
      await bridge.stop();
      endpoint.close();
    }
  });
});

describe("auth-failure limiter and IPv6", { timeout: 60_000 }, () => {
  test("an IPv6 client cannot escape its failure budget by taking a new address of its /64 for each attempt; other /64s and valid tokens are unaffected", async () => {
    const bridge = await startBridge({
      server: { mcp_server: scripted(), auth_failure_limit: 3, trusted_proxies: ["127.0.0.0/8", "::1"], auth: { type: "bearer", bearer: { valid_tokens: [GOOD] } } },
    });
    try {
      const from = (address: string, token: string) =>
        fetch(bridge.url, { method: "DELETE", headers: { "x-forwarded-for": address, authorization: `Bearer ${token}` } }).then(async (response) => (await response.body?.cancel(), response.status));
      const statuses: number[] = [];
      for (let i = 1; i <= 6; i++) statuses.push(await from(`2001:db8:1:2::${i.toString(16)}`, `wrong-${i}-0123456789`));
      assert.deepEqual(statuses, [401, 401, 401, 429, 429, 429]);
      // Written another way, still the same /64.
      assert.equal(await from("2001:0db8:0001:0002:ffff:0:0:1", "wrong-x-0123456789"), 429);
      // A neighbouring /64 has its own budget; a valid token from the throttled one passes.
      assert.equal(await from("2001:db8:1:3::1", "typo-0123456789"), 401);
      assert.equal(await from("2001:db8:1:2::99", GOOD), 400);
      assert.match(bridge.logs(), /authentication failures throttled.*remote=2001:db8:1:2::\/64/);
    } finally {
      await bridge.stop();
    }
  });
});

describe("sessions belong to the principal that created them", { timeout: 60_000 }, () => {
  const ALICE = "alice-token-0123456789abcdef";
  const MALLORY = "mallory-token-0123456789abcdef";

  test("another principal cannot resume, end or post to a session, streamable or legacy, and the owner's session is untouched", async () => {
    const bridge = await startBridge({ server: { mcp_server: scripted(), auth: { type: "bearer", bearer: { valid_tokens: [ALICE, MALLORY] } } } });
    const as = (token: string, extra: Record<string, string> = {}) => ({ authorization: `Bearer ${token}`, ...extra });
    const streams: AbortController[] = [];
    try {
      const owned = await initialize(bridge.url, as(ALICE));
      assert.equal(owned.status, 200);
      const session = { "mcp-session-id": owned.session, "mcp-protocol-version": "2025-06-18" };
      // Resuming the session's streams (Last-Event-ID), or its GET stream, or ending it: "not found" to anyone else.
      for (const lastEventId of ["0.0", "1.0", undefined]) {
        const response = await fetch(bridge.url, { headers: as(MALLORY, { ...session, accept: "text/event-stream", ...(lastEventId && { "last-event-id": lastEventId }) }) });
        assert.equal(response.status, 404, `GET with Last-Event-ID ${lastEventId}`);
        await response.body?.cancel();
      }
      assert.equal((await fetch(bridge.url, { method: "DELETE", headers: as(MALLORY, session) })).status, 404);
      assert.equal((await callTool(bridge.url, owned.session, 2, "echo", { text: "mine" }, as(ALICE))).body.result.content[0].text, "mine");

      // Legacy HTTP+SSE: the sessionId handed to Alice's stream is hers alone.
      const controller = new AbortController();
      streams.push(controller);
      const stream = await fetch(`${bridge.origin}/sse`, { headers: as(ALICE, { accept: "text/event-stream" }), signal: controller.signal });
      assert.equal(stream.status, 200);
      const reader = stream.body!.getReader();
      let text = "";
      while (!/data: (\S+)\n/.test(text)) text += new TextDecoder().decode((await reader.read()).value);
      const endpoint = new URL(/data: (\S+)\n/.exec(text)![1]!, bridge.origin);
      const legacyId = endpoint.searchParams.get("sessionId")!;
      const message = (id: number) => JSON.stringify({ jsonrpc: "2.0", id, method: "tools/list" });
      const postLegacy = (token: string, url: URL | string, id: number) => fetch(url, { method: "POST", headers: as(token, { "content-type": "application/json" }), body: message(id) });
      assert.equal((await postLegacy(MALLORY, endpoint, 7)).status, 404);
      // Nor can the ids cross transports, for anyone.
      assert.equal((await fetch(bridge.url, { headers: as(ALICE, { "mcp-session-id": legacyId, accept: "text/event-stream" }) })).status, 404);
      assert.equal((await postLegacy(ALICE, `${bridge.origin}/messages?sessionId=${encodeURIComponent(owned.session)}`, 8)).status, 404);
      // Alice's own message is answered on her stream, and Mallory's was never delivered there.
      assert.equal((await postLegacy(ALICE, endpoint, 9)).status, 202);
      while (!text.includes('"id":9')) text += new TextDecoder().decode((await reader.read()).value);
      assert.doesNotMatch(text, /"id":7/);
    } finally {
      for (const controller of streams) controller.abort();
      await bridge.stop();
    }
  });

  test("a subject from the validation endpoint spelled like a configured token's (token:<digest prefix>) is another principal: no session, child or requestState of the token's", async () => {
    // The configured token's subject is what the audit log shows for it; an endpoint may name its
    // users after anything, a name chosen by a user among them.
    const alias = `token:${createHash("sha256").update(ALICE).digest("hex").slice(0, 16)}`;
    const endpoint = await startJsonEndpoint((body) => ({ status: 200, json: (JSON.parse(body) as { token: string }).token === MALLORY ? { valid: true, subject: alias } : { valid: false } }));
    const bridge = await startBridge({
      server: {
        mcp_server: scripted(),
        auth: { type: "bearer", bearer: { valid_tokens: [ALICE], validation_endpoint: `${endpoint.origin}/validate` } },
      },
    });
    const as = (token: string, extra: Record<string, string> = {}) => ({ authorization: `Bearer ${token}`, ...extra });
    try {
      const owned = await initialize(bridge.url, as(ALICE));
      assert.equal(owned.status, 200);
      assert.match(await logged(bridge, "session started"), new RegExp(`subject=${alias}`), "the token's session in the audit log, under the subject the endpoint names");
      const session = { "mcp-session-id": owned.session, "mcp-protocol-version": "2025-06-18" };
      assert.equal((await callTool(bridge.url, owned.session, 2, "echo", { text: "theirs" }, as(MALLORY))).status, 404);
      assert.equal((await fetch(bridge.url, { method: "DELETE", headers: as(MALLORY, session) })).status, 404);
      assert.equal((await callTool(bridge.url, owned.session, 3, "echo", { text: "mine" }, as(ALICE))).body.result.content[0].text, "mine");
    } finally {
      await bridge.stop();
      endpoint.close();
    }
  });
});

describe("a validation endpoint that answers too slowly", { timeout: 60_000 }, () => {
  test("a body dripped past validation_timeout fails closed with 503, logged as the timeout it is (not as a bridge error)", async () => {
    const endpoint = await startDrippingJsonServer('{"valid": ');
    const validation_endpoint = `${endpoint.origin}/validate`;
    const bridge = await startBridge({ server: { mcp_server: scripted(), auth: { type: "bearer", bearer: { validation_endpoint, validation_timeout: "500ms" } } } });
    try {
      assert.equal(await authStatus(bridge.url, "some-token-0123456789"), 503);
      const logs = await logged(bridge, "authentication could not be decided");
      assert.match(logs, /WARN +authentication could not be decided.*reason="validation endpoint unreachable: no answer in time \(validation_timeout\)"/);
      assert.doesNotMatch(logs, /ERROR/);
    } finally {
      await bridge.stop();
      endpoint.close();
    }
  });
});

/** GET /health with a chosen Host header (fetch does not let one choose it): the Host/Origin guard's verdict. */
function healthWithHost(origin: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${origin}/health`, { headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    req.on("error", reject);
    req.end();
  });
}

describe("server.allowed_hosts entries", { timeout: 60_000 }, () => {
  test("IPv6 literals are matched however they are written (brackets or not, zeros or not), and an entry's port is compared", async () => {
    const bridge = await startBridge({ server: { mcp_server: scripted(), allowed_hosts: ["2001:DB8:0:0::1", "[2001:db8::2]:8443", "mcp.example.com:8443"] } });
    try {
      const verdicts: Record<string, number> = {};
      for (const host of ["[2001:db8::1]", "[2001:db8::1]:9000", "[2001:db8::2]:8443", "[2001:db8::2]:9999", "[2001:db8::2]", "mcp.example.com:8443", "mcp.example.com:1", "[2001:db8::3]"]) {
        verdicts[host] = await healthWithHost(bridge.origin, host);
      }
      assert.deepEqual(verdicts, {
        "[2001:db8::1]": 200,
        "[2001:db8::1]:9000": 200,
        "[2001:db8::2]:8443": 200,
        "[2001:db8::2]:9999": 403,
        "[2001:db8::2]": 403,
        "mcp.example.com:8443": 200,
        "mcp.example.com:1": 403,
        "[2001:db8::3]": 403,
      });
    } finally {
      await bridge.stop();
    }
  });

  test("an entry that can never match a Host header (a wildcard, a URL) is a config error naming it", async () => {
    for (const entry of ["*.example.com", "*", "https://mcp.example.com", "mcp.example.com/mcp", "[2001:db8::1"]) {
      const path = writeConfig({ mode: "server", server: { listen: "127.0.0.1:0", mcp_server: scripted(), allowed_hosts: ["ok.example.com", entry] } });
      const result = await runCli(["check-config", "-c", path]);
      assert.equal(result.code, 2, `${entry}: ${result.stderr}`);
      assert.match(result.stderr, /server\.allowed_hosts\[1\]: .*host name or IP address/, entry);
    }
  });
});

describe("malformed credentials", { timeout: 60_000 }, () => {
  test("are answered 400 invalid_request with the RFC 6750 challenge naming that code: a token in the query, two tokens, non-token characters", async () => {
    const bridge = await startBridge({ server: { mcp_server: scripted(), auth: { type: "bearer", bearer: { valid_tokens: [GOOD] } } } });
    try {
      const cases: Array<[string, string, Record<string, string>]> = [
        ["query", `${bridge.url}?access_token=${GOOD}`, {}],
        ["two tokens", bridge.url, { authorization: `Bearer ${GOOD} ${GOOD}` }],
        ["non-token characters", bridge.url, { authorization: `Bearer ${GOOD}\u00e9` }],
        ["a comma-joined second header", bridge.url, { authorization: `Bearer ${GOOD}, Bearer other-0123456789` }],
      ];
      for (const [name, url, headers] of cases) {
        const response = await fetch(url, { method: "DELETE", headers });
        assert.equal(response.status, 400, name);
        assert.equal(response.headers.get("www-authenticate"), 'Bearer realm="mcp-bridge", error="invalid_request"', name);
        assert.equal(((await response.json()) as { error: string }).error, "invalid_request", name);
      }
    } finally {
      await bridge.stop();
    }
  });
});

describe("the built-in authorization server next to bearer tokens", { timeout: 60_000 }, () => {
  test("/ready says the validation endpoint is down, as it does without the authorization server", async () => {
    const { startAsBridge } = await import("../oauth-server/support.ts");
    const endpoint = await startJsonEndpoint(() => ({ status: 500 }));
    const validation_endpoint = `${endpoint.origin}/validate`;
    const bridge = await startAsBridge({ server: { auth: { type: "bearer", bearer: { validation_endpoint } } } });
    try {
      assert.equal((await fetch(`${bridge.origin}/ready`)).status, 200);
      assert.equal(await authStatus(bridge.url, "machine-token-0123456789"), 503);
      const ready = await fetch(`${bridge.origin}/ready`);
      assert.equal(ready.status, 503);
      assert.equal(((await ready.json()) as { auth: string }).auth, "unavailable");
    } finally {
      await bridge.stop();
      endpoint.close();
    }
  });
});

describe("an identity the MCP server cannot be given (pass_identity)", { timeout: 60_000 }, () => {
  test("a subject with a NUL character is refused without taking a session slot, so honest users still get sessions", async () => {
    const endpoint = await startJsonEndpoint((body) => {
      const evil = (JSON.parse(body) as { token: string }).token.startsWith("evil");
      return { status: 200, json: { valid: true, subject: evil ? "mallory\u0000root" : "alice" } };
    });
    const validation_endpoint = `${endpoint.origin}/validate`;
    const bridge = await startBridge({
      server: { mcp_server: scripted({ pass_identity: true }), session: { max_sessions: 2 }, auth: { type: "bearer", bearer: { validation_endpoint } } },
    });
    try {
      for (let i = 0; i < 4; i++) {
        const refused = await initialize(bridge.url, { authorization: `Bearer evil-${i}-0123456789` });
        assert.equal(refused.status, 500, JSON.stringify(refused.body));
        assert.equal(refused.session, "");
      }
      assert.equal((await initialize(bridge.url, { authorization: "Bearer honest-0123456789" })).status, 200);
    } finally {
      await bridge.stop();
      endpoint.close();
    }
  });

  test("modern requests of such a principal are refused (503), and logged a few times a minute, not once each", async () => {
    const endpoint = await startJsonEndpoint(() => ({ status: 200, json: { valid: true, subject: "mallory\u0000root" } }));
    const bridge = await startBridge({ server: { mcp_server: scripted({ pass_identity: true }), auth: { type: "bearer", bearer: { validation_endpoint: `${endpoint.origin}/validate` } } } });
    try {
      for (let id = 1; id <= 20; id++) {
        const refused = await call(bridge, "evil-0123456789", { id, method: "tools/list", params: { _meta: meta() } });
        assert.equal(refused.status, 503, JSON.stringify(refused.body));
      }
      const lines = bridge.logs().match(/no MCP server for a modern request/g)?.length ?? 0;
      assert.ok(lines <= 10, `${lines} log lines for 20 refused requests:\n${bridge.logs()}`);
    } finally {
      await bridge.stop();
      endpoint.close();
    }
  });
});

describe("the operators' listener on loopback", { timeout: 60_000 }, () => {
  test("refuses a Host naming anything but loopback (a DNS-rebinding page reading the metrics), and serves the loopback names", async () => {
    const bridge = await startBridge({ server: { mcp_server: scripted(), metrics_listen: "127.0.0.1:0" } });
    try {
      const metricsUrl = new URL(/metrics served url=(\S+)/.exec(await logged(bridge, "metrics served"))![1]!);
      const get = (host: string) =>
        new Promise<number>((resolve, reject) => {
          const req = request(metricsUrl, { headers: { host } }, (res) => {
            res.resume();
            resolve(res.statusCode!);
          });
          req.on("error", reject);
          req.end();
        });
      assert.equal(await get(`rebind.attacker.example:${metricsUrl.port}`), 403);
      assert.equal(await get(`127.0.0.1:${metricsUrl.port}`), 200);
      assert.equal(await get(`localhost:${metricsUrl.port}`), 200);
      // RFC 6761 §6.3: names under localhost are this machine too; a name merely starting with it is not.
      assert.equal(await get(`app.localhost:${metricsUrl.port}`), 200);
      assert.equal(await get(`localhost.attacker.example:${metricsUrl.port}`), 403);
      assert.equal(await get(`127.0.0.1.attacker.example:${metricsUrl.port}`), 403);
    } finally {
      await bridge.stop();
    }
  });
});

describe('the "null" origin', { timeout: 60_000 }, () => {
  test('is refused in allowed_origins while authentication is off, like "*": any page can send it from a sandboxed frame', async () => {
    for (const [key, server] of [
      ["server.allowed_origins", { allowed_origins: ["null"] }],
      ["server.cors.allowed_origins", { cors: { enabled: true, allowed_origins: ["https://app.example.com", "null"] } }],
    ] as const) {
      const path = writeConfig({ mode: "server", server: { listen: "127.0.0.1:0", mcp_server: scripted(), ...server } });
      const result = await runCli(["check-config", "-c", path]);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, new RegExp(`${key.replaceAll(".", "\\.")}: must not contain "null"`));
    }
    // With authentication on, a page still needs a token: allowed.
    const path = writeConfig({ mode: "server", server: { listen: "127.0.0.1:0", mcp_server: scripted(), allowed_origins: ["null"], auth: { type: "bearer", bearer: { valid_tokens: [GOOD] } } } });
    assert.equal((await runCli(["check-config", "-c", path])).code, 0);
  });
});
