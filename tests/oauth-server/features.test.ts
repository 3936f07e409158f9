/**
 * @module Authorization server features through the built CLI: the tokens' RFC 9068 shape, scopes
 * (requested ∩ the user's, offline_access), signing keys in every PEM form and algorithm with
 * RFC 7638 kids, rotation with previous_key_files, the login session, branding and login_template,
 * password_env, restart persistence with the file store, metrics, and check-config's explanations.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, importPKCS8, SignJWT, type JWK } from "jose";
import { runCli, writeConfig, type RunningBridge } from "../support/bridge.ts";
import {
  ALICE,
  ALICE_HASH,
  authorizeUrl,
  BOB,
  fullFlow,
  initializeWith,
  openLoginPage,
  postForm,
  redeem,
  registerClient,
  signIn,
  startAsBridge,
  submitLogin,
  tempDir,
} from "./support.ts";

function openssl(args: string[]): void {
  execFileSync("openssl", args, { stdio: "ignore" });
}

/** Keys and certificates are made with openssl, as operators make them; without it those tests are skipped. */
const NO_OPENSSL = spawnSync("openssl", ["version"]).status === 0 ? false : "openssl is not installed";

/** A PKCS#8 PEM key made by Node itself (for tests about something other than key formats). */
function nodeKey(path: string, type: "rsa" | "ec"): string {
  const { privateKey } = type === "rsa" ? generateKeyPairSync("rsa", { modulusLength: 2048 }) : generateKeyPairSync("ec", { namedCurve: "P-256" });
  writeFileSync(path, privateKey.export({ type: "pkcs8", format: "pem" }));
  return path;
}

describe("tokens and scopes", () => {
  let bridge: RunningBridge;
  before(async () => {
    bridge = await startAsBridge({ server: { metrics_listen: "127.0.0.1:0" } });
  });
  after(async () => {
    await bridge?.stop();
  });

  test("access tokens are RFC 9068 JWTs for this resource, signed with the published key", async () => {
    const { clientId, tokens } = await fullFlow(bridge);
    const header = decodeProtectedHeader(tokens.access_token);
    assert.equal(header.typ, "at+jwt");
    assert.equal(header.alg, "RS256");
    const claims = decodeJwt(tokens.access_token);
    assert.equal(claims.iss, bridge.origin);
    assert.equal(claims.sub, ALICE.username);
    assert.equal(claims.aud, bridge.url);
    assert.equal(claims.client_id, clientId);
    assert.equal(claims.scope, "mcp:read mcp:write");
    assert.equal(claims.exp! - claims.iat!, 3600);
    assert.ok(typeof claims.jti === "string" && claims.jti.length >= 16);
    const jwks = (await (await fetch(`${bridge.origin}/oauth/jwks`)).json()) as { keys: JWK[] };
    assert.equal(jwks.keys.length, 1);
    assert.equal(jwks.keys[0]!.kid, header.kid);
    assert.equal(jwks.keys[0]!.kid, await calculateJwkThumbprint(jwks.keys[0]!, "sha256"), "kid is the RFC 7638 thumbprint");
    assert.equal((jwks.keys[0] as Record<string, unknown>).d, undefined, "no private part");
  });

  test("granted scopes are the requested ones the user has", async () => {
    const { tokens } = await fullFlow(bridge, BOB, { scope: "mcp:read mcp:write" });
    assert.equal(tokens.scope, "mcp:read");
    assert.equal(decodeJwt(tokens.access_token).scope, "mcp:read");
  });

  test("a client that cannot refresh gets a refresh token only when it asks with offline_access", async () => {
    const { client_id } = await registerClient(bridge.origin, undefined, { grant_types: ["authorization_code"] });
    for (const [scope, expectRefresh] of [["mcp:read", false], ["mcp:read offline_access", true]] as const) {
      const { url, verifier } = authorizeUrl(bridge.origin, client_id, { scope });
      const code = (await signIn(url)).searchParams.get("code")!;
      const tokens = (await (await redeem(bridge.origin, client_id, code, verifier)).json()) as { refresh_token?: string; scope: string };
      assert.equal(tokens.refresh_token !== undefined, expectRefresh, scope);
      assert.equal(tokens.scope, "mcp:read", "offline_access is not an access token scope");
    }
    const metadata = (await (await fetch(`${bridge.origin}/.well-known/oauth-authorization-server`)).json()) as { scopes_supported: string[] };
    assert.deepEqual(metadata.scopes_supported, ["mcp:read", "mcp:write", "offline_access"]);
  });

  test("a token whose audience is this server but whose issuer is not is refused at /mcp", async () => {
    const { tokens } = await fullFlow(bridge);
    const [header, payload, signature] = tokens.access_token.split(".");
    const claims = JSON.parse(Buffer.from(payload!, "base64url").toString());
    const forged = `${header}.${Buffer.from(JSON.stringify({ ...claims, iss: "https://evil.example" })).toString("base64url")}.${signature}`;
    assert.equal((await initializeWith(bridge.url, forged)).status, 401);
  });

  test("/metrics counts sign-ins and issued tokens", async () => {
    // Metrics are served on the operators' listener only (server.metrics_listen).
    assert.equal((await fetch(`${bridge.origin}/metrics`)).status, 404);
    const metricsUrl = /metrics served url=(\S+)/.exec(bridge.logs())![1]!;
    const text = await (await fetch(metricsUrl)).text();
    assert.match(text, /mcp_bridge_oauth_events_total\{event="login_succeeded"\} \d+/);
    assert.match(text, /mcp_bridge_oauth_events_total\{event="token_issued"\} \d+/);
    assert.match(text, /mcp_bridge_oauth_events_total\{event="client_registered"\} \d+/);
  });
});

