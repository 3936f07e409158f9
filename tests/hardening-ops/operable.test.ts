/**
 * §5 Operable: refusals of what is not provided, check-config = run, failures logged with their
 * cause (a call the child never answers included), honest /ready, safe logs, CLI.
 */
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { stringify } from "yaml";
import { runCli, startBridge, writeConfig, type Finished } from "../support/bridge.ts";
import { call as modernCall, meta } from "../support/modern.ts";
import { callTool, initialize, logged, SCRIPTED, scripted, waitFor } from "./support.ts";

const TOKEN = "a-token-that-must-never-be-logged-0123";

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; url: string; close: () => Promise<void> }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return { server, url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const { server, close } = await listen(() => {});
  const { port } = server.address() as { port: number };
  await close();
  return port;
}

/** check-config and run on the same file: both exit 2 with the same message. */
async function bothRefuse(config: Record<string, unknown>, pattern: RegExp): Promise<void> {
  const path = writeConfig({ mode: "server", ...config });
  const verdicts: Finished[] = [await runCli(["check-config", "-c", path]), await runCli(["-c", path])];
  for (const verdict of verdicts) {
    assert.equal(verdict.code, 2, verdict.stderr);
    assert.match(verdict.stderr, pattern);
  }
}

// A bridge that wrongly starts serving would never exit: these tests fail by timeout, not hang.
describe("no silent non-features", { timeout: 60_000 }, () => {
  test("sessions turned off are refused by check-config and run, naming the key and why", async () => {
    await bothRefuse({ server: { listen: "127.0.0.1:0", mcp_server: scripted(), session: { enabled: false } } }, /server\.session\.enabled: sessions cannot be turned off/);
  });
});

describe("check-config gives run's verdict", { timeout: 60_000 }, () => {
  test("a missing TLS file", async () => {
    await bothRefuse({ server: { listen: "127.0.0.1:0", mcp_server: scripted(), tls: { enabled: true, cert_file: "/nonexistent/cert.pem", key_file: "/nonexistent/key.pem" } } }, /server\.tls\.cert_file: cannot read "\/nonexistent\/cert\.pem"/);
  });

  test("a plain-http discovery_url off loopback", async () => {
    await bothRefuse({ server: { listen: "127.0.0.1:0", mcp_server: scripted(), auth: { type: "oauth", oauth: { discovery_url: "http://idp.example.com" } } } }, /server\.auth\.oauth\.discovery_url: must be an https URL/);
  });

  test("a plain-http validation_endpoint off loopback: tokens would travel in clear", async () => {
    await bothRefuse({ server: { listen: "127.0.0.1:0", mcp_server: scripted(), auth: { type: "bearer", bearer: { validation_endpoint: "http://auth.example.com/validate" } } } }, /server\.auth\.bearer\.validation_endpoint: must be an https URL/);
  });
});

