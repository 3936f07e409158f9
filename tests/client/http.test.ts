/** @module Client mode's HTTP edge: TLS (CA bundle, mutual TLS, server_name, insecure_skip_verify), proxies, and which failures are retried. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, request as httpRequest, type Server } from "node:http";
import { connect as netConnect, type AddressInfo, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { writeConfig } from "../support/bridge.ts";
import { connectLocalClient } from "./support.ts";
import { startRawServer, startStreamableServer, type TestServer } from "./sdk-servers.ts";

interface Pki {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

/** A CA, a server certificate for "mcp.test" only, and a client certificate, made with openssl. */
function makePki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), "mcp-bridge-pki-"));
  const ssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  ssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=test CA");
  for (const [name, subject, ext] of [
    ["server", "/CN=mcp.test", "subjectAltName=DNS:mcp.test"],
    ["client", "/CN=bridge client", "extendedKeyUsage=clientAuth"],
  ] as const) {
    ssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subject);
    writeFileSync(join(dir, `${name}.ext`), `${ext}\n`);
    ssl("x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${name}.pem`, "-days", "2", "-extfile", `${name}.ext`);
  }
  return { dir, ca: join(dir, "ca.pem"), serverCert: join(dir, "server.pem"), serverKey: join(dir, "server.key"), clientCert: join(dir, "client.pem"), clientKey: join(dir, "client.key") };
}

let pki: Pki;
let tlsServer: TestServer;
let mtlsServer: TestServer;

before(async () => {
  pki = makePki();
  const read = (path: string) => readFileSync(path, "utf8");
  tlsServer = await startStreamableServer({ cert: read(pki.serverCert), key: read(pki.serverKey) });
  mtlsServer = await startStreamableServer({ cert: read(pki.serverCert), key: read(pki.serverKey), ca: read(pki.ca), requestCert: true, rejectUnauthorized: true });
});

after(async () => {
  await tlsServer?.close();
  await mtlsServer?.close();
});

function clientConfig(url: string, client: Record<string, unknown> = {}): string {
  return writeConfig({ mode: "client", log: { level: "info" }, client: { url, transport: "streamable_http", retry: { max_retries: 1 }, ...client } });
}

async function echoThrough(args: string[], env: Record<string, string> = {}): Promise<{ text: string; stderr: string }> {
  const local = await connectLocalClient(args, { env });
  try {
    const result = await local.client.callTool({ name: "echo", arguments: { text: "over TLS" } });
    return { text: (result.content as Array<{ text: string }>)[0]!.text, stderr: local.stderr() };
  } finally {
    await local.close();
  }
}

test("a server certificate from an unknown CA is refused, naming the TLS failure", async () => {
  const local = await connectLocalClient(["-c", clientConfig(tlsServer.url)], { connect: false });
  try {
    await assert.rejects(local.client.connect(local.transport), /cannot reach 127\.0\.0\.1:\d+: .*(self-signed|unable to verify|certificate)/i);
  } finally {
    await local.close();
  }
});

test("tls.ca_cert and tls.server_name: the server's certificate is checked against the CA and the configured name", async () => {
  const { text } = await echoThrough(["-c", clientConfig(tlsServer.url, { tls: { ca_cert: pki.ca, server_name: "mcp.test" } })]);
  assert.equal(text, "over TLS");
  // The certificate names mcp.test, not 127.0.0.1: without server_name the name check fails.
  const local = await connectLocalClient(["-c", clientConfig(tlsServer.url, { tls: { ca_cert: pki.ca } })], { connect: false });
  try {
    await assert.rejects(local.client.connect(local.transport), /altnames|does not match|certificate/i);
  } finally {
    await local.close();
  }
});

test("mutual TLS: the client certificate is presented, and its absence is refused", async () => {
  const { text } = await echoThrough(["-c", clientConfig(mtlsServer.url, { tls: { ca_cert: pki.ca, server_name: "mcp.test", cert_file: pki.clientCert, key_file: pki.clientKey } })]);
  assert.equal(text, "over TLS");
  const local = await connectLocalClient(["-c", clientConfig(mtlsServer.url, { tls: { ca_cert: pki.ca, server_name: "mcp.test" } })], { connect: false });
  try {
    await assert.rejects(local.client.connect(local.transport));
  } finally {
    await local.close();
  }
});

