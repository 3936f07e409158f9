/**
 * @module Client mode attacked: a hostile remote server (answers built to exhaust the bridge's CPU,
 * memory or the server itself, to make it repeat secrets, to send it elsewhere), a hostile
 * authorization server, and a hostile local client. The local client is a raw stdio pipe, so every
 * byte the bridge writes to stdout is seen; stderr is searched for secrets.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash, generateKeyPairSync } from "node:crypto";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, test } from "node:test";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DENO, ROOT } from "../release/helpers.ts";
import { writeConfig } from "../support/bridge.ts";
import { startJsonEndpoint } from "../support/json-endpoint.ts";
import { connectLocalClient, waitFor } from "./support.ts";
import { startRawServer, type TestServer } from "./sdk-servers.ts";
import { INITIALIZE, INITIALIZE_RESULT, answerAsLegacy, endWithEachTest, legacyServer, servers, startLocal, toolCall, type LegacyMessage, type RawLocal } from "./raw-local.ts";

endWithEachTest();

/** Calls tool `name` as request `id`: its answer must be -32603 saying `naming` (a RegExp source) holds an integer past 2^53 - 1. */
async function answeredInexact(local: RawLocal, id: number, name: string, naming: string): Promise<void> {
  local.send(toolCall(id, name));
  const answer = await local.answer(id);
  assert.equal(answer.error?.code, -32603, JSON.stringify(answer));
  assert.match(answer.error?.message ?? "", new RegExp(`${naming} is an integer past 2\\^53 - 1`));
}

/** Writes `total` bytes of "x" in chunks of `size`, honouring backpressure; stops when the reader hangs up. */
async function writeFiller(res: ServerResponse, total: number, size: number): Promise<void> {
  const chunk = Buffer.alloc(size, "x");
  const closed = once(res, "close");
  for (let sent = 0; sent < total && !res.destroyed; sent += size) {
    if (!res.write(chunk)) await Promise.race([once(res, "drain"), closed]);
  }
}

test("an SSE reply whose line never ends is cut at the message limit in linear time, and the bridge keeps serving", { timeout: 240_000 }, async () => {
  const server = await legacyServer((res) => {
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.write("data: ");
    // 64 MiB and more of one line, in small writes: the bridge must not rescan what it already has on every chunk.
    void writeFiller(res, 72 * 1024 * 1024, 4 * 1024).then(() => res.end());
  });
  const local = startLocal(["connect", server.url, "--log-level", "info"]);
  await local.handshake();
  local.send({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "flood", arguments: {} } });
  // Generous: reading 64 MiB over loopback takes seconds; rescanning the growing line on every chunk took minutes.
  const answer = await local.answer(1, 90_000);
  assert.match(answer.error?.message ?? "", /an SSE line exceeds \d+ characters/, JSON.stringify(answer));
  local.send({ jsonrpc: "2.0", id: 2, method: "ping" });
  assert.deepEqual((await local.answer(2)).result, {});
});

test("a server echoing the credentials it was sent in its error pages: they reach neither stderr nor the local client", async () => {
  const token = "tok-ECHOED-4f1c9a7e2b";
  const apiKey = "key-ECHOED-88d0c3";
  const server = await startRawServer((req, res, body) => {
    const method = (body as { method?: string } | undefined)?.method;
    if (method === "server/discover") return void res.writeHead(404).end();
    // A debug page dumping the request's headers; a 401 that names the token it refuses.
    if (method === "ping") return void res.writeHead(500, { "content-type": "text/plain" }).end(`Internal error\nauthorization: ${req.headers.authorization}\nx-api-key: ${req.headers["x-api-key"]}`);
    res.writeHead(401, { "content-type": "application/json" }).end(JSON.stringify({ error: "invalid_token", error_description: `the token ${token} is revoked (key ${apiKey})` }));
  });
  servers.push(server);
  const local = startLocal(["connect", server.url, "--token-env", "TOKEN", "--header", "X-Api-Key: ${KEY}", "--log-level", "debug"], { TOKEN: token, KEY: apiKey });
  local.send(INITIALIZE);
  assert.match((await local.answer(0)).error?.message ?? "", /HTTP 401: the token \[redacted\] is revoked \(key \[redacted\]\)/);
  local.send({ jsonrpc: "2.0", id: 1, method: "ping" });
  assert.match((await local.answer(1)).error?.message ?? "", /HTTP 500: Internal error authorization: Bearer \[redacted\] x-api-key: \[redacted\]/);
  for (const secret of [token, apiKey]) {
    assert.ok(!local.stdout().includes(secret), `stdout: ${local.stdout()}`);
    assert.ok(!local.stderr().includes(secret), `stderr: ${local.stderr()}`);
  }
});

test("a server echoing the credentials it was sent in other forms (JSON with escaped slashes, percent-encoded, a Basic credential decoded): redacted too", async () => {
  const token = "tok/ECHOFORM+4f1c9a7e2b=";
  const password = "s3cret-ECHOFORM-pw";
  const basic = Buffer.from(`robot:${password}`).toString("base64");
  const server = await startRawServer((_req, res, body) => {
    const method = (body as { method?: string } | undefined)?.method;
    if (method === "server/discover") return void res.writeHead(404).end();
    // PHP's json_encode escapes "/", a router quotes the URL-encoded value, a proxy the decoded Basic pair.
    res.writeHead(500, { "content-type": "text/plain" }).end(`bad token ${JSON.stringify(token).replaceAll("/", "\\/")} (${encodeURIComponent(token)}); proxy user robot:${password}, password ${password}`);
  });
  servers.push(server);
  const local = startLocal(["connect", server.url, "--token-env", "TOKEN", "--header", "Proxy-Authorization: Basic ${BASIC}", "--log-level", "debug"], { TOKEN: token, BASIC: basic });
  local.send(INITIALIZE);
  const message = (await local.answer(0)).error?.message ?? "";
  assert.match(message, /HTTP 500: bad token "\[redacted\]" \(\[redacted\]\); proxy user \[redacted\], password \[redacted\]/);
  for (const secret of [token, token.replaceAll("/", "\\/"), encodeURIComponent(token), password]) {
    assert.ok(!local.stdout().includes(secret), `stdout: ${local.stdout()}`);
    assert.ok(!local.stderr().includes(secret), `stderr: ${local.stderr()}`);
  }
});

test("an error page naming a configured tenant header and the token: the token (and secret-named headers, and generated-looking values) redacted, the tenant shown", async () => {
  const token = "tok-TENANTCASE-51ac7e90";
  const session = "sess-TENANTCASE-0b2f";
  const routing = "7fa2c9e41b0d4e8aTENANTCASE";
  const server = await startRawServer((req, res, body) => {
    const method = (body as { method?: string } | undefined)?.method;
    if (method === "server/discover") return void res.writeHead(404).end();
    res.writeHead(403, { "content-type": "text/plain" }).end(`tenant ${req.headers["x-tenant"]} may not call this (token ${req.headers.authorization}, session ${req.headers["x-session-ref"]}, route ${req.headers["x-route"]})`);
  });
  servers.push(server);
  const local = startLocal(["connect", server.url, "--token-env", "TOKEN", "--header", "X-Tenant: engineering", "--header", `X-Session-Ref: ${session}`, "--header", `X-Route: ${routing}`], { TOKEN: token });
  local.send(INITIALIZE);
  assert.match((await local.answer(0)).error?.message ?? "", /HTTP 403: tenant engineering may not call this \(token Bearer \[redacted\], session \[redacted\], route \[redacted\]\)/);
  for (const secret of [token, session, routing]) assert.ok(!local.stdout().includes(secret) && !local.stderr().includes(secret), secret);
});

test("vendor credential headers whose names say neither key nor token (Honeycomb, JFrog, an exchange's signature, a one-time password) echoed in an error page: redacted, the tenant still shown", async () => {
  const secrets: Record<string, string> = {
    "x-honeycomb-team": "hcaik-VENDORCASE-7f3e21",
    "x-jfrog-art-api": "AKCp-VENDORCASE-0c9d88",
    "ok-access-sign": "sig-VENDORCASE-5b2a44",
    "x-github-otp": "otp-VENDORCASE-991204",
  };
  const server = await startRawServer((req, res, body) => {
    const method = (body as { method?: string } | undefined)?.method;
    if (method === "server/discover") return void res.writeHead(404).end();
    res.writeHead(403, { "content-type": "text/plain" }).end(`tenant ${req.headers["x-tenant"]} refused: ${Object.keys(secrets).map((name) => `${name}=${req.headers[name]}`).join(" ")}`);
  });
  servers.push(server);
  const headers = Object.entries(secrets).flatMap(([name, value]) => ["--header", `${name}: ${value}`]);
  const local = startLocal(["connect", server.url, "--header", "X-Tenant: engineering", ...headers]);
  local.send(INITIALIZE);
  const message = (await local.answer(0)).error?.message ?? "";
  assert.match(message, /HTTP 403: tenant engineering refused: x-honeycomb-team=\[redacted\] x-jfrog-art-api=\[redacted\] ok-access-sign=\[redacted\] x-github-otp=\[redacted\]/, message);
  for (const secret of Object.values(secrets)) assert.ok(!local.stdout().includes(secret) && !local.stderr().includes(secret), secret);
});

test("a flood of notifications while the server holds their POSTs: at most MAX_IN_FLIGHT at once, the rest dropped with one warning, requests still served", async () => {
  let open = 0;
  let most = 0;
  const held: ServerResponse[] = [];
  await legacyServer(
    (res) => res.writeHead(500).end(),
    (res, method) => {
      if (method !== "notifications/roots/list_changed") return void res.writeHead(202).end();
      // Accepted and never answered: the server is slow to take notifications.
      open++;
      most = Math.max(most, open);
      held.push(res);
      res.on("close", () => open--);
    },
  );
  const server = servers.at(-1)!;
  const local = startLocal(["connect", server.url, "--log-level", "info", "--timeout", "60s"]);
  await local.handshake();
  for (let i = 0; i < 1_500; i++) local.send({ jsonrpc: "2.0", method: "notifications/roots/list_changed" });
  local.send({ jsonrpc: "2.0", id: 1, method: "ping" });
  assert.deepEqual((await local.answer(1, 60_000)).result, {});
  await waitFor(() => /dropped/.test(local.stderr()), "the warning");
  assert.ok(most <= 1_000, `the server saw ${most} notification POSTs at once`);
  assert.equal(local.stderr().match(/dropped/g)?.length, 1, local.stderr());
  for (const res of held) res.destroy();
});

test("a server flooding its GET stream while the local client does not read stdout is slowed to the local client's pace, not buffered", { timeout: 180_000 }, async () => {
  const LIMIT = 128 * 1024 * 1024;
  let written = 0;
  let stalledSince: number | undefined;
  let stream: ServerResponse | undefined;
  const server = await startRawServer((req, res, body) => {
    if (req.method === "GET") {
      stream = res;
      res.writeHead(200, { "content-type": "text/event-stream" });
      void (async () => {
        const closed = once(res, "close");
        for (let n = 0; written < LIMIT && !res.destroyed; n++) {
          // Distinct messages, as a real flood would be (no shared string to keep memory flat).
          const event = `data: ${JSON.stringify({ jsonrpc: "2.0", method: "notifications/message", params: { level: "info", data: `${n} ${"y".repeat(64 * 1024)}` } })}\n\n`;
          written += event.length;
          if (!res.write(event)) {
            stalledSince = Date.now();
            await Promise.race([once(res, "drain"), closed]);
            stalledSince = undefined;
          }
        }
      })();
      return;
    }
    answerAsLegacy(res, body as LegacyMessage);
  });
  servers.push(server);
  const local = startLocal(["connect", server.url]);
  local.send(INITIALIZE);
  await local.answer(0);
  // From now on the local client reads nothing.
  local.stopReading();
  local.send({ jsonrpc: "2.0", method: "notifications/initialized" });
  await waitFor(() => written >= LIMIT || (stalledSince !== undefined && Date.now() - stalledSince > 5_000), "the flood to stall or pass the limit", 150_000);
  assert.ok(written < 32 * 1024 * 1024, `the bridge took ${written} bytes of events the local client never read`);
  stream?.destroy();
});

test("an authorization server echoing the client secret and the refresh token in its error descriptions: neither reaches stderr", async () => {
  const secret = "cs-ECHOED-0b7d41e9aa";
  const refreshToken = "rt-ECHOED-5e2f9c0d11";
  const accessToken = "at-ECHOED-93ab27c4f0";
  let tokenCalls = 0;
  const server = await startRawServer((req, res, body) => {
    const origin = `http://${req.headers.host}`;
    const json = (status: number, value: object) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(value));
    if (req.url === "/.well-known/oauth-protected-resource/mcp") return json(200, { resource: `${origin}/mcp`, authorization_servers: [origin] });
    if (req.url === "/.well-known/oauth-authorization-server") return json(200, { issuer: origin, token_endpoint: `${origin}/token`, token_endpoint_auth_methods_supported: ["client_secret_post"] });
    if (req.url === "/token") {
      tokenCalls++;
      // 1: the client credentials grant refused, naming the secret; 2: a token that is stale at once, with a refresh token; 3: the refresh refused, naming both.
      if (tokenCalls === 2) return json(200, { access_token: accessToken, token_type: "Bearer", expires_in: 1, refresh_token: refreshToken });
      if (tokenCalls === 1) return json(400, { error: "invalid_client", error_description: `client secret ${secret} is not accepted` });
      return json(400, { error: "invalid_grant", error_description: `client secret ${secret} and refresh token ${refreshToken} are not accepted` });
    }
    if (req.headers.authorization !== `Bearer ${accessToken}`) {
      return void res.writeHead(401, { "www-authenticate": `Bearer resource_metadata="${origin}/.well-known/oauth-protected-resource/mcp"` }).end();
    }
    answerAsLegacy(res, body as LegacyMessage);
  });
  servers.push(server);
  const args = ["connect", server.url, "--client-id", "c1", "--client-secret-env", "SECRET", "--log-level", "debug"];
  // The first bridge's era probe meets the refused grant; its initialize fails with that reason (no grant is asked for again so soon).
  const refused = startLocal(args, { SECRET: secret });
  refused.send(INITIALIZE);
  assert.match((await refused.answer(0)).error?.message ?? "", /invalid_client: client secret \[redacted\] is not accepted/, refused.stderr());
  assert.match(refused.stderr(), /client credentials grant refused \(HTTP 400, invalid_client: client secret \[redacted\] is not accepted\)/);
  // The second bridge gets the second token, and renews it at once: refused.
  const local = startLocal(args, { SECRET: secret });
  local.send(INITIALIZE);
  assert.equal((await local.answer(0)).result?.serverInfo?.name, "hostile", local.stderr());
  local.send({ jsonrpc: "2.0", id: 2, method: "ping" });
  assert.deepEqual((await local.answer(2)).result, {});
  assert.ok(tokenCalls >= 3, local.stderr());
  assert.match(local.stderr(), /refused \(HTTP 400, invalid_grant: client secret \[redacted\] and refresh token \[redacted\] are not accepted\)/);
  for (const value of [secret, refreshToken, accessToken]) {
    for (const bridge of [refused, local]) {
      assert.ok(!bridge.stderr().includes(value), `stderr: ${bridge.stderr()}`);
      assert.ok(!bridge.stdout().includes(value), `stdout: ${bridge.stdout()}`);
    }
  }
});

test("an authorization server echoing the private_key_jwt client_assertion in its error description: it reaches neither stderr nor the local client", async () => {
  const keyFile = join(mkdtempSync(join(tmpdir(), "mcp-bridge-pkjwt-")), "key.pem");
  writeFileSync(keyFile, generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  const assertions: string[] = [];
  // The token endpoint (client.url is never reached: the grant comes first, and fails).
  const as = await startJsonEndpoint((body) => {
    const assertion = new URLSearchParams(body).get("client_assertion") ?? "";
    assertions.push(assertion);
    return { status: 400, json: { error: "invalid_client", error_description: `${assertion} is not accepted` } };
  });
  try {
    const config = writeConfig({ mode: "client", log: { level: "debug" }, client: { url: `${as.origin}/mcp`, auth: { type: "oauth", oauth: { client_id: "c1", private_key_file: keyFile, signing_algorithm: "ES256", token_url: `${as.origin}/token` } } } });
    const local = startLocal(["-c", config]);
    local.send(INITIALIZE);
    assert.match((await local.answer(0)).error?.message ?? "", /invalid_client: \[redacted\] is not accepted/, local.stderr());
    assert.equal(assertions.length, 1);
    // Its claims and signature: even the part an error's 200 characters would hold.
    for (const part of assertions[0]!.split(".").slice(1)) {
      assert.ok(!local.stderr().includes(part.slice(0, 40)) && !local.stdout().includes(part.slice(0, 40)), local.stderr() + local.stdout());
    }
  } finally {
    as.close();
  }
});

test("a modern server whose server/discover names itself without a version: the legacy local client still connects, told the bridge's name", async () => {
  const server = await startRawServer((_req, res, body) => {
    const message = body as { id?: number | string; method: string };
    if (message.id === undefined) return void res.writeHead(202).end();
    const result =
      message.method === "server/discover"
        ? { supportedVersions: ["2026-07-28"], capabilities: { tools: {} }, resultType: "complete", ttlMs: 0, cacheScope: "public", _meta: { "io.modelcontextprotocol/serverInfo": { name: "no-version" } }, serverInfo: { name: 7 } }
        : { resultType: "complete", tools: [] };
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: message.id, result }));
  });
  servers.push(server);
  const local = startLocal(["connect", server.url]);
  local.send(INITIALIZE);
  const { result } = await local.answer(0);
  assert.equal(typeof result?.serverInfo?.name, "string", JSON.stringify(result));
  assert.equal(typeof result?.serverInfo?.version, "string", JSON.stringify(result));
});