describe("failures are logged with their cause, never the token", () => {
  const cases: Array<[string, (req: IncomingMessage, res: ServerResponse) => void, RegExp]> = [
    ["HTTP 500", (_req, res) => res.writeHead(500).end("oops"), /validation endpoint answered HTTP 500/],
    ["not JSON", (_req, res) => res.writeHead(200, { "content-type": "text/html" }).end("<html>login</html>"), /validation endpoint answer is not JSON/],
    ["valid without subject", (_req, res) => res.writeHead(200, { "content-type": "application/json" }).end('{"valid":true}'), /accepted the token without naming a subject/],
  ];
  for (const [name, handler, cause] of cases) {
    test(`validation endpoint: ${name}`, async () => {
      const endpoint = await listen(handler);
      const bridge = await startBridge({ server: { mcp_server: scripted(), auth: { type: "bearer", bearer: { validation_endpoint: `${endpoint.url}/validate` } } } });
      try {
        assert.equal((await initialize(bridge.url, { authorization: `Bearer ${TOKEN}` })).status, 503);
        const logs = await logged(bridge, cause);
        assert.match(logs, /WARN +authentication could not be decided/);
        assert.ok(!logs.includes(TOKEN));
        // /ready tells the truth while the endpoint fails.
        const ready = await fetch(`${bridge.origin}/ready`);
        assert.equal(ready.status, 503);
        assert.equal(((await ready.json()) as { auth: string }).auth, "unavailable");
      } finally {
        await bridge.stop();
        await endpoint.close();
      }
    });
  }

  test("validation endpoint: connection refused", async () => {
    const port = await closedPort();
    const bridge = await startBridge({ server: { mcp_server: scripted(), auth: { type: "bearer", bearer: { validation_endpoint: `http://127.0.0.1:${port}/validate` } } } });
    try {
      assert.equal((await initialize(bridge.url, { authorization: `Bearer ${TOKEN}` })).status, 503);
      const logs = await logged(bridge, /validation endpoint unreachable: ECONNREFUSED/);
      assert.ok(!logs.includes(TOKEN));
    } finally {
      await bridge.stop();
    }
  });

  test("validation endpoint: no answer in time", async () => {
    const endpoint = await listen(() => {});
    const bridge = await startBridge({ server: { mcp_server: scripted(), auth: { type: "bearer", bearer: { validation_endpoint: `${endpoint.url}/validate`, validation_timeout: "500ms" } } } });
    try {
      assert.equal((await initialize(bridge.url, { authorization: `Bearer ${TOKEN}` })).status, 503);
      await logged(bridge, /validation endpoint unreachable: no answer in time \(validation_timeout\)/);
    } finally {
      await bridge.stop();
      endpoint.server.closeAllConnections();
      await endpoint.close();
    }
  });

  test("/ready is not ready while OAuth discovery cannot reach the authorization server", async () => {
    const port = await closedPort();
    const bridge = await startBridge({ server: { mcp_server: scripted(), auth: { type: "oauth", oauth: { discovery_url: `http://127.0.0.1:${port}` } } } });
    try {
      const ready = await fetch(`${bridge.origin}/ready`);
      assert.equal(ready.status, 503);
      assert.equal(((await ready.json()) as { auth: string }).auth, "unavailable");
      await logged(bridge, /OAuth discovery failed/);
    } finally {
      await bridge.stop();
    }
  });
});

describe("the seed's introspection-only example", () => {
  test("works for tokens the authorization server says are active, while an aud naming another resource is refused and the reason logged at warn", async () => {
    let answer: Record<string, unknown> = { active: true, sub: "alice", scope: "mcp:read" };
    const idp = await listen((req, res) => {
      req.resume();
      req.on("end", () => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(answer)));
    });
    const bridge = await startBridge({
      server: { mcp_server: scripted(), auth: { type: "oauth", oauth: { introspection_url: `${idp.url}/oauth/introspect`, client_id: "mcp-bridge", client_secret: "s3cret" } } },
    });
    try {
      assert.equal((await initialize(bridge.url, { authorization: "Bearer opaque-token-one" })).status, 200);
      answer = { active: true, sub: "bob", aud: "https://other.example.com/mcp" };
      assert.equal((await initialize(bridge.url, { authorization: "Bearer opaque-token-two" })).status, 401);
      await logged(bridge, /WARN +authentication failed .*unexpected \\"aud\\"|WARN +authentication failed .*unexpected "aud"/);
    } finally {
      await bridge.stop();
      await idp.close();
    }
  });
});

describe("health", () => {
  test("the public /health answer carries no counts", async () => {
    const bridge = await startBridge({ server: { mcp_server: scripted() } });
    try {
      await initialize(bridge.url);
      const body = (await (await fetch(`${bridge.origin}/health`)).json()) as Record<string, unknown>;
      assert.equal(body.status, "ok");
      for (const value of Object.values(body)) assert.equal(typeof value, "string");
    } finally {
      await bridge.stop();
    }
  });
});

