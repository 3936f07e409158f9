/**
 * @module Test support for the authorization server: the bridge started with oauth_server enabled,
 * PKCE pairs, and a person signing in on the login page by reading its form and posting it the way
 * a browser would (cookies included).
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { OAuthClientProvider } from "@modelcontextprotocol/sdk/client/auth.js";
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from "@modelcontextprotocol/sdk/shared/auth.js";
import bcrypt from "bcryptjs";
import { ECHO_SERVER, startBridge, useBridge, type RunningBridge } from "../support/bridge.ts";

export const ALICE = { username: "alice", password: "correct horse battery staple", scopes: ["mcp:read", "mcp:write"] };
export const BOB = { username: "bob", password: "bob's own password", scopes: ["mcp:read"] };
export const CLAUDE_CALLBACK = "https://claude.ai/api/mcp/auth_callback";

/** Cost 4: the fastest bcrypt, enough to prove the mechanism in tests. */
export const ALICE_HASH = bcrypt.hashSync(ALICE.password, 4);
export const BOB_HASH = bcrypt.hashSync(BOB.password, 4);

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "mcp-bridge-as-"));
}

/** The bridge with the authorization server on (file storage in a fresh directory unless `storage` says otherwise). */
export async function startAsBridge(options: { oauthServer?: Record<string, unknown>; storage?: Record<string, unknown>; server?: Record<string, unknown>; env?: Record<string, string>; log?: string } = {}): Promise<RunningBridge> {
  return startBridge(
    {
      log: { level: options.log ?? "info" },
      storage: options.storage ?? { type: "file", path: tempDir() },
      server: {
        mcp_server: { command: process.execPath, args: [ECHO_SERVER] },
        ...options.server,
        oauth_server: {
          enabled: true,
          builtin: {
            users: [
              { username: ALICE.username, password_hash: ALICE_HASH, scopes: ALICE.scopes },
              { username: BOB.username, password_hash: BOB_HASH, scopes: BOB.scopes },
            ],
          },
          ...options.oauthServer,
        },
      },
    },
    { env: options.env },
  );
}

/** {@link startAsBridge} before the enclosing describe's tests, stopped after them (see useBridge). */
export function useAsBridge(options?: Parameters<typeof startAsBridge>[0]): RunningBridge {
  return useBridge(() => startAsBridge(options));
}

/**
 * An in-memory OAuthClientProvider (SDK v1) for a public client (DCR, PKCE, refresh) that
 * redirects to `redirectUrl`; a subclass says how its "browser" visits the authorization URL.
 */
export abstract class MemoryProvider implements OAuthClientProvider {
  information: OAuthClientInformationMixed | undefined;
  saved: OAuthTokens | undefined;
  verifier = "";
  constructor(
    readonly redirectUrl: string,
    private readonly clientName: string,
    private readonly stateValue: string,
  ) {}
  get clientMetadata(): OAuthClientMetadata {
    return { client_name: this.clientName, redirect_uris: [this.redirectUrl], grant_types: ["authorization_code", "refresh_token"], response_types: ["code"], token_endpoint_auth_method: "none" };
  }
  state() {
    return this.stateValue;
  }
  clientInformation() {
    return this.information;
  }
  saveClientInformation(information: OAuthClientInformationMixed) {
    this.information = information;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens) {
    this.saved = tokens;
  }
  abstract redirectToAuthorization(url: URL): Promise<void>;
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier;
  }
  codeVerifier() {
    return this.verifier;
  }
}

export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
}

/** The hidden fields and cookies of a sign-in page. */
export interface LoginForm {
  html: string;
  status: number;
  requestId: string;
  csrfToken: string;
  cookies: Record<string, string>;
  headers: Headers;
}

export function cookiesOf(response: Response): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of response.headers.getSetCookie()) {
    const [pair] = line.split(";");
    const eq = pair!.indexOf("=");
    out[pair!.slice(0, eq)] = pair!.slice(eq + 1);
  }
  return out;
}