test("a modern server whose server/discover describes capabilities with wrong types: an SDK client still connects, told only what its schema can read", async () => {
  const server = await startRawServer((_req, res, body) => {
    const message = body as { id?: number | string; method: string };
    if (message.id === undefined) return void res.writeHead(202).end();
    const capabilities = { tools: { listChanged: true }, prompts: { listChanged: "maybe" }, resources: [], completions: 7, experimental: { good: { x: 1 }, bad: 3 } };
    const result = message.method === "server/discover" ? { supportedVersions: ["2026-07-28"], capabilities, resultType: "complete", _meta: { "io.modelcontextprotocol/serverInfo": { name: "typos", version: "1" } } } : { resultType: "complete", tools: [] };
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: message.id, result }));
  });
  servers.push(server);
  const local = await connectLocalClient(["connect", server.url]);
  try {
    assert.deepEqual(local.client.getServerCapabilities(), { tools: { listChanged: true }, prompts: {}, experimental: { good: { x: 1 } }, logging: {} });
    assert.deepEqual((await local.client.listTools()).tools, []);
  } finally {
    await local.close();
  }
});

test("a modern server whose serverInfo has optional fields of wrong types: an SDK client still connects, told the name, the version and what is readable", async () => {
  const server = await startRawServer((_req, res, body) => {
    const message = body as { id?: number | string; method: string };
    if (message.id === undefined) return void res.writeHead(202).end();
    const serverInfo = { name: "typos", version: "1", title: 5, websiteUrl: 3, icons: "none", description: "readable" };
    const result = message.method === "server/discover" ? { supportedVersions: ["2026-07-28"], capabilities: { tools: {} }, resultType: "complete", _meta: { "io.modelcontextprotocol/serverInfo": serverInfo } } : { resultType: "complete", tools: [] };
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: message.id, result }));
  });
  servers.push(server);
  const local = await connectLocalClient(["connect", server.url]);
  try {
    assert.deepEqual(local.client.getServerVersion(), { name: "typos", version: "1", description: "readable" });
  } finally {
    await local.close();
  }
});

/** A 2026-07-28 server that answers every tools/call with `inputRequests` (and anything else plainly). */
function modernServer(inputRequests: Record<string, unknown>): Promise<TestServer> {
  return startRawServer((_req, res, body) => {
    const message = body as { id?: number | string; method: string };
    if (message.id === undefined) return void res.writeHead(202).end();
    const result =
      message.method === "server/discover"
        ? { supportedVersions: ["2026-07-28"], capabilities: { tools: {} }, resultType: "complete", ttlMs: 0, cacheScope: "public", _meta: { "io.modelcontextprotocol/serverInfo": { name: "asker", version: "1" } } }
        : message.method === "tools/call"
          ? { resultType: "input_required", inputRequests, requestState: "s" }
          : { resultType: "complete" };
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: message.id, result }));
  }).then((server) => {
    servers.push(server);
    return server;
  });
}

test("a modern server asking for input hundreds of times in one round, or for what is no input: the call fails, and nothing is put to the local client", async () => {
  const elicit = { method: "elicitation/create", params: { message: "name?", requestedSchema: { type: "object", properties: {} } } };
  const many = await modernServer(Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`q${i}`, elicit])));
  const other = await modernServer({ a: elicit, b: { method: "tools/call", params: { name: "rm" } } });
  for (const [server, reason] of [
    [many, /asked for 500 inputs at once; at most 16/],
    [other, /asked the client for tools\/call, which is no request for input/],
  ] as const) {
    const local = startLocal(["connect", server.url]);
    await local.handshake({ ...INITIALIZE, params: { ...INITIALIZE.params, capabilities: { elicitation: {} } } });
    local.send({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "ask", arguments: {} } });
    assert.match((await local.answer(1)).error?.message ?? "", reason);
    assert.ok(!local.stdout().includes("elicitation/create"), local.stdout().slice(0, 2000));
  }
});

test("a round of 16 questions, the most a round may ask: each reaches the local client, and the bridge says nothing of a leak (Node warns past 10 listeners on one signal)", async () => {
  const elicit = { method: "elicitation/create", params: { message: "name?", requestedSchema: { type: "object", properties: {} } } };
  const server = await modernServer(Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`q${i}`, elicit])));
  const local = startLocal(["connect", server.url]);
  await local.handshake({ ...INITIALIZE, params: { ...INITIALIZE.params, capabilities: { elicitation: {} } } });
  local.send({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "ask", arguments: {} } });
  await waitFor(() => local.lines().filter((line) => line.includes('"method":"elicitation/create"')).length === 16 || undefined, "the round's 16 questions");
  // The warning is written as the 11th listener is added, before the questions go out.
  assert.doesNotMatch(local.stderr(), /MaxListenersExceeded|memory leak/, local.stderr());
});

test("a modern server asking for input the local client did not declare it can give (sampling, roots, URL elicitation): the call fails naming the capability, nothing is put to the local client", async () => {
  const form = { method: "elicitation/create", params: { message: "name?", requestedSchema: { type: "object", properties: {} } } };
  for (const [asked, missing] of [
    [{ method: "sampling/createMessage", params: { messages: [], maxTokens: 10 } }, /\(sampling\)/],
    [{ method: "roots/list" }, /\(roots\)/],
    [{ method: "elicitation/create", params: { mode: "url", message: "sign in", url: "https://example.com/", elicitationId: "e1" } }, /\(elicitation\)/],
  ] as const) {
    const server = await modernServer({ a: form, b: asked });
    const local = startLocal(["connect", server.url]);
    await local.handshake({ ...INITIALIZE, params: { ...INITIALIZE.params, capabilities: { elicitation: {} } } });
    local.send({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "ask", arguments: {} } });
    const { error } = await local.answer(1);
    assert.match(error?.message ?? "", new RegExp(`asked for "${asked.method}", which needs client capabilities the local client did not declare ${missing.source}`), JSON.stringify(error));
    assert.ok(!/"method":"(elicitation\/create|sampling\/createMessage|roots\/list)"/.test(local.stdout()), local.stdout().slice(0, 2000));
  }
});

test("a legacy local client initializing again, with other capabilities: a modern server hears the new ones (and client info) from then on", async () => {
  const heard: Array<Record<string, unknown>> = [];
  const server = await startRawServer((_req, res, body) => {
    const message = body as { id?: number | string; method: string; params?: { _meta?: Record<string, unknown> } };
    if (message.id === undefined) return void res.writeHead(202).end();
    if (message.method === "tools/call") heard.push(message.params?._meta ?? {});
    const result = message.method === "server/discover" ? { supportedVersions: ["2026-07-28"], capabilities: { tools: {} }, resultType: "complete", ttlMs: 0, cacheScope: "public" } : { resultType: "complete", content: [] };
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: message.id, result }));
  });
  servers.push(server);
  const local = startLocal(["connect", server.url]);
  await local.handshake({ ...INITIALIZE, params: { ...INITIALIZE.params, capabilities: { elicitation: {} } } });
  local.send({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "t", arguments: {} } });
  await local.answer(1);
  local.send({ jsonrpc: "2.0", id: 2, method: "initialize", params: { ...INITIALIZE.params, capabilities: { sampling: {} }, clientInfo: { name: "second", version: "2" } } });
  assert.ok((await local.answer(2)).result);
  local.send({ jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "t", arguments: {} } });
  await local.answer(3);
  assert.deepEqual(heard.map((meta) => meta["io.modelcontextprotocol/clientCapabilities"]), [{ elicitation: {} }, { sampling: {} }]);
  assert.deepEqual(heard[1]!["io.modelcontextprotocol/clientInfo"], { name: "second", version: "2" });
});

test("a local client refusing a modern server's request for input (an SDK client without a handler answers -32601): the call fails saying so, not as if the tool did not exist", async () => {
  const server = await modernServer({ a: { method: "elicitation/create", params: { message: "name?", requestedSchema: { type: "object", properties: {} } } } });
  const local = startLocal(["connect", server.url]);
  await local.handshake({ ...INITIALIZE, params: { ...INITIALIZE.params, capabilities: { elicitation: {} } } });
  local.send({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "ask", arguments: {} } });
  const line = (await waitFor(() => local.lines().find((text) => text.includes('"method":"elicitation/create"')), "the question")) as string;
  const ask = JSON.parse(line) as { id: string };
  local.send({ jsonrpc: "2.0", id: ask.id, error: { code: -32601, message: "Method not found" } });
  const { error } = await local.answer(1);
  assert.equal(error?.code, -32603, JSON.stringify(error));
  assert.match(error?.message ?? "", /the local client refused the server's request for input \("elicitation\/create"\): -32601 "Method not found"/);
  assert.deepEqual(error?.data?.inputError, { code: -32601, message: "Method not found" });
  // A local client that is itself a bridge words its errors as the bridge does: still its refusal, not the bridge's verdict.
  local.send({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "ask", arguments: {} } });
  const again = (await waitFor(() => local.lines().filter((text) => text.includes('"method":"elicitation/create"'))[1], "the second question")) as string;
  local.send({ jsonrpc: "2.0", id: (JSON.parse(again) as { id: string }).id, error: { code: -32000, message: "mcp-bridge: the remote server is unreachable" } });
  const second = (await local.answer(2)).error;
  assert.equal(second?.code, -32603, JSON.stringify(second));
  assert.match(second?.message ?? "", /the local client refused the server's request for input \("elicitation\/create"\): -32000 "mcp-bridge: the remote server is unreachable"/);
});

test("EOF or SIGTERM while a call waits for the local client's input (modern server): the question is cancelled and the call gets its error before the bridge exits", { timeout: 60_000 }, async () => {
  const server = await modernServer({ a: { method: "elicitation/create", params: { message: "name?", requestedSchema: { type: "object", properties: {} } } } });
  for (const stop of ["stdin closed", "SIGTERM"] as const) {
    const local = startLocal(["connect", server.url]);
    await local.handshake({ ...INITIALIZE, params: { ...INITIALIZE.params, capabilities: { elicitation: {} } } });
    local.send({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "ask", arguments: {} } });
    const line = (await waitFor(() => local.lines().find((text) => text.includes('"method":"elicitation/create"')), "the question")) as string;
    const ask = JSON.parse(line) as { id: string };
    assert.equal(await (stop === "SIGTERM" ? local.kill("SIGTERM") : local.end()), 0);
    const { error } = await local.answer(1);
    assert.equal(error?.code, -32000, `${stop}: ${JSON.stringify(error)}`);
    assert.match(error?.message ?? "", /^mcp-bridge: /);
    const cancelled = local.lines().map((text) => JSON.parse(text) as { method?: string; params?: { requestId?: unknown } }).filter((message) => message.method === "notifications/cancelled");
    assert.deepEqual(cancelled.map((message) => message.params?.requestId), [ask.id], `${stop}: the question is withdrawn`);
  }
});

test("a local client's method no Mcp-Method header can hold (non-ASCII, a control character, a space at an end), modern server: Invalid Request naming it, nothing sent", async () => {
  const methods: string[] = [];
  const server = await startRawServer((_req, res, body) => {
    const message = body as { id?: number | string; method: string };
    methods.push(message.method);
    if (message.id === undefined) return void res.writeHead(202).end();
    const result = message.method === "server/discover" ? { supportedVersions: ["2026-07-28"], capabilities: { tools: {} }, resultType: "complete", ttlMs: 0, cacheScope: "public" } : { resultType: "complete" };
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: message.id, result }));
  });
  servers.push(server);
  const local = startLocal(["connect", server.url]);
  await local.handshake();
  const bad = ["tools/cäll", "tools/\u0000call", "tools/call ", "x/\u2028"];
  bad.forEach((method, i) => local.send({ jsonrpc: "2.0", id: i + 1, method, params: {} }));
  for (const [i, method] of bad.entries()) {
    const { error } = await local.answer(i + 1);
    assert.equal(error?.code, -32600, `${JSON.stringify(method)}: ${JSON.stringify(error)}`);
    assert.match(error?.message ?? "", /cannot be sent to a modern server: its Mcp-Method header holds visible ASCII/);
  }
  // A name that can be sent still is (inner spaces included).
  local.send({ jsonrpc: "2.0", id: 9, method: "vendor/do it", params: {} });
  assert.deepEqual((await local.answer(9)).result, {});
  assert.deepEqual(methods.filter((method) => method !== "server/discover"), ["vendor/do it"]);
});

test("a modern server answering what may not ask (tools/list) with input_required, or asking with a requestState that is no string: the call fails naming it, nothing is put to the local client", async () => {
  const elicit = { method: "elicitation/create", params: { message: "name?", requestedSchema: { type: "object", properties: {} } } };
  const server = await startRawServer((_req, res, body) => {
    const message = body as { id?: number | string; method: string };
    if (message.id === undefined) return void res.writeHead(202).end();
    const result =
      message.method === "server/discover"
        ? { supportedVersions: ["2026-07-28"], capabilities: { tools: {} }, resultType: "complete", _meta: { "io.modelcontextprotocol/serverInfo": { name: "asker", version: "1" } } }
        : message.method === "tools/list"
          ? { resultType: "input_required", inputRequests: { a: elicit }, requestState: "s" }
          : { resultType: "input_required", inputRequests: { a: elicit }, requestState: { not: "a string" } };
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: message.id, result }));
  });
  servers.push(server);
  const local = startLocal(["connect", server.url]);
  await local.handshake({ ...INITIALIZE, params: { ...INITIALIZE.params, capabilities: { elicitation: {} } } });
  local.send({ jsonrpc: "2.0", id: 1, method: "tools/list" });
  assert.match((await local.answer(1)).error?.message ?? "", /answered tools\/list with input_required, which only tools\/call, prompts\/get, resources\/read may be answered with/);
  local.send({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "ask", arguments: {} } });
  assert.match((await local.answer(2)).error?.message ?? "", /requestState is not a string/);
  assert.ok(!local.stdout().includes("elicitation/create"), local.stdout().slice(0, 2000));
});

test("a modern server asking for input under the key __proto__: the local client's answer reaches it under that key, asked once", async () => {
  let asked = 0;
  const server = await startRawServer((_req, res, body) => {
    const message = body as { id?: number | string; method: string; params?: { inputResponses?: Record<string, unknown> } };
    if (message.id === undefined) return void res.writeHead(202).end();
    const given = message.params?.inputResponses;
    let result: Record<string, unknown> = { resultType: "complete" };
    if (message.method === "server/discover") result = { supportedVersions: ["2026-07-28"], capabilities: { tools: {} }, resultType: "complete", _meta: { "io.modelcontextprotocol/serverInfo": { name: "proto", version: "1" } } };
    else if (message.method === "tools/call" && given && Object.hasOwn(given, "__proto__")) result = { resultType: "complete", content: [{ type: "text", text: JSON.stringify(given["__proto__"]) }] };
    else if (message.method === "tools/call") {
      asked++;
      // A computed key: an own member named __proto__, as JSON.parse gives it.
      result = { resultType: "input_required", inputRequests: { ["__proto__"]: { method: "elicitation/create", params: { message: "name?", requestedSchema: { type: "object", properties: {} } } } }, requestState: "s" };
    }
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: message.id, result }));
  });
  servers.push(server);
  const local = startLocal(["connect", server.url]);
  await local.handshake({ ...INITIALIZE, params: { ...INITIALIZE.params, capabilities: { elicitation: {} } } });
  local.send({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "ask", arguments: {} } });
  const ask = await waitFor(() => local.stdout().split("\n").map((line) => (line.includes("elicitation/create") ? (JSON.parse(line) as { id: unknown }) : undefined)).find(Boolean), "the question");
  local.send({ jsonrpc: "2.0", id: ask!.id, result: { action: "accept", content: { name: "proto" } } });
  const answer = await local.answer(1);
  assert.deepEqual(JSON.parse(answer.result?.content?.[0]?.text ?? "null"), { action: "accept", content: { name: "proto" } }, JSON.stringify(answer));
  assert.equal(asked, 1);
});