test("tls.insecure_skip_verify works and says loudly what it costs", async () => {
  const { text, stderr } = await echoThrough(["-c", clientConfig(tlsServer.url, { tls: { insecure_skip_verify: true } })]);
  assert.equal(text, "over TLS");
  assert.match(stderr, /WARN .*insecure_skip_verify is on: the remote server's certificate is NOT checked/);
});

test("client.tls.cert_file without key_file is a configuration error naming the key", async () => {
  const { runCli } = await import("../support/bridge.ts");
  const result = await runCli(["check-config", "-c", clientConfig("https://mcp.example.com/mcp", { tls: { cert_file: pki.clientCert } })]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /client\.tls\.key_file/);
});

/** A CONNECT proxy (for https) that also forwards absolute-URI requests (for http); counts what it carried. */
async function startProxy(): Promise<{ url: string; tunnels: string[]; forwarded: string[]; close(): Promise<void> }> {
  const tunnels: string[] = [];
  const forwarded: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    forwarded.push(`${req.method} ${req.url}`);
    const target = new URL(req.url ?? "");
    const upstream = httpRequest({ host: target.hostname, port: target.port, path: target.pathname + target.search, method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on("error", () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  server.on("connect", (req, client: Socket, head) => {
    tunnels.push(req.url ?? "");
    const [host, port] = (req.url ?? "").split(":");
    const upstream = netConnect(Number(port), host, () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on("error", () => client.destroy());
    client.on("error", () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    tunnels,
    forwarded,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

test("HTTPS_PROXY carries https through a CONNECT tunnel; HTTP_PROXY forwards http; NO_PROXY bypasses both", async () => {
  const proxy = await startProxy();
  const plain = await startStreamableServer();
  try {
    const viaTunnel = await echoThrough(["-c", clientConfig(tlsServer.url, { tls: { ca_cert: pki.ca, server_name: "mcp.test" } })], { HTTPS_PROXY: proxy.url });
    assert.equal(viaTunnel.text, "over TLS");
    assert.ok(proxy.tunnels.includes(new URL(tlsServer.url).host), `tunnels: ${proxy.tunnels.join(", ")}`);

    await echoThrough(["-c", clientConfig(plain.url)], { HTTP_PROXY: proxy.url });
    assert.ok(proxy.forwarded.some((line) => line.startsWith(`POST ${plain.url}`)), `forwarded: ${proxy.forwarded.join(", ")}`);

    const before = proxy.tunnels.length + proxy.forwarded.length;
    await echoThrough(["-c", clientConfig(plain.url)], { HTTP_PROXY: proxy.url, NO_PROXY: "localhost,127.0.0.1" });
    assert.equal(proxy.tunnels.length + proxy.forwarded.length, before, "NO_PROXY hosts are reached directly");
  } finally {
    await plain.close();
    await proxy.close();
  }
});

test("503 with Retry-After is retried; a request whose connection breaks after sending is not", async () => {
  let refusals = 0;
  const calls: string[] = [];
  const server = await startRawServer((req, res, body) => {
    if (req.method !== "POST") return void res.writeHead(405).end();
    const message = body as { id?: number; method: string };
    calls.push(message.method);
    if (message.method === "initialize" && refusals < 2) {
      refusals++;
      return void res.writeHead(503, { "retry-after": "0" }).end();
    }
    const reply = (result: unknown) => res.writeHead(200, { "content-type": "application/json", "mcp-session-id": "s1" }).end(JSON.stringify({ jsonrpc: "2.0", id: message.id, result }));
    if (message.method === "initialize") return reply({ protocolVersion: "2025-06-18", capabilities: { tools: {} }, serverInfo: { name: "raw", version: "1" } });
    if (message.id === undefined) return void res.writeHead(202).end();
    if (message.method === "tools/call") return void res.socket?.destroy();
    res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: message.id, error: { code: -32000, message: "Bad Request: no such method here" } }));
  });
  const local = await connectLocalClient(["connect", server.url, "--header", "Authorization: Bearer static"]);
  try {
    assert.equal(calls.filter((method) => method === "initialize").length, 3, "two 503s, then the answer");
    await assert.rejects(local.client.callTool({ name: "echo", arguments: {} }), /mcp-bridge: cannot reach|connection|socket hang up|reset/i);
    assert.equal(calls.filter((method) => method === "tools/call").length, 1, "a call the server may have run is never repeated");
  } finally {
    await local.close();
    await server.close();
  }
});

test("a token with characters beyond RFC 6750's b64token that servers issue (Laravel Sanctum's \"id|secret\") is sent as given", async () => {
  const token = "42|Yx9aQ0k2tP7rVb1sLm3nZ8";
  const seen: string[] = [];
  const server = await startRawServer((req, res, body) => {
    if (req.method !== "POST") return void res.writeHead(405).end();
    seen.push(String(req.headers.authorization));
    const message = body as { id?: number; method: string };
    const reply = (result: unknown) => res.writeHead(200, { "content-type": "application/json", "mcp-session-id": "s1" }).end(JSON.stringify({ jsonrpc: "2.0", id: message.id, result }));
    if (message.method === "initialize") return reply({ protocolVersion: "2025-06-18", capabilities: { tools: {} }, serverInfo: { name: "raw", version: "1" } });
    if (message.id === undefined) return void res.writeHead(202).end();
    if (message.method === "tools/list") return reply({ tools: [] });
    res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: message.id, error: { code: -32601, message: "no such method here" } }));
  });
  // Before: refused at start as "not a bearer token", though it had always worked (a header value may carry "|").
  try {
    const local = await connectLocalClient(["connect", server.url, "--token-env", "MCP_TEST_SANCTUM_TOKEN"], { env: { MCP_TEST_SANCTUM_TOKEN: token } });
    try {
      assert.deepEqual((await local.client.listTools()).tools, []);
    } finally {
      await local.close();
    }
    assert.ok(seen.length > 0 && seen.every((header) => header === `Bearer ${token}`), seen.join(", "));
  } finally {
    await server.close();
  }
});

test("a CA file that does not exist stops client mode at start with exit 2 naming the key", async () => {
  const { runCli } = await import("../support/bridge.ts");
  const result = await runCli(["-c", clientConfig("https://mcp.example.com/mcp", { tls: { ca_cert: join(pki.dir, "missing.pem") } })]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /client\.tls\.ca_cert: .*missing\.pem: no such file/);
  assert.equal(result.stdout, "", "stdout stays clean for the MCP stream");
});