describe("signing keys", { skip: NO_OPENSSL }, () => {
  const forms: [string, string, (path: string) => void][] = [
    ["RS256", "PKCS#1 (openssl genrsa -traditional)", (path) => openssl(["genrsa", "-traditional", "-out", path, "2048"])],
    ["ES384", "SEC1 (openssl ecparam -genkey)", (path) => openssl(["ecparam", "-name", "secp384r1", "-genkey", "-out", path])],
    ["EdDSA", "PKCS#8 Ed25519", (path) => openssl(["genpkey", "-algorithm", "ed25519", "-out", path])],
    ["ES512", "PKCS#8 P-521", (path) => openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-521", "-out", path])],
    ["PS256", "PKCS#8 RSA for PS256", (path) => openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", path])],
    // The Go original verified RS384/RS512 with SHA-256: here the JWT validator must agree with the signer.
    ["RS512", "PKCS#8 RSA for RS512", (path) => openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", path])],
    ["ES256", "SEC1 P-256", (path) => openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", path])],
  ];
  for (const [alg, form, make] of forms) {
    test(`${alg} with a ${form} key: tokens are signed with it and accepted at /mcp`, async () => {
      const path = join(tempDir(), "key.pem");
      make(path);
      const bridge = await startAsBridge({ oauthServer: { signing: { algorithm: alg, key_file: path } } });
      try {
        const { tokens } = await fullFlow(bridge);
        assert.equal(decodeProtectedHeader(tokens.access_token).alg, alg);
        assert.equal((await initializeWith(bridge.url, tokens.access_token)).status, 200);
      } finally {
        await bridge.stop();
      }
    });
  }

  test("rotation: previous_key_files stay in the JWKS, and tokens they signed are still accepted; a JWT of the bridge's keys not typed at+jwt is no access token (RFC 9068 §4)", async () => {
    const dir = tempDir();
    const current = join(dir, "current.pem");
    const previous = join(dir, "previous.pem");
    openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", current]);
    openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", previous]);
    // A retired key may be listed by its public half alone.
    const previousPublic = join(dir, "previous.pub.pem");
    openssl(["pkey", "-in", previous, "-pubout", "-out", previousPublic]);
    const bridge = await startAsBridge({ oauthServer: { signing: { algorithm: "ES256", key_file: current, previous_key_files: [previousPublic] } } });
    try {
      const jwks = (await (await fetch(`${bridge.origin}/oauth/jwks`)).json()) as { keys: JWK[] };
      assert.equal(jwks.keys.length, 2);
      const old = await importPKCS8(readFileSync(previous, "utf8"), "ES256", { extractable: true });
      const oldKid = jwks.keys[1]!.kid!;
      const now = Math.floor(Date.now() / 1000);
      const token = await new SignJWT({ iss: bridge.origin, sub: "alice", aud: bridge.url, client_id: "c", scope: "mcp:read", iat: now, exp: now + 600, jti: "j" })
        .setProtectedHeader({ alg: "ES256", kid: oldKid, typ: "at+jwt" })
        .sign(old);
      assert.equal((await initializeWith(bridge.url, token)).status, 200);
      // The same claims, typed as another kind of JWT or not at all (an ID token, say): refused.
      const own = await importPKCS8(readFileSync(current, "utf8"), "ES256");
      for (const typ of ["JWT", undefined]) {
        const other = await new SignJWT({ iss: bridge.origin, sub: "alice", aud: bridge.url, client_id: "c", scope: "mcp:read", iat: now, exp: now + 600, jti: "k" })
          .setProtectedHeader({ alg: "ES256", kid: jwks.keys[0]!.kid!, ...(typ !== undefined && { typ }) })
          .sign(own);
        assert.equal((await initializeWith(bridge.url, other)).status, 401, `typ ${typ}`);
      }
    } finally {
      await bridge.stop();
    }
  });

  test("without key_file the key is generated once, kept in the storage directory (0600), and reused after a restart", async () => {
    const dir = tempDir();
    const first = await startAsBridge({ storage: { type: "file", path: dir } });
    const kid = ((await (await fetch(`${first.origin}/oauth/jwks`)).json()) as { keys: JWK[] }).keys[0]!.kid;
    await first.stop();
    const keyFile = join(dir, "signing-key-RS256.pem");
    assert.ok(existsSync(keyFile));
    if (process.platform !== "win32") assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    const second = await startAsBridge({ storage: { type: "file", path: dir } });
    try {
      assert.equal(((await (await fetch(`${second.origin}/oauth/jwks`)).json()) as { keys: JWK[] }).keys[0]!.kid, kid);
    } finally {
      await second.stop();
    }
  });

  test("generate_key: true warns that the key is ephemeral", async () => {
    const bridge = await startAsBridge({ oauthServer: { signing: { generate_key: true } } });
    await bridge.stop();
    assert.match(bridge.logs(), /signing key is ephemeral/);
  });
});

describe("restart persistence with the file store", () => {
  test("a token issued before a restart still works and still refreshes after it; with memory storage it does not", async () => {
    for (const type of ["file", "memory"] as const) {
      const dir = tempDir();
      const options = { storage: type === "file" ? { type, path: dir } : { type }, server: { public_url: "http://127.0.0.1:1/mcp" }, oauthServer: { signing: type === "memory" ? { key_file: makeKey(dir) } : {} } };
      const first = await startAsBridge(options);
      const { client_id } = await registerClient(first.origin);
      const { url, verifier } = authorizeUrl(first.origin, client_id, { resource: "http://127.0.0.1:1/mcp" });
      const code = (await signIn(url)).searchParams.get("code")!;
      const tokens = (await (await redeem(first.origin, client_id, code, verifier)).json()) as { access_token: string; refresh_token: string };
      await first.stop();
      const second = await startAsBridge(options);
      try {
        assert.equal((await initializeWith(second.url, tokens.access_token)).status, 200, `${type}: the access token (same key) still works`);
        const refreshed = await postForm(`${second.origin}/token`, { grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id });
        assert.equal(refreshed.status, type === "file" ? 200 : 401, `${type}: refresh after restart`);
      } finally {
        await second.stop();
      }
    }
  });
});

function makeKey(dir: string): string {
  return nodeKey(join(dir, "fixed.pem"), "rsa");
}

describe("the sign-in page", () => {
  test("with login_session_lifetime, a signed-in browser is only asked for consent next time", async () => {
    const bridge = await startAsBridge({ oauthServer: { login_session_lifetime: "5m" } });
    try {
      const { client_id } = await registerClient(bridge.origin);
      const form = await openLoginPage(authorizeUrl(bridge.origin, client_id).url);
      const signedIn = await submitLogin(bridge.origin, form, { username: ALICE.username, password: ALICE.password });
      assert.equal(signedIn.status, 303);
      const session = signedIn.headers.getSetCookie().find((line) => line.startsWith("mcp-bridge-session="));
      assert.ok(session, "a session cookie");
      assert.match(session, /HttpOnly/);
      assert.match(session, /SameSite=Lax/);
      const [pair] = session.split(";");
      const cookies = { ...form.cookies, [pair!.split("=")[0]!]: pair!.slice(pair!.indexOf("=") + 1) };
      const consent = await openLoginPage(authorizeUrl(bridge.origin, client_id).url, cookies);
      assert.doesNotMatch(consent.html, /name="password"/, "consent only");
      assert.match(consent.html, /value="allow"/);
      const allowed = await submitLogin(bridge.origin, consent, {}, { cookies: consent.cookies });
      assert.equal(allowed.status, 303);
      assert.match(allowed.headers.get("location") ?? "", /code=/);
    } finally {
      await bridge.stop();
    }
  });

  test("login_template fills placeholders with escaped text; a template without the form fields is refused at start", async () => {
    const dir = tempDir();
    const template = join(dir, "login.html");
    writeFileSync(
      template,
      `<!doctype html><html><head><style nonce="{{nonce}}">h1{color:teal}</style><title>{{page_title}}</title></head><body><h1>ACME {{heading}}</h1><p>{{client_name}} → {{redirect_host}}</p><p>{{error}}</p>
<form method="post" action="/oauth/authorize">{{hidden_fields}}<input name="username"><input name="password" type="password"><button name="action" value="allow">Go</button></form></body></html>`,
    );
    const bridge = await startAsBridge({ oauthServer: { builtin: { users: [{ username: ALICE.username, password_hash: ALICE_HASH, scopes: ALICE.scopes }], login_template: template, branding: { heading: "<b>Portal</b>" } } } });
    try {
      const { client_id } = await registerClient(bridge.origin, undefined, { client_name: "<i>Tool</i>" });
      const form = await openLoginPage(authorizeUrl(bridge.origin, client_id).url);
      assert.match(form.html, /ACME &#60;b&#62;Portal&#60;\/b&#62;/);
      // Outside text is isolated with U+2068…U+2069 (a placeholder may stand where <bdi> cannot).
      assert.match(form.html, /\u2068&#60;i&#62;Tool&#60;\/i&#62;\u2069 → \u2068claude\.ai\u2069/);
      const nonce = /style-src 'nonce-([^']+)'/.exec(form.headers.get("content-security-policy") ?? "")?.[1];
      assert.ok(nonce && form.html.includes(`<style nonce="${nonce}">`));
      assert.equal((await submitLogin(bridge.origin, form, { username: ALICE.username, password: ALICE.password })).status, 303);
    } finally {
      await bridge.stop();
    }
    const broken = join(dir, "broken.html");
    writeFileSync(broken, "<html><body>no form here</body></html>");
    const config = writeConfig({ mode: "server", server: { listen: "127.0.0.1:0", mcp_server: { command: "true" }, oauth_server: { enabled: true, builtin: { users: [{ username: "a", password_hash: ALICE_HASH }], login_template: broken } } }, storage: { type: "memory" } });
    const result = await runCli(["-c", config]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /server\.oauth_server\.builtin\.login_template: .*hidden_fields/);
  });

  test("password_env users sign in with the password from the environment", async () => {
    const bridge = await startAsBridge({ env: { CAROL_PASSWORD: "carol's secret" }, oauthServer: { builtin: { users: [{ username: "carol", password_env: "CAROL_PASSWORD", scopes: ["mcp:read"] }] } } });
    try {
      const { client_id } = await registerClient(bridge.origin);
      const back = await signIn(authorizeUrl(bridge.origin, client_id).url, { username: "carol", password: "carol's secret" });
      assert.ok(back.searchParams.get("code"));
      assert.doesNotMatch(bridge.logs(), /carol's secret/);
    } finally {
      await bridge.stop();
    }
  });
});

describe("check-config explains authorization server mistakes", () => {
  const base = (oauthServer: Record<string, unknown>) =>
    // Memory storage: with no HOME here, run (and so check-config) would have no state directory.
    writeConfig({ mode: "server", storage: { type: "memory" }, server: { mcp_server: { command: "true" }, oauth_server: { enabled: true, builtin: { users: [{ username: "a", password_hash: ALICE_HASH }] }, ...oauthServer } } });

  test("an http issuer outside loopback", async () => {
    const result = await runCli(["check-config", "-c", base({ issuer: "http://mcp.example.com" })]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /server\.oauth_server\.issuer: must be an https URL/);
  });

  test("a password_env variable that is not set", async () => {
    const config = writeConfig({ mode: "server", server: { mcp_server: { command: "true" }, oauth_server: { enabled: true, builtin: { users: [{ username: "a", password_env: "NOT_SET_ANYWHERE" }] } } } });
    const result = await runCli(["check-config", "-c", config]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /server\.oauth_server\.builtin\.users\[0\]\.password_env: environment variable NOT_SET_ANYWHERE is not set or empty/);
  });

  test("no users", async () => {
    const result = await runCli(["check-config", "-c", writeConfig({ mode: "server", server: { mcp_server: { command: "true" }, oauth_server: { enabled: true } } })]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /server\.oauth_server\.builtin\.users: needs at least one user/);
  });

  test("an unreadable or unusable key file, named with its path", async () => {
    const missing = await runCli(["check-config", "-c", base({ signing: { key_file: "/nonexistent/key.pem" } })]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /server\.oauth_server\.signing\.key_file: cannot read "\/nonexistent\/key\.pem" \(no such file\)/);
    const dir = tempDir();
    const ec = join(dir, "ec.pem");
    nodeKey(ec, "ec");
    const mismatch = await runCli(["check-config", "-c", base({ signing: { algorithm: "RS256", key_file: ec } })]);
    assert.equal(mismatch.code, 2);
    assert.match(mismatch.stderr, /server\.oauth_server\.signing\.key_file: ".*ec\.pem": the key cannot be used with RS256/);
    const ok = await runCli(["check-config", "-c", base({ signing: { algorithm: "ES256", key_file: ec } })]);
    assert.equal(ok.code, 0, ok.stderr);
  });

  test("a branding colour that could break out of the stylesheet is refused, at start and by check-config", async () => {
    const config = writeConfig({ mode: "server", storage: { type: "memory" }, server: { listen: "127.0.0.1:0", mcp_server: { command: "true" }, oauth_server: { enabled: true, builtin: { users: [{ username: "a", password_hash: ALICE_HASH }], branding: { primary_color: "red;}</style><script>alert(1)</script>" } } } } });
    for (const args of [["-c", config], ["check-config", "-c", config]]) {
      const result = await runCli(args);
      assert.equal(result.code, 2, args.join(" "));
      assert.match(result.stderr, /server\.oauth_server\.builtin\.branding\.primary_color: must be a CSS colour/);
    }
  });
});

describe("a full store", () => {
  test("answers 503 with Retry-After, and says why in the log (a few times, not once per request)", async () => {
    // A first registration takes five entries (its client, its slot, its deduplication key, the slot sequence, the address's counter), each next one three.
    // One address registers at most a quarter of the ring (two here): the others come from a second address (named by a trusted proxy).
    const bridge = await startAsBridge({ storage: { type: "memory", max_entries: 8 }, server: { trusted_proxies: ["127.0.0.1/32"] } });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 10; i++) {
        const headers = { "content-type": "application/json", "x-forwarded-for": i < 2 ? "203.0.113.1" : "203.0.113.2" };
        const response = await fetch(`${bridge.origin}/register`, { method: "POST", headers, body: JSON.stringify({ client_name: `client ${i}`, redirect_uris: ["https://claude.ai/api/mcp/auth_callback"], token_endpoint_auth_method: "none" }) });
        statuses.push(response.status);
        if (response.status === 503) assert.equal(response.headers.get("retry-after"), "60");
      }
      assert.deepEqual(statuses, [201, 201, ...Array(8).fill(503)]);
      // Anyone can send such requests: the log says it at most a few times a minute.
      assert.equal(bridge.logs().match(/state store is full/g)?.length, 3, bridge.logs());
    } finally {
      await bridge.stop();
    }
  });
});

describe("a state directory that can no longer be written", () => {
  test("fails each request that must change state, and says so a few times a minute, not once per request", async () => {
    const dir = tempDir();
    const bridge = await startAsBridge({ storage: { type: "file", path: dir } });
    try {
      // Every write under it now fails (as on a full or failed disk; a file where the directory was fails even for root).
      rmSync(dir, { recursive: true, force: true });
      writeFileSync(dir, "");
      for (let i = 0; i < 20; i++) {
        const response = await fetch(`${bridge.origin}/register`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ client_name: `client ${i}`, redirect_uris: ["https://claude.ai/api/mcp/auth_callback"], token_endpoint_auth_method: "none" }) });
        assert.equal(response.status, 500, await response.text());
      }
      const lines = bridge.logs().match(/request failed/g)?.length ?? 0;
      assert.ok(lines <= 10, `${lines} log lines for 20 failed requests:\n${bridge.logs()}`);
    } finally {
      await bridge.stop();
      rmSync(dir, { force: true });
    }
  });
});

