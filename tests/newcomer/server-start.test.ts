/**
 * @module A newcomer's first server config with a typo in `mcp_server.command`: the bridge says so
 * when it starts, naming the key (and, for "node server.mjs", where arguments go), rather than only
 * failing each initialize later. A port another program holds is an error naming the key to
 * change. check-config warns, as the start does, about a listener beyond loopback with
 * authentication off. `npm start`'s script stops the bridge gracefully on one Ctrl-C.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "node:test";
import { ECHO_SERVER, runCli, startBridge, waitForLog, writeConfig } from "../support/bridge.ts";
import { freeLoopbackPort } from "../support/conformance-as.ts";
import { waitFor } from "../support/poll.ts";

test("start: a command that cannot be run is a warning naming server.mcp_server.command; /ready is 503", async () => {
  const bridge = await startBridge({ server: { mcp_server: { command: "no-such-mcp-server-newcomer" } } });
  try {
    assert.match(bridge.logs(), /WARN +server\.mcp_server\.command cannot be run .* command=no-such-mcp-server-newcomer/);
    assert.doesNotMatch(bridge.logs(), /arguments go in/);
    assert.equal((await fetch(`${bridge.origin}/ready`)).status, 503);
  } finally {
    await bridge.stop();
  }
});

test("start: a working directory (mcp_server.dir) that does not exist is a warning naming server.mcp_server.dir, not the command; /ready is 503, and a session's failure says why", async () => {
  const bridge = await startBridge({ server: { mcp_server: { command: process.execPath, args: [ECHO_SERVER], dir: "/nonexistent-dir-newcomer" } } });
  try {
    assert.match(bridge.logs(), /WARN +server\.mcp_server\.dir is not a directory/);
    assert.doesNotMatch(bridge.logs(), /server\.mcp_server\.command cannot be run/);
    assert.equal((await fetch(`${bridge.origin}/ready`)).status, 503);
    const initialize = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "newcomer", version: "1" } } };
    await fetch(bridge.url, { method: "POST", headers: { "content-type": "application/json", accept: "application/json, text/event-stream" }, body: JSON.stringify(initialize) }).then((response) => response.text());
    await waitForLog(bridge, /child could not be started/);
    assert.match(bridge.logs(), /child could not be started .*error="server\.mcp_server\.dir is not a directory"/);
  } finally {
    await bridge.stop();
  }
});

test("start: a command written with its arguments (\"node server.mjs\") is told they go in server.mcp_server.args, without repeating them", async () => {
  // An argument there may be a secret, as in "npx -y server --api-key ${API_KEY}".
  const key = "SECRET-MARKER-api-key-5d21";
  const bridge = await startBridge({ server: { mcp_server: { command: `${process.execPath} ${ECHO_SERVER} --api-key \${API_KEY}` } } }, { env: { API_KEY: key } });
  try {
    assert.match(bridge.logs(), /WARN +server\.mcp_server\.command cannot be run .*; arguments go in server\.mcp_server\.args, one list item each/);
    const initialize = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "newcomer", version: "1" } } };
    await fetch(bridge.url, { method: "POST", headers: { "content-type": "application/json", accept: "application/json, text/event-stream" }, body: JSON.stringify(initialize) }).then((response) => response.text());
    await waitForLog(bridge, /child could not be started/);
    assert.match(bridge.logs(), /command="[^"]*node … \(3 more words, not shown/);
    assert.ok(!bridge.logs().includes(key), bridge.logs());
  } finally {
    await bridge.stop();
  }
});

test("session.mode shared: run warns about a command that cannot be run, as check-config does", async () => {
  const server = { listen: "127.0.0.1:0", session: { mode: "shared" }, mcp_server: { command: "no-such-mcp-server-shared" } };
  const check = await runCli(["check-config", "-q", "-c", writeConfig({ mode: "server", server })]);
  assert.match(check.stderr, /warning: server\.mcp_server\.command cannot be run /);
  const bridge = await startBridge({ server });
  try {
    assert.match(bridge.logs(), /WARN +server\.mcp_server\.command cannot be run .* command=no-such-mcp-server-shared/);
  } finally {
    await bridge.stop();
  }
});

test("start: a command that can be run draws no such warning", async () => {
  const bridge = await startBridge({ server: { mcp_server: { command: process.execPath, args: [ECHO_SERVER] } } });
  try {
    assert.doesNotMatch(bridge.logs(), /cannot be run/);
    assert.equal((await fetch(`${bridge.origin}/ready`)).status, 200);
  } finally {
    await bridge.stop();
  }
});

test("start: a port already in use names server.listen (or server.metrics_listen) and the fix; exit code 1", async () => {
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
  const taken = `127.0.0.1:${(holder.address() as { port: number }).port}`;
  try {
    for (const key of ["listen", "metrics_listen"]) {
      const server = { listen: key === "listen" ? taken : "127.0.0.1:0", ...(key === "metrics_listen" && { metrics_listen: taken }), mcp_server: { command: process.execPath, args: [ECHO_SERVER] } };
      const result = await runCli(["-c", writeConfig({ mode: "server", server })]);
      assert.equal(result.code, 1);
      assert.match(result.stderr, new RegExp(`cannot listen on ${taken} \\(server\\.${key}\\): the address is already in use .*give server\\.${key} another port`));
    }
  } finally {
    holder.close();
  }
});

test("check-config -q: authentication off on every interface is a warning naming the fix (as at start); with a token, none", async () => {
  const config = (auth: Record<string, unknown>) => writeConfig({ mode: "server", server: { listen: "0.0.0.0:8080", mcp_server: { command: process.execPath, args: [ECHO_SERVER] }, auth } });
  const open = await runCli(["check-config", "-q", "-c", config({ type: "none" })]);
  assert.equal(open.code, 0, open.stderr);
  assert.match(open.stderr, /^mcp-bridge: warning: 0\.0\.0\.0:8080: authentication is off on a non-loopback address: .*\(set server\.auth, or a loopback server\.listen\)\n$/);
  const guarded = await runCli(["check-config", "-q", "-c", config({ type: "bearer", bearer: { valid_tokens: ["sha256:3a7bd3e2360a3d29eea436fcfb7e44c735d117c42d1c1835420b6b9942dd4f1b"] } })]);
  assert.equal(guarded.code, 0, guarded.stderr);
  assert.equal(guarded.stderr, "");
});

test("OAuth on every interface without public_url: check-config warns (as run does at start, the same reachWarnings) that clients elsewhere get 127.0.0.1 URLs; with public_url, no warning", async () => {
  const hash = "$2b$04$R8CtY3b56U9HVKeFlHOO7eS8eBBEnXFw3M8gn3EZOJhDP1KuOW4X6";
  const config = (extra: Record<string, unknown>) =>
    writeConfig({
      mode: "server",
      server: { listen: "0.0.0.0:8080", mcp_server: { command: process.execPath, args: [ECHO_SERVER] }, oauth_server: { enabled: true, builtin: { users: [{ username: "a", password_hash: hash }] } }, ...extra },
      storage: { type: "memory" },
    });
  const bare = await runCli(["check-config", "-q", "-c", config({})]);
  assert.equal(bare.code, 0, bare.stderr);
  assert.match(bare.stderr, /^mcp-bridge: warning: 0\.0\.0\.0:8080: server\.public_url is unset: the URLs OAuth clients are given \(the 401's resource_metadata, the token audience, the authorization server's issuer\) name http:\/\/127\.0\.0\.1:8080, which clients on other machines cannot use \(set server\.public_url to the URL they connect to\)$/m);
  const published = await runCli(["check-config", "-q", "-c", config({ public_url: "https://mcp.example.com/mcp" })]);
  assert.equal(published.code, 0, published.stderr);
  assert.doesNotMatch(published.stderr, /public_url/);
  const idp = await runCli(["check-config", "-q", "-c", writeConfig({ mode: "server", server: { listen: ":8080", mcp_server: { command: process.execPath, args: [ECHO_SERVER] }, auth: { type: "oauth", oauth: { discovery_url: "https://id.example.com" } } } })]);
  assert.match(idp.stderr, /^mcp-bridge: warning: :8080: server\.public_url is unset: the URLs OAuth clients are given \(the 401's resource_metadata, the token audience\) name http:\/\/127\.0\.0\.1:8080/m);
  // A listener on one named address: the URLs name that address, which other machines reach.
  const named = await runCli(["check-config", "-q", "-c", config({ listen: "192.0.2.10:8443" })]);
  assert.equal(named.code, 0, named.stderr);
  assert.doesNotMatch(named.stderr, /public_url/);
});

test("a browser's CORS preflight while CORS is on, from an origin the guard lets through but server.cors.allowed_origins does not list: a warning naming the origin (escaped, cut) and the key", async () => {
  const long = `http://${"a".repeat(1100)}.example`;
  const bridge = await startBridge({ server: { mcp_server: { command: process.execPath, args: [ECHO_SERVER] }, allowed_origins: ["https://tools.example", long], cors: { enabled: true, allowed_origins: ["https://app.example"] } } });
  try {
    const preflight = (origin: string) => fetch(bridge.url, { method: "OPTIONS", headers: { origin, "access-control-request-method": "POST" } });
    const listed = await preflight("https://app.example");
    assert.equal(listed.headers.get("access-control-allow-origin"), "https://app.example");
    // MCP Inspector's page on this computer (a loopback listener lets it past the guard), and one of server.allowed_origins.
    for (const origin of ["http://localhost:6274", "https://tools.example"]) {
      const response = await preflight(origin);
      assert.equal(response.headers.get("access-control-allow-origin"), null, "the browser is refused");
      await waitForLog(bridge, new RegExp(`WARN +browser's CORS preflight refused: its origin is not allowed origin=${origin.replace(/[.]/g, "\\.")} path=/mcp fix="list the origin in server\\.cors\\.allowed_origins"`));
    }
    assert.equal((await preflight(long)).headers.get("access-control-allow-origin"), null);
    await waitForLog(bridge, /origin is not allowed origin="?http:\/\/a{1000,1024}…\[91 more characters\]"? path=\/mcp/);
    assert.doesNotMatch(bridge.logs(), /origin is not allowed origin=https:\/\/app\.example/, "a listed origin is not reported");
  } finally {
    await bridge.stop();
  }
});

test("a browser's CORS preflight, CORS on, from an allowed origin asking for a request header or method not listed: a warning naming them and the key to list them in", async () => {
  const bridge = await startBridge({ server: { mcp_server: { command: process.execPath, args: [ECHO_SERVER] }, cors: { enabled: true, allowed_origins: ["https://app.example"] } } });
  try {
    const preflight = (method: string, headers: string) => fetch(bridge.url, { method: "OPTIONS", headers: { origin: "https://app.example", "access-control-request-method": method, "access-control-request-headers": headers } });
    // What MCP clients send, all listed by default: nothing to say.
    assert.equal((await preflight("POST", "content-type, authorization, mcp-protocol-version, Mcp-Session-Id")).status, 204);
    // A tool's Mcp-Param-* header (2026-07-28) and a custom one: the browser will refuse the request.
    await preflight("POST", "content-type, Mcp-Param-Region, x-api-key");
    await waitForLog(bridge, /WARN +browser's CORS preflight will be refused: request headers not allowed origin=https:\/\/app\.example path=\/mcp headers="mcp-param-region, x-api-key" fix="list them in server\.cors\.allowed_headers"/);
    await preflight("PUT", "content-type");
    await waitForLog(bridge, /WARN +browser's CORS preflight will be refused: method not allowed origin=https:\/\/app\.example path=\/mcp method=PUT fix="list it in server\.cors\.allowed_methods"/);
    // The listed ones (the first preflight) are not reported: only the second preflight's headers are.
    assert.deepEqual(bridge.logs().match(/request headers not allowed .*/g), ['request headers not allowed origin=https://app.example path=/mcp headers="mcp-param-region, x-api-key" fix="list them in server.cors.allowed_headers"']);
    assert.doesNotMatch(bridge.logs(), /origin is not allowed/);
  } finally {
    await bridge.stop();
  }
});

