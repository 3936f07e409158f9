/**
 * @module Client ID Metadata Documents through the built CLI: a client whose client_id is an https
 * URL signs in without registering; private addresses, redirects, mismatched or oversized
 * documents and hosts outside the allow-list are refused — the refused ones without a request
 * ever reaching the address.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ROOT, type RunningBridge } from "../support/bridge.ts";
import { authorizeUrl, CLAUDE_CALLBACK, postForm, redeem, signIn, startAsBridge, tempDir } from "./support.ts";

interface DocumentServer {
  origin: string;
  hits: string[];
  routes: Map<string, { status: number; body: string; headers?: Record<string, string> }>;
  caFile: string;
  close(): Promise<void>;
}

/** An https server on 127.0.0.1 with a self-signed certificate for localhost (trusted by the bridge through NODE_EXTRA_CA_CERTS). */
async function startDocumentServer(): Promise<DocumentServer> {
  const dir = tempDir();
  const key = join(dir, "key.pem");
  const cert = join(dir, "cert.pem");
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], { stdio: "ignore" });
  const hits: string[] = [];
  const routes = new Map<string, { status: number; body: string; headers?: Record<string, string> }>();
  const server: Server = createServer({ key: readFileSync(key), cert: readFileSync(cert) }, (request, response) => {
    hits.push(request.url ?? "");
    const route = routes.get(request.url ?? "");
    response.writeHead(route?.status ?? 404, { "content-type": "application/json", ...route?.headers });
    response.end(route?.body ?? "{}");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return { origin: `https://localhost:${port}`, hits, routes, caFile: cert, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

function documentFor(clientId: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ client_id: clientId, client_name: "Metadata Doc Client", redirect_uris: [CLAUDE_CALLBACK], grant_types: ["authorization_code", "refresh_token"], token_endpoint_auth_method: "none", ...extra });
}

/** GETs an authorization URL and returns the error page's status and text (no sign-in form). */
async function refusedPage(url: URL): Promise<{ status: number; text: string }> {
  const response = await fetch(url, { redirect: "manual" });
  const text = await response.text();
  assert.doesNotMatch(text, /name="password"/, "no sign-in form for a refused client");
  return { status: response.status, text };
}

/** The document server's certificate is made with openssl; without it these tests are skipped. */
const NO_OPENSSL = spawnSync("openssl", ["version"]).status === 0 ? false : "openssl is not installed";

describe("Client ID Metadata Documents", { skip: NO_OPENSSL }, () => {
  let documents: DocumentServer;
  let open: RunningBridge;
  let guarded: RunningBridge;
  before(async () => {
    documents = await startDocumentServer();
    const env = { NODE_EXTRA_CA_CERTS: documents.caFile };
    open = await startAsBridge({ env, oauthServer: { client_metadata_documents: { allow_private_addresses: true, allowed_hosts: ["localhost"] } } });
    guarded = await startAsBridge({ env });
  });
  after(async () => {
    await open?.stop();
    await guarded?.stop();
    await documents?.close();
  });

  test("a client named by its document URL signs in and gets tokens, with the document fetched once", async () => {
    const clientId = `${documents.origin}/client.json`;
    documents.routes.set("/client.json", { status: 200, body: documentFor(clientId), headers: { "cache-control": "max-age=600" } });
    const { url, verifier } = authorizeUrl(open.origin, clientId, { resource: open.url });
    const back = await signIn(url);
    const response = await redeem(open.origin, clientId, back.searchParams.get("code")!, verifier);
    assert.equal(response.status, 200, await response.clone().text());
    const tokens = (await response.json()) as { refresh_token?: string };
    assert.ok(tokens.refresh_token);
    assert.equal(documents.hits.filter((hit) => hit === "/client.json").length, 1, "cached per Cache-Control");
    const page = await (await fetch(authorizeUrl(open.origin, clientId).url)).text();
    assert.match(page, /Metadata Doc Client/);
    // The name is the document's own choice: the page says who published it.
    assert.match(page, new RegExp(`It is described by <strong><bdi>${new URL(clientId).host}</bdi></strong>, which chose that name`));
  });

  test("at /token: a no-store document is not fetched per request, and made-up client_id URLs stop being fetched while a known client keeps working", async () => {
    // A bridge of its own: the failed fetches below use up this address's allowance.
    const bridge = await startAsBridge({ storage: { type: "memory" }, env: { NODE_EXTRA_CA_CERTS: documents.caFile }, oauthServer: { client_metadata_documents: { allow_private_addresses: true, allowed_hosts: ["localhost"] } } });
    try {
      const clientId = `${documents.origin}/no-store.json`;
      documents.routes.set("/no-store.json", { status: 200, body: documentFor(clientId), headers: { "cache-control": "no-store" } });
      const { url, verifier } = authorizeUrl(bridge.origin, clientId, { resource: bridge.url });
      const back = await signIn(url);
      const redeemed = await redeem(bridge.origin, clientId, back.searchParams.get("code")!, verifier);
      let tokens = (await redeemed.json()) as { refresh_token: string };
      assert.equal(redeemed.status, 200, JSON.stringify(tokens));
      const refresh = async () => {
        const response = await postForm(`${bridge.origin}/token`, { grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id: clientId });
        const body = (await response.json()) as { refresh_token: string };
        assert.equal(response.status, 200, JSON.stringify(body));
        tokens = body;
      };
      for (let i = 0; i < 5; i++) await refresh();
      assert.equal(documents.hits.filter((hit) => hit === "/no-store.json").length, 1, "fetched once, not per token request");
      // Made-up client_id URLs at /token from this address: fetched (and failing) only up to a limit.
      const statuses: number[] = [];
      for (let i = 0; i < 25; i++) {
        const response = await postForm(`${bridge.origin}/token`, { grant_type: "refresh_token", refresh_token: "x", client_id: `${documents.origin}/made-up-token-${i}.json` });
        await response.arrayBuffer();
        statuses.push(response.status);
      }
      assert.ok(statuses.filter((status) => status === 401).length <= 20, statuses.join(" "));
      assert.equal(statuses.at(-1), 429, statuses.join(" "));
      assert.ok(!documents.hits.includes("/made-up-token-24.json"), "the last one was never fetched");
      await refresh();
    } finally {
      await bridge.stop();
    }
  });

  test("a document whose client_id is not its URL is refused", async () => {
    const clientId = `${documents.origin}/mismatch.json`;
    documents.routes.set("/mismatch.json", { status: 200, body: documentFor(`${documents.origin}/other.json`) });
    const { status, text } = await refusedPage(authorizeUrl(open.origin, clientId).url);
    assert.equal(status, 400);
    assert.match(text, /client_id differs from its URL/);
  });

  test("a document whose client_name holds a bidi control or another invisible character is refused, naming it", async () => {
    for (const [path, name, code] of [["/rlo.json", "Good App\u202E", "U\\+202E"], ["/isolate.json", "\u2067Good App", "U\\+2067"], ["/zwsp.json", "Goo\u200Bgle", "U\\+200B"]] as const) {
      const clientId = `${documents.origin}${path}`;
      documents.routes.set(path, { status: 200, body: documentFor(clientId, { client_name: name }) });
      const { status, text } = await refusedPage(authorizeUrl(open.origin, clientId).url);
      assert.equal(status, 400);
      assert.match(text, new RegExp(`client_name must not contain invisible formatting or control characters \\(it has ${code}\\)`));
      assert.ok(!text.includes(name), "the name is not shown");
    }
  });

  test("a document whose client_id differs from its URL in spelling only (host case, trailing slash, dot segment, empty query) is refused, as is such a client_id itself", async () => {
    const clientId = `${documents.origin}/spelling.json`;
    for (const [index, spelled] of [clientId.replace("localhost", "LOCALHOST"), `${clientId}/`, clientId.replace("/spelling", "/./spelling"), `${clientId}?`].entries()) {
      const path = `/spelling-${index}.json`;
      documents.routes.set(path, { status: 200, body: documentFor(spelled.replace("/spelling.json", path)) });
      const { status, text } = await refusedPage(authorizeUrl(open.origin, `${documents.origin}${path}`).url);
      assert.equal(status, 400, spelled);
      assert.match(text, /client_id differs from its URL/, spelled);
    }
    documents.routes.set("/spelling.json", { status: 200, body: documentFor(clientId) });
    for (const spelled of [clientId.replace("localhost", "LOCALHOST"), clientId.replace("/spelling", "/./spelling")]) {
      const { status, text } = await refusedPage(authorizeUrl(open.origin, spelled).url);
      assert.equal(status, 400, spelled);
      assert.match(text, /normalised form|dot or encoded path segments/, spelled);
    }
  });

  test("a document that redirects is refused, and the redirect target is never fetched", async () => {
    const clientId = `${documents.origin}/moved.json`;
    documents.routes.set("/moved.json", { status: 302, body: "", headers: { location: `${documents.origin}/target.json` } });
    documents.routes.set("/target.json", { status: 200, body: documentFor(clientId) });
    const { status, text } = await refusedPage(authorizeUrl(open.origin, clientId).url);
    assert.equal(status, 400);
    assert.match(text, /could not be fetched/);
    assert.match(open.logs(), /client metadata document not fetched .*redirect/);
    assert.ok(!documents.hits.includes("/target.json"));
  });

  test("an oversized document is refused", async () => {
    const clientId = `${documents.origin}/big.json`;
    documents.routes.set("/big.json", { status: 200, body: documentFor(clientId, { padding: "x".repeat(10_000) }) });
    const { status, text } = await refusedPage(authorizeUrl(open.origin, clientId).url);
    assert.equal(status, 400);
    assert.match(text, /could not be fetched/);
    assert.match(open.logs(), /client metadata document not fetched .*larger than/);
  });

  test("a document asking for a redirect URI outside allowed_redirect_uris is refused", async () => {
    const clientId = `${documents.origin}/evil-redirect.json`;
    documents.routes.set("/evil-redirect.json", { status: 200, body: documentFor(clientId, { redirect_uris: ["https://evil.example/cb"] }) });
    const { status } = await refusedPage(authorizeUrl(open.origin, clientId, { redirectUri: "https://evil.example/cb" }).url);
    assert.equal(status, 400);
  });

  test("by default a document on a loopback or private address is refused before any request is made, the page not saying why (the log does)", async () => {
    for (const host of [documents.origin, documents.origin.replace("localhost", "127.0.0.1")]) {
      const clientId = `${host}/private.json`;
      documents.routes.set("/private.json", { status: 200, body: documentFor(clientId) });
      const { status, text } = await refusedPage(authorizeUrl(guarded.origin, clientId).url);
      assert.equal(status, 400, host);
      // Why a fetch failed (a name resolving to a private address, one that does not resolve) would tell an outsider which internal names exist.
      assert.match(text, /could not be fetched/, host);
      assert.doesNotMatch(text, /not public|resolves|ENOTFOUND/, host);
    }
    assert.match(guarded.logs(), /client metadata document not fetched .*not public/);
    assert.ok(!documents.hits.includes("/private.json"), "the private address was never contacted");
  });

  test("a host outside client_metadata_documents.allowed_hosts is refused without a fetch", async () => {
    const clientId = `${documents.origin.replace("localhost", "127.0.0.1")}/not-allowed.json`;
    const { status, text } = await refusedPage(authorizeUrl(open.origin, clientId).url);
    assert.equal(status, 400);
    assert.match(text, /not allowed on this server/);
    assert.ok(!documents.hits.includes("/not-allowed.json"));
  });

  test("a client used for a token a day after its first stays known: a flood from its address a day later still leaves it its fetch", async () => {
    // SIGUSR2 steps the bridge's wall clock 23 h ahead (tests/support/clock-step.cjs); documents are cached for a second.
    const bridge = await startAsBridge({
      storage: { type: "memory" },
      env: { NODE_EXTRA_CA_CERTS: documents.caFile, NODE_OPTIONS: `--require ${join(ROOT, "tests/support/clock-step.cjs")}`, CLOCK_STEP_MS: String(23 * 3_600_000) },
      oauthServer: { refresh_token_lifetime: "72h", client_metadata_documents: { allow_private_addresses: true, allowed_hosts: ["localhost"], max_cache_time: "1s" } },
    });
    try {
      const known = `${documents.origin}/daily.json`;
      documents.routes.set("/daily.json", { status: 200, body: documentFor(known), headers: { "cache-control": "no-store" } });
      const { url, verifier } = authorizeUrl(bridge.origin, known, { resource: bridge.url });
      const redeemed = await redeem(bridge.origin, known, (await signIn(url)).searchParams.get("code")!, verifier);
      let tokens = (await redeemed.json()) as { refresh_token: string };
      assert.equal(redeemed.status, 200, JSON.stringify(tokens));
      const refresh = async () => {
        await new Promise((resolve) => setTimeout(resolve, 1_200));
        const response = await postForm(`${bridge.origin}/token`, { grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id: known });
        const body = (await response.json()) as { refresh_token: string };
        assert.equal(response.status, 200, JSON.stringify(body));
        tokens = body;
      };
      // Used again 23 h on, and once more 46 h on: the last use was 23 h before.
      bridge.process.kill("SIGUSR2");
      await refresh();
      bridge.process.kill("SIGUSR2");
      for (let i = 0; i < 25; i++) {
        const response = await postForm(`${bridge.origin}/token`, { grant_type: "refresh_token", refresh_token: "x", client_id: `${documents.origin}/daily-flood-${i}.json` });
        await response.arrayBuffer();
      }
      await refresh();
    } finally {
      await bridge.stop();
    }
  });

  test("documents never used for a token are fetched at most 20 per address per ten minutes, even all at once and even when valid, so nobody fills the store with them", async () => {
    // Documents are cached for a second only, so the known client's is fetched again after the flood.
    const bridge = await startAsBridge({ storage: { type: "memory" }, env: { NODE_EXTRA_CA_CERTS: documents.caFile }, oauthServer: { client_metadata_documents: { allow_private_addresses: true, allowed_hosts: ["localhost"], max_cache_time: "1s" } } });
    try {
      // A known client: signed in and got a token before the flood.
      const known = `${documents.origin}/flood-known.json`;
      documents.routes.set("/flood-known.json", { status: 200, body: documentFor(known), headers: { "cache-control": "no-store" } });
      const { url, verifier } = authorizeUrl(bridge.origin, known, { resource: bridge.url });
      const redeemed = await redeem(bridge.origin, known, (await signIn(url)).searchParams.get("code")!, verifier);
      const tokens = (await redeemed.json()) as { refresh_token: string };
      assert.equal(redeemed.status, 200, JSON.stringify(tokens));
      // Valid documents (an attacker's own server), each costing the bridge a fetch and a cache entry, sent at once with made-up ones.
      const flood = Array.from({ length: 40 }, (_, i) => `/flood-${i}.json`);
      for (const [i, path] of flood.entries()) if (i % 2 === 0) documents.routes.set(path, { status: 200, body: documentFor(`${documents.origin}${path}`) });
      const statuses = await Promise.all(
        flood.map(async (path) => {
          const response = await postForm(`${bridge.origin}/token`, { grant_type: "refresh_token", refresh_token: "x", client_id: `${documents.origin}${path}` });
          await response.arrayBuffer();
          return response.status;
        }),
      );
      const fetched = documents.hits.filter((hit) => flood.includes(hit)).length;
      assert.ok(fetched <= 19, `at most 19 more documents fetched (the known client's was the first of 20), got ${fetched}: ${statuses.join(" ")}`);
      assert.ok(statuses.filter((status) => status === 429).length >= 21, statuses.join(" "));
      // The known client keeps working: its document is fetched again, past the address's allowance.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const before = documents.hits.filter((hit) => hit === "/flood-known.json").length;
      const refreshed = await postForm(`${bridge.origin}/token`, { grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id: known });
      assert.equal(refreshed.status, 200, await refreshed.text());
      assert.equal(documents.hits.filter((hit) => hit === "/flood-known.json").length, before + 1);
    } finally {
      await bridge.stop();
    }
  });
});
