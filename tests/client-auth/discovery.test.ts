/**
 * @module Client-mode discovery and its refusals, against small HTTP servers that misbehave on
 * purpose (a real hostile server is the only way to see them): a PRM for another resource, AS
 * metadata naming another issuer, an AS without PKCE S256; the spec's lookup order; the 2025-03-26
 * fallback; a token without expires_in renewed before its exp; and the WWW-Authenticate parser.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { connect as netConnect, createServer as createTcpServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { parseBearerChallenge } from "../../src/auth/outbound/challenge.ts";
import { asMetadataLocations, resourceCovers } from "../../src/auth/outbound/discovery.ts";
import { isStale, tokenSetFrom } from "../../src/auth/outbound/tokens.ts";
import { authorizationServerFetch } from "../../src/client/index.ts";
import { createNodeHttpClient } from "../../src/runtime/node-http-client.ts";
import type { HttpClientOptions } from "../../src/runtime/types.ts";
import { waitFor } from "../support/poll.ts";
import { call, makeSource } from "./support.ts";

type Route = (req: IncomingMessage, res: ServerResponse, body: string) => void;

/** An HTTP server on loopback whose routes the test decides; records every path asked for. */
async function hostile(routes: (origin: string) => Record<string, Route>): Promise<{ origin: string; seen: string[]; close(): Promise<void> }> {
  const seen: string[] = [];
  let table: Record<string, Route> = {};
  const server: Server = createServer(async (req, res) => {
    let body = "";
    for await (const chunk of req) body += chunk;
    const path = new URL(req.url ?? "/", "http://x").pathname;
    seen.push(`${req.method} ${path}`);
    const route = table[`${req.method} ${path}`];
    if (route) route(req, res, body);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  table = routes(origin);
  return {
    origin,
    seen,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

const json = (value: unknown, status = 200) => (_req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(value));
};
const challenge = (origin: string) => (_req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(401, { "www-authenticate": `Bearer resource_metadata="${origin}/.well-known/oauth-protected-resource/mcp"`, "content-type": "application/json" });
  res.end('{"error":"invalid_token"}');
};
const asMetadata = (origin: string, extra: Record<string, unknown> = {}) => ({
  issuer: origin,
  authorization_endpoint: `${origin}/authorize`,
  token_endpoint: `${origin}/token`,
  registration_endpoint: `${origin}/register`,
  code_challenge_methods_supported: ["S256"],
  ...extra,
});
const NEVER_BROWSER = ["sh", "-c", "echo opened >&2; exit 3"];

describe("discovery refuses what it must", () => {
  const servers: { close(): Promise<void> }[] = [];
  after(async () => Promise.all(servers.map((server) => server.close())));

  test("PRM for another resource: no authorization server is contacted, no browser", async () => {
    const server = await hostile((origin) => ({
      "POST /mcp": challenge(origin),
      "GET /.well-known/oauth-protected-resource/mcp": json({ resource: "https://evil.example.com/mcp", authorization_servers: [origin] }),
      "GET /.well-known/oauth-authorization-server": json(asMetadata(origin)),
    }));
    servers.push(server);
    const { source, logger, stderr } = await makeSource({ type: "oauth", oauth: { browser_command: NEVER_BROWSER } }, `${server.origin}/mcp`);
    assert.equal((await call(source, `${server.origin}/mcp`)).status, 401);
    assert.match(logger.text(), /is for .*evil\.example\.com.*refusing to ask for a token for another resource/);
    assert.ok(!server.seen.some((line) => line.includes("oauth-authorization-server") || line.includes("/register")), server.seen.join(", "));
    assert.ok(!stderr().includes("sign-in required"));
  });

  test("a PRM resource another URL parser reads with another host: no token is asked for it", async () => {
    // The WHATWG parser reads the backslash as "/" (host 127.0.0.1, path /@victim.example/mcp, the server's
    // own); an RFC 3986 parser ends the authority at the first "/" and takes the host after the "@":
    // an authorization server reading it so would issue a token for victim.example.
    const server = await hostile((origin) => ({
      "POST /@victim.example/mcp": challenge(origin),
      "GET /.well-known/oauth-protected-resource/mcp": json({ resource: `${origin}\\@victim.example/mcp`, authorization_servers: [origin] }),
      "GET /.well-known/oauth-authorization-server": json(asMetadata(origin)),
      "POST /token": json({ access_token: "not-a-real-token", token_type: "Bearer", expires_in: 3600 }),
    }));
    servers.push(server);
    const mcp = `${server.origin}/@victim.example/mcp`;
    const { source, logger } = await makeSource({ type: "oauth", oauth: { client_id: "c", client_secret: "s" } }, mcp);
    assert.equal((await call(source, mcp)).status, 401);
    assert.ok(!server.seen.includes("POST /token"), server.seen.join(", "));
    assert.match(logger.text(), /victim\.example.*refusing to ask for a token for another resource/);
  });

  test("AS metadata naming another issuer: refused (mix-up), nothing registered", async () => {
    const server = await hostile((origin) => ({
      "POST /mcp": challenge(origin),
      "GET /.well-known/oauth-protected-resource/mcp": json({ resource: `${origin}/mcp`, authorization_servers: [origin] }),
      "GET /.well-known/oauth-authorization-server": json(asMetadata(origin, { issuer: "https://attacker.example" })),
    }));
    servers.push(server);
    const { source, logger } = await makeSource({ type: "oauth", oauth: { browser_command: NEVER_BROWSER } }, `${server.origin}/mcp`);
    assert.equal((await call(source, `${server.origin}/mcp`)).status, 401);
    assert.match(logger.text(), /names issuer .*attacker\.example.*refusing it/);
    assert.ok(!server.seen.includes("POST /register"));
  });

  test("an authorization server that does not advertise PKCE S256 is refused before anything is sent to it", async () => {
    const server = await hostile((origin) => ({
      "POST /mcp": challenge(origin),
      "GET /.well-known/oauth-protected-resource/mcp": json({ resource: `${origin}/mcp`, authorization_servers: [origin] }),
      "GET /.well-known/oauth-authorization-server": json(asMetadata(origin, { code_challenge_methods_supported: ["plain"] })),
    }));
    servers.push(server);
    const { source, logger, stderr } = await makeSource({ type: "oauth", oauth: { browser_command: NEVER_BROWSER } }, `${server.origin}/mcp`);
    assert.equal((await call(source, `${server.origin}/mcp`)).status, 401);
    assert.match(logger.text(), /does not advertise PKCE S256/);
    assert.ok(!server.seen.includes("POST /register"));
    assert.ok(!stderr().includes("sign-in required"));
  });

  test("an http (not https) authorization server beyond loopback is refused", async () => {
    const server = await hostile((origin) => ({
      "POST /mcp": challenge(origin),
      "GET /.well-known/oauth-protected-resource/mcp": json({ resource: `${origin}/mcp`, authorization_servers: ["http://as.example.com"] }),
    }));
    servers.push(server);
    const { source, logger } = await makeSource({ type: "oauth", oauth: { client_id: "c", client_secret: "s" } }, `${server.origin}/mcp`);
    assert.equal((await call(source, `${server.origin}/mcp`)).status, 401);
    assert.match(logger.text(), /is not an https URL/);
  });

  test("a token endpoint answering without end is cut off at 1 MiB, not buffered", async () => {
    const server = await hostile((origin) => ({
      "POST /mcp": challenge(origin),
      "GET /.well-known/oauth-protected-resource/mcp": json({ resource: `${origin}/mcp`, authorization_servers: [origin] }),
      "GET /.well-known/oauth-authorization-server": json(asMetadata(origin)),
      "POST /token": (_req, res) => {
        res.writeHead(200, { "content-type": "application/json" });
        res.write('{"access_token":"');
        const chunk = "a".repeat(64 * 1024);
        let sent = 0;
        const pump = () => {
          while (sent < 4 * 1024 * 1024 && res.write(chunk)) sent += chunk.length;
          if (sent < 4 * 1024 * 1024) res.once("drain", pump);
          else res.end('","token_type":"Bearer"}');
        };
        res.on("error", () => {});
        pump();
      },
    }));
    servers.push(server);
    const { source, logger } = await makeSource({ type: "oauth", oauth: { client_id: "c", client_secret: "s" } }, `${server.origin}/mcp`);
    assert.equal((await call(source, `${server.origin}/mcp`)).status, 401);
    assert.match(logger.text(), /larger than 1048576 bytes/);
  });

  test("a token without expires_in is renewed before its JWT exp, and the 2025-03-26 fallback endpoints are used without PRM or metadata", async () => {
    let grants = 0;
    const server = await hostile((origin) => ({
      "POST /mcp": (req, res) => {
        if (req.headers.authorization?.startsWith("Bearer ")) return json({ jsonrpc: "2.0", id: 1, result: {} })(req, res);
        challenge(origin)(req, res);
      },
      "POST /token": (_req, res, body) => {
        const params = new URLSearchParams(body);
        assert.equal(params.get("grant_type"), "client_credentials");
        assert.equal(params.get("resource"), `${origin}/mcp`);
        grants++;
        // A JWT-shaped token whose exp is 6 to 7 s away, and no expires_in.
        const payload = Buffer.from(JSON.stringify({ exp: Math.floor(Date.now() / 1000) + 7, n: grants })).toString("base64url");
        json({ access_token: `eyJhbGciOiJub25lIn0.${payload}.sig`, token_type: "Bearer" })(_req, res);
      },
    }));
    servers.push(server);
    // PRM challenge URL 404s → root PRM 404 → no metadata → /token at the root (2025-03-26 §2.3.3).
    const { source } = await makeSource({ type: "oauth", oauth: { client_id: "c", client_secret: "s" } }, `${server.origin}/mcp`);
    assert.equal((await call(source, `${server.origin}/mcp`)).status, 200);
    const afterFirst = grants;
    assert.ok(afterFirst >= 1);
    assert.ok(server.seen.indexOf("GET /.well-known/oauth-authorization-server") > server.seen.indexOf("GET /.well-known/oauth-protected-resource/mcp"));
    // Within the last 5 s of its life the token counts as stale: the next request gets a new one first.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    assert.equal((await call(source, `${server.origin}/mcp`)).status, 200);
    assert.ok(grants > afterFirst, "renewed before expiry although expires_in was missing");
  });
});

/**
 * fetch as if each name in `names` resolved to a loopback server here (its https URLs reach that
 * server's http origin): a public MCP server cannot run on loopback, so its DNS is played by the
 * test. Every URL asked for is recorded; any other name does not resolve.
 */
function resolving(names: Record<string, string>, asked: string[]): typeof fetch {
  return (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    asked.push(url.href);
    const origin = names[url.host];
    if (!origin) return Promise.reject(new TypeError(`fetch failed: ${url.host} does not resolve here`));
    return fetch(`${origin}${url.pathname}${url.search}`, init);
  };
}

describe("a public MCP server cannot point discovery into the bridge's own network (SSRF)", () => {
  const servers: { close(): Promise<void> }[] = [];
  after(async () => Promise.all(servers.map((server) => server.close())));
  const MCP = "https://mcp.example.com/mcp";
  const CLIENT = { type: "oauth", oauth: { client_id: "c", client_secret: "s" } };

  test("a resource_metadata at a private, loopback or link-local address (however written) is never fetched", async () => {
    const asked: string[] = [];
    const targets = [
      "https://169.254.169.254/latest/meta-data/",
      "https://[::ffff:a9fe:a9fe]/latest/meta-data/",
      "https://0xa9.0xfe.0xa9.0xfe/latest/",
      "https://2852039166/latest/",
      "https://10.1.2.3/prm",
      "https://172.31.255.1/prm",
      "https://192.168.0.1/prm",
      "https://127.0.0.1:6379/",
      "https://0x7f.1/",
      "https://localhost/prm",
      "https://admin.localhost/prm",
      "https://localhost./prm",
      "https://admin.localhost./prm",
      "https://[::1]/prm",
      "https://[fd00::1]/prm",
      "https://[fe80::1]/prm",
      "https://0.0.0.0/prm",
      "https://[64:ff9b::a9fe:a9fe]/latest/meta-data/",
      "https://[2002:a9fe:a9fe::1]/latest/meta-data/",
      "https://[fec0::1]/prm",
    ];
    for (const target of targets) {
      // A source each: after a failure, a source asks nothing for a while (see FAILURE_PAUSE_MS).
      const { source, logger } = await makeSource(CLIENT, MCP, { fetch: resolving({}, asked) });
      assert.equal(await source.handleChallenge({ status: 401, wwwAuthenticate: `Bearer resource_metadata="${target}"`, resourceUrl: MCP }), false, target);
      assert.match(logger.text(), /resource_metadata .* is a private, loopback or link-local address, but the MCP server is not/, target);
    }
    assert.deepEqual(asked, [], "nothing was fetched");
  });

  test("nor an authorization server its PRM names there, nor endpoints there of an authorization server it names", async () => {
    const as = await hostile(() => ({ "GET /.well-known/oauth-authorization-server": json(asMetadata("https://as.example.com", { token_endpoint: "https://192.168.1.1/token" })) }));
    const mcp = await hostile(() => ({
      "GET /.well-known/oauth-protected-resource/mcp": json({ resource: MCP, authorization_servers: ["https://10.0.0.7"] }),
      "GET /.well-known/oauth-protected-resource/other": json({ resource: "https://mcp.example.com/other", authorization_servers: ["https://as.example.com"] }),
    }));
    servers.push(as, mcp);
    const asked: string[] = [];
    const names = { "mcp.example.com": mcp.origin, "as.example.com": as.origin };
    const first = await makeSource(CLIENT, MCP, { fetch: resolving(names, asked) });
    assert.equal(await first.source.handleChallenge({ status: 401, wwwAuthenticate: "Bearer", resourceUrl: MCP }), false);
    assert.match(first.logger.text(), /authorization server issuer \W+https:\/\/10\.0\.0\.7\W+ is a private, loopback or link-local address/);
    const other = "https://mcp.example.com/other";
    const second = await makeSource(CLIENT, other, { fetch: resolving(names, asked) });
    assert.equal(await second.source.handleChallenge({ status: 401, wwwAuthenticate: "Bearer", resourceUrl: other }), false);
    assert.match(second.logger.text(), /authorization server token_endpoint \W+https:\/\/192\.168\.1\.1\/token\W+ is a private/);
    assert.ok(!asked.some((url) => /10\.0\.0\.7|192\.168/.test(url)), asked.join(", "));
  });

  test("an authorization server at a private address that the configuration names (issuer) is the operator's choice, and is used", async () => {
    const as = await hostile(() => ({ "GET /.well-known/oauth-authorization-server": json(asMetadata("https://10.0.0.7")) }));
    const mcp = await hostile(() => ({ "GET /.well-known/oauth-protected-resource/mcp": json({ resource: MCP, authorization_servers: ["https://10.0.0.7"] }) }));
    servers.push(as, mcp);
    const asked: string[] = [];
    const { source } = await makeSource({ type: "oauth", oauth: { client_id: "c", client_secret: "s", issuer: "https://10.0.0.7" } }, MCP, { fetch: resolving({ "mcp.example.com": mcp.origin, "10.0.0.7": as.origin }, asked) });
    await source.handleChallenge({ status: 401, wwwAuthenticate: "Bearer", resourceUrl: MCP });
    assert.ok(asked.includes("https://10.0.0.7/.well-known/oauth-authorization-server"), asked.join(", "));
    assert.ok(asked.includes("https://10.0.0.7/token"), `the client credentials grant went to the configured server: ${asked.join(", ")}`);
  });

  test("a configured remote authorization server cannot send the client secret to this machine: endpoints on loopback are refused, plain http or not", async () => {
    for (const token of ["http://127.0.0.1:9/token", "https://localhost:9/token"]) {
      const as = await hostile(() => ({ "GET /.well-known/oauth-authorization-server": json(asMetadata("https://as.example.com", { token_endpoint: token })) }));
      const mcp = await hostile(() => ({ "GET /.well-known/oauth-protected-resource/mcp": json({ resource: MCP, authorization_servers: ["https://as.example.com"] }) }));
      servers.push(as, mcp);
      const asked: string[] = [];
      const { source, logger } = await makeSource({ type: "oauth", oauth: { client_id: "c", client_secret: "s", issuer: "https://as.example.com" } }, MCP, { fetch: resolving({ "mcp.example.com": mcp.origin, "as.example.com": as.origin }, asked) });
      assert.equal(await source.handleChallenge({ status: 401, wwwAuthenticate: "Bearer", resourceUrl: MCP }), false, token);
      assert.match(logger.text(), /authorization server token_endpoint \W+[^ ]+\W+ is on this machine, and the authorization server \W+https:\/\/as\.example\.com\W+ is not/, token);
      assert.ok(!asked.some((url) => url.includes(":9/")), asked.join(", "));
    }
  });

  test("what the server's answers lead to, the token request included, goes through the connect-time check; a configured issuer does not", async () => {
    const tokenRoute = json({ access_token: "at", token_type: "Bearer", expires_in: 3600 });
    const as = await hostile(() => ({ "GET /.well-known/oauth-authorization-server": json(asMetadata("https://as.example.com")), "POST /token": tokenRoute }));
    const mcp = await hostile(() => ({ "GET /.well-known/oauth-protected-resource/mcp": json({ resource: MCP, authorization_servers: ["https://as.example.com"] }) }));
    servers.push(as, mcp);
    const names = { "mcp.example.com": mcp.origin, "as.example.com": as.origin };
    for (const pinned of [false, true]) {
      const plain: string[] = [];
      const checked: string[] = [];
      const publicOnly = { fetch: resolving(names, checked), isPublicHost: async () => true };
      const auth = pinned ? { type: "oauth", oauth: { ...CLIENT.oauth, issuer: "https://as.example.com" } } : CLIENT;
      const { source } = await makeSource(auth, MCP, { fetch: resolving(names, plain), publicOnly });
      assert.equal(await source.handleChallenge({ status: 401, wwwAuthenticate: "Bearer", resourceUrl: MCP }), true);
      assert.ok(checked.includes("https://mcp.example.com/.well-known/oauth-protected-resource/mcp"), `the PRM: ${checked.join(", ")}`);
      const through = pinned ? plain : checked;
      assert.ok(through.includes("https://as.example.com/.well-known/oauth-authorization-server"), `pinned ${pinned}, the metadata: ${through.join(", ")}`);
      assert.ok(through.includes("https://as.example.com/token"), `pinned ${pinned}, the token request: ${through.join(", ")}`);
      assert.ok(!(pinned ? checked : plain).some((url) => url.startsWith("https://as.example.com/")), `pinned ${pinned}: ${plain.join(", ")} | ${checked.join(", ")}`);
    }
  });
});

describe("enterprise-managed authorization (SEP-990)", () => {
  test("the ID token from id_token_command is exchanged at the IdP for an ID-JAG, then for an access token at the MCP server's AS", async () => {
    const seen: { exchange?: URLSearchParams; bearer?: URLSearchParams; basic?: string } = {};
    const idp = await hostile(() => ({
      "POST /token": (_req, res, body) => {
        seen.exchange = new URLSearchParams(body);
        json({ access_token: "id-jag-from-idp", issued_token_type: "urn:ietf:params:oauth:token-type:id-jag", token_type: "N_A", expires_in: 300 })(_req, res);
      },
    }));
    const server = await hostile((origin) => ({
      "POST /mcp": (req, res) => (req.headers.authorization === "Bearer access-from-as" ? json({ jsonrpc: "2.0", id: 1, result: {} })(req, res) : challenge(origin)(req, res)),
      "GET /.well-known/oauth-protected-resource/mcp": json({ resource: `${origin}/mcp`, authorization_servers: [origin] }),
      "GET /.well-known/oauth-authorization-server": json(asMetadata(origin, { grant_types_supported: ["urn:ietf:params:oauth:grant-type:jwt-bearer"] })),
      "POST /token": (req, res, body) => {
        seen.bearer = new URLSearchParams(body);
        seen.basic = req.headers.authorization;
        json({ access_token: "access-from-as", token_type: "Bearer", expires_in: 3600 })(req, res);
      },
    }));
    try {
      process.env.MCP_TEST_ID_TOKEN = "id-token-of-alice";
      const { source } = await makeSource(
        {
          type: "oauth",
          oauth: {
            client_id: "mcp-client",
            client_secret: "mcp-secret",
            enterprise: { idp_issuer: idp.origin, idp_token_endpoint: `${idp.origin}/token`, idp_client_id: "idp-client", id_token_command: ["sh", "-c", 'printf "%s\\n" "$MCP_TEST_ID_TOKEN"'] },
          },
        },
        `${server.origin}/mcp`,
      );
      assert.equal((await call(source, `${server.origin}/mcp`)).status, 200);
      assert.equal(seen.exchange?.get("grant_type"), "urn:ietf:params:oauth:grant-type:token-exchange");
      assert.equal(seen.exchange?.get("subject_token"), "id-token-of-alice", "the command's output, trimmed");
      assert.equal(seen.exchange?.get("subject_token_type"), "urn:ietf:params:oauth:token-type:id_token");
      assert.equal(seen.exchange?.get("requested_token_type"), "urn:ietf:params:oauth:token-type:id-jag");
      assert.equal(seen.exchange?.get("audience"), server.origin, "the ID-JAG is for the MCP server's authorization server");
      assert.equal(seen.exchange?.get("resource"), `${server.origin}/mcp`);
      assert.equal(seen.exchange?.get("client_id"), "idp-client");
      assert.equal(seen.bearer?.get("grant_type"), "urn:ietf:params:oauth:grant-type:jwt-bearer");
      assert.equal(seen.bearer?.get("assertion"), "id-jag-from-idp");
      assert.equal(seen.bearer?.get("resource"), `${server.origin}/mcp`);
      assert.equal(seen.basic, `Basic ${btoa("mcp-client:mcp-secret")}`);
    } finally {
      await idp.close();
      await server.close();
    }
  });

  test("id_token_env that is unset is a configuration error naming the key", async () => {
    const server = await hostile((origin) => ({
      "POST /mcp": challenge(origin),
      "GET /.well-known/oauth-protected-resource/mcp": json({ resource: `${origin}/mcp`, authorization_servers: [origin] }),
      "GET /.well-known/oauth-authorization-server": json(asMetadata(origin)),
    }));
    try {
      const { source, logger } = await makeSource(
        { type: "oauth", oauth: { client_id: "c", client_secret: "s", enterprise: { idp_token_endpoint: `${server.origin}/idp`, idp_client_id: "i", id_token_env: "MCP_TEST_UNSET_VARIABLE" } } },
        `${server.origin}/mcp`,
      );
      assert.equal((await call(source, `${server.origin}/mcp`)).status, 401);
      assert.match(logger.text(), /client\.auth\.oauth\.enterprise\.id_token_env: the environment variable MCP_TEST_UNSET_VARIABLE is not set/);
    } finally {
      await server.close();
    }
  });
});

describe("pure parts", () => {
  test("WWW-Authenticate: resource_metadata, scope and error of the Bearer challenge, among others", () => {
    assert.deepEqual(parseBearerChallenge('Bearer resource_metadata="https://a/.well-known/oauth-protected-resource", scope="files:read files:write"'), {
      scheme: "bearer",
      resourceMetadata: "https://a/.well-known/oauth-protected-resource",
      scopes: ["files:read", "files:write"],
    });
    assert.deepEqual(parseBearerChallenge('Basic realm="x", Bearer error="insufficient_scope", scope="x", error_description="need \\"x\\""'), { scheme: "bearer", scopes: ["x"], error: "insufficient_scope" });
    assert.deepEqual(parseBearerChallenge('DPoP algs="ES256", error="use_dpop_nonce"'), { scheme: "dpop", error: "use_dpop_nonce" });
    assert.deepEqual(parseBearerChallenge("Bearer realm=example, error=invalid_token"), { scheme: "bearer", error: "invalid_token" });
    assert.equal(parseBearerChallenge('Basic realm="x"'), undefined);
    assert.equal(parseBearerChallenge(null), undefined);
    assert.deepEqual(parseBearerChallenge("Bearer"), { scheme: "bearer" }, "a bare Bearer challenge has no parameters");
    assert.deepEqual(parseBearerChallenge('Bearer scope="a", scope="b"'), { scheme: "bearer", scopes: ["a"] }, "the first value of a repeated parameter");
    assert.doesNotThrow(() => parseBearerChallenge('Bearer x="unterminated, "'));
  });

  test("PRM resource: the server URL or a same-origin path prefix on a segment boundary", () => {
    assert.ok(resourceCovers("https://h/mcp", "https://h/mcp"));
    assert.ok(resourceCovers("https://h", "https://h/mcp"));
    assert.ok(resourceCovers("https://h/", "https://h/mcp"));
    assert.ok(!resourceCovers("https://h/m", "https://h/mcp"));
    assert.ok(!resourceCovers("https://evil/mcp", "https://h/mcp"));
    assert.ok(!resourceCovers("http://h/mcp", "https://h/mcp"));
    assert.ok(!resourceCovers("not a url", "https://h/mcp"));
    assert.ok(!resourceCovers("https://h\\@evil/mcp", "https://h/@evil/mcp"), "a backslash, which parsers read differently");
    assert.ok(!resourceCovers("https://h/m\tcp", "https://h/mcp"), "a tab, which the WHATWG parser drops");
  });

  test("AS metadata locations in the MCP spec's order", () => {
    assert.deepEqual(asMetadataLocations("https://as/tenant1"), [
      "https://as/.well-known/oauth-authorization-server/tenant1",
      "https://as/.well-known/openid-configuration/tenant1",
      "https://as/tenant1/.well-known/openid-configuration",
    ]);
    assert.deepEqual(asMetadataLocations("https://as"), ["https://as/.well-known/oauth-authorization-server", "https://as/.well-known/openid-configuration"]);
  });

  test("tokens: expires_in, else the JWT's exp; stale within a tenth of the lifetime (5 s to 60 s)", () => {
    const now = 1_000_000;
    const withExpiry = tokenSetFrom({ access_token: "opaque", token_type: "bearer", expires_in: 3600 }, now, ["a"]);
    assert.equal(withExpiry.expiresAt, now + 3_600_000);
    assert.deepEqual(withExpiry.scopes, ["a"]);
    assert.ok(!isStale(withExpiry, now + 3_600_000 - 61_000));
    assert.ok(isStale(withExpiry, now + 3_600_000 - 59_000));
    const jwt = `x.${Buffer.from(JSON.stringify({ exp: 2000 })).toString("base64url")}.y`;
    assert.equal(tokenSetFrom({ access_token: jwt, token_type: "bearer" }, now, []).expiresAt, 2_000_000);
    const unknown = tokenSetFrom({ access_token: "opaque", token_type: "bearer", scope: "b c", refresh_token: undefined as never }, now, ["a"], "old-refresh");
    assert.equal(unknown.expiresAt, undefined);
    assert.equal(unknown.refreshToken, "old-refresh", "an unrotated refresh token is kept");
    assert.deepEqual(unknown.scopes, ["b", "c"]);
    assert.ok(!isStale(unknown, now + 10 ** 12), "no expiry known: used until the server refuses it");
  });

  test("tokens: an expires_in too large to be a time (1e308 s) is no expiry, and survives the cache's JSON as such", () => {
    const now = 1_000_000;
    // Infinity was written to the cache as null, which read back as a token stale for ever (a refresh on every start).
    const cached = JSON.parse(JSON.stringify(tokenSetFrom({ access_token: "opaque", token_type: "bearer", expires_in: 1e308 }, now, []))) as ReturnType<typeof tokenSetFrom>;
    assert.equal(cached.expiresAt, undefined);
    assert.ok(!isStale(cached, now + 10 ** 12));
    assert.ok(!isStale({ ...cached, expiresAt: null as never }, now), "a cache written before holds null: no expiry known");
  });
});

describe("a refresh waiting for another instance's login lock", () => {
  test("ends when the bridge shuts down: close() does not wait the lock out and then refresh", { timeout: 120_000 }, async () => {
    const server = await hostile((origin) => ({
      "GET /mcp": challenge(origin),
      "GET /.well-known/oauth-protected-resource/mcp": json({ resource: `${origin}/mcp`, authorization_servers: [origin] }),
      "GET /.well-known/oauth-authorization-server": json(asMetadata(origin)),
      "POST /token": json({ access_token: "fresh", token_type: "Bearer", expires_in: 3600, refresh_token: "rt-2" }),
    }));
    try {
      const mcp = `${server.origin}/mcp`;
      const dataDir = mkdtempSync(join(tmpdir(), "mcp-bridge-refresh-lock-"));
      const cacheFile = join(dataDir, `oauth-${createHash("sha256").update(mcp).digest("hex").slice(0, 32)}.json`);
      const tokens = { accessToken: "old", refreshToken: "rt-1", expiresAt: Date.now() + 3_600_000, obtainedAt: Date.now() - 1000, scopes: [] };
      const state = { as: asMetadata(server.origin), resource: mcp, registration: { clientId: "c", redirectUri: "http://127.0.0.1:33418/callback", via: "dcr" }, tokens };
      writeFileSync(cacheFile, JSON.stringify({ version: 1, serverUrl: mcp, current: server.origin, issuers: { [server.origin]: state } }), { mode: 0o600 });
      // Another instance is signing in to this server: it holds the login lock for a long while.
      writeFileSync(`${cacheFile}.lock`, JSON.stringify({ until: Date.now() + 3_600_000, owner: "another-instance" }), { mode: 0o600 });
      const { source, logger } = await makeSource({ type: "oauth", oauth: { browser_command: NEVER_BROWSER } }, mcp, { dataDir });
      const handled = source.handleChallenge({ status: 401, wwwAuthenticate: `Bearer resource_metadata="${server.origin}/.well-known/oauth-protected-resource/mcp"`, resourceUrl: mcp });
      await waitFor(() => /another mcp-bridge is signing in/.test(logger.text()), "the wait for the other instance in the log");
      await source.close();
      assert.equal(await handled, false);
      assert.ok(!server.seen.includes("POST /token"), `no refresh grant during shutdown: ${server.seen.join(", ")}`);
      assert.match(logger.text(), /sign-in ended: the bridge is shutting down/);
    } finally {
      await server.close();
    }
  });
});

describe("tokens another instance refreshed", () => {
  test("are taken with the registration they were issued to: the next refresh presents that client, not the one this instance had", { timeout: 120_000 }, async () => {
    const clients: string[] = [];
    const server = await hostile((origin) => ({
      "GET /.well-known/oauth-protected-resource/mcp": json({ resource: `${origin}/mcp`, authorization_servers: [origin] }),
      "GET /.well-known/oauth-authorization-server": json(asMetadata(origin)),
      "POST /token": (req, res, body) => {
        clients.push(new URLSearchParams(body).get("client_id") ?? "(none)");
        json({ access_token: `fresh-${clients.length}`, token_type: "Bearer", expires_in: 3600, refresh_token: `rt-${clients.length + 10}` })(req, res);
      },
    }));
    try {
      const mcp = `${server.origin}/mcp`;
      const dataDir = mkdtempSync(join(tmpdir(), "mcp-bridge-refreshed-elsewhere-"));
      const cacheFile = join(dataDir, `oauth-${createHash("sha256").update(mcp).digest("hex").slice(0, 32)}.json`);
      const write = (clientId: string, accessToken: string, obtainedAt: number) => {
        const tokens = { accessToken, refreshToken: `rt-of-${clientId}`, expiresAt: Date.now() + 3_600_000, obtainedAt, scopes: [] };
        const state = { as: asMetadata(server.origin), resource: mcp, registration: { clientId, redirectUri: "http://127.0.0.1:33418/callback", via: "dcr" }, tokens };
        writeFileSync(cacheFile, JSON.stringify({ version: 1, serverUrl: mcp, current: server.origin, issuers: { [server.origin]: state } }), { mode: 0o600 });
      };
      write("client-a", "old", Date.now() - 60_000);
      const { source, logger } = await makeSource({ type: "oauth", oauth: { browser_command: NEVER_BROWSER } }, mcp, { dataDir });
      // Meanwhile another instance registered anew (client-b) and got tokens for it.
      write("client-b", "from-elsewhere", Date.now() - 1000);
      const challenge401 = { status: 401 as const, wwwAuthenticate: `Bearer resource_metadata="${server.origin}/.well-known/oauth-protected-resource/mcp"`, resourceUrl: mcp };
      assert.equal(await source.handleChallenge(challenge401), true, logger.text());
      assert.equal(await source.authorization(), "Bearer from-elsewhere");
      assert.deepEqual(clients, [], "the other instance's tokens were taken, no refresh");
      // Those are refused in turn: this instance refreshes them, as the client they belong to.
      assert.equal(await source.handleChallenge(challenge401), true, logger.text());
      assert.deepEqual(clients, ["client-b"], logger.text());
      await source.close();
    } finally {
      await server.close();
    }
  });
});

describe("the SSRF guard checks the address a name resolves to, when the connection is made", () => {
  /**
   * Client mode's own HTTP client (as `mcp-bridge connect` builds it) whose DNS is played by the
   * test: each name in `names` resolves to its address, any other does not resolve.
   */
  function clientResolving(names: Record<string, string>, options: Pick<HttpClientOptions, "ca" | "proxy"> = { proxy: {} }) {
    const http = createNodeHttpClient({
      insecureSkipVerify: false,
      maxIdleConnections: 1,
      idleConnectionTimeout: 1000,
      connectTimeout: 10_000,
      ...options,
      resolve: async (hostname) => {
        const address = names[hostname];
        if (!address) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" });
        return [{ address, family: 4 }];
      },
    });
    return { http, network: authorizationServerFetch(http) };
  }

  /** A TCP listener on loopback that counts connections: one that reached it was not refused. */
  async function listener(): Promise<{ port: number; connections: () => number; close(): Promise<void> }> {
    let connections = 0;
    const server = createTcpServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return { port: (server.address() as AddressInfo).port, connections: () => connections, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
  }

  const CLIENT = { type: "oauth", oauth: { client_id: "c", client_secret: "s" } };

  test("a public MCP server's resource_metadata at a public-looking name that resolves to loopback is never connected to", async (t) => {
    const target = await listener();
    t.after(() => target.close());
    // mcp.example.com is public (never connected to here); metadata.example.com resolves to loopback.
    const { http, network } = clientResolving({ "mcp.example.com": "8.8.8.8", "metadata.example.com": "127.0.0.1" });
    t.after(() => http.close());
    const MCP = "https://mcp.example.com/mcp";
    const { source, logger } = await makeSource(CLIENT, MCP, network);
    const challenge = `Bearer resource_metadata="https://metadata.example.com:${target.port}/.well-known/oauth-protected-resource/mcp"`;
    assert.equal(await source.handleChallenge({ status: 401, wwwAuthenticate: challenge, resourceUrl: MCP }), false);
    assert.equal(target.connections(), 0, "nothing connected to the loopback address");
    assert.match(logger.text(), /protected resource metadata \W+https:\/\/metadata\.example\.com:\d+\/\S* resolves to a private, loopback or link-local address, but the MCP server is not/);
  });

  test("an MCP server whose name resolves into a private network keeps its authorization server there", async (t) => {
    const target = await listener();
    t.after(() => target.close());
    const { http, network } = clientResolving({ "mcp.corp.example": "10.1.2.3", "metadata.corp.example": "127.0.0.1" });
    t.after(() => http.close());
    const MCP = "https://mcp.corp.example/mcp";
    const { source } = await makeSource(CLIENT, MCP, network);
    const challenge = `Bearer resource_metadata="https://metadata.corp.example:${target.port}/.well-known/oauth-protected-resource/mcp"`;
    assert.equal(await source.handleChallenge({ status: 401, wwwAuthenticate: challenge, resourceUrl: MCP }), false);
    assert.equal(target.connections(), 1, "the metadata's address was connected to (the listener then hung up)");
  });

  test("after a restart, a refresh at the authorization server a public MCP server's answers chose stays guarded, whatever its DNS says before it answers again", async (t) => {
    const target = await listener();
    t.after(() => target.close());
    // The MCP server's name now resolves into the private network; the authorization server's to loopback.
    const { http, network } = clientResolving({ "mcp.example.com": "10.1.2.3", "as.example.com": "127.0.0.1" });
    t.after(() => http.close());
    const MCP = "https://mcp.example.com/mcp";
    // What an earlier run kept: that authorization server, found through the guard, and a stale token with its refresh token.
    const dataDir = mkdtempSync(join(tmpdir(), "mcp-bridge-guarded-cache-"));
    const issuer = `https://as.example.com:${target.port}`;
    const tokens = { accessToken: "old", refreshToken: "rt", expiresAt: Date.now() - 60_000, obtainedAt: Date.now() - 3_600_000, scopes: [] };
    const state = { as: asMetadata(issuer), resource: MCP, registration: { clientId: "client-a", redirectUri: "http://127.0.0.1:33418/callback", via: "dcr" }, tokens, guarded: true };
    writeFileSync(join(dataDir, `oauth-${createHash("sha256").update(MCP).digest("hex").slice(0, 32)}.json`), JSON.stringify({ version: 1, serverUrl: MCP, current: issuer, issuers: { [issuer]: state } }), { mode: 0o600 });
    const { source, logger } = await makeSource({ type: "oauth", oauth: { browser_command: NEVER_BROWSER } }, MCP, { ...network, dataDir });
    t.after(() => source.close());
    // The first request's token is stale: the refresh is tried before the MCP server has answered anything.
    assert.equal(await source.authorization(), "Bearer old");
    assert.match(logger.text(), /token refresh failed/);
    assert.equal(target.connections(), 0, "the refresh never connected to the loopback address");
  });

  test("a public MCP server's name that resolves into a private network when the guard asks, after it answered through the proxy, does not unlock it", async (t) => {
    const target = await listener();
    t.after(() => target.close());
    // The MCP server at mcp.example.com (a self-signed certificate for that name), answering 401.
    const dir = mkdtempSync(join(tmpdir(), "mcp-bridge-rebind-"));
    execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "key.pem", "-out", "cert.pem", "-days", "2", "-subj", "/CN=mcp.example.com", "-addext", "subjectAltName=DNS:mcp.example.com"], { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
    const cert = readFileSync(join(dir, "cert.pem"), "utf8");
    const challenge = `Bearer resource_metadata="https://metadata.example.com:${target.port}/.well-known/oauth-protected-resource/mcp"`;
    const mcp = createHttpsServer({ cert, key: readFileSync(join(dir, "key.pem")) }, (_req, res) => res.writeHead(401, { "www-authenticate": challenge }).end());
    await new Promise<void>((resolve) => mcp.listen(0, "127.0.0.1", resolve));
    t.after(() => new Promise<void>((resolve) => mcp.close(() => resolve())));
    // HTTPS_PROXY: tunnels every CONNECT to that server, as the Internet would to mcp.example.com.
    const proxy = createServer();
    proxy.on("connect", (_req, client, head) => {
      const upstream = netConnect((mcp.address() as AddressInfo).port, "127.0.0.1", () => {
        client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
        upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      upstream.on("error", () => client.destroy());
      client.on("error", () => upstream.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    t.after(() => new Promise<void>((resolve) => proxy.close(() => resolve())));
    // The local DNS, the MCP server's to play with, says 10.1.2.3 when the guard asks.
    const { http, network } = clientResolving(
      { "mcp.example.com": "10.1.2.3", "metadata.example.com": "127.0.0.1" },
      { ca: cert, proxy: { https: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, noProxy: "metadata.example.com" } },
    );
    t.after(() => http.close());
    const MCP = "https://mcp.example.com/mcp";
    const answer = await http.fetch(MCP, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    await answer.body?.cancel();
    assert.equal(answer.status, 401);
    const { source, logger } = await makeSource(CLIENT, MCP, network);
    assert.equal(await source.handleChallenge({ status: 401, wwwAuthenticate: answer.headers.get("www-authenticate"), resourceUrl: MCP }), false);
    assert.equal(target.connections(), 0, "nothing connected to the loopback address");
    assert.match(logger.text(), /resolves to a private, loopback or link-local address, but the MCP server is not/);
  });
});
