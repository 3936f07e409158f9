/**
 * @module `connect URL` without --token-env to a server that takes static bearer tokens (its 401
 * names no resource_metadata): the sign-in the bridge tries then fails at a guessed registration
 * endpoint, and the local client's error said only that ("dynamic client registration refused
 * (HTTP 404 …)"), never that a token could be given. It now says how. And `--transport sse` given
 * the Streamable HTTP URL: the error now says that transport needs the server's SSE endpoint; the
 * `auto` transport falling back to HTTP+SSE at a wrong path says neither transport answered there.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ECHO_SERVER, startBridge, useBridge } from "../support/bridge.ts";
import { connectLocalClient } from "../client/support.ts";
import { startRawServer } from "../client/sdk-servers.ts";

const server = useBridge(() =>
  startBridge({ server: { mcp_server: { command: process.execPath, args: [ECHO_SERVER] }, auth: { type: "bearer", bearer: { valid_tokens: ["tok-newcomer-0123456789"] } } } }),
);

test("connect without a token to a bearer-only server: the error names the sign-in failure and says to give the token", async () => {
  const state = mkdtempSync(join(tmpdir(), "mcp-bridge-newcomer-"));
  const local = await connectLocalClient(["connect", server.url, "--browser-command", "none"], { env: { HOME: state, XDG_STATE_HOME: state }, connect: false });
  try {
    const failure = await local.client.connect(local.transport).then(
      () => assert.fail("connected without a token"),
      (error: Error) => error.message,
    );
    assert.match(failure, /answered HTTP 401, and signing in failed: .*; its challenge names no authorization server \(no resource_metadata\): if it takes a static token, give it \(connect --token-env VAR, or client\.auth\.type: bearer\)/);
  } finally {
    await local.close();
  }
});

test("connect --transport sse with the Streamable HTTP URL (…/mcp): the error says the transport needs the SSE endpoint", async () => {
  const local = await connectLocalClient(["connect", server.url, "--token-env", "T", "--transport", "sse"], { env: { T: "tok-newcomer-0123456789" }, connect: false });
  try {
    const failure = await local.client.connect(local.transport).then(
      () => assert.fail("connected"),
      (error: Error) => error.message,
    );
    assert.match(failure, /\(event stream\) answered HTTP 400: .* \(no HTTP\+SSE event stream at this URL: that transport's URL is the server's SSE endpoint, often ending in \/sse\)/);
  } finally {
    await local.close();
  }
});

test("connect ORIGIN/wrong (auto transport) to a server answering 404 to everything: the error says neither transport answered there, with both statuses, not to use the SSE URL", async () => {
  const nothing = await startRawServer((_req, res) => res.writeHead(404, { "content-type": "text/plain" }).end("not found"));
  const local = await connectLocalClient(["connect", `${new URL(nothing.url).origin}/wrong`, "--token-env", "T"], { env: { T: "tok-newcomer-0123456789" }, connect: false });
  try {
    const failure = await local.client.connect(local.transport).then(
      () => assert.fail("connected"),
      (error: Error) => error.message,
    );
    assert.match(failure, /\(event stream\) answered HTTP 404: not found \(neither Streamable HTTP nor HTTP\+SSE answered at this URL: the initialize POST got HTTP 404, the event stream GET HTTP 404; check the URL's path\)/);
    assert.doesNotMatch(failure, /\/sse/);
  } finally {
    await local.close();
    await nothing.close();
  }
});