describe("logs are safe", () => {
  test("control characters from requests and children are escaped, attacker-sized values cut", async () => {
    const child = { command: process.execPath, args: ["-e", `process.stderr.write("\\u001b[2Jwiped\\u0085forged\\r\\n"); import(${JSON.stringify(SCRIPTED)})`] };
    const bridge = await startBridge({ server: { mcp_server: child } });
    try {
      await initialize(bridge.url);
      // obs-text bytes reach the app as Latin-1: 0x85 is NEL, 0x9b is CSI.
      const { request } = await import("node:http");
      const send = (headers: Record<string, string>) =>
        new Promise<number>((resolve, reject) => {
          const req = request(bridge.url, { method: "POST", headers: { "content-type": "application/json", ...headers } }, (res) => {
            res.resume();
            resolve(res.statusCode!);
          });
          req.on("error", reject);
          req.end("{}");
        });
      assert.equal(await send({ origin: "http://evil\x85\x9b31mhost" }), 403);
      assert.equal(await send({ origin: `http://${"x".repeat(6000)}.example` }), 403);
      const logs = await logged(bridge, /more characters/);
      await logged(bridge, /wiped/);
      assert.ok(!/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/.test(logs), JSON.stringify(logs.match(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/)));
      assert.match(logs, /\\x1b\[2Jwiped\\x85forged/);
      assert.match(logs, /evil.?\\x85.?\\x9b31mhost/);
      // Every line is one record: no line begins with something other than a timestamp.
      for (const line of logs.trim().split("\n")) assert.match(line, /^\d{4}-\d\d-\d\dT/);
    } finally {
      await bridge.stop();
    }
  });

  test("invisible characters a child writes (zero-width, U+FEFF, soft hyphen, tags, joiners, bidi) are escaped in the log like controls", async () => {
    const child = { command: process.execPath, args: ["-e", `process.stderr.write("hid\\u200bden\\ufeffA\\u00adB\\u{e0041}C\\u034fD\\u200dE\\u202eF\\n"); import(${JSON.stringify(SCRIPTED)})`] };
    const bridge = await startBridge({ server: { mcp_server: child } });
    try {
      await initialize(bridge.url);
      const logs = await logged(bridge, /hid/);
      assert.match(logs, /hid\\u200bden\\ufeffA\\xadB\\u\{e0041\}C\\u034fD\\u200dE\\u202eF/);
      assert.doesNotMatch(logs, /\p{Default_Ignorable_Code_Point}/u);
    } finally {
      await bridge.stop();
    }
  });

  test("credentials in URL query strings are redacted in check-config output", async () => {
    const path = writeConfig({
      mode: "server",
      server: { mcp_server: { command: "node", args: ["server.js", "--upstream=https://api.example.com/v1?api_key=sk-live-123&region=eu"] }, auth: { type: "oauth", oauth: { jwks_url: "https://idp.example.com/jwks?access_token=jwks-secret" } } },
    });
    const result = await runCli(["check-config", "-c", path]);
    assert.equal(result.code, 0, result.stderr);
    assert.ok(!result.stdout.includes("sk-live-123") && !result.stdout.includes("jwks-secret"), result.stdout);
    assert.match(result.stdout, /api_key=\[redacted\]&region=eu/);
  });

  test("a world-readable config holding literal secrets gets a warning naming the fix; a private one or one with ${VAR} does not", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mcp-bridge-perm-"));
    const literal = join(dir, "literal.yaml");
    const viaEnv = join(dir, "env.yaml");
    writeFileSync(literal, stringify({ mode: "server", server: { mcp_server: { command: "node" }, auth: { type: "bearer", bearer: { valid_tokens: [TOKEN] } } } }));
    writeFileSync(viaEnv, stringify({ mode: "server", server: { mcp_server: { command: "node" }, auth: { type: "bearer", bearer: { valid_tokens: ["${API_TOKEN}"] } } } }));
    chmodSync(literal, 0o644);
    chmodSync(viaEnv, 0o644);
    const warned = await runCli(["check-config", "-q", "-c", literal]);
    assert.equal(warned.code, 0);
    assert.match(warned.stderr, /holds secrets and every user of this machine can read it \(mode 644\): run "chmod 600/);
    assert.ok(!warned.stderr.includes(TOKEN));
    assert.equal((await runCli(["check-config", "-q", "-c", viaEnv], { env: { API_TOKEN: TOKEN } })).stderr, "");
    chmodSync(literal, 0o600);
    assert.equal((await runCli(["check-config", "-q", "-c", literal])).stderr, "");
  });
});

describe("CLI", () => {
  test("a stray word is a usage error, never a reason to start serving", { timeout: 30_000 }, async () => {
    const path = writeConfig({ mode: "server", server: { listen: "127.0.0.1:0", mcp_server: scripted() } });
    const result = await runCli(["-c", path, "check-config"]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /unexpected argument "check-config" \(the command comes first: mcp-bridge check-config -c /);
    // Repeated without the password of a URL.
    const url = await runCli(["--log-level", "warn", "connect", "https://user:SECRET-MARKER-pw-9c2e@127.0.0.1:9/mcp"]);
    assert.match(url.stderr, /the command comes first: mcp-bridge connect --log-level warn https:\/\/\[redacted\]@127\.0\.0\.1:9\/mcp\)/);
    assert.ok(!url.stderr.includes("SECRET-MARKER"), url.stderr);
    // Nor a key in its path, nor when the URL is given without connect.
    const key = "sk-ak-7fa2c9e41b0d4e8aSHOULDNEVER";
    const inPath = await runCli(["--log-level", "warn", "connect", `https://127.0.0.1:9/mcp/${key}/sse`]);
    assert.match(inPath.stderr, /the command comes first: mcp-bridge connect --log-level warn https:\/\/127\.0\.0\.1:9\/mcp\/\[redacted\]\/sse\)/);
    const bare = await runCli([`https://127.0.0.1:9/mcp/${key}/sse`]);
    assert.match(bare.stderr, /unknown command "https:\/\/127\.0\.0\.1:9\/mcp\/\[redacted\]\/sse"/);
    const help = await runCli(["help", `https://127.0.0.1:9/mcp/${key}/sse`]);
    for (const result of [inPath, bare, help]) assert.ok(!result.stderr.includes(key), result.stderr);
    const other = await runCli(["check-config", "-c", path, "extra"]);
    assert.equal(other.code, 2);
    assert.match(other.stderr, /unexpected argument \(not shown: it may be a secret\); check-config takes only options/);
    assert.ok(!other.stderr.includes("extra"), other.stderr);
  });

  test("an empty password exits 2; a bad hash points at mcp-bridge hash-password", async () => {
    const empty = await runCli(["hash-password"], { input: "\n" });
    assert.equal(empty.code, 2);
    const path = writeConfig({ mode: "server", server: { mcp_server: scripted(), oauth_server: { enabled: true, issuer: "https://mcp.example.com", signing: { generate_key: true }, builtin: { users: [{ username: "a", password_hash: "$2a$10$..." }] } } } });
    const bad = await runCli(["check-config", "-c", path]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /password_hash: is not a bcrypt hash \(make one with: mcp-bridge hash-password\)/);
  });
});