test("a local client's request id past 2^53: refused naming the limit, never answered under the number a double reads", async () => {
  const server = await startRawServer((_req, res, body) => {
    const message = body as { id?: number | string; method: string };
    if (message.id === undefined) return void res.writeHead(202).end();
    const result = message.method === "server/discover" ? { supportedVersions: ["2026-07-28"], capabilities: { tools: {} }, resultType: "complete", _meta: { "io.modelcontextprotocol/serverInfo": { name: "s", version: "1" } } } : { resultType: "complete", content: [] };
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: message.id, result }));
  });
  servers.push(server);
  const local = startLocal(["connect", server.url]);
  await local.handshake();
  // 2^53 + 1, as a client with 64-bit integers writes it.
  local.write('{"jsonrpc":"2.0","id":9007199254740993,"method":"tools/call","params":{"name":"t","arguments":{}}}\n');
  local.send({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "t", arguments: {} } });
  await local.answer(2);
  const refusal = await local.answer(null as unknown as number);
  assert.match(refusal.error?.message ?? "", /"id" must be a string or an integer \(at most 2\^53 - 1 in magnitude: send a larger one as a string\)/);
  assert.doesNotMatch(local.stdout(), /9007199254740992/);
  // As a progress token: progress would come back under the number a double reads.
  local.write('{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"t","arguments":{},"_meta":{"progressToken":9007199254740993}}}\n');
  const token = await local.answer(3);
  assert.equal(token.error?.code, -32602, JSON.stringify(token));
  assert.match(token.error?.message ?? "", /progressToken/);
  assert.doesNotMatch(local.stdout(), /9007199254740992/);
  // In params (every message goes on serialized again): refused naming where, never sent as another number.
  const before = server.requests.length;
  local.write('{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"t","arguments":{"account":12345678901234567890}}}\n');
  const account = await local.answer(4);
  assert.equal(account.error?.code, -32602, JSON.stringify(account));
  assert.match(account.error?.message ?? "", /the number at params\.arguments\.account is an integer past 2\^53 - 1 .*send it as a string/);
  local.write('{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"t","arguments":{"account":"12345678901234567890"}}}\n');
  assert.ok((await local.answer(5)).result, "as a string it goes through");
  assert.equal(server.requests.length, before + 1, `only the string one reached the server: ${server.requests.slice(before).join(", ")}`);
});

test("a remote server's request with an id or progress token past 2^53: refused to it, never put to the local client as the number a double reads", async () => {
  const answers: Array<{ id: unknown; error?: { code: number; message: string } }> = [];
  const server = await legacyServer((res, message) => {
    // The bridge's answers to the server's requests come back as POSTs without a method.
    if (message.method === undefined) return void (answers.push(message as never), res.writeHead(202).end());
    res.writeHead(200, { "content-type": "text/event-stream" });
    // As a server with 64-bit integers writes them (2^53 + 1), then the call's answer.
    res.write(`data: {"jsonrpc":"2.0","id":9007199254740993,"method":"roots/list"}\n\n`);
    res.write(`data: {"jsonrpc":"2.0","id":"r2","method":"roots/list","params":{"_meta":{"progressToken":9007199254740993}}}\n\n`);
    res.end(`data: ${JSON.stringify({ jsonrpc: "2.0", id: message.id, result: { content: [] } })}\n\n`);
  });
  const local = startLocal(["connect", server.url]);
  await local.handshake({ ...INITIALIZE, params: { ...INITIALIZE.params, capabilities: { roots: {} } } });
  local.send({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "t", arguments: {} } });
  await local.answer(1);
  await waitFor(() => answers.length === 2 || undefined, "the refusals at the server");
  assert.equal(answers[0]!.id, null, JSON.stringify(answers));
  assert.equal(answers[0]!.error?.code, -32600);
  assert.match(answers[0]!.error?.message ?? "", /at most 2\^53 - 1 in magnitude/);
  assert.equal(answers[1]!.id, "r2");
  assert.equal(answers[1]!.error?.code, -32602);
  assert.doesNotMatch(local.stdout(), /roots\/list|9007199254740992/);
});

/** A number a double reads as 12345678901234567000, and one past a double's range (JSON.stringify writes null). */
const INEXACT = "12345678901234567890";
const FAR = "1e400";
const ROUNDED = /12345678901234567000|:null/;

test("numbers a double does not carry in a legacy server's answers and notifications: passed on as written when alone, else an error or a drop naming where, never another number", async () => {
  const server = await legacyServer((res, message) => {
    const name = (message as { params?: { name?: string } }).params?.name;
    const json = (text: string) => void res.writeHead(200, { "content-type": "application/json" }).end(text);
    if (name === "alone") return json(`{"jsonrpc":"2.0","id":${message.id},"result":{"content":[],"n":${INEXACT},"far":${FAR}}}`);
    if (name === "batch") return json(`[{"jsonrpc":"2.0","id":${message.id},"result":{"content":[],"n":${INEXACT}}}]`);
    // An "id" further on: the local client might read another id than the bridge routed it by, so it is serialized again.
    if (name === "nested-id") return json(`{"jsonrpc":"2.0","id":${message.id},"result":{"content":[],"item":{"id":${INEXACT}}}}`);
    res.writeHead(200, { "content-type": "text/event-stream" });
    // Alone, its data on two lines; then in a batch; then the answer.
    res.write(`data: {"jsonrpc":"2.0","method":"notifications/message",\ndata: "params":{"level":"info","data":{"n":${INEXACT}}}}\n\n`);
    res.write(`data: [{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":{"far":${FAR}}}}]\n\n`);
    res.end(`data: {"jsonrpc":"2.0","id":${message.id},"result":{"content":[]}}\n\n`);
  });
  const local = startLocal(["connect", server.url]);
  await local.handshake();
  local.send(toolCall(1, "alone"));
  await local.answer(1);
  assert.ok(local.stdout().includes(`"n":${INEXACT},"far":${FAR}}`), local.stdout());
  await answeredInexact(local, 2, "batch", "the remote server's answer: the number at result\\.n");
  await answeredInexact(local, 3, "nested-id", "the remote server's answer: the number at result\\.item\\.id");
  local.send(toolCall(4, "notify"));
  await local.answer(4);
  assert.ok(local.stdout().includes(`{"jsonrpc":"2.0","method":"notifications/message", "params":{"level":"info","data":{"n":${INEXACT}}}}\n`), local.stdout());
  await waitFor(() => local.stderr().includes("dropped a notification of the remote server") || undefined, "the dropped notification's log line");
  assert.match(local.stderr(), /params\.data\.far/);
  assert.doesNotMatch(local.stdout(), ROUNDED);
});

test("numbers a double does not carry in a local client's answers and notifications (legacy server): sent as written when alone, else the server gets an error or nothing, never another number", async () => {
  const posted: string[] = [];
  const server = await legacyServer(
    (res, message, text) => {
      // The local client's answers come back as POSTs without a method.
      if (message.method === undefined) return void (posted.push(text), res.writeHead(202).end());
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(`data: {"jsonrpc":"2.0","id":"r1","method":"roots/list"}\n\n`);
      res.end(`data: {"jsonrpc":"2.0","id":${message.id},"result":{"content":[]}}\n\n`);
    },
    (res, _method, text) => void (posted.push(text), res.writeHead(202).end()),
  );
  const local = startLocal(["connect", server.url]);
  await local.handshake({ ...INITIALIZE, params: { ...INITIALIZE.params, capabilities: { roots: {} } } });
  local.send(toolCall(1, "t"));
  await local.answer(1);
  await waitFor(() => local.stdout().includes("roots/list") || undefined, "the server's request");
  const answer = `{"jsonrpc":"2.0","id":"r1","result":{"roots":[],"n":${INEXACT}}}`;
  const progress = `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"t","progress":1,"total":${INEXACT}}}`;
  local.write(`${answer}\n${progress}\n`);
  await waitFor(() => (posted.includes(answer) && posted.includes(progress)) || undefined, "both as written", 10_000).catch(() => assert.fail(`posted: ${posted.join("\n")}`));
  // In a batch each is serialized again: the notification is dropped, the answer becomes an error for the server.
  local.write(`[{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"t","progress":${FAR}}},{"jsonrpc":"2.0","id":"r2","result":{"n":${INEXACT}}}]\n`);
  const refusal = await waitFor(() => posted.map((text) => JSON.parse(text) as { id?: unknown; error?: { code: number; message: string } }).find((message) => message.id === "r2"), "the error in place of r2");
  assert.equal(refusal!.error?.code, -32603, JSON.stringify(refusal));
  assert.match(refusal!.error?.message ?? "", /the local client's answer: the number at result\.n is an integer past 2\^53 - 1/);
  assert.match(local.stderr(), /params\.progress/);
  assert.ok(!posted.some((text) => ROUNDED.test(text)), posted.join("\n"));
});

test("numbers a double does not carry through a modern server (legacy local client): its answers and input requests fail naming where, the local client's input answer too; never another number", async () => {
  const retried: string[] = [];
  const server = await startRawServer((_req, res, body, text) => {
    const message = body as { id?: number | string; method: string; params?: { name?: string; inputResponses?: unknown } };
    if (message.id === undefined) return void res.writeHead(202).end();
    const json = (result: string) => void res.writeHead(200, { "content-type": "application/json" }).end(`{"jsonrpc":"2.0","id":${JSON.stringify(message.id)},"result":${result}}`);
    if (message.method === "server/discover") return json(JSON.stringify({ supportedVersions: ["2026-07-28"], capabilities: { tools: {} }, resultType: "complete", _meta: { "io.modelcontextprotocol/serverInfo": { name: "s", version: "1" } } }));
    if (message.params?.inputResponses !== undefined) return void (retried.push(text), json(`{"resultType":"complete","content":[]}`));
    const schema = (extra: string) => `{"type":"object","properties":{"n":{"type":"integer"${extra}}}}`;
    if (message.params?.name === "big") return json(`{"resultType":"complete","content":[],"n":${INEXACT}}`);
    if (message.params?.name === "ask-big") return json(`{"resultType":"input_required","inputRequests":{"a":{"method":"elicitation/create","params":{"message":"n?","requestedSchema":${schema(`,"maximum":${INEXACT}`)}}}},"requestState":"s"}`);
    json(`{"resultType":"input_required","inputRequests":{"a":{"method":"elicitation/create","params":{"message":"n?","requestedSchema":${schema("")}}}},"requestState":"s"}`);
  });
  servers.push(server);
  const local = startLocal(["connect", server.url]);
  await local.handshake({ ...INITIALIZE, params: { ...INITIALIZE.params, capabilities: { elicitation: {} } } });
  await answeredInexact(local, 1, "big", "the number at result\\.n");
  await answeredInexact(local, 2, "ask-big", "the number at result\\.inputRequests\\.a\\.params\\.requestedSchema\\.properties\\.n\\.maximum");
  assert.ok(!local.stdout().includes("elicitation/create"), local.stdout());
  local.send(toolCall(3, "ask"));
  const ask = await waitFor(() => local.stdout().split("\n").map((line) => (line.includes("elicitation/create") ? (JSON.parse(line) as { id: unknown }) : undefined)).find(Boolean), "the question");
  local.write(`{"jsonrpc":"2.0","id":${JSON.stringify(ask!.id)},"result":{"action":"accept","content":{"n":${INEXACT}}}}\n`);
  const answer = await local.answer(3);
  assert.equal(answer.error?.code, -32602, JSON.stringify(answer));
  assert.match(answer.error?.message ?? "", /the answer to the server's request for input: the number at result\.content\.n is an integer past 2\^53 - 1/);
  assert.deepEqual(retried, []);
  assert.doesNotMatch(local.stdout(), ROUNDED);
  // A modern local client is passed the answer through, as the server wrote it.
  const modern = startLocal(["connect", server.url]);
  const claim = { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {} };
  modern.send({ jsonrpc: "2.0", id: 0, method: "server/discover", params: { _meta: claim } });
  await modern.answer(0);
  modern.send({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "big", arguments: {}, _meta: claim } });
  await modern.answer(1);
  assert.ok(modern.stdout().includes(`"content":[],"n":${INEXACT}}`), modern.stdout());
});

test("a modern server whose server/discover answer holds a number a double does not carry: a legacy local client's initialize (written from it) fails naming where, a modern one gets it as written", async () => {
  const server = await startRawServer((_req, res, body) => {
    const message = body as { id?: number | string; method: string };
    if (message.id === undefined) return void res.writeHead(202).end();
    const result = message.method === "server/discover" ? `{"supportedVersions":["2026-07-28"],"capabilities":{"tools":{}},"resultType":"complete","_meta":{"io.modelcontextprotocol/serverInfo":{"name":"s","version":"1","build":${INEXACT}}}}` : `{"resultType":"complete"}`;
    res.writeHead(200, { "content-type": "application/json" }).end(`{"jsonrpc":"2.0","id":${JSON.stringify(message.id)},"result":${result}}`);
  });
  servers.push(server);
  const legacy = startLocal(["connect", server.url]);
  legacy.send(INITIALIZE);
  const refused = await legacy.answer(0);
  assert.equal(refused.error?.code, -32603, JSON.stringify(refused));
  assert.match(refused.error?.message ?? "", /server\/discover: the number at result\._meta\["io\.modelcontextprotocol\/serverInfo"\]\.build is an integer past 2\^53 - 1/);
  const modern = startLocal(["connect", server.url]);
  modern.send({ jsonrpc: "2.0", id: 0, method: "server/discover", params: { _meta: { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {} } } });
  await modern.answer(0);
  assert.ok(modern.stdout().includes(`"build":${INEXACT}}`), modern.stdout());
  assert.doesNotMatch(legacy.stdout() + modern.stdout(), ROUNDED);
});

test("a number a double does not carry under keys with a C1 control and of 100 KB: the local client's error names where with the keys escaped and cut, not quoted raw", async () => {
  const keys = `"\\u009b2J":{"${"k".repeat(100_000)}":${INEXACT}}`;
  const server = await legacyServer((res, message) => {
    // In a batch: the answer is serialized again, so it becomes an error naming where.
    res.writeHead(200, { "content-type": "application/json" }).end(`[{"jsonrpc":"2.0","id":${JSON.stringify(message.id)},"result":{"content":[],${keys}}}]`);
  });
  const local = startLocal(["connect", server.url]);
  await local.handshake();
  local.send(toolCall(1, "keys"));
  const answer = await local.answer(1);
  const message: string = answer.error?.message ?? "";
  assert.equal(answer.error?.code, -32603, JSON.stringify(answer).slice(0, 500));
  // eslint-disable-next-line no-control-regex
  assert.doesNotMatch(message, /[\u0000-\u001f\u007f-\u009f]/);
  assert.ok(message.length < 1_000, `${message.length} characters`);
  assert.ok(message.includes('the number at result["\\x9b2J"]["kkkk'), message);
  assert.ok(message.includes("…(100000 characters)]"), message);
});

test("batches of 20,000 notifications, one holding a number a double does not carry: from the remote server refused unread (one message per request is all an answer needs), from the local client scanned once, not once per message; a request in flight meanwhile is answered, not timed out", { timeout: 400_000 }, async () => {
  const COUNT = 20_000;
  const notification = (n: string) => `{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":{"n":${n}}}}`;
  const notifications = [notification(FAR), ...Array.from({ length: COUNT }, (_, k) => notification(String(k)))].join(",");
  let flooded!: () => void;
  const floodSent = new Promise<void>((resolve) => (flooded = resolve));
  const server = await legacyServer((res, message) => {
    const name = (message as { params?: { name?: string } }).params?.name;
    const answer = `{"jsonrpc":"2.0","id":${JSON.stringify(message.id)},"result":{"content":[]}}`;
    if (name === "flood") return void res.writeHead(200, { "content-type": "application/json" }).end(`[${notifications},${answer}]`, flooded);
    if (name !== "slow") return void res.writeHead(200, { "content-type": "application/json" }).end(answer);
    // Its stream is open (the bridge waits on it, at most client.timeout between chunks) while the batch is read; the answer comes after.
    res.writeHead(200, { "content-type": "text/event-stream" }).write(": open\n\n");
    void floodSent.then(() => setTimeout(() => res.end(`data: ${answer}\n\n`), 500));
  });
  const local = startLocal(["connect", server.url, "--timeout", "10s"]);
  await local.handshake();
  local.send(toolCall(1, "slow"));
  local.send(toolCall(2, "flood"));
  const slow = await local.answer(1, 120_000);
  assert.ok(slow.result, JSON.stringify(slow));
  assert.match((await local.answer(2, 120_000)).error?.message ?? "", /the server's JSON reply is a batch of more than 100 messages/);
  assert.equal(local.stdout().split("notifications/message").length - 1, 0);
  // The local client's batch: each item goes on serialized again, the one holding 1e400 is dropped.
  local.write(`[${notifications}]\n`);
  local.send(toolCall(3, "t"));
  assert.ok((await local.answer(3, 120_000)).result);
  await waitFor(() => /dropped a message of the local client in a batch.*params\.data\.n/.test(local.stderr()) || undefined, "the local client's dropped notification's log line");
  assert.doesNotMatch(local.stdout(), ROUNDED);
});

test("a hostile local client: garbage, an oversized line, more requests than may be in flight, cancellations of nothing, then EOF mid-request", { timeout: 120_000 }, async () => {
  const held: ServerResponse[] = [];
  const server = await legacyServer((res) => held.push(res));
  const local = startLocal(["connect", server.url]);
  local.send(INITIALIZE);
  await local.answer(0);
  local.write("{not json\n");
  local.write(`${"x".repeat(65 * 1024 * 1024)}\n`);
  local.send({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: "never-sent" } });
  // The server holds every call: the 1,001st and later are refused at once, the first 1,000 wait.
  for (let id = 1; id <= 1_010; id++) local.send({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "slow", arguments: {} } });
  assert.match((await local.answer(1_001)).error?.message ?? "", /more than 1000 requests in flight/);
  assert.match((await local.answer(1_010)).error?.message ?? "", /more than 1000 requests in flight/);
  await waitFor(() => held.length === 1_000, "the 1,000 calls at the server");
  const errors = local.stdout().split("\n").filter(Boolean).map((line) => JSON.parse(line) as { id: unknown; error?: { code: number; message: string } });
  assert.ok(errors.some((message) => message.id === null && message.error?.code === -32700), "the garbage line is a parse error");
  assert.ok(errors.some((message) => message.id === null && /exceeds \d+ bytes/.test(message.error?.message ?? "")), "the oversized line is refused");
  // EOF with 1,000 calls in flight, the local client slow to read: a clean exit, each call answered.
  assert.equal(await local.end(3_000), 0);
  const answered = new Set(local.stdout().split("\n").filter(Boolean).map((line) => (JSON.parse(line) as { id: unknown }).id));
  assert.ok(Array.from({ length: 1_000 }, (_, i) => i + 1).every((id) => answered.has(id)), "every call in flight got an answer before the exit");
  for (const res of held) res.destroy();
});