export function cookieHeader(cookies: Record<string, string>): string {
  return Object.entries(cookies)
    .map(([name, value]) => `${name}=${value}`)
    .join("; ");
}

function hidden(html: string, name: string): string {
  const match = new RegExp(`<input type="hidden" name="${name}" value="([^"]*)">`).exec(html);
  assert.ok(match, `the page has a hidden ${name} field:\n${html}`);
  return match[1]!;
}

/** GETs an authorization URL (with `headers` besides the cookies) and reads its sign-in form. */
export async function openLoginPage(authorizeUrl: string | URL, cookies: Record<string, string> = {}, headers: Record<string, string> = {}): Promise<LoginForm> {
  const response = await fetch(authorizeUrl, { redirect: "manual", headers: { ...headers, ...(Object.keys(cookies).length && { cookie: cookieHeader(cookies) }) } });
  const html = await response.text();
  assert.equal(response.status, 200, `the authorization page opens:\n${html}`);
  return { html, status: response.status, requestId: hidden(html, "request_id"), csrfToken: hidden(html, "csrf_token"), cookies: { ...cookies, ...cookiesOf(response) }, headers: response.headers };
}

/** Posts the sign-in form as the browser would (Origin "null" under no-referrer). Returns the raw response. */
export async function submitLogin(origin: string, form: LoginForm, fields: Record<string, string>, options: { cookies?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<Response> {
  const body = new URLSearchParams({ request_id: form.requestId, csrf_token: form.csrfToken, action: "allow", ...fields });
  return fetch(`${origin}/oauth/authorize`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", origin: "null", cookie: cookieHeader(options.cookies ?? form.cookies), ...options.headers },
    body,
  });
}

/**
 * Ends a federated callback as the browser it came back to would: its page confirming who signed in
 * (200) is sent with `action` (Allow by default) and `cookies`. Any other answer (an error page, a
 * redirect with an error) is returned as it came.
 */
export async function confirmCallback(origin: string, callback: Response, cookies: Record<string, string> = {}, action: "allow" | "deny" = "allow"): Promise<Response> {
  if (callback.status !== 200) return callback;
  const html = await callback.text();
  assert.match(html, /You signed in at/, `the callback's page names who signed in:\n${html}`);
  const form: LoginForm = { html, status: callback.status, requestId: hidden(html, "request_id"), csrfToken: hidden(html, "csrf_token"), cookies, headers: callback.headers };
  return submitLogin(origin, form, { action });
}

/** The answer to a sign-in posted from another address. */
export interface LoginAnswer {
  status: number;
  retryAfter?: string;
  location?: string;
  body: string;
}

/**
 * Starts POSTing the sign-in form (as ALICE) from `localAddress` (127.x.y.z, as another machine would): once
 * connected, all but the body's last byte is sent. `finish()` sends that byte, so that many
 * sign-ins can arrive at one instant, whatever the load on this machine.
 */
export async function startLoginFrom(localAddress: string, origin: string, form: LoginForm, password: string): Promise<{ finish(): void; answer: Promise<LoginAnswer> }> {
  const body = new URLSearchParams({ request_id: form.requestId, csrf_token: form.csrfToken, action: "allow", username: ALICE.username, password }).toString();
  const headers = { "content-type": "application/x-www-form-urlencoded", cookie: cookieHeader(form.cookies), "content-length": String(Buffer.byteLength(body)) };
  let req!: ReturnType<typeof request>;
  const answer = new Promise<LoginAnswer>((resolve, reject) => {
    req = request(`${origin}/oauth/authorize`, { method: "POST", localAddress, headers }, (response) => {
      let text = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (text += chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, retryAfter: response.headers["retry-after"], location: response.headers.location, body: text }));
    });
    req.on("error", reject);
  });
  await new Promise<void>((resolve) => req.write(body.slice(0, -1), () => resolve()));
  return { finish: () => req.end(body.slice(-1)), answer };
}