describe("metrics and detailed health are not public", () => {
  test("the public listener serves no /metrics; the operators' listener serves metrics and health with counts", async () => {
    const bridge = await startBridge({ server: { mcp_server: scripted(), metrics_listen: "127.0.0.1:0" } });
    try {
      assert.equal((await fetch(`${bridge.origin}/metrics`)).status, 404);
      await initialize(bridge.url);
      const metricsUrl = /metrics served url=(\S+)/.exec(await logged(bridge, "metrics served"))![1]!;
      const metrics = await (await fetch(metricsUrl)).text();
      assert.match(metrics, /^mcp_bridge_sessions 1$/m);
      const health = (await (await fetch(new URL("/health", metricsUrl))).json()) as Record<string, unknown>;
      assert.equal(health.sessions, 1);
      assert.equal(health.ready, true);
      assert.equal(health.modern_children, 0);
      // A 2026-07-28 client's children hold no session: counted apart.
      assert.equal((await modernCall(bridge, "unused", { id: 2, method: "tools/call", params: { name: "echo", arguments: { text: "hi" }, _meta: meta({}) } })).status, 200);
      const counted = (await (await fetch(new URL("/health", metricsUrl))).json()) as Record<string, unknown>;
      assert.ok((counted.modern_children as number) >= 1, JSON.stringify(counted));
      // The public one has states only.
      const open = (await (await fetch(`${bridge.origin}/health`)).json()) as Record<string, unknown>;
      assert.equal(open.sessions, undefined);
      assert.equal(open.modern_children, undefined);
    } finally {
      await bridge.stop();
    }
  });

  test("without metrics_listen there are no metrics anywhere public", async () => {
    const bridge = await startBridge({ server: { mcp_server: scripted() } });
    try {
      assert.equal((await fetch(`${bridge.origin}/metrics`)).status, 404);
    } finally {
      await bridge.stop();
    }
  });
});