test("a browser's CORS preflight while CORS is off: 405 naming server.cors, and a warning in the log (the browser shows only a CORS failure)", async () => {
  const bridge = await startBridge({ server: { mcp_server: { command: process.execPath, args: [ECHO_SERVER] } } });
  try {
    const response = await fetch(bridge.url, { method: "OPTIONS", headers: { origin: "http://localhost:6274", "access-control-request-method": "POST" } });
    assert.equal(response.status, 405);
    assert.match(((await response.json()) as { error_description: string }).error_description, /^OPTIONS is not served on \/mcp: CORS is off \(set server\.cors\.enabled: true and list the origin in server\.cors\.allowed_origins\); use GET, POST, DELETE$/);
    await waitForLog(bridge, /WARN +browser's CORS preflight refused: CORS is off origin=http:\/\/localhost:6274 path=\/mcp fix="set server\.cors\.enabled: true/);
    const plain = await fetch(bridge.url, { method: "OPTIONS" });
    assert.equal(plain.status, 405, "an OPTIONS that is no preflight is answered as before");
    assert.match(((await plain.json()) as { error_description: string }).error_description, /^OPTIONS is not served on \/mcp; use GET, POST, DELETE$/);
  } finally {
    await bridge.stop();
  }
});

test('server.cors.allowed_headers/allowed_methods "*": without allow_credentials any name or method but Authorization passes (Fetch §4.8), with it "*" is only a name — the warnings say so', async () => {
  for (const credentials of [false, true]) {
    const bridge = await startBridge({ server: { mcp_server: { command: process.execPath, args: [ECHO_SERVER] }, cors: { enabled: true, allowed_origins: ["https://app.example"], allowed_headers: ["*"], allowed_methods: ["*"], allow_credentials: credentials } } });
    try {
      await fetch(bridge.url, { method: "OPTIONS", headers: { origin: "https://app.example", "access-control-request-method": "PUT", "access-control-request-headers": "x-custom, authorization" } });
      await waitForLog(bridge, /request headers not allowed/);
      const warnings = bridge.logs().match(/will be refused: .*/g) ?? [];
      if (credentials) {
        assert.deepEqual(warnings, [
          'will be refused: request headers not allowed origin=https://app.example path=/mcp headers="x-custom, authorization" fix="list them in server.cors.allowed_headers"',
          'will be refused: method not allowed origin=https://app.example path=/mcp method=PUT fix="list it in server.cors.allowed_methods"',
        ]);
      } else {
        assert.deepEqual(warnings, ['will be refused: request headers not allowed origin=https://app.example path=/mcp headers=authorization fix="list them in server.cors.allowed_headers"']);
      }
    } finally {
      await bridge.stop();
    }
  }
});

test("npm start: one Ctrl-C (SIGINT to the terminal's foreground process group, and passed on by npm) shuts the bridge down gracefully, not at once", { timeout: 60_000 }, async () => {
  const port = await freeLoopbackPort();
  // A process group of its own, as a terminal gives the job it runs in the foreground.
  const started = spawn(process.execPath, ["scripts/start.mjs"], { detached: true, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, MCP_BRIDGE_PORT: String(port), MCP_BRIDGE_TOKEN: "newcomer-token-0123456789" } });
  let output = "";
  started.stdout!.on("data", (chunk: Buffer) => (output += chunk));
  started.stderr!.on("data", (chunk: Buffer) => (output += chunk));
  const exited = once(started, "exit");
  try {
    await waitFor(() => fetch(`http://127.0.0.1:${port}/health`).then((response) => response.ok, () => false), "the bridge to listen", 20_000, 100);
    // A session open, as after trying the bridge out: its child takes a moment to stop.
    const initialize = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "newcomer", version: "1" } } };
    const opened = await fetch(`http://127.0.0.1:${port}/mcp`, { method: "POST", headers: { authorization: "Bearer newcomer-token-0123456789", "content-type": "application/json", accept: "application/json, text/event-stream" }, body: JSON.stringify(initialize) });
    assert.ok(opened.headers.get("mcp-session-id"), await opened.text());
    process.kill(-started.pid!, "SIGINT");
    // npm passes the same keypress on to the script it runs, a moment later.
    await sleep(10);
    try {
      process.kill(started.pid!, "SIGINT");
    } catch {
      // Already gone: the bridge stopped within the moment.
    }
    const [code] = await exited;
    assert.match(output, /shutting down/);
    assert.doesNotMatch(output, /second signal/, output);
    assert.equal(code, 0, output);
  } finally {
    if (started.exitCode === null) {
      try {
        process.kill(-started.pid!, "SIGKILL");
      } catch {
        // Exited meanwhile.
      }
    }
  }
});
