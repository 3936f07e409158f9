/** @module Unit tests of the pure rules: redirect URIs (RFC 8252 §7.3 loopback ports), metadata document URLs and host allow-lists, PEM forms. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { hostAllowed, metadataUrlProblem } from "../../src/oauth-server/cimd.ts";
import { readPemKey } from "../../src/oauth-server/pem.ts";
import { redirectUriAllowed, redirectUriMatches, redirectUriProblem } from "../../src/oauth-server/redirect.ts";

describe("redirect URIs", () => {
  test("what may be registered", () => {
    assert.equal(redirectUriProblem("https://claude.ai/api/mcp/auth_callback", "web"), undefined);
    assert.equal(redirectUriProblem("http://127.0.0.1:3000/callback", "native"), undefined);
    assert.equal(redirectUriProblem("http://[::1]/cb", "native"), undefined);
    for (const [uri, type, why] of [
      ["http://localhost:1@evil.com/callback", "native", /user information/],
      ["https://user@claude.ai/cb", "web", /user information/],
      ["https://claude.ai/cb#x", "web", /fragment/],
      ["https://claude.ai/a/../cb", "web", /dot path/],
      ["https://claude.ai/a%2Fb", "web", /encoded/],
      ["https://claude.ai/c b", "web", /whitespace/],
      ["https://claude.ai\\@evil.com/", "web", /backslash/],
      ["http://claude.ai/cb", "native", /not loopback/],
      ["http://localhost/cb", "web", /web client/],
      ["javascript:alert(1)", "web", /scheme/],
      ["com.example.app:/cb", "web", /only a native client/],
      ["myapp:/cb", "native", /reverse-domain/],
      ["data:text/html,x", "native", /cannot be a redirect target/],
    ] as const) {
      assert.match(redirectUriProblem(uri, type) ?? "", why, uri);
    }
  });

  test("matching: exact, except the port of a loopback URI", () => {
    assert.ok(redirectUriMatches("https://claude.ai/api/mcp/auth_callback", "https://claude.ai/api/mcp/auth_callback"));
    assert.ok(!redirectUriMatches("https://claude.ai/api/mcp/auth_callback", "https://claude.ai:443/api/mcp/auth_callback"));
    assert.ok(!redirectUriMatches("https://claude.ai/cb", "https://CLAUDE.ai/cb"));
    assert.ok(redirectUriMatches("http://127.0.0.1/callback", "http://127.0.0.1:51234/callback"));
    assert.ok(redirectUriMatches("http://localhost:6274/oauth/callback", "http://localhost:9999/oauth/callback"));
    assert.ok(redirectUriMatches("http://[::1]:1/cb", "http://[::1]:2/cb"));
    assert.ok(!redirectUriMatches("http://127.0.0.1/callback", "http://127.0.0.1:5/callback/"));
    assert.ok(!redirectUriMatches("http://127.0.0.1/callback", "http://localhost:5/callback"));
    assert.ok(!redirectUriMatches("http://127.0.0.1/callback", "http://127.0.0.1:5@evil.com/callback"));
    assert.ok(!redirectUriMatches("http://127.0.0.1/callback", "http://127.0.0.1:5/callback?x=1"));
    assert.ok(!redirectUriMatches("https://localhost/cb", "https://localhost:5/cb"), "only http loopback ports vary");
  });

  test("the allow-list uses the same rules; * turns it off", () => {
    assert.ok(redirectUriAllowed(["http://localhost/callback"], "http://localhost:3000/callback"));
    assert.ok(!redirectUriAllowed(["http://localhost/callback"], "http://localhost:3000/other"));
    assert.ok(redirectUriAllowed(["*"], "https://anything.example/cb"));
  });
});

describe("client metadata document URLs", () => {
  test("https with a path, normalised, no fragment, user info or dot segments", () => {
    assert.equal(metadataUrlProblem("https://app.example.com/oauth/client.json"), undefined);
    assert.match(metadataUrlProblem("http://app.example.com/client.json")!, /not https/);
    assert.match(metadataUrlProblem("https://app.example.com/")!, /no path/);
    assert.match(metadataUrlProblem("https://u@app.example.com/c")!, /user information/);
    assert.match(metadataUrlProblem("https://app.example.com/c#f")!, /fragment/);
    assert.match(metadataUrlProblem("https://app.example.com/a/../c")!, /dot/);
    assert.match(metadataUrlProblem("https://APP.example.com/c")!, /normalised/);
  });

  test("allowed hosts: exact names and *. subdomains", () => {
    assert.ok(hostAllowed([], "anything.example"));
    assert.ok(hostAllowed(["claude.ai"], "claude.ai"));
    assert.ok(!hostAllowed(["claude.ai"], "evilclaude.ai"));
    assert.ok(hostAllowed(["*.example.com"], "app.example.com"));
    assert.ok(!hostAllowed(["*.example.com"], "example.com"));
    assert.ok(!hostAllowed(["*.example.com"], "evil-example.com"));
  });
});

describe("PEM keys", () => {
  test("encrypted keys and other blocks are explained", () => {
    assert.throws(() => readPemKey("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"), /encrypted/);
    assert.throws(() => readPemKey("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), /no "PRIVATE KEY"/);
    // A SEC1 frame around no real key (the label is put together so no scanner takes it for a key).
    const sec1 = ["EC", "PRIVATE", "KEY"].join(" ");
    assert.equal(readPemKey(`-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n-----BEGIN ${sec1}-----\nAAAA\n-----END ${sec1}-----\n`).kind, "sec1");
  });
});

describe("resource indicators", () => {
  test("this server's MCP URL in any scheme/host case, with or without a trailing slash, or its origin", async () => {
    const { resourceMatcher } = await import("../../src/oauth-server/redirect.ts");
    const accepts = resourceMatcher("https://mcp.example.com/mcp");
    for (const value of ["https://mcp.example.com/mcp", "https://mcp.example.com/mcp/", "HTTPS://MCP.Example.com/mcp", "https://mcp.example.com", "https://mcp.example.com/"]) assert.ok(accepts(value), value);
    for (const value of ["https://mcp.example.com/MCP", "https://mcp.example.com/mcp#x", "https://evil.example/mcp", "https://mcp.example.com:8443/mcp", "https://u@mcp.example.com/mcp", "mcp.example.com", "https://mcp.example.com/other"]) assert.ok(!accepts(value), value);
  });
});