for (const runtime of ["node", "deno"] as const) {
  test(`under ${runtime}, a redirect to another origin is not followed: nothing (no token, no configured header, no message) reaches it`, { timeout: 120_000 }, async () => {
    const elsewhere: string[] = [];
    const thief = await startRawServer((req, res) => {
      elsewhere.push(`${req.method} ${req.url} ${JSON.stringify(req.headers)}`);
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
    servers.push(thief);
    const server = await startRawServer((_req, res) => res.writeHead(307, { location: thief.url }).end());
    servers.push(server);
    const command = runtime === "deno" ? [DENO, "run", "-A", join(ROOT, "src", "main.ts")] : undefined;
    const local = startLocal(["connect", server.url, "--token-env", "TOKEN", "--header", "X-Api-Key: key-REDIRECTED-1"], { TOKEN: "tok-REDIRECTED-1", DENO_NO_UPDATE_CHECK: "1" }, command);
    local.send(INITIALIZE);
    assert.match((await local.answer(0, 60_000)).error?.message ?? "", /HTTP 307/);
    assert.deepEqual(elsewhere, []);
  });
}

test("a GET stream the server ends at once asking retry: 0, or a retry too long for a timer: reopened at a bounded pace, with no listener piling up", { timeout: 60_000 }, async () => {
  // Each retry value has its own server and bridge: watched side by side.
  await Promise.all(["0", "99999999999"].map(async (retry) => {
    let gets = 0;
    const server = await startRawServer((req, res, body) => {
      if (req.method === "GET") {
        gets++;
        return void res.writeHead(200, { "content-type": "text/event-stream" }).end(`retry: ${retry}\n\n`);
      }
      answerAsLegacy(res, body as LegacyMessage);
    });
    servers.push(server);
    const local = startLocal(["connect", server.url]);
    await local.handshake();
    await waitFor(() => gets > 0, "the GET stream");
    const before = gets;
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    // At most one reconnection per 250 ms: 12 in 3 s (a slow machine makes fewer); hundreds before.
    assert.ok(gets - before <= 13, `retry: ${retry}: ${gets - before} GETs in 3 s`);
    assert.doesNotMatch(local.stderr(), /MaxListenersExceededWarning|TimeoutOverflowWarning/);
  }));
});

test("an initialize without params: answered (by the modern server's translation, or the legacy server itself), never a TypeError of the bridge", async () => {
  const legacy = await legacyServer((res) => res.writeHead(500).end());
  const modern = await modernServer({});
  for (const server of [legacy, modern]) {
    const local = startLocal(["connect", server.url]);
    local.send({ jsonrpc: "2.0", id: 0, method: "initialize" });
    const answer = await local.answer(0);
    assert.equal(typeof answer.result?.protocolVersion, "string", JSON.stringify(answer));
    assert.doesNotMatch(local.stderr(), /Cannot read properties/);
  }
});

test("a server/discover probe answered with an event stream that stays silent does not stall era detection past client.timeout", async () => {
  const server = await legacyServer((res) => res.writeHead(500).end());
  const silent = await startRawServer((req, res, body) => {
    // server/discover: headers at once, then nothing, for ever.
    if ((body as { method?: string } | undefined)?.method === "server/discover") return void res.writeHead(200, { "content-type": "text/event-stream" }).write(": open\n\n");
    fetch(server.url, { method: req.method, headers: { "content-type": "application/json" }, body: JSON.stringify(body) }).then(
      async (answer) => res.writeHead(answer.status, Object.fromEntries(answer.headers)).end(await answer.text()),
      () => res.writeHead(502).end(),
    );
  });
  servers.push(silent);
  const local = startLocal(["connect", silent.url, "--timeout", "1s", "--log-level", "info"]);
  local.send(INITIALIZE);
  const answer = await local.answer(0, 30_000);
  assert.equal(answer.result?.serverInfo?.name, "hostile", JSON.stringify(answer));
  assert.match(local.stderr(), /speaks a legacy MCP version/);
});

test("a server answering the GET stream with 404 (it has none) is not re-initialized in a loop", async () => {
  let gets = 0;
  let initializes = 0;
  const server = await startRawServer((req, res, body) => {
    if (req.method === "GET") {
      gets++;
      return void res.writeHead(404).end();
    }
    const message = body as { id?: number | string; method: string };
    if (message.id === undefined) return void res.writeHead(202).end();
    if (message.method === "server/discover") return void res.writeHead(404).end();
    if (message.method === "initialize") initializes++;
    res.writeHead(200, { "content-type": "application/json", "mcp-session-id": `s${initializes}` }).end(JSON.stringify({ jsonrpc: "2.0", id: message.id, result: message.method === "initialize" ? INITIALIZE_RESULT : {} }));
  });
  servers.push(server);
  const local = startLocal(["connect", server.url]);
  await local.handshake();
  await waitFor(() => gets > 0, "the GET stream");
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  local.send({ jsonrpc: "2.0", id: 1, method: "ping" });
  assert.deepEqual((await local.answer(1)).result, {});
  // One session, one GET: hundreds of each per second before.
  assert.equal(initializes, 1);
  assert.ok(gets <= 2, `${gets} GETs`);
});

test("a server that forgets the session whenever its GET stream ends is re-initialized a few times for it, then no longer listened to, not in a loop", async () => {
  let initializes = 0;
  const live = new Set<string>();
  const server = await startRawServer((req, res, body) => {
    const session = String(req.headers["mcp-session-id"] ?? "");
    if (req.method === "GET") {
      if (!live.has(session)) return void res.writeHead(404).end();
      // The stream ends at once, and the session with it (a server behind a balancer without sticky sessions).
      live.delete(session);
      return void res.writeHead(200, { "content-type": "text/event-stream" }).end();
    }
    if (req.method === "DELETE") return void res.writeHead(200).end();
    const message = body as { id?: number | string; method: string };
    if (message.id === undefined) return void res.writeHead(202).end();
    if (message.method === "server/discover") return void res.writeHead(404).end();
    if (message.method === "initialize") live.add(`s${++initializes}`);
    else if (!live.has(session)) return void res.writeHead(404).end();
    res.writeHead(200, { "content-type": "application/json", "mcp-session-id": `s${initializes}` }).end(JSON.stringify({ jsonrpc: "2.0", id: message.id, result: message.method === "initialize" ? INITIALIZE_RESULT : {} }));
  });
  servers.push(server);
  const local = startLocal(["connect", server.url]);
  await local.handshake();
  await waitFor(() => /stopped listening for server messages/.test(local.stderr()), "the bridge to stop listening");
  // One a second without end before.
  const opened = initializes;
  assert.ok(opened <= 1 + 3, `${opened} sessions opened`);
  // Requests are still sent, and answered (this server may forget the new session a request opens before the request comes back).
  local.send({ jsonrpc: "2.0", id: 1, method: "ping" });
  await local.answer(1);
});

test("a reply carrying answers to ids never sent (the bridge's own ask ids too) and the same id twice: the local client gets exactly one answer per request", async () => {
  const server = await legacyServer((res, message) =>
    res.writeHead(200, { "content-type": "application/json" }).end(
      JSON.stringify([
        { jsonrpc: "2.0", id: 99, result: { forged: true } },
        { jsonrpc: "2.0", id: message.id, result: { first: true } },
        { jsonrpc: "2.0", id: message.id, result: { second: true } },
        { jsonrpc: "2.0", id: "mcp-bridge-ask-1", result: {} },
      ]),
    ),
  );
  const local = startLocal(["connect", server.url]);
  await local.handshake();
  local.send({ jsonrpc: "2.0", id: 1, method: "tools/list" });
  assert.deepEqual((await local.answer(1)).result, { first: true });
  local.send({ jsonrpc: "2.0", id: 2, method: "ping" });
  await local.answer(2);
  const ids = local.stdout().split("\n").filter(Boolean).map((line) => (JSON.parse(line) as { id?: unknown }).id);
  assert.deepEqual(ids, [0, 1, 2]);
});

test("HTTP+SSE: an endpoint event naming another origin is refused; nothing is POSTed there", async () => {
  const elsewhere: string[] = [];
  const thief = await startRawServer((req, res) => {
    elsewhere.push(`${req.method} ${req.url} ${req.headers.authorization}`);
    res.writeHead(202).end();
  });
  servers.push(thief);
  const server = await startRawServer((req, res) => {
    if (req.method !== "GET") return void res.writeHead(405).end();
    res.writeHead(200, { "content-type": "text/event-stream" }).write(`event: endpoint\ndata: ${thief.url}?sessionId=1\n\n`);
  });
  servers.push(server);
  const local = startLocal(["connect", server.url, "--transport", "sse", "--token-env", "TOKEN"], { TOKEN: "tok-SSE-ENDPOINT-1" });
  local.send(INITIALIZE);
  assert.match((await local.answer(0)).error?.message ?? "", /the endpoint event names another origin/);
  assert.deepEqual(elsewhere, []);
});

test("a modern server listing ever more tools with x-mcp-header: the bridge remembers the declarations of at most 10,000 (the oldest forgotten)", { timeout: 120_000 }, async () => {
  const TOOLS = 10_001;
  const seen: Record<string, string | undefined> = {};
  const server = await startRawServer((req, res, body) => {
    const message = body as { id?: number | string; method: string; params?: { name?: string } };
    if (message.id === undefined) return void res.writeHead(202).end();
    const inputSchema = { type: "object", properties: { region: { type: "string", "x-mcp-header": "Region" } } };
    let result: object;
    if (message.method === "server/discover") result = { supportedVersions: ["2026-07-28"], capabilities: { tools: {} }, resultType: "complete", ttlMs: 0, cacheScope: "public" };
    else if (message.method === "tools/list") result = { resultType: "complete", tools: Array.from({ length: TOOLS }, (_, i) => ({ name: `t${i}`, inputSchema })) };
    else {
      seen[message.params?.name ?? ""] = req.headers["mcp-param-region"] as string | undefined;
      result = { resultType: "complete", content: [] };
    }
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: message.id, result }));
  });
  servers.push(server);
  const local = startLocal(["connect", server.url]);
  local.send(INITIALIZE);
  await local.answer(0);
  local.send({ jsonrpc: "2.0", id: 1, method: "tools/list" });
  assert.equal((await local.answer(1)).result?.tools?.length, TOOLS);
  for (const [id, name] of [[2, `t${TOOLS - 1}`], [3, "t0"]] as const) {
    local.send({ jsonrpc: "2.0", id, method: "tools/call", params: { name, arguments: { region: "eu" } } });
    await local.answer(id);
  }
  assert.equal(seen[`t${TOOLS - 1}`], "eu");
  assert.equal(seen.t0, undefined, "the oldest declarations were forgotten");
});

test("a modern server's JSON-RPC error on a 401 echoing the token: the local client gets it redacted", async () => {
  const token = "tok-MODERN-ECHO-77aa01";
  const server = await startRawServer((req, res, body) => {
    const message = body as { id?: number | string; method: string };
    if (message.id === undefined) return void res.writeHead(202).end();
    if (message.method === "server/discover") {
      return void res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: message.id, result: { supportedVersions: ["2026-07-28"], capabilities: { tools: {} }, resultType: "complete", ttlMs: 0, cacheScope: "public" } }));
    }
    res.writeHead(401, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: message.id, error: { code: -32001, message: `the token ${req.headers.authorization?.slice(7)} is revoked` } }));
  });
  servers.push(server);
  const local = startLocal(["connect", server.url, "--token-env", "TOKEN"], { TOKEN: token });
  local.send(INITIALIZE);
  await local.answer(0);
  local.send({ jsonrpc: "2.0", id: 1, method: "tools/list" });
  assert.match((await local.answer(1)).error?.message ?? "", /the token \[redacted\] is revoked/);
  assert.ok(!local.stdout().includes(token) && !local.stderr().includes(token));
});

test("an authorization server that is down while the token is due for renewal gets one attempt, not one per request", async () => {
  let tokenCalls = 0;
  const server = await startRawServer((req, res, body) => {
    if (req.url === "/token") {
      tokenCalls++;
      // The first token is due for renewal at once (5 s margin); every renewal fails.
      if (tokenCalls === 1) return void res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ access_token: "at-1", token_type: "Bearer", expires_in: 1, refresh_token: "rt-1" }));
      return void res.writeHead(503, { "content-type": "application/json" }).end(JSON.stringify({ error: "temporarily_unavailable" }));
    }
    answerAsLegacy(res, body as LegacyMessage);
  });
  servers.push(server);
  const origin = new URL(server.url).origin;
  const config = writeConfig({ mode: "client", log: { level: "warn" }, client: { url: server.url, auth: { type: "oauth", oauth: { client_id: "c1", client_secret: "s3cret-value", token_url: `${origin}/token` } } } });
  const local = startLocal(["-c", config]);
  local.send(INITIALIZE);
  await local.answer(0);
  for (let id = 1; id <= 10; id++) {
    local.send({ jsonrpc: "2.0", id, method: "ping" });
    assert.deepEqual((await local.answer(id)).result, {}, "the token in hand is still sent");
  }
  assert.ok(tokenCalls <= 2, `${tokenCalls} token requests for 11 MCP requests`);
});

/**
 * A remote server that refuses every request (401) while the bridge cannot get a token, however it
 * fails: `failing` serves the authorization server's side of it. Each of `requests` local requests
 * is answered with an error; returns what the remote saw and the log.
 */
async function refusedEveryTime(failing: (path: string, origin: string) => unknown, oauth: (origin: string) => Record<string, unknown>, requests = 5) {
  const seen: string[] = [];
  let origin = "";
  const server = await startRawServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://127.0.0.1").pathname;
    seen.push(`${req.method} ${path}`);
    if (path === "/mcp") return void res.writeHead(401, { "www-authenticate": `Bearer resource_metadata="${origin}/.well-known/oauth-protected-resource/mcp"`, "content-type": "application/json" }).end('{"error":"invalid_token"}');
    const answer = failing(path, origin) as { status: number; json: unknown } | undefined;
    if (!answer) return void res.writeHead(404).end();
    res.writeHead(answer.status, { "content-type": "application/json" }).end(JSON.stringify(answer.json));
  });
  servers.push(server);
  origin = new URL(server.url).origin;
  const config = writeConfig({ mode: "client", log: { level: "info" }, client: { url: server.url, transport: "streamable_http", retry: { max_retries: 0 }, auth: { type: "oauth", oauth: { client_id: "c1", client_secret: "s3cret-value", ...oauth(origin) } } } });
  const local = startLocal(["-c", config]);
  for (let id = 0; id < requests; id++) {
    local.send({ ...INITIALIZE, id });
    assert.ok((await local.answer(id)).error, "an error answer");
  }
  return { count: (line: string) => seen.filter((one) => one === line).length, failures: local.stderr().split("\n").filter((line) => line.includes("authorization failed")).length, stderr: local.stderr() };
}

const PRM_PATH = "/.well-known/oauth-protected-resource/mcp";
const prm = (path: string, origin: string) => (path === PRM_PATH ? { status: 200, json: { resource: `${origin}/mcp`, authorization_servers: [origin] } } : undefined);
const asMetadata = (origin: string) => ({ issuer: origin, token_endpoint: `${origin}/token`, token_endpoint_auth_methods_supported: ["client_secret_basic"] });

test("a server that refuses every request while its authorization server cannot be discovered: discovery is not repeated for each request, nor its failure logged", async () => {
  // The authorization server's metadata is down (503 at every location).
  const seen = await refusedEveryTime((path, origin) => prm(path, origin) ?? (path.startsWith("/.well-known/") ? { status: 503, json: {} } : undefined), () => ({}));
  assert.equal(seen.count(`GET ${PRM_PATH}`), 1, seen.stderr);
  assert.equal(seen.failures, 1, seen.stderr);
});

/** An authorization server that refuses the bridge's client (invalid_client). */
const refusingClient = (path: string, origin: string) =>
  prm(path, origin) ?? (path === "/.well-known/oauth-authorization-server" ? { status: 200, json: asMetadata(origin) } : path === "/token" ? { status: 401, json: { error: "invalid_client" } } : undefined);

test("a server that refuses every request while the token endpoint refuses the client: one grant and one discovery, not one per request", async () => {
  const seen = await refusedEveryTime(refusingClient, () => ({}));
  assert.equal(seen.count("POST /token"), 1, seen.stderr);
  assert.equal(seen.count(`GET ${PRM_PATH}`), 1, seen.stderr);
  assert.equal(seen.failures, 1, seen.stderr);
});

test("with token_url, a server that refuses every request while the token endpoint refuses the client: one grant before the first request, not one before each", async () => {
  const seen = await refusedEveryTime(refusingClient, (origin) => ({ token_url: `${origin}/token` }));
  assert.equal(seen.count("POST /token"), 1, seen.stderr);
  assert.equal(seen.failures, 1, seen.stderr);
});