describe("pending sign-ins", () => {
  test("a flood of authorization requests from one address is throttled; other addresses are not", async () => {
    const bridge = await startAsBridge({ storage: { type: "memory" } });
    try {
      const { client_id } = await registerClient(bridge.origin);
      const url = authorizeUrl(bridge.origin, client_id).url;
      const statuses: number[] = [];
      for (let i = 0; i < 101; i++) statuses.push((await fetch(url, { redirect: "manual" }).then(async (response) => (await response.arrayBuffer(), response))).status);
      assert.deepEqual([...new Set(statuses.slice(0, 100))], [200]);
      assert.equal(statuses[100], 429);
      const other = await new Promise<number>((resolve, reject) => {
        const req = httpRequest(url, { localAddress: "127.0.0.2" }, (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        });
        req.on("error", reject);
        req.end();
      });
      assert.equal(other, 200);
    } finally {
      await bridge.stop();
    }
  });
});

describe("examples/oauth-server.yaml", () => {
  test("is a valid configuration", async () => {
    const result = await runCli(["check-config", "-c", "examples/oauth-server.yaml"], { env: { MCP_BRIDGE_PASSWORD: "x", HOME: tempDir() } });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /enabled: true/);
  });
});

describe("over https", { skip: NO_OPENSSL }, () => {
  test("cookies are __Host- prefixed and Secure: the CSRF cookie SameSite=Strict, the login session SameSite=Lax", async () => {
    const dir = tempDir();
    const key = join(dir, "tls-key.pem");
    const cert = join(dir, "tls-cert.pem");
    openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]);
    const ca = readFileSync(cert);
    const bridge = await startAsBridge({ server: { tls: { enabled: true, cert_file: cert, key_file: key } }, oauthServer: { login_session_lifetime: "5m" } });
    /** One https request trusting the test certificate. */
    const call = (url: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}) =>
      new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>((resolve, reject) => {
        const req = httpsRequest(url, { method: options.method ?? "GET", headers: options.headers, ca }, (response) => {
          let body = "";
          response.on("data", (chunk) => (body += chunk));
          response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
        });
        req.on("error", reject);
        req.end(options.body);
      });
    try {
      assert.match(bridge.origin, /^https:/);
      const registered = await call(`${bridge.origin}/register`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ redirect_uris: ["https://claude.ai/api/mcp/auth_callback"], token_endpoint_auth_method: "none" }) });
      const { client_id } = JSON.parse(registered.body) as { client_id: string };
      const page = await call(authorizeUrl(bridge.origin, client_id).url.href);
      const csrfCookie = (page.headers["set-cookie"] as string[]).find((line) => line.startsWith("__Host-mcp-bridge-csrf="))!;
      assert.ok(csrfCookie, String(page.headers["set-cookie"]));
      for (const attribute of ["Path=/", "HttpOnly", "SameSite=Strict", "Secure"]) assert.ok(csrfCookie.includes(attribute), `${attribute} in ${csrfCookie}`);
      const csrf = /name="csrf_token" value="([^"]+)"/.exec(page.body)![1]!;
      const requestId = /name="request_id" value="([^"]+)"/.exec(page.body)![1]!;
      const signedIn = await call(`${bridge.origin}/oauth/authorize`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", cookie: csrfCookie.split(";")[0]!, origin: bridge.origin },
        body: new URLSearchParams({ request_id: requestId, csrf_token: csrf, action: "allow", username: ALICE.username, password: ALICE.password }).toString(),
      });
      assert.equal(signedIn.status, 303);
      const session = (signedIn.headers["set-cookie"] as string[]).find((line) => line.startsWith("__Host-mcp-bridge-session="))!;
      assert.ok(session);
      for (const attribute of ["Path=/", "HttpOnly", "SameSite=Lax", "Secure"]) assert.ok(session.includes(attribute), `${attribute} in ${session}`);
      const metadata = JSON.parse((await call(`${bridge.origin}/.well-known/oauth-authorization-server`)).body) as { issuer: string; token_endpoint: string };
      assert.equal(metadata.issuer, bridge.origin);
      assert.equal(metadata.token_endpoint, `${bridge.origin}/oauth/token`);
    } finally {
      await bridge.stop();
    }
  });
});