/** One sign-in as ALICE with `password` from `localAddress`, sent at once. */
export async function loginFrom(localAddress: string, origin: string, form: LoginForm, password: string): Promise<LoginAnswer> {
  const started = await startLoginFrom(localAddress, origin, form, password);
  started.finish();
  return started.answer;
}

/** Signs in on the page at `authorizeUrl` and returns the redirect back to the client (its URL). */
export async function signIn(authorizeUrl: string | URL, user: { username: string; password: string } = ALICE): Promise<URL> {
  const form = await openLoginPage(authorizeUrl);
  const response = await submitLogin(new URL(authorizeUrl).origin, form, { username: user.username, password: user.password });
  assert.equal(response.status, 303, `sign-in redirects back:\n${await response.text()}`);
  return new URL(response.headers.get("location")!);
}

/** POSTs a form to `url`. */
export function postForm(url: string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", ...headers }, body: new URLSearchParams(fields) });
}

export function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
}

/** Registers a public client (DCR) and returns its client_id. */
export async function registerClient(origin: string, redirectUris: string[] = [CLAUDE_CALLBACK], extra: Record<string, unknown> = {}): Promise<Record<string, unknown> & { client_id: string }> {
  const response = await postJson(`${origin}/register`, { client_name: "Test client", redirect_uris: redirectUris, token_endpoint_auth_method: "none", grant_types: ["authorization_code", "refresh_token"], ...extra });
  const body = (await response.json()) as Record<string, unknown> & { client_id: string };
  assert.equal(response.status, 201, JSON.stringify(body));
  return body;
}

/** An authorization URL for `clientId` with PKCE; returns it with the verifier. */
export function authorizeUrl(origin: string, clientId: string, options: { redirectUri?: string; resource?: string; scope?: string; state?: string; challenge?: string; method?: string | null } = {}): { url: URL; verifier: string } {
  const { verifier, challenge } = pkce();
  const url = new URL(`${origin}/authorize`);
  url.searchParams.set("response_type", "code");
  url.searchParams.set("client_id", clientId);
  url.searchParams.set("redirect_uri", options.redirectUri ?? CLAUDE_CALLBACK);
  url.searchParams.set("code_challenge", options.challenge ?? challenge);
  if (options.method !== null) url.searchParams.set("code_challenge_method", options.method ?? "S256");
  url.searchParams.set("state", options.state ?? "state-123");
  if (options.resource !== undefined) url.searchParams.set("resource", options.resource);
  if (options.scope !== undefined) url.searchParams.set("scope", options.scope);
  return { url, verifier };
}

/** Redeems `code` at /token for a public client. */
export function redeem(origin: string, clientId: string, code: string, verifier: string, extra: Record<string, string> = {}): Promise<Response> {
  return postForm(`${origin}/token`, { grant_type: "authorization_code", code, code_verifier: verifier, client_id: clientId, redirect_uri: CLAUDE_CALLBACK, ...extra });
}

/** Registers, signs in as `user` and redeems: the token response of a complete flow. */
export async function fullFlow(bridge: RunningBridge, user = ALICE, options: { scope?: string } = {}): Promise<{ clientId: string; tokens: Record<string, unknown> & { access_token: string; refresh_token?: string } }> {
  const { client_id: clientId } = await registerClient(bridge.origin);
  const { url, verifier } = authorizeUrl(bridge.origin, clientId, { resource: bridge.url, scope: options.scope });
  const back = await signIn(url, user);
  const code = back.searchParams.get("code");
  assert.ok(code, `a code comes back: ${back}`);
  const response = await redeem(bridge.origin, clientId, code, verifier, { resource: bridge.url });
  const tokens = (await response.json()) as Record<string, unknown> & { access_token: string; refresh_token?: string };
  assert.equal(response.status, 200, JSON.stringify(tokens));
  return { clientId, tokens };
}

/** An MCP initialize POST with `token`. */
export function initializeWith(url: string, token: string | undefined): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...(token && { authorization: `Bearer ${token}` }) },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "as-test", version: "1" } } }),
  });
}