test("a 200 answer that is not JSON and repeats the token: the 'not JSON' error quotes it redacted", async () => {
  const token = "tok-NOT-JSON-5c1d2e";
  const server = await legacyServer((res) => res.writeHead(200, { "content-type": "application/json" }).end(`Welcome, Bearer ${token}!`));
  const local = startLocal(["connect", server.url, "--token-env", "TOKEN"], { TOKEN: token });
  local.send(INITIALIZE);
  await local.answer(0);
  local.send({ jsonrpc: "2.0", id: 1, method: "tools/list" });
  assert.match((await local.answer(1)).error?.message ?? "", /is not JSON: Welcome, Bearer \[redacted\]!/);
  assert.ok(!local.stdout().includes(token) && !local.stderr().includes(token));
});

test("a key in client.url's path stays out of the OAuth source's log lines (authorization failed)", async () => {
  // As some hosted MCP servers hand out: https://host/mcp/<key>/sse.
  const key = "sk-ak-7fa2c9e41b0d4e8aSHOULDNEVER";
  const server = await startRawServer((req, res) => {
    if (req.url === "/token") return void res.writeHead(401, { "content-type": "application/json" }).end('{"error":"invalid_client"}');
    res.writeHead(401, { "content-type": "application/json" }).end('{"error":"invalid_token"}');
  });
  servers.push(server);
  const origin = new URL(server.url).origin;
  const config = writeConfig({ mode: "client", log: { level: "info" }, client: { url: `${origin}/mcp/${key}/sse`, retry: { max_retries: 0 }, auth: { type: "oauth", oauth: { client_id: "c1", client_secret: "s3cret-value", token_url: `${origin}/token` } } } });
  const local = startLocal(["-c", config]);
  local.send(INITIALIZE);
  assert.ok((await local.answer(0)).error, "an error answer");
  assert.match(local.stderr(), /authorization failed .*server=\S*\/mcp\/\[redacted\]\/sse /);
  assert.ok(!local.stderr().includes(key), local.stderr());
});

test("a 404 page repeating the request's path, a key in client.url included: the key reaches neither stderr nor the local client", async () => {
  const key = "sk-ak-1e6f0a9d3c7b42e8SHOULDNEVER";
  // As Express answers a route it does not have.
  const server = await startRawServer((req, res) => void res.writeHead(404, { "content-type": "text/html" }).end(`<pre>Cannot ${req.method} ${req.url}</pre>`));
  servers.push(server);
  const local = startLocal(["connect", `${new URL(server.url).origin}/mcp/${key}/sse?k=${key}`]);
  local.send(INITIALIZE);
  assert.match((await local.answer(0)).error?.message ?? "", /answered HTTP 404: <pre>Cannot \w+ \/mcp\/\[redacted\]\/sse\?k=\[redacted\]<\/pre>/);
  assert.ok(!local.stdout().includes(key) && !local.stderr().includes(key), local.stdout() + local.stderr());
});

test("a key in client.url's path stays out of a discovery failure naming the protected resource metadata's URL", async () => {
  const key = "sk-ak-5d8c2b7e90f14a3cSHOULDNEVER";
  const server = await startRawServer((req, res) => {
    const json = (status: number, value: object) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(value));
    // RFC 9728 §3.1: the metadata's URL holds client.url's path, key included; it names another resource.
    if (req.url === `/.well-known/oauth-protected-resource/mcp/${key}/sse`) return json(200, { resource: "https://elsewhere.example/mcp", authorization_servers: ["https://as.example"] });
    json(401, { error: "invalid_token" });
  });
  servers.push(server);
  const origin = new URL(server.url).origin;
  const config = writeConfig({ mode: "client", log: { level: "info" }, client: { url: `${origin}/mcp/${key}/sse`, transport: "streamable_http", retry: { max_retries: 0 }, auth: { type: "oauth", oauth: { client_id: "c1", client_secret: "s3cret-value" } } } });
  const local = startLocal(["-c", config]);
  local.send(INITIALIZE);
  const error = (await local.answer(0)).error?.message ?? "";
  assert.match(error, /protected resource metadata at \S*\/mcp\/\[redacted\]\/sse" is for "https:\/\/elsewhere\.example\/mcp", not for \S*\/mcp\/\[redacted\]\/sse/, local.stderr());
  assert.ok(!error.includes(key) && !local.stderr().includes(key), local.stderr());
});

test("OAuth against an MCP server on plain http beyond loopback: no token is obtained or sent in clear", async () => {
  const seen: string[] = [];
  let tokenCalls = 0;
  // Reached through HTTP_PROXY: it sees the MCP server's requests in absolute form, as anyone on the path would.
  const proxy = await startRawServer((req, res, body) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    if (url.pathname === "/token") {
      tokenCalls++;
      return void res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ access_token: "at-IN-CLEAR-1", token_type: "Bearer", expires_in: 3600 }));
    }
    seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? "-"}`);
    if (body === undefined) return void res.writeHead(202).end();
    answerAsLegacy(res, body as LegacyMessage);
  });
  servers.push(proxy);
  const tokenUrl = `${new URL(proxy.url).origin}/token`;
  // A key in the URL's path (https://host/mcp/<key>) stays out of the line that says why no token is sent.
  const key = "sk-ak-3b9e0c7d51a24f6eSHOULDNEVER";
  const config = writeConfig({ mode: "client", log: { level: "warn" }, client: { url: `http://mcp.example.test/mcp/${key}`, auth: { type: "oauth", oauth: { client_id: "c1", client_secret: "s3cret-value", token_url: tokenUrl } } } });
  const local = startLocal(["-c", config], { HTTP_PROXY: new URL(proxy.url).origin, NO_PROXY: "127.0.0.1" });
  local.send(INITIALIZE);
  await local.answer(0);
  assert.ok(seen.length > 0 && seen.every((line) => line.startsWith(`POST http://mcp.example.test/mcp/${key} `) && line.endsWith(" -")), seen.join("\n"));
  assert.equal(tokenCalls, 0);
  assert.match(local.stderr(), /plain http.* server=http:\/\/mcp\.example\.test\/mcp\/\[redacted\]/);
  assert.ok(!local.stderr().includes(key), local.stderr());
});

test("a remote server failing every request: each request gets its error, the log says so a few times a minute, not once per request", async () => {
  const server = await legacyServer((res) => res.writeHead(500).end());
  servers.push(server);
  const local = startLocal(["connect", server.url]);
  await local.handshake();
  for (let id = 1; id <= 30; id++) {
    local.send({ jsonrpc: "2.0", id, method: "tools/list" });
    assert.match((await local.answer(id)).error?.message ?? "", /HTTP 500/);
  }
  const lines = local.stderr().match(/request failed/g)?.length ?? 0;
  assert.ok(lines <= 10, `${lines} log lines for 30 failed requests:\n${local.stderr()}`);
});

test("a local client that writes on but never reads stdout: stdin is read no further than stdout is taken", { timeout: 180_000 }, async () => {
  const LIMIT = 64 * 1024 * 1024;
  const server = await legacyServer((res) => res.writeHead(500).end());
  const local = startLocal(["connect", server.url]);
  local.stopReading();
  // Each line gets an error answer of the bridge's own: answers the local client never takes.
  const lines = Buffer.from(`${"{".repeat(1023)}\n`.repeat(128));
  let written = 0;
  while (written < LIMIT) {
    written += lines.length;
    if (!local.write(lines) && !(await local.drained(5_000))) break;
  }
  assert.ok(written < 16 * 1024 * 1024, `the bridge read ${written} bytes of stdin while its answers went unread`);
});

for (const runtime of ["node", "deno"] as const) {
  test(`under ${runtime}, a local client that closes its end of stdout: the bridge ends the remote session and exits cleanly, no EPIPE crash`, { timeout: 120_000 }, async () => {
    let deletes = 0;
    const server = await startRawServer((req, res, body) => {
      if (req.method === "DELETE") {
        deletes++;
        return void res.writeHead(200).end();
      }
      if (req.method === "GET") return void res.writeHead(405).end();
      answerAsLegacy(res, body as LegacyMessage);
    });
    servers.push(server);
    const command = runtime === "deno" ? [DENO, "run", "-A", join(ROOT, "src", "main.ts")] : undefined;
    const local = startLocal(["connect", server.url], { DENO_NO_UPDATE_CHECK: "1" }, command);
    await local.handshake();
    local.closeStdout();
    for (let id = 1; id <= 20; id++) local.send({ jsonrpc: "2.0", id, method: "ping" });
    assert.equal(await local.exited(), 0, local.stderr());
    assert.equal(deletes, 1, "the remote session was ended");
    assert.doesNotMatch(local.stderr(), /EPIPE|BrokenPipe|Unhandled/);
  });
}

test("HTTP+SSE: event streams that never send their endpoint event are each closed when given up, not left open beside the next", { timeout: 60_000 }, async () => {
  let open = 0;
  const server = await startRawServer((req, res) => {
    if (req.method !== "GET") return void res.writeHead(405).end();
    open++;
    res.on("close", () => open--);
    res.writeHead(200, { "content-type": "text/event-stream" }).write(": no endpoint, ever\n\n");
  });
  servers.push(server);
  const local = startLocal(["connect", server.url, "--transport", "sse", "--timeout", "1s"]);
  for (let id = 0; id < 3; id++) {
    local.send({ ...INITIALIZE, id });
    assert.match((await local.answer(id)).error?.message ?? "", /sent no endpoint event within 1000 ms \(client\.timeout\)/);
  }
  await waitFor(() => open === 0, "the server to see every event stream closed");
  assert.doesNotMatch(local.stderr(), /event stream broke/);
});

test("JSON-RPC errors in 200 answers (a JSON body, an SSE event, a modern server's) naming the token it was sent: the local client gets them redacted", async () => {
  const token = "tok-ECHO-200-9d3e1f";
  const refusal = (id: unknown) => ({ jsonrpc: "2.0", id, error: { code: -32000, message: `the token ${token} may not do this`, data: { sent: `Bearer ${token}` } } });
  const json = await legacyServer((res, message) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(refusal(message.id))));
  const sse = await legacyServer((res, message) => res.writeHead(200, { "content-type": "text/event-stream" }).end(`data: ${JSON.stringify(refusal(message.id))}\n\n`));
  const modern = await startRawServer((_req, res, body) => {
    const message = body as { id?: number | string; method: string };
    if (message.id === undefined) return void res.writeHead(202).end();
    const answer = message.method === "server/discover" ? { jsonrpc: "2.0", id: message.id, result: { supportedVersions: ["2026-07-28"], capabilities: { tools: {} }, resultType: "complete", ttlMs: 0, cacheScope: "public" } } : refusal(message.id);
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(answer));
  });
  servers.push(modern);
  for (const server of [json, sse, modern]) {
    const local = startLocal(["connect", server.url, "--token-env", "TOKEN", "--log-level", "debug"], { TOKEN: token });
    await local.handshake();
    local.send({ jsonrpc: "2.0", id: 1, method: "tools/list" });
    const { error } = await local.answer(1);
    assert.match(error?.message ?? "", /the token \[redacted\] may not do this/, JSON.stringify(error));
    assert.equal(error?.data?.sent, "Bearer [redacted]");
    assert.ok(!local.stdout().includes(token) && !local.stderr().includes(token), local.stdout());
  }
});

test("what the bridge's own errors and warnings quote of a 200 answer (a resultType, a content type, a tool's invalid x-mcp-header) naming the credentials it was sent: redacted", async () => {
  const token = "tok-QUOTED-200-7a1c2e";
  const key = "key-QUOTED-200-5b9d4f";
  const modern = await startRawServer((_req, res, body) => {
    const message = body as { id?: number | string; method: string; params?: { name?: string } };
    if (message.id === undefined) return void res.writeHead(202).end();
    if (message.params?.name === "typed") return void res.writeHead(200, { "content-type": `text/x-${token}` }).end("x");
    const result =
      message.method === "server/discover"
        ? { supportedVersions: ["2026-07-28"], capabilities: { tools: {} }, resultType: "complete", ttlMs: 0, cacheScope: "public" }
        : message.method === "tools/list"
          ? { resultType: "complete", tools: [{ name: `tool-${token}`, inputSchema: { type: "object", properties: { a: { type: "string", "x-mcp-header": `bad ${key}` } } } }] }
          : { resultType: `odd-${token}` };
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: message.id, result }));
  });
  servers.push(modern);
  const local = startLocal(["connect", modern.url, "--token-env", "TOKEN", "--header", "X-Api-Key: ${KEY}"], { TOKEN: token, KEY: key });
  await local.handshake();
  local.send({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "odd", arguments: {} } });
  assert.match((await local.answer(1)).error?.message ?? "", /with resultType "odd-\[redacted\]"/);
  local.send({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "typed", arguments: {} } });
  assert.match((await local.answer(2)).error?.message ?? "", /answered with content type "text\/x-\[redacted\]"/);
  local.send({ jsonrpc: "2.0", id: 3, method: "tools/list" });
  assert.deepEqual((await local.answer(3)).result, { tools: [] });
  await waitFor(() => local.stderr().includes("excluded a tool with an invalid x-mcp-header"), "the warning");
  assert.ok(!local.stdout().includes(token) && !local.stderr().includes(token) && !local.stderr().includes(key), `${local.stdout()}\n${local.stderr()}`);
});

test("a server flooding invalid messages (events that are not JSON-RPC, tools with invalid x-mcp-header): a few warnings and a count, not a log line each", { timeout: 120_000 }, async () => {
  const EVENTS = 20_000;
  let streams = 0;
  const legacy = await startRawServer((req, res, body) => {
    if (req.method === "GET") {
      streams++;
      return void res.writeHead(200, { "content-type": "text/event-stream" }).end('data: {"x":1}\n\n'.repeat(EVENTS));
    }
    answerAsLegacy(res, body as LegacyMessage);
  });
  servers.push(legacy);
  const local = startLocal(["connect", legacy.url]);
  await local.handshake();
  // Two streams read to their end: the first's flood is behind the bridge.
  await waitFor(() => streams >= 2, "the GET stream reopened");
  local.send({ jsonrpc: "2.0", id: 1, method: "ping" });
  await local.answer(1);
  const warnings = local.stderr().match(/not JSON-RPC/g)?.length ?? 0;
  assert.ok(warnings > 0 && warnings <= 10, `${warnings} warnings for ${EVENTS} invalid events`);

  const tools = Array.from({ length: 1_000 }, (_, i) => ({ name: `t${i}`, inputSchema: { type: "object", properties: { a: { type: "number", "x-mcp-header": "A" } } } }));
  const modern = await startRawServer((_req, res, body) => {
    const message = body as { id?: number | string; method: string };
    if (message.id === undefined) return void res.writeHead(202).end();
    const result = message.method === "server/discover" ? { supportedVersions: ["2026-07-28"], capabilities: { tools: {} }, resultType: "complete", ttlMs: 0, cacheScope: "public" } : { resultType: "complete", tools };
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: message.id, result }));
  });
  servers.push(modern);
  const other = startLocal(["connect", modern.url]);
  await other.handshake();
  other.send({ jsonrpc: "2.0", id: 1, method: "tools/list" });
  assert.deepEqual((await other.answer(1)).result?.tools, []);
  const excluded = other.stderr().match(/excluded a tool/g)?.length ?? 0;
  assert.ok(excluded > 0 && excluded <= 10, `${excluded} warnings for ${tools.length} invalid tools`);
  // The count comes at the end of the minute, or at exit. Before: lost when the bridge exited sooner.
  other.end();
  assert.equal(await other.exited(), 0);
  assert.match(other.stderr(), /the remote server's invalid messages: lines not logged \(rate limit\).*suppressed/);
});

test("a modern server answering with a resultType the legacy client has no word for: an error naming it, not an empty success", async () => {
  const server = await startRawServer((_req, res, body) => {
    const message = body as { id?: number | string; method: string };
    if (message.id === undefined) return void res.writeHead(202).end();
    const result = message.method === "server/discover" ? { supportedVersions: ["2026-07-28"], capabilities: { tools: {} }, resultType: "complete", ttlMs: 0, cacheScope: "public" } : { resultType: "task", task: { taskId: "t1" } };
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: message.id, result }));
  });
  servers.push(server);
  const local = startLocal(["connect", server.url]);
  await local.handshake();
  local.send({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "slow", arguments: {} } });
  assert.match((await local.answer(1)).error?.message ?? "", /answered tools\/call with resultType "task", which a legacy client cannot be given/);
});

test("a legacy local client setting a log level that does not exist (modern server): refused, and later requests carry no such logLevel", async () => {
  const levels: unknown[] = [];
  const server = await startRawServer((_req, res, body) => {
    const message = body as { id?: number | string; method: string; params?: { _meta?: Record<string, unknown> } };
    if (message.id === undefined) return void res.writeHead(202).end();
    if (message.method !== "server/discover") levels.push(message.params?._meta?.["io.modelcontextprotocol/logLevel"]);
    const result = message.method === "server/discover" ? { supportedVersions: ["2026-07-28"], capabilities: { tools: {}, logging: {} }, resultType: "complete", ttlMs: 0, cacheScope: "public" } : { resultType: "complete", tools: [] };
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: message.id, result }));
  });
  servers.push(server);
  const local = startLocal(["connect", server.url]);
  await local.handshake();
  local.send({ jsonrpc: "2.0", id: 1, method: "logging/setLevel", params: { level: { verbose: true } } });
  const refusal = await local.answer(1);
  assert.equal(refusal.error?.code, -32602);
  assert.match(refusal.error?.message ?? "", /level must be one of debug, info/);
  local.send({ jsonrpc: "2.0", id: 2, method: "logging/setLevel", params: { level: "warning" } });
  assert.deepEqual((await local.answer(2)).result, {});
  local.send({ jsonrpc: "2.0", id: 3, method: "tools/list" });
  await local.answer(3);
  assert.deepEqual(levels, ["warning"]);
});