describe("next to static bearer tokens", () => {
  test("auth.type bearer with the authorization server: machines use their static token, people the server's JWTs", async () => {
    const bridge = await startAsBridge({ server: { auth: { type: "bearer", bearer: { valid_tokens: ["machine-token-0123456789abcdef"] } } } });
    try {
      assert.equal((await initializeWith(bridge.url, "machine-token-0123456789abcdef")).status, 200);
      const { tokens } = await fullFlow(bridge);
      assert.equal((await initializeWith(bridge.url, tokens.access_token)).status, 200);
      assert.equal((await initializeWith(bridge.url, "not-a-known-token")).status, 401);
      assert.equal((await initializeWith(bridge.url, undefined)).status, 401);
      const prm = (await (await fetch(`${bridge.origin}/.well-known/oauth-protected-resource/mcp`)).json()) as { authorization_servers: string[] };
      assert.deepEqual(prm.authorization_servers, [bridge.origin]);
    } finally {
      await bridge.stop();
    }
  });

  test("auth.type oauth with only scope rules: the rules apply to the server's own tokens", async () => {
    const bridge = await startAsBridge({ server: { auth: { type: "oauth", oauth: { required_scopes: ["mcp:write"] } } } });
    try {
      const { tokens } = await fullFlow(bridge, BOB);
      const refused = await initializeWith(bridge.url, tokens.access_token);
      assert.equal(refused.status, 403, "bob has only mcp:read");
      assert.match(refused.headers.get("www-authenticate") ?? "", /insufficient_scope/);
      assert.equal((await initializeWith(bridge.url, (await fullFlow(bridge)).tokens.access_token)).status, 200);
      const bad = await runCli(["check-config", "-c", writeConfig({ mode: "server", server: { mcp_server: { command: "true" }, auth: { type: "oauth", oauth: { discovery_url: "https://idp.example.com" } }, oauth_server: { enabled: true, builtin: { users: [{ username: "a", password_hash: ALICE_HASH }] } } } })]);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /server\.auth\.oauth\.discovery_url: cannot be set with oauth_server\.enabled/);
    } finally {
      await bridge.stop();
    }
  });
});