describe("a failing MCP server is explained at warn", () => {
  test("a per-session child's exit code and the tail of its stderr", async () => {
    const script = 'process.stderr.write("Error: cannot open database\\n    at connect (db.js:12)\\n"); process.stdin.once("data", () => process.exit(7));';
    const bridge = await startBridge({ server: { mcp_server: { command: process.execPath, args: ["-e", script] } } });
    try {
      await initialize(bridge.url);
      const logs = await logged(bridge, "child exited with a failure");
      assert.match(logs, /WARN +child exited with a failure .*code=7 .*stderr_tail="Error: cannot open database\\\\x0a {4}at connect \(db\.js:12\)"/);
    } finally {
      await bridge.stop();
    }
  });

  test("a child repeating the credential mcp_server.env gave it (on stderr, on stdout, as it dies): the log shows it redacted", async () => {
    const key = "sk-upstream-9c4e1f7a2b3d5e6fSHOULDNEVER";
    const script = 'const k = process.env.UPSTREAM_API_KEY; process.stderr.write("connecting with key " + k + "\\n"); process.stdout.write("banner " + k + "\\n"); process.stdin.once("data", () => { process.stderr.write("auth failed for " + k + "\\n"); process.exit(7); });';
    const bridge = await startBridge({ server: { mcp_server: { command: process.execPath, args: ["-e", script], env: { UPSTREAM_API_KEY: key, REGION: "eu-west-1" } } } });
    try {
      await initialize(bridge.url);
      const logs = await logged(bridge, "child exited with a failure");
      assert.match(logs, /child stderr .*line="connecting with key \[redacted\]"/);
      assert.match(logs, /not JSON; not forwarded .*line="banner \[redacted\]"/);
      assert.match(logs, /stderr_tail="connecting with key \[redacted\]\\\\x0aauth failed for \[redacted\]"/);
      assert.ok(!logs.includes(key), logs);
    } finally {
      await bridge.stop();
    }
  });

  test("a credential repeated on a line longer than the log keeps, and cut by the tail's limit: no part of it in the log", async () => {
    const key = "sk-upstream-9c4e1f7a2b3d5e6fSHOULDNEVER";
    // 120 copies, 43 characters apart: the logged line's cut and the tail's cut each fall inside one.
    const script = 'const line = ("k=" + process.env.UPSTREAM_API_KEY + " ").repeat(120); process.stderr.write(line + "\\n"); process.stdin.once("data", () => { process.stderr.write(line); process.exit(7); });';
    const bridge = await startBridge({ server: { mcp_server: { command: process.execPath, args: ["-e", script], env: { UPSTREAM_API_KEY: key } } } });
    try {
      await initialize(bridge.url);
      const logs = await logged(bridge, "child exited with a failure");
      assert.match(logs, /child stderr .*line="k=\[redacted\] k=\[redacted\]/);
      assert.match(logs, /stderr_tail=".*k=\[redacted\] k=\[redacted\]/);
      // A prefix of the key where the line is cut, a suffix where the tail begins.
      for (const part of [key.slice(0, 12), key.slice(-12)]) assert.ok(!logs.includes(part), `${part} in ${logs}`);
    } finally {
      await bridge.stop();
    }
  });

  test("a call the child never answers: the client gets RequestTimeout, the log a warning naming read_timeout (legacy session and 2026-07-28 request)", async () => {
    const bridge = await startBridge({ server: { mcp_server: scripted({ read_timeout: "1s" }) } });
    try {
      const { session } = await initialize(bridge.url);
      const legacy = await callTool(bridge.url, session, 2, "wait");
      assert.equal(legacy.body.error?.code, -32001);
      const modern = await modernCall(bridge, "unused", { id: 3, method: "tools/call", params: { name: "wait", arguments: {}, _meta: meta({}) } });
      assert.equal(modern.body.error?.code, -32001);
      const warned = () => bridge.logs().split("\n").filter((line) => line.includes("did not answer in time"));
      await waitFor(() => warned().length >= 2, "two timeout warnings");
      assert.equal(warned().length, 2, warned().join("\n"));
      for (const line of warned()) assert.match(line, /WARN +the MCP server did not answer in time \(server\.mcp_server\.read_timeout\): the client got RequestTimeout .*method=tools\/call waited_ms=1000/);
    } finally {
      await bridge.stop();
    }
  });
});