test("EOF or SIGTERM with a call in flight: the remote server is told it is cancelled, and why (with a session, before its DELETE; without one, it hears of nothing else)", { timeout: 60_000 }, async () => {
  for (const [session, stop] of [[true, "stdin closed"], [false, "stdin closed"], [true, "SIGTERM"]] as const) {
    const seen: string[] = [];
    const held: ServerResponse[] = [];
    const server = await startRawServer((req, res, body) => {
      const message = body as { id?: number | string; method: string; params?: { requestId?: unknown; reason?: unknown } };
      if (req.method === "DELETE") {
        seen.push("DELETE");
        return void res.writeHead(200).end();
      }
      if (req.method === "GET") return void res.writeHead(405).end();
      if (message.method === "notifications/cancelled") seen.push(`cancelled ${JSON.stringify(message.params?.requestId)}: ${String(message.params?.reason)}`);
      if (message.id === undefined) return void res.writeHead(202).end();
      if (message.method === "server/discover") return void res.writeHead(404).end();
      if (message.method === "tools/call") return void held.push(res);
      res.writeHead(200, { "content-type": "application/json", ...(session && { "mcp-session-id": "s1" }) }).end(JSON.stringify({ jsonrpc: "2.0", id: message.id, result: message.method === "initialize" ? INITIALIZE_RESULT : {} }));
    });
    servers.push(server);
    const local = startLocal(["connect", server.url]);
    await local.handshake();
    local.send({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "slow", arguments: {} } });
    await waitFor(() => held.length === 1, "the call at the server");
    assert.equal(await (stop === "SIGTERM" ? local.kill("SIGTERM") : local.end()), 0);
    // Before: "the local client went away", also when the bridge was stopped by a signal.
    const cancelled = `cancelled 1: mcp-bridge is shutting down: ${stop}`;
    assert.deepEqual(seen, session ? [cancelled, "DELETE"] : [cancelled]);
    assert.match((await local.answer(1)).error?.message ?? "", /mcp-bridge:/);
    for (const res of held) res.destroy();
  }
});

test("stopping: a request sent after the first signal is answered at once and never sent; a signal while stopping exits at once, every request answered", { timeout: 60_000 }, async () => {
  const calls: unknown[] = [];
  const held: ServerResponse[] = [];
  // The server holds its calls and never takes a cancellation: the bridge's shutdown would wait for it.
  const server = await startRawServer((req, res, body) => {
    const message = body as { id?: number | string; method: string };
    if (req.method === "GET") return void res.writeHead(405).end();
    if (message.method === "notifications/cancelled" || message.method === "tools/call") {
      if (message.method === "tools/call") calls.push(message.id);
      return void held.push(res);
    }
    if (req.method === "DELETE") return void res.writeHead(200).end();
    answerAsLegacy(res, message as LegacyMessage);
  });
  servers.push(server);
  const local = startLocal(["connect", server.url]);
  await local.handshake();
  local.send(toolCall(1, "slow"));
  await waitFor(() => calls.length === 1, "the call at the server");
  const exited = local.kill("SIGINT");
  await waitFor(() => held.length === 2, "the cancellation at the server");
  local.send(toolCall(2, "after"));
  assert.match((await local.answer(2)).error?.message ?? "", /^mcp-bridge: stopped \(SIGINT\) before the remote server answered$/);
  local.kill("SIGTERM").catch(() => {});
  assert.equal(await exited, 1);
  assert.match((await local.answer(1)).error?.message ?? "", /^mcp-bridge: stopped \(SIGINT\) before the remote server answered$/);
  assert.match(local.stderr(), /signal while shutting down: exiting now/);
  assert.deepEqual(calls, [1], "the request after the signal never reached the server");
  assert.equal(local.lines().filter((line) => /"id":[12],/.test(line)).length, 2, "one answer each");
  for (const res of held) res.destroy();
});

test("HTTP+SSE: a server refusing the new session after its event stream dropped: each stream it opened for one is closed, not left open beside the next", { timeout: 60_000 }, async () => {
  let open = 0;
  const streams: ServerResponse[] = [];
  const server = await startRawServer((req, res, body) => {
    if (req.method === "GET") {
      open++;
      res.on("close", () => open--);
      streams.push(res);
      return void res.writeHead(200, { "content-type": "text/event-stream" }).write(`event: endpoint\ndata: /messages?session=${streams.length}\n\n`);
    }
    const message = body as { id?: number | string; method: string };
    res.writeHead(202).end();
    if (message.id === undefined) return;
    // Answers on the newest stream; every session after the first is refused.
    const answer = message.method !== "initialize" ? { result: {} } : streams.length === 1 ? { result: INITIALIZE_RESULT } : { error: { code: -32000, message: "no new sessions" } };
    streams.at(-1)!.write(`data: ${JSON.stringify({ jsonrpc: "2.0", id: message.id, ...answer })}\n\n`);
  });
  servers.push(server);
  const local = startLocal(["connect", server.url, "--transport", "sse"]);
  await local.handshake();
  streams[0]!.end();
  await waitFor(() => open === 0, "the first stream to close");
  for (let id = 1; id <= 3; id++) {
    local.send({ jsonrpc: "2.0", id, method: "ping" });
    assert.match((await local.answer(id)).error?.message ?? "", /refused the new session: no new sessions/);
  }
  await waitFor(() => open === 0, "the server to see every refused session's stream closed");
});

test("a server forgetting session after session while holding their GET streams open: the stream of a forgotten session is closed when the new one opens", { timeout: 60_000 }, async () => {
  let open = 0;
  let sessions = 0;
  const forgotten = new Set<string>();
  const seenIds = new Set<unknown>();
  const server = await startRawServer((req, res, body) => {
    const session = req.headers["mcp-session-id"] as string | undefined;
    if (req.method === "GET") {
      open++;
      res.on("close", () => open--);
      return void res.writeHead(200, { "content-type": "text/event-stream" }).write(": open\n\n");
    }
    const message = body as { id?: number | string; method: string };
    if (message.method === "server/discover") return void res.writeHead(404).end();
    if (message.method === "initialize") {
      sessions++;
      return void res.writeHead(200, { "content-type": "application/json", "mcp-session-id": `s${sessions}` }).end(JSON.stringify({ jsonrpc: "2.0", id: message.id, result: INITIALIZE_RESULT }));
    }
    // Each call's first POST makes the server forget its session (404); the call's retry, in a new session, is answered.
    if (session && message.method === "tools/list" && !seenIds.has(message.id)) {
      seenIds.add(message.id);
      forgotten.add(session);
    }
    if (session && forgotten.has(session)) return void res.writeHead(404).end();
    if (message.id === undefined) return void res.writeHead(202).end();
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: message.id, result: { tools: [] } }));
  });
  servers.push(server);
  const local = startLocal(["connect", server.url]);
  await local.handshake();
  await waitFor(() => open === 1, "the first GET stream");
  for (let id = 1; id <= 3; id++) {
    local.send({ jsonrpc: "2.0", id, method: "tools/list" });
    assert.deepEqual((await local.answer(id)).result, { tools: [] });
  }
  assert.equal(sessions, 4);
  await waitFor(() => open === 1, "one GET stream open: the newest session's");
});

test("a local client that initializes again: its old session is ended at the server (DELETE), not left to expire", async () => {
  const deleted: unknown[] = [];
  let sessions = 0;
  const server = await startRawServer((req, res, body) => {
    if (req.method === "DELETE") {
      deleted.push(req.headers["mcp-session-id"]);
      return void res.writeHead(200).end();
    }
    if (req.method === "GET") return void res.writeHead(405).end();
    const message = body as { id?: number | string; method: string };
    if (message.id === undefined) return void res.writeHead(202).end();
    if (message.method === "server/discover") return void res.writeHead(404).end();
    if (message.method === "initialize") sessions++;
    res.writeHead(200, { "content-type": "application/json", "mcp-session-id": `s${sessions}` }).end(JSON.stringify({ jsonrpc: "2.0", id: message.id, result: message.method === "initialize" ? INITIALIZE_RESULT : {} }));
  });
  servers.push(server);
  const local = startLocal(["connect", server.url]);
  await local.handshake();
  local.send({ ...INITIALIZE, id: 5 });
  await local.answer(5);
  await waitFor(() => deleted.length === 1, "the first session's DELETE");
  assert.deepEqual(deleted, ["s1"]);
  assert.equal(await local.end(), 0);
  assert.deepEqual(deleted, ["s1", "s2"]);
});

test("a modern server's listen stream carrying what was not asked for (another subscription's change and update, a progress or log notification, a request): none of it reaches the legacy local client; a sub-resource's update does", async () => {
  const note = (method: string, params: Record<string, unknown> = {}) => `data: ${JSON.stringify({ jsonrpc: "2.0", method, params })}\n\n`;
  const ours = { _meta: { "io.modelcontextprotocol/subscriptionId": "mcp-bridge-listen" } };
  const server = await startRawServer((_req, res, body) => {
    const message = body as { id?: number | string; method: string; params?: { notifications?: { resourceSubscriptions?: string[] } } };
    if (message.id === undefined) return void res.writeHead(202).end();
    if (message.method === "subscriptions/listen") {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(note("notifications/subscriptions/acknowledged", ours));
      if (!message.params?.notifications?.resourceSubscriptions?.includes("file:///a")) return;
      res.write(note("notifications/tools/list_changed", { _meta: { "io.modelcontextprotocol/subscriptionId": "someone-else" } }));
      res.write(note("notifications/progress", { progressToken: 1, progress: 1 }));
      res.write(note("notifications/message", { level: "error", data: "stray" }));
      res.write(note("notifications/resources/updated", { uri: "file:///a", _meta: { "io.modelcontextprotocol/subscriptionId": "someone-else" } }));
      res.write(`data: ${JSON.stringify({ jsonrpc: "2.0", id: "srv-1", method: "roots/list" })}\n\n`);
      res.write(note("notifications/tools/list_changed", ours));
      res.write(note("notifications/resources/updated", { uri: "file:///a/sub", ...ours }));
      res.write(note("notifications/resources/updated", { uri: "file:///a", ...ours }));
      return;
    }
    const result = message.method === "server/discover" ? { supportedVersions: ["2026-07-28"], capabilities: { tools: { listChanged: true }, resources: { subscribe: true } }, resultType: "complete", ttlMs: 0, cacheScope: "public" } : { resultType: "complete" };
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: message.id, result }));
  });
  servers.push(server);
  const local = startLocal(["connect", server.url]);
  await local.handshake({ ...INITIALIZE, params: { ...INITIALIZE.params, capabilities: { roots: {} } } });
  local.send({ jsonrpc: "2.0", id: 1, method: "resources/subscribe", params: { uri: "file:///a" } });
  assert.deepEqual((await local.answer(1)).result, {});
  await waitFor(() => local.stdout().includes('"uri":"file:///a",'), "the subscribed resource's update");
  const heard = local.lines().map((line) => JSON.parse(line) as { method?: string; params?: { uri?: string } }).filter((message) => message.method !== undefined);
  assert.deepEqual(heard.map((message) => `${message.method} ${message.params?.uri ?? ""}`.trim()), ["notifications/tools/list_changed", "notifications/resources/updated file:///a/sub", "notifications/resources/updated file:///a"], local.stdout());
  assert.match(local.stderr(), /dropped a message on the listen stream that was not asked for/);
});

test("a modern server that never acknowledges subscriptions/listen: the first resources/subscribe waits client.timeout for it, later ones are not held up again", { timeout: 90_000 }, async () => {
  let listens = 0;
  const server = await startRawServer((_req, res, body) => {
    const message = body as { id?: number | string; method: string };
    if (message.id === undefined) return void res.writeHead(202).end();
    // Opened, and silent for ever.
    if (message.method === "subscriptions/listen") return void (listens++, res.writeHead(200, { "content-type": "text/event-stream" }).write(": open\n\n"));
    const result = message.method === "server/discover" ? { supportedVersions: ["2026-07-28"], capabilities: { resources: { subscribe: true } }, resultType: "complete", ttlMs: 0, cacheScope: "public" } : { resultType: "complete" };
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: message.id, result }));
  });
  servers.push(server);
  const local = startLocal(["-c", writeConfig({ mode: "client", client: { url: server.url, timeout: "12s" } })]);
  await local.handshake();
  local.send({ jsonrpc: "2.0", id: 1, method: "resources/subscribe", params: { uri: "file:///1" } });
  assert.deepEqual((await local.answer(1, 60_000)).result, {});
  // Before, each of these waited the 12 s again.
  for (const id of [2, 3, 4]) {
    local.send({ jsonrpc: "2.0", id, method: "resources/subscribe", params: { uri: `file:///${id}` } });
    assert.deepEqual((await local.answer(id, 6_000)).result, {});
  }
  await waitFor(() => listens >= 4, "a listen stream for each subscription");
});

test("a legacy local client subscribing to ever new resources (modern server): at most 1,000 subscriptions at once, the next refused until one is dropped", { timeout: 120_000 }, async () => {
  let largest = 0;
  const server = await startRawServer((_req, res, body) => {
    const message = body as { id?: number | string; method: string; params?: { notifications?: { resourceSubscriptions?: unknown[] } } };
    if (message.id === undefined) return void res.writeHead(202).end();
    if (message.method === "subscriptions/listen") {
      largest = Math.max(largest, message.params?.notifications?.resourceSubscriptions?.length ?? 0);
      return void res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: message.id, error: { code: -32603, message: "not now" } }));
    }
    const result = message.method === "server/discover" ? { supportedVersions: ["2026-07-28"], capabilities: { resources: { subscribe: true } }, resultType: "complete", ttlMs: 0, cacheScope: "public" } : { resultType: "complete" };
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: message.id, result }));
  });
  servers.push(server);
  const local = startLocal(["connect", server.url]);
  await local.handshake();
  for (let id = 1; id <= 1_001; id++) local.send({ jsonrpc: "2.0", id, method: "resources/subscribe", params: { uri: `file:///r${id}` } });
  assert.match((await local.answer(1_001, 60_000)).error?.message ?? "", /already subscribed to 1000 resources; unsubscribe from one first/);
  assert.deepEqual((await local.answer(1_000, 60_000)).result, {});
  local.send({ jsonrpc: "2.0", id: 1_002, method: "resources/unsubscribe", params: { uri: "file:///r1" } });
  await local.answer(1_002);
  local.send({ jsonrpc: "2.0", id: 1_003, method: "resources/subscribe", params: { uri: "file:///r1001" } });
  assert.deepEqual((await local.answer(1_003)).result, {});
  assert.ok(largest <= 1_000, `a listen request carried ${largest} subscriptions`);
});

test("a batch whose answers add up to more than a message may hold: the array stays within the limit, the answer that does not fit becomes an error", { timeout: 120_000 }, async () => {
  // Two answers of 5 MiB: each fits in a message of 8 MiB (client.max_message_size), both together do not.
  const big = "x".repeat(5 * 1024 * 1024);
  const server = await legacyServer((res, message) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: message.id, result: { content: [{ type: "text", text: big }] } })));
  const local = startLocal(["-c", writeConfig({ mode: "client", log: { level: "warn" }, client: { url: server.url, max_message_size: "8MiB" } })]);
  await local.handshake();
  local.send([1, 2].map((id) => ({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "big", arguments: {} } })));
  const line = (await waitFor(() => local.lines().find((text) => text.startsWith("[")), "the batch's answer", 90_000)) as string;
  assert.ok(line.length <= 8 * 1024 * 1024, `a line of ${line.length} characters`);
  const answers = JSON.parse(line) as Array<{ id: number; result?: { content: Array<{ text: string }> }; error?: { message: string } }>;
  assert.deepEqual(answers.map((answer) => answer.id).sort(), [1, 2]);
  assert.equal(answers.filter((answer) => answer.result?.content[0]?.text.length === big.length).length, 1);
  assert.match(answers.find((answer) => answer.error)?.error?.message ?? "", /does not fit in the batch's reply/);
});

test("reply streams the server keeps open after their answer (legacy and modern): the answer is delivered and the stream closed, not held for ever", async () => {
  for (const era of ["legacy", "modern"] as const) {
    let open = 0;
    const server = await startRawServer((req, res, body) => {
      const message = body as { id?: number | string; method: string };
      if (req.method === "GET") return void res.writeHead(405).end();
      if (message.id === undefined) return void res.writeHead(202).end();
      if (message.method === "server/discover" && era === "legacy") return void res.writeHead(404).end();
      if (message.method === "server/discover") {
        return void res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: message.id, result: { supportedVersions: ["2026-07-28"], capabilities: { tools: {} }, resultType: "complete", ttlMs: 0, cacheScope: "public" } }));
      }
      if (message.method === "initialize") return void res.writeHead(200, { "content-type": "application/json", "mcp-session-id": "s1" }).end(JSON.stringify({ jsonrpc: "2.0", id: message.id, result: INITIALIZE_RESULT }));
      open++;
      res.on("close", () => open--);
      res.writeHead(200, { "content-type": "text/event-stream" }).write(`data: ${JSON.stringify({ jsonrpc: "2.0", id: message.id, result: { resultType: "complete", tools: [] } })}\n\n`);
    });
    servers.push(server);
    const local = startLocal(["connect", server.url]);
    await local.handshake();
    for (let id = 1; id <= 3; id++) {
      local.send({ jsonrpc: "2.0", id, method: "tools/list" });
      assert.deepEqual((await local.answer(id)).result?.tools, [], era);
    }
    await waitFor(() => open === 0, `the ${era} server to see every reply stream closed`);
  }
});

test("a reply stream that ends before its answer and, resumed, replays the same event every time: the request fails after a few resumptions, not resumed for ever", { timeout: 60_000 }, async () => {
  let resumptions = 0;
  const event = `id: e1\nretry: 250\ndata: ${JSON.stringify({ jsonrpc: "2.0", method: "notifications/progress", params: { progressToken: 1, progress: 1 } })}\n\n`;
  const server = await startRawServer((req, res, body) => {
    if (req.method === "GET") {
      if (req.headers["last-event-id"] === undefined) return void res.writeHead(405).end();
      resumptions++;
      return void res.writeHead(200, { "content-type": "text/event-stream" }).end(event);
    }
    const message = body as LegacyMessage;
    if (message.method !== "tools/call") return answerAsLegacy(res, message);
    res.writeHead(200, { "content-type": "text/event-stream" }).end(event);
  });
  servers.push(server);
  const local = startLocal(["connect", server.url]);
  await local.handshake();
  local.send({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "x", arguments: {}, _meta: { progressToken: 1 } } });
  assert.match((await local.answer(1)).error?.message ?? "", /resuming it brought no new event 3 times/);
  assert.equal(resumptions, 3);
});

test("a server assigning a session id that is not visible ASCII (UTF-8, a space, a control, 5,000 characters): initialize fails naming the problem, the id quoted short, and the bridge serves on", { timeout: 60_000 }, async () => {
  const huge = "h".repeat(5_000);
  // Header values go out as bytes: a Latin-1 string sends the UTF-8 of "séance" as it is.
  const bad: Record<string, string> = { utf8: Buffer.from("séance-1", "utf8").toString("latin1"), space: "s 1", control: "s\t1", long: huge };
  const server = await startRawServer((req, res, body) => {
    const message = body as { id?: number; method: string; params?: { clientInfo?: { name?: string } } };
    if (req.method !== "POST") return void res.writeHead(405).end();
    if (message.method === "initialize") {
      const session = bad[message.params?.clientInfo?.name ?? ""] ?? "s1";
      return void res.writeHead(200, { "content-type": "application/json", "mcp-session-id": session }).end(JSON.stringify({ jsonrpc: "2.0", id: message.id, result: INITIALIZE_RESULT }));
    }
    answerAsLegacy(res, message as LegacyMessage);
  });
  servers.push(server);
  const local = startLocal(["connect", server.url]);
  const expected: Record<string, RegExp> = {
    utf8: /Mcp-Session-Id holds characters other than visible ASCII \(0x21-0x7E\), so the session cannot be used.*"s\\xc3\\xa9ance-1"/,
    space: /Mcp-Session-Id holds characters other than visible ASCII.*"s\\x201"/,
    control: /Mcp-Session-Id holds characters other than visible ASCII.*"s\\x091"/,
    long: /Mcp-Session-Id is longer than 1024 characters.*"h{40}… \(5000 characters\)"/,
  };
  let id = 0;
  for (const [name, pattern] of Object.entries(expected)) {
    local.send({ ...INITIALIZE, id: ++id, params: { ...INITIALIZE.params, clientInfo: { name, version: "1" } } });
    const answer = await local.answer(id);
    assert.match(answer.error?.message ?? "", pattern, JSON.stringify(answer));
  }
  assert.ok(!local.stdout().includes(huge) && !local.stderr().includes(huge), "the long id was quoted whole");
  // Logged once each.
  assert.equal(local.stderr().match(/Mcp-Session-Id/g)?.length, 4, local.stderr());
  // A valid id after all that: the session works.
  await local.handshake();
  local.send({ jsonrpc: "2.0", id: 10, method: "ping" });
  assert.deepEqual((await local.answer(10)).result, {});
});

test("a request refused (401) while a renewal ahead of expiry is on its way: that renewal serves it, the refresh token is never presented twice (reuse revokes the grant)", async () => {
  // Every token is due for renewal at once (expires_in 1 s), so each request renews; refresh tokens rotate and are good once.
  const presented: string[] = [];
  const live = new Set<string>();
  let issued = 0;
  let refuseHeld: (() => void) | undefined;
  let answerRenewal: (() => void) | undefined;
  let held = false;
  const issue = (res: ServerResponse) => {
    issued++;
    live.add(`rt-${issued}`);
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ access_token: `at-${issued}`, token_type: "Bearer", expires_in: 1, refresh_token: `rt-${issued}` }));
  };
  const as = createServer((req, res) => {
    let text = "";
    req.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
    req.on("end", () => {
      const form = new URLSearchParams(text);
      if (form.get("grant_type") === "client_credentials") return issue(res);
      const token = form.get("refresh_token") ?? "";
      presented.push(token);
      if (!live.delete(token)) return void res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ error: "invalid_grant", error_description: "refresh token reused" }));
      if (!refuseHeld) return issue(res);
      // The renewal started while the server holds a request sent with the token it replaces: the server refuses that request now,
      // and this renewal is answered only once the bridge has taken up that refusal (below), so the refusal always finds it on its way.
      refuseHeld();
      refuseHeld = undefined;
      answerRenewal = () => issue(res);
    });
  });
  await new Promise<void>((resolve) => as.listen(0, "127.0.0.1", resolve));
  after(() => void as.close());
  const server = await startRawServer((req, res, body) => {
    if (req.method !== "POST") return void res.writeHead(405).end();
    const message = body as LegacyMessage & { params?: { name?: string } };
    if (!/^Bearer at-\d+$/.test(req.headers.authorization ?? "")) return void res.writeHead(401, { "www-authenticate": 'Bearer error="invalid_token"' }).end();
    if (message.method === "tools/call" && message.params?.name === "held" && !held) {
      held = true;
      refuseHeld = () => void res.writeHead(401, { "www-authenticate": 'Bearer error="invalid_token"' }).end();
      return;
    }
    answerAsLegacy(res, message);
  });
  servers.push(server);
  const config = writeConfig({ mode: "client", log: { level: "debug" }, client: { url: server.url, auth: { type: "oauth", oauth: { client_id: "c1", client_secret: "s3cret-value", token_url: `http://127.0.0.1:${(as.address() as AddressInfo).port}/token` } } } });
  const local = startLocal(["-c", config]);
  await local.handshake();
  local.send(toolCall(1, "held"));
  await waitFor(() => held, "the held request at the server");
  local.send({ jsonrpc: "2.0", id: 2, method: "ping" });
  await waitFor(() => answerRenewal && /the remote server refused the token.*renewal_on_its_way=true/.test(local.stderr()), () => `the refusal taken up while the renewal is on its way (stderr: ${local.stderr()})`);
  answerRenewal!();
  assert.deepEqual((await local.answer(2)).result, {}, local.stderr());
  assert.deepEqual((await local.answer(1)).result, {}, local.stderr());
  assert.deepEqual(
    presented.filter((token, index) => presented.indexOf(token) !== index),
    [],
    `refresh tokens presented again: ${presented.join(", ")}\n${local.stderr()}`,
  );
});

/** A server refusing every request (401) whose authorization server registers clients and would have a person sign in (`tokenEndpoint` answers what it takes); the cache file client mode keeps for it in a new directory. */
async function signInServer(tokenEndpoint?: (req: IncomingMessage, res: ServerResponse) => boolean): Promise<{ server: TestServer; cacheDir: string; cacheFile: string }> {
  const server = await startRawServer((req, res) => {
    const origin = `http://${req.headers.host}`;
    if (tokenEndpoint?.(req, res)) return;
    const json = (status: number, value: object) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(value));
    if (req.url === PRM_PATH) return json(200, { resource: `${origin}/mcp`, authorization_servers: [origin] });
    if (req.url === "/.well-known/oauth-authorization-server") {
      return json(200, { issuer: origin, authorization_endpoint: `${origin}/authorize`, token_endpoint: `${origin}/token`, registration_endpoint: `${origin}/register`, code_challenge_methods_supported: ["S256"] });
    }
    if (req.url === "/register") return json(201, { client_id: "registered" });
    res.writeHead(401, { "www-authenticate": `Bearer resource_metadata="${origin}${PRM_PATH}"` }).end();
  });
  servers.push(server);
  const cacheDir = mkdtempSync(join(tmpdir(), "mcp-bridge-cache-"));
  return { server, cacheDir, cacheFile: join(cacheDir, `oauth-${createHash("sha256").update(server.url).digest("hex").slice(0, 32)}.json`) };
}

/** Client mode signing a person in to `server` with its token cache in `cacheDir`, the URL only printed; resolves once it asks for the sign-in (or has stopped). */
async function startSignIn(server: TestServer, cacheDir: string): Promise<RawLocal> {
  const config = writeConfig({ mode: "client", log: { level: "info" }, client: { url: server.url, auth: { type: "oauth", oauth: { token_cache: cacheDir, browser_command: "none" } } } });
  const local = startLocal(["-c", config]);
  local.send(INITIALIZE);
  await waitFor(() => local.stderr().includes("sign-in required") || local.stderr().includes("mcp-bridge: "), `the sign-in (stderr: ${local.stderr()})`);
  return local;
}

test("a token cache whose entry is not in the form the bridge writes (edited by hand, another program's): ignored with a warning, the person signs in again; the bridge does not fail at start", async () => {
  const { server, cacheDir, cacheFile } = await signInServer();
  const origin = new URL(server.url).origin;
  const as = { issuer: origin, token_endpoint: `${origin}/token` };
  const malformed: Record<string, unknown>[] = [
    { as, resource: server.url, tokens: {} },
    { as, resource: server.url, tokens: { accessToken: "at-1", obtainedAt: 0, scopes: null } },
    { as, resource: server.url, tokens: { accessToken: 7, obtainedAt: 0, scopes: [] } },
    { as, resource: server.url, registration: { clientId: "c" } },
    { as: { issuer: origin, token_endpoint: 5 }, resource: server.url },
    { as, resource: server.url, tokens: { accessToken: "at 1\n", obtainedAt: 0, scopes: [] } },
  ];
  for (const entry of malformed) {
    writeFileSync(cacheFile, JSON.stringify({ version: 1, serverUrl: server.url, current: origin, issuers: { [origin]: entry } }), { mode: 0o600 });
    const local = await startSignIn(server, cacheDir);
    assert.match(local.stderr(), /token cache entries ignored: not in the form this version writes/, local.stderr());
    assert.match(local.stderr(), /sign-in required/, local.stderr());
    await local.kill("SIGTERM");
  }
});

test("discovery answers carrying terminal escapes (ESC, C1 CSI), a bidi override and pages of text in what an error quotes: the local client's error and the log carry them escaped and cut", async () => {
  const hostile = "\u009b2J\u001b]0;pwned\u0007\u2028\u202e";
  const page = "A".repeat(100_000);
  const prmFor = (origin: string, fields: Record<string, unknown> = {}) => ({ resource: `${origin}/mcp`, authorization_servers: [origin], ...fields });
  const asFor = (origin: string, fields: Record<string, unknown> = {}) => ({ issuer: origin, token_endpoint: `${origin}/token`, code_challenge_methods_supported: ["S256"], ...fields });
  const cases: { name: string; answer: (path: string, origin: string) => object | undefined; args?: string[]; expected: RegExp }[] = [
    { name: "AS metadata naming another issuer", answer: (path, origin) => (path === PRM_PATH ? prmFor(origin) : path === "/.well-known/oauth-authorization-server" ? asFor(origin, { issuer: hostile + page }) : undefined), expected: /names issuer "\\x9b2J\\u001b\]0;pwned\\u0007\\u2028\\u202eA+"…\(100015 characters\), not/ },
    { name: "PRM naming an authorization server that is no URL", answer: (path, origin) => (path === PRM_PATH ? prmFor(origin, { authorization_servers: [hostile + page] }) : undefined), expected: /authorization server issuer "\\x9b2J.*"…\(100015 characters\) is not an https URL/ },
    { name: "PRM whose resource is an array", answer: (path) => (path === PRM_PATH ? { resource: [hostile, page], authorization_servers: [] } : undefined), expected: /is for \(array\), not for/ },
    { name: "AS metadata with a token endpoint that is no URL", answer: (path, origin) => (path === PRM_PATH ? prmFor(origin) : path === "/.well-known/oauth-authorization-server" ? asFor(origin, { token_endpoint: hostile + page }) : undefined), expected: /token_endpoint "\\x9b2J.*"…\(100015 characters\) is not an https URL/ },
    {
      name: "an issuer with C1 controls in its path, without S256 (a person signing in)",
      answer: (path, origin) => (path === PRM_PATH ? prmFor(origin, { authorization_servers: [`${origin}/${hostile}`] }) : path.startsWith("/.well-known/oauth-authorization-server/") ? asFor(origin, { issuer: `${origin}/${hostile}`, code_challenge_methods_supported: ["plain"] }) : undefined),
      args: ["--browser-command", "none"],
      expected: /the authorization server "http:\/\/127\.0\.0\.1:\d+\/\\x9b2J\\u001b\]0;pwned\\u0007\\u2028\\u202e" does not advertise PKCE S256/,
    },
  ];
  for (const { name, answer, args, expected } of cases) {
    const server = await startRawServer((req, res) => {
      const origin = `http://${req.headers.host}`;
      const path = new URL(req.url ?? "/", origin).pathname;
      const json = answer(path, origin);
      if (json) return void res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(json));
      if (path.startsWith("/.well-known/")) return void res.writeHead(404).end();
      res.writeHead(401, { "www-authenticate": `Bearer resource_metadata="${origin}${PRM_PATH}"` }).end();
    });
    servers.push(server);
    const local = startLocal(["connect", server.url, "--transport", "streamable_http", ...(args ?? ["--client-id", "c1", "--client-secret-env", "SECRET"]), "--log-level", "info"], { SECRET: "s3cret-value" });
    local.send(INITIALIZE);
    const message: string = (await local.answer(0, 10_000).catch((error: Error) => assert.fail(`${name}: ${error.message}\n${local.stderr()}`))).error?.message ?? "";
    assert.match(message, expected, `${name}: ${message.slice(0, 2000)}`);
    assert.ok(message.length < 2_000, `${name}: ${message.length} characters`);
    assert.doesNotMatch(message, /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202e]/, name);
    assert.doesNotMatch(local.stderr(), /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202e]/, name);
    await local.kill("SIGTERM");
  }
});

test("a token endpoint answering an access token no header can carry (a newline, a space): refused as such, never sent, so not kept until it expires", async () => {
  for (const accessToken of ["at-1\nX-Injected: yes", "at 1", "at-\u00e9"]) {
    let tokenCalls = 0;
    const server = await startRawServer((req, res, body) => {
      if (req.url === "/token") {
        tokenCalls++;
        return void res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ access_token: accessToken, token_type: "Bearer", expires_in: 3600 }));
      }
      if (req.method !== "POST" || !/^Bearer \S+$/.test(req.headers.authorization ?? "")) return void res.writeHead(401, { "www-authenticate": 'Bearer error="invalid_token"' }).end();
      answerAsLegacy(res, body as LegacyMessage);
    });
    servers.push(server);
    const origin = new URL(server.url).origin;
    const config = writeConfig({ mode: "client", log: { level: "warn" }, client: { url: server.url, transport: "streamable_http", auth: { type: "oauth", oauth: { client_id: "c1", client_secret: "s3cret-value", token_url: `${origin}/token` } } } });
    const local = startLocal(["-c", config]);
    for (let id = 0; id < 3; id++) {
      local.send({ ...INITIALIZE, id });
      assert.match((await local.answer(id)).error?.message ?? "", /the token endpoint answered an access_token no Authorization header can carry/, local.stderr());
    }
    assert.equal(tokenCalls, 1, "one grant, then the pause after a failure");
    await local.kill("SIGTERM");
  }
});

test("a FIFO, or a link to /dev/zero, in the token cache's place: not read (it would never end), ignored with a warning, the person signs in", { skip: process.platform === "win32" }, async () => {
  for (const plant of [(path: string) => execFileSync("mkfifo", ["-m", "600", path]), (path: string) => symlinkSync("/dev/zero", path)]) {
    const { server, cacheDir, cacheFile } = await signInServer();
    plant(cacheFile);
    const local = await startSignIn(server, cacheDir);
    assert.match(local.stderr(), /token cache ignored: it is not a regular file/, local.stderr());
    assert.match(local.stderr(), /sign-in required/, local.stderr());
    await local.kill("SIGTERM");
  }
});

test("a token cache file the bridge does not use says why, once, naming the file and its limit, never its content — the person is not asked to sign in again with no reason", async () => {
  const secret = "at-secret-never-logged-0123456789";
  const { server, cacheDir, cacheFile } = await signInServer();
  const origin = new URL(server.url).origin;
  const entry = { as: { issuer: origin, token_endpoint: `${origin}/token` }, resource: server.url, tokens: { accessToken: secret, refreshToken: `rt-${secret}`, obtainedAt: 0, scopes: [] } };
  const cache = (fields: Record<string, unknown> = {}) => JSON.stringify({ version: 1, serverUrl: server.url, current: origin, issuers: { [origin]: entry }, ...fields });
  const tooLarge = /token cache ignored: larger than the 1048576 bytes a cache file may hold; signing in again.*limit_bytes.*1048576/;
  const cases: [name: string, text: string, mode: number, expected: RegExp][] = [
    ["over the 1 MiB limit", cache({ padding: "x".repeat(1024 * 1024) }), 0o600, tooLarge],
    ["beyond the 4 MiB read", cache({ padding: "x".repeat(5 * 1024 * 1024) }), 0o600, tooLarge],
    ["not JSON (cut short)", cache().slice(0, -10), 0o600, /token cache ignored: not JSON; signing in again/],
    ["another version's", cache({ version: 2 }), 0o600, /token cache ignored: written by another version of mcp-bridge/],
    ["another MCP server's", cache({ serverUrl: "https://other.example/mcp" }), 0o600, /token cache ignored: it is for another MCP server/],
    ["no cache at all", JSON.stringify([secret]), 0o600, /token cache ignored: not a cache file of mcp-bridge/],
    ["readable by others", cache(), 0o644, /token cache ignored: it is not private to this user/],
    ["an entry in another form", cache({ issuers: { [origin]: { ...entry, tokens: { accessToken: secret } } } }), 0o600, /token cache entries ignored: not in the form this version writes/],
  ];
  for (const [name, text, mode, expected] of cases) {
    rmSync(cacheFile, { force: true });
    writeFileSync(cacheFile, text, { mode });
    const local = await startSignIn(server, cacheDir);
    const stderr = local.stderr();
    await local.kill("SIGTERM");
    assert.match(stderr, expected, `${name}: ${stderr.slice(0, 3000)}`);
    assert.equal(stderr.match(/token cache (entries )?ignored/g)?.length, 1, `${name}: said once, though the cache is read several times before the sign-in: ${stderr.slice(0, 3000)}`);
    assert.ok(stderr.includes(cacheFile), `${name}: the file is named`);
    assert.ok(!stderr.includes(secret), `${name}: no token in the log`);
    assert.match(stderr, /sign-in required/, name);
  }
});

test("a cached sign-in at an authorization server the MCP server no longer names: said once, naming both issuers, no token, and signed in at the new one", async () => {
  const secret = "at-secret-never-logged-0123456789";
  const { server, cacheDir, cacheFile } = await signInServer();
  const old = "https://old-as.example";
  const entry = { as: { issuer: old, token_endpoint: `${old}/token` }, resource: server.url, registration: { clientId: "old-client", via: "dcr" }, tokens: { accessToken: secret, refreshToken: `rt-${secret}`, obtainedAt: Date.now(), expiresAt: Date.now() + 3_600_000, scopes: [] } };
  writeFileSync(cacheFile, JSON.stringify({ version: 1, serverUrl: server.url, current: old, issuers: { [old]: entry } }), { mode: 0o600 });
  const local = await startSignIn(server, cacheDir);
  const stderr = local.stderr();
  await local.kill("SIGTERM");
  assert.equal(stderr.match(/the server's authorization server changed; registering there anew/g)?.length, 1, stderr);
  assert.match(stderr, new RegExp(`from=${old.replace(/[.]/g, "\\.")} to=${new URL(server.url).origin.replace(/[.]/g, "\\.")}`), stderr);
  assert.ok(!stderr.includes(secret), "no token in the log");
  assert.match(stderr, /sign-in required/);
});

test("the bridge shut down while a refresh is on its way: it waits for the answer and keeps the rotated refresh token (the next start would present the old one: reuse), and leaves no login lock", async () => {
  let refreshes = 0;
  let release: (() => void) | undefined;
  const { server, cacheDir, cacheFile } = await signInServer((req, res) => {
    if (req.url !== "/token") return false;
    // The first refresh (rt-1) is answered once the bridge is shutting down; rt-1 is then spent.
    if (++refreshes === 1) release = () => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ access_token: "at-2", token_type: "Bearer", expires_in: 3600, refresh_token: "rt-2" }));
    else res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ error: "invalid_grant" }));
    return true;
  });
  const origin = new URL(server.url).origin;
  const as = { issuer: origin, token_endpoint: `${origin}/token`, authorization_endpoint: `${origin}/authorize`, code_challenge_methods_supported: ["S256"] };
  // A token about to expire, with its refresh token, from an earlier run.
  const tokens = { accessToken: "at-1", refreshToken: "rt-1", expiresAt: Date.now() + 1000, obtainedAt: Date.now() - 3_600_000, scopes: [] };
  writeFileSync(cacheFile, JSON.stringify({ version: 1, serverUrl: server.url, current: origin, issuers: { [origin]: { as, resource: server.url, registration: { clientId: "registered", via: "dcr", redirectUri: "http://127.0.0.1:1/callback" }, tokens } } }), { mode: 0o600 });
  const config = writeConfig({ mode: "client", log: { level: "info" }, client: { url: server.url, auth: { type: "oauth", oauth: { token_cache: cacheDir, browser_command: "none" } } } });
  const local = startLocal(["-c", config]);
  local.send(INITIALIZE);
  await waitFor(() => release !== undefined, "the refresh at the authorization server");
  const exited = local.end();
  await waitFor(() => local.stderr().includes("shutting down"), "the shutdown");
  release!();
  await exited;
  const cached = JSON.parse(readFileSync(cacheFile, "utf8"));
  assert.equal(cached.issuers[origin].tokens.refreshToken, "rt-2", local.stderr());
  assert.equal(existsSync(`${cacheFile}.lock`), false, "no login lock left behind");
  assert.equal(refreshes, 1);
});

test("an instance started before another signed in, and an authorization server granting fewer scopes than asked: the later 401 takes the tokens that instance cached, no second sign-in (browser)", async () => {
  let authorizations = 0;
  const server = await startRawServer((req, res, body) => {
    const origin = `http://${req.headers.host}`;
    const url = new URL(req.url ?? "/", origin);
    const json = (status: number, value: object) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(value));
    if (url.pathname === PRM_PATH) return json(200, { resource: `${origin}/mcp`, authorization_servers: [origin], scopes_supported: ["mcp:read", "mcp:write"] });
    if (url.pathname === "/.well-known/oauth-authorization-server") {
      return json(200, { issuer: origin, authorization_endpoint: `${origin}/authorize`, token_endpoint: `${origin}/token`, registration_endpoint: `${origin}/register`, code_challenge_methods_supported: ["S256"], authorization_response_iss_parameter_supported: true });
    }
    if (url.pathname === "/register") return json(201, { client_id: "registered" });
    if (url.pathname === "/authorize") {
      // The person signs in at once; the code is for the first scope only.
      authorizations++;
      const callback = new URL(url.searchParams.get("redirect_uri")!);
      callback.search = new URLSearchParams({ code: `code-${authorizations}`, state: url.searchParams.get("state")!, iss: origin }).toString();
      return void res.writeHead(302, { location: callback.href }).end();
    }
    if (url.pathname === "/token") return json(200, { access_token: `at-${authorizations}`, token_type: "Bearer", expires_in: 3600, scope: "mcp:read" });
    if (req.method !== "POST" || !/^Bearer at-\d+$/.test(req.headers.authorization ?? "")) return void res.writeHead(401, { "www-authenticate": `Bearer resource_metadata="${origin}${PRM_PATH}"` }).end();
    answerAsLegacy(res, body as LegacyMessage);
  });
  servers.push(server);
  const config = signingInConfig(server.url, "mcp-bridge-narrow-");
  // The later instance has read the (empty) cache at start; its first request comes once the other has signed in.
  const later = startLocal(["-c", config]);
  await waitFor(() => later.stderr().includes("client mode started"), "the later instance's start");
  const first = startLocal(["-c", config]);
  first.send(INITIALIZE);
  assert.equal((await first.answer(0)).result?.serverInfo?.name, "hostile", first.stderr());
  later.send(INITIALIZE);
  assert.equal((await later.answer(0)).result?.serverInfo?.name, "hostile", later.stderr());
  assert.equal(authorizations, 1, `${first.stderr()}\n${later.stderr()}`);
});

/**
 * A client-mode OAuth config for `url` whose browser follows the authorization server's redirect to
 * the loopback callback at once, as a person signing in would; its token cache in a new directory.
 */
function signingInConfig(url: string, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const browser = join(dir, "browser.mjs");
  writeFileSync(browser, "await fetch(process.argv[2]);\n");
  return writeConfig({ mode: "client", log: { level: "info" }, client: { url, transport: "streamable_http", auth: { type: "oauth", oauth: { token_cache: join(dir, "cache"), browser_command: [process.execPath, browser] } } } });
}

test("sign-ins the person refuses (or abandons): the client registered for the first is used for the next, not one registration per attempt", async () => {
  let registrations = 0;
  let authorizations = 0;
  const server = await startRawServer((req, res) => {
    const origin = `http://${req.headers.host}`;
    const url = new URL(req.url ?? "/", origin);
    const json = (status: number, value: object) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(value));
    if (url.pathname === PRM_PATH) return json(200, { resource: `${origin}/mcp`, authorization_servers: [origin] });
    if (url.pathname === "/.well-known/oauth-authorization-server") {
      return json(200, { issuer: origin, authorization_endpoint: `${origin}/authorize`, token_endpoint: `${origin}/token`, registration_endpoint: `${origin}/register`, code_challenge_methods_supported: ["S256"] });
    }
    if (url.pathname === "/register") return json(201, { client_id: `client-${++registrations}` });
    if (url.pathname === "/authorize") {
      authorizations++;
      const callback = new URL(url.searchParams.get("redirect_uri")!);
      callback.search = new URLSearchParams({ error: "access_denied", state: url.searchParams.get("state")! }).toString();
      return void res.writeHead(302, { location: callback.href }).end();
    }
    res.writeHead(401, { "www-authenticate": `Bearer resource_metadata="${origin}${PRM_PATH}"` }).end();
  });
  servers.push(server);
  const config = signingInConfig(server.url, "mcp-bridge-refused-");
  const local = startLocal(["-c", config]);
  for (let id = 0; id < 2; id++) {
    local.send({ ...INITIALIZE, id });
    assert.match((await local.answer(id)).error?.message ?? "", /refused the sign-in \(access_denied\)/, local.stderr());
  }
  assert.ok(authorizations >= 2, local.stderr());
  assert.equal(registrations, 1, local.stderr());
});

test("a modern server refusing subscriptions/listen with 1 MB of '&keykey…' (a query-parameter name without end): the log line is written and the bridge answers on; a credential in a long query string is still redacted", async () => {
  const secret = "at-secret-never-logged-0123456789";
  const server = await startRawServer((_req, res, body) => {
    const message = body as { id?: number | string; method: string };
    if (message.id === undefined) return void res.writeHead(202).end();
    const discover = { supportedVersions: ["2026-07-28"], capabilities: { tools: { listChanged: true } }, resultType: "complete", _meta: { "io.modelcontextprotocol/serverInfo": { name: "s", version: "1" } } };
    const answer =
      message.method === "server/discover"
        ? { result: discover }
        : message.method === "subscriptions/listen"
          ? { error: { code: -32603, message: `see https://as.example/cb?access_token=${secret}&x=${"a".repeat(5000)}&${"key".repeat(350_000)} =` } }
          : { result: { resultType: "complete", content: [] } };
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: message.id, ...answer }));
  });
  servers.push(server);
  const local = startLocal(["connect", server.url, "--log-level", "info"]);
  await local.handshake();
  await waitFor(() => /refused subscriptions\/listen/.test(local.stderr()) || undefined, "the warning");
  local.send(toolCall(1, "t"));
  assert.ok((await local.answer(1)).result, "answered after the warning");
  assert.match(local.stderr(), /access_token=\[redacted\]&x=a+/);
  assert.ok(!local.stderr().includes(secret));
  await local.kill("SIGTERM");
});

test("terminal escapes (ESC, C1 CSI, OSC), U+2028, a bidi override and 5,000 characters in what the bridge's own errors quote of a remote (error pages, JSON-RPC refusals, bodies that are no JSON, content types, resultType): the local client gets them escaped and cut", { timeout: 120_000 }, async () => {
  const hostile = `\u009b2J\u001b]0;pwned\u0007\u2028\u202eEVIL${"A".repeat(5000)}`;
  const notFound = (id: unknown) => JSON.stringify({ jsonrpc: "2.0", id, error: { code: -32601, message: "Method not found" } });
  const json = (res: ServerResponse, value: unknown, headers: Record<string, string> = {}) => void res.writeHead(200, { "content-type": "application/json", ...headers }).end(JSON.stringify(value));
  type Message = { id?: number | string; method: string };
  const sseStreams: ServerResponse[] = [];
  const cases: { name: string; handler: (req: IncomingMessage, res: ServerResponse, message: Message) => void; args?: string[]; trigger?: (local: RawLocal) => Promise<number> }[] = [
    // An error page is read up to 4 KiB.
    { name: "HTTP 500 with a JSON error", handler: (_req, res, message) => (message.method === "server/discover" ? void res.writeHead(200, { "content-type": "application/json" }).end(notFound(message.id)) : void res.writeHead(500, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: hostile.slice(0, 3000) } }))) },
    { name: "a body that is no JSON", handler: (_req, res, message) => (message.method === "server/discover" ? void res.writeHead(200, { "content-type": "application/json" }).end(notFound(message.id)) : void res.writeHead(200, { "content-type": "application/json" }).end(hostile)) },
    { name: "a content type with C1 controls", handler: (_req, res, message) => (message.method === "server/discover" ? void res.writeHead(200, { "content-type": "application/json" }).end(notFound(message.id)) : void res.writeHead(200, { "content-type": `text/\x9b2J${"x".repeat(5000)}` }).end("{}")) },
    { name: "server/discover refused (a modern error)", handler: (_req, res, message) => json(res, { jsonrpc: "2.0", id: message.id, error: { code: -32020, message: hostile } }) },
    {
      name: "a resultType with no legacy word",
      handler: (_req, res, message) =>
        message.id === undefined
          ? void res.writeHead(202).end()
          : json(res, { jsonrpc: "2.0", id: message.id, result: message.method === "server/discover" ? { supportedVersions: ["2026-07-28"], capabilities: { tools: {} }, resultType: "complete" } : { resultType: hostile } }),
      trigger: async (local) => (await local.handshake(), local.send(toolCall(1, "t")), 1),
    },
    {
      name: "a new Streamable HTTP session refused",
      handler: (req, res, message) => {
        if (message.method === "server/discover") return void res.writeHead(200, { "content-type": "application/json" }).end(notFound(message.id));
        if (message.id === undefined) return void res.writeHead(202).end();
        if (message.method !== "initialize") return void (req.headers["mcp-session-id"] === "s1" ? res.writeHead(404).end() : json(res, { jsonrpc: "2.0", id: message.id, result: {} }));
        if (String(message.id).startsWith("mcp-bridge-reinitialize")) return json(res, { jsonrpc: "2.0", id: message.id, error: { code: -32000, message: hostile } });
        json(res, { jsonrpc: "2.0", id: message.id, result: INITIALIZE_RESULT }, { "mcp-session-id": "s1" });
      },
      trigger: async (local) => (await local.handshake(), local.send({ jsonrpc: "2.0", id: 1, method: "ping" }), 1),
    },
    {
      name: "a new HTTP+SSE session refused",
      handler: (req, res, message) => {
        if (req.method === "GET") {
          sseStreams.push(res);
          return void res.writeHead(200, { "content-type": "text/event-stream" }).write(`event: endpoint\ndata: /messages?session=${sseStreams.length}\n\n`);
        }
        res.writeHead(202).end();
        if (message.id === undefined) return;
        const answer = message.method !== "initialize" ? { result: {} } : sseStreams.length === 1 ? { result: INITIALIZE_RESULT } : { error: { code: -32000, message: hostile } };
        sseStreams.at(-1)!.write(`data: ${JSON.stringify({ jsonrpc: "2.0", id: message.id, ...answer })}\n\n`);
      },
      args: ["--transport", "sse"],
      trigger: async (local) => {
        await local.handshake();
        sseStreams[0]!.end();
        // A ping sent before the bridge saw the stream end fails on it; the next opens a new session.
        for (let id = 1; ; id++) {
          local.send({ jsonrpc: "2.0", id, method: "ping" });
          if (id === 5 || /refused the new session/.test((await local.answer(id)).error?.message ?? "")) return id;
        }
      },
    },
  ];
  for (const { name, handler, args, trigger } of cases) {
    const server = await startRawServer((req, res, body) => handler(req, res, (body ?? {}) as Message));
    servers.push(server);
    const local = startLocal(["connect", server.url, ...(args ?? ["--transport", "streamable_http"])]);
    const id = trigger ? await trigger(local) : (local.send(INITIALIZE), 0);
    const message: string = (await local.answer(id, 10_000).catch((error: Error) => assert.fail(`${name}: ${error.message}\n${local.stderr()}`))).error?.message ?? "";
    assert.match(message, /\\x9b2J/i, `${name}: ${message.slice(0, 2000)}`);
    assert.ok(message.length < 600, `${name}: ${message.length} characters`);
    assert.doesNotMatch(message, /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202e]/, name);
    assert.doesNotMatch(local.stdout(), /[\u007f-\u009f\u2028\u2029\u202e]/, name);
    await local.kill("SIGTERM");
  }
});
