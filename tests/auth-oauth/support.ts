/** @module Test support: oidc-provider (v9) as a real IdP on loopback, keys made at test time, a capturing logger, config parsing. */
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before } from "node:test";
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from "jose";
import Provider from "oidc-provider";
import { AuthSchema, type OAuthConfig } from "../../src/config/schema.ts";
import type { Logger, LogFields } from "../../src/log/logger.ts";
import { createOAuthAuthenticator, type OAuthAuthenticator } from "../../src/auth/oauth/index.ts";
import { AuthError } from "../../src/auth/types.ts";
import { ECHO_SERVER, startBridge, type RunningBridge } from "../support/bridge.ts";

export const RESOURCE = "https://mcp.example.test/mcp";
export const OTHER_RESOURCE = "https://other.example.test/mcp";
/** Resource indicators starting with this get opaque tokens (for introspection). */
export const OPAQUE_PREFIX = "urn:opaque:";
export const M2M_CLIENT = { id: "m2m-client", secret: "m2m-secret-not-real-0123456789" };
export const BRIDGE_CLIENT = { id: "mcp-bridge", secret: "bridge-secret-not-real-0123456789" };

export interface SigningKey {
  kid: string;
  alg: "RS256" | "ES256";
  privateJwk: JWK;
  publicJwk: JWK;
  privateKey: CryptoKey;
}

export async function makeKey(alg: "RS256" | "ES256", kid = `${alg.toLowerCase()}-${crypto.randomUUID().slice(0, 8)}`): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg, use: "sig" };
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: "sig" };
  return { kid, alg, privateJwk, publicJwk, privateKey };
}

export interface Idp {
  issuer: string;
  /** Requests per path since start (e.g. "/jwks"). */
  count(path: string): number;
  resetCounts(): void;
  /** While down, every connection is cut: fetch fails as on a network outage. */
  setDown(down: boolean): void;
  keys: SigningKey[];
  /** Replaces the provider with one signing with fresh keys (old keys dropped from the JWKS). */
  rotateKeys(): Promise<void>;
  token(options?: { resource?: string; scope?: string }): Promise<string>;
  /** Signs arbitrary claims with the IdP's own current key (to test each claim check alone). */
  sign(claims: JWTPayload, options?: { header?: Record<string, unknown>; key?: SigningKey }): Promise<string>;
  /** People who can sign in on the IdP's login form (federated mode): account id → claims (sub is the id). */
  accounts: Map<string, Record<string, unknown>>;
  /** Adds a confidential authorization-code client (an upstream registration of the bridge); rebuilds the provider. */
  registerClient(client: { client_id: string; client_secret: string; redirect_uris: string[] }): Promise<void>;
  stop(): Promise<void>;
}

/** What the IdP needs for interactive sign-in (federated mode): accounts and authorization-code clients. */
interface SignInSetup {
  accounts: Map<string, Record<string, unknown>>;
  clients: { client_id: string; client_secret: string; redirect_uris: string[] }[];
}

function buildProvider(issuer: string, keys: SigningKey[], signIn: SignInSetup): Provider {
  const codeClients = new Set(signIn.clients.map((client) => client.client_id));
  return new Provider(issuer, {
    clients: [
      { client_id: M2M_CLIENT.id, client_secret: M2M_CLIENT.secret, grant_types: ["client_credentials"], redirect_uris: [], response_types: [] },
      { client_id: BRIDGE_CLIENT.id, client_secret: BRIDGE_CLIENT.secret, grant_types: [], redirect_uris: [], response_types: [] },
      ...signIn.clients.map((client) => ({ ...client, grant_types: ["authorization_code"], response_types: ["code"] })),
    ],
    findAccount: async (_ctx: unknown, sub: string) => {
      const claims = signIn.accounts.get(sub);
      return claims && { accountId: sub, claims: async () => ({ ...claims, sub }) };
    },
    claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
    interactions: { url: async (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    cookies: { keys: ["test-cookie-key-not-secret"] },
    jwks: { keys: keys.map((key) => key.privateJwk) as never },
    // offline_access: refresh tokens for the clients that ask (client mode's authorization-code flow).
    scopes: ["mcp:read", "mcp:write", "mcp:admin", "offline_access"],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      // Client mode signs in as a native public client it registers itself (RFC 7591, RFC 8252 loopback redirects).
      registration: { enabled: true },
      introspection: {
        enabled: true,
        // Only the bridge's client may introspect (RFC 7662 §4 asks for such a policy).
        allowedPolicy: async (_ctx: unknown, client: { clientId: string }) => client.clientId === BRIDGE_CLIENT.id,
      },
      resourceIndicators: {
        enabled: true,
        // Sign-in clients get plain tokens for the IdP's own UserInfo endpoint.
        defaultResource: async (_ctx: unknown, client: { clientId: string }) => (codeClients.has(client.clientId) ? undefined : RESOURCE),
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx: unknown, resourceIndicator: string) => ({
          scope: "mcp:read mcp:write mcp:admin",
          audience: resourceIndicator.startsWith(OPAQUE_PREFIX) ? resourceIndicator.slice(OPAQUE_PREFIX.length) : resourceIndicator,
          accessTokenTTL: 300,
          accessTokenFormat: resourceIndicator.startsWith(OPAQUE_PREFIX) ? "opaque" : "jwt",
          jwt: { sign: { alg: "ES256" } },
        }),
      },
    },
  } as never);
}

export async function startIdp(): Promise<Idp> {
  const counts = new Map<string, number>();
  let down = false;
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const server: Server = createServer((req, res) => {
    if (down) {
      req.socket.destroy();
      return;
    }
    const path = new URL(req.url ?? "/", "http://x").pathname;
    counts.set(path, (counts.get(path) ?? 0) + 1);
    if (path.startsWith("/interaction/")) void interaction(provider, req, res);
    else handler!(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let keys = [await makeKey("ES256"), await makeKey("RS256")];
  const signIn: SignInSetup = { accounts: new Map(), clients: [] };
  let provider = buildProvider(issuer, keys, signIn);
  handler = provider.callback();

  const idp: Idp = {
    issuer,
    count: (path) => counts.get(path) ?? 0,
    resetCounts: () => counts.clear(),
    setDown(value) {
      down = value;
      if (value) server.closeAllConnections();
    },
    get keys() {
      return keys;
    },
    async rotateKeys() {
      keys = [await makeKey("ES256"), await makeKey("RS256")];
      provider = buildProvider(issuer, keys, signIn);
      handler = provider.callback();
    },
    accounts: signIn.accounts,
    async registerClient(client) {
      signIn.clients.push(client);
      provider = buildProvider(issuer, keys, signIn);
      handler = provider.callback();
    },
    async token(options = {}) {
      const body = new URLSearchParams({ grant_type: "client_credentials", resource: options.resource ?? RESOURCE, scope: options.scope ?? "mcp:read mcp:write" });
      const response = await fetch(`${issuer}/token`, {
        method: "POST",
        headers: { authorization: `Basic ${btoa(`${M2M_CLIENT.id}:${M2M_CLIENT.secret}`)}`, "content-type": "application/x-www-form-urlencoded" },
        body,
      });
      const json = (await response.json()) as { access_token?: string };
      if (!response.ok || !json.access_token) throw new Error(`token request failed: ${response.status} ${JSON.stringify(json)}`);
      return json.access_token;
    },
    async sign(claims, options = {}) {
      const key = options.key ?? keys[0]!;
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ iss: issuer, aud: RESOURCE, sub: "user-1", iat: now, exp: now + 300, scope: "mcp:read", ...claims })
        .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "at+jwt", ...options.header })
        .sign(key.privateKey);
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return idp;
}

/**
 * The IdP's login page (oidc-provider leaves it to the host): a form asking for an account id, and
 * a Cancel button that answers access_denied with a description full of markup (which the bridge
 * must never repeat). Signing in grants every scope asked for.
 */
async function interaction(provider: Provider, req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    const details = await provider.interactionDetails(req, res);
    if (req.method === "GET") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      res.end(
        `<!doctype html><html><head><title>Upstream IdP</title></head><body><h1>Upstream IdP sign-in</h1>` +
          `<form method="post" action="/interaction/${details.uid}"><label>Account <input name="login" autofocus></label>` +
          `<button type="submit" name="action" value="login">Sign in</button> <button type="submit" name="action" value="deny">Cancel</button></form></body></html>`,
      );
      return;
    }
    let body = "";
    for await (const chunk of req) body += chunk;
    const form = new URLSearchParams(body);
    const accountId = form.get("login") ?? "";
    if (form.get("action") === "deny") {
      await provider.interactionFinished(req, res, { error: "access_denied", error_description: '<script>alert("idp")</script> the user said no' }, { mergeWithLastSubmission: false });
      return;
    }
    const grant = new provider.Grant({ accountId, clientId: details.params.client_id as string });
    if (typeof details.params.scope === "string") grant.addOIDCScope(details.params.scope);
    // A token for an MCP server (RFC 8707 resource) carries the scopes asked for at that resource.
    if (typeof details.params.resource === "string") grant.addResourceScope(details.params.resource, details.params.scope as string);
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { login: { accountId }, consent: { grantId } }, { mergeWithLastSubmission: false });
  } catch (error) {
    res.writeHead(400, { "content-type": "text/plain" });
    res.end(`interaction failed: ${(error as Error).message}`);
  }
}

/**
 * Plays a browser at the IdP with Node's fetch: follows `authorizationUrl` through the login form
 * (signing in as `account`, or pressing Cancel with `deny`), carrying cookies, until the IdP
 * redirects to a URL starting with `redirectUri`, which it returns (the callback the bridge would get).
 */
export async function signInAtIdp(authorizationUrl: URL | string, options: { account?: string; deny?: boolean; redirectUri: string }): Promise<URL> {
  const cookies = new Map<string, string>();
  let url = new URL(authorizationUrl);
  let init: RequestInit = {};
  for (let hop = 0; hop < 20; hop++) {
    const response = await fetch(url, { ...init, redirect: "manual", headers: { ...(init.headers as Record<string, string>), cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join("; ") } });
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(";");
      const [name, value] = [pair!.slice(0, pair!.indexOf("=")).trim(), pair!.slice(pair!.indexOf("=") + 1).trim()];
      const expired = attributes.some((attribute) => /^\s*max-age=0/i.test(attribute) || (/^\s*expires=/i.test(attribute) && Date.parse(attribute.split("=")[1]!) < Date.now()));
      if (expired) cookies.delete(name);
      else cookies.set(name, value);
    }
    const location = response.headers.get("location");
    if (location) {
      await response.body?.cancel();
      url = new URL(location, url);
      init = {};
      if (url.href.startsWith(options.redirectUri)) return url;
      continue;
    }
    const page = await response.text();
    const action = /<form method="post" action="([^"]+)"/.exec(page);
    if (!response.ok || !action) throw new Error(`IdP answered ${response.status} at ${url.pathname}: ${page.slice(0, 300)}`);
    url = new URL(action[1]!, url);
    const form = options.deny ? { login: "", action: "deny" } : { login: options.account ?? "", action: "login" };
    init = { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(form).toString() };
  }
  throw new Error("too many redirects at the IdP");
}

/** Starts a real IdP before the calling file's (or suite's) tests and stops it after; `started` receives it. */
export function useIdp(started: (idp: Idp) => void): void {
  let idp: Idp | undefined;
  before(async () => {
    idp = await startIdp();
    started(idp);
  });
  after(async () => {
    idp?.setDown(false);
    await idp?.stop();
  });
}

/**
 * oidc-provider, then the built CLI in server mode in front of the echo server validating its
 * tokens (auth.oauth: discovery_url the provider, required_scopes mcp:read, then `oauth`), for the
 * enclosing describe's tests; both are stopped after them (the bridge first). `accounts` can sign
 * in at the provider; `log` is the bridge's log section.
 */
export function useOAuthBridge(options: { oauth?: Record<string, unknown>; accounts?: Record<string, Record<string, unknown>>; log?: Record<string, unknown> }, started: (running: { idp: Idp; bridge: RunningBridge }) => void): void {
  let idp: Idp | undefined;
  let bridge: RunningBridge | undefined;
  before(async () => {
    idp = await startIdp();
    for (const [id, claims] of Object.entries(options.accounts ?? {})) idp.accounts.set(id, claims);
    bridge = await startBridge({
      ...(options.log && { log: options.log }),
      server: {
        mcp_server: { command: process.execPath, args: [ECHO_SERVER] },
        auth: { type: "oauth", oauth: { discovery_url: idp.issuer, required_scopes: ["mcp:read"], ...options.oauth } },
      },
    });
    started({ idp, bridge });
  });
  after(async () => {
    await bridge?.stop();
    await idp?.stop();
  });
}

/** A Logger that keeps every line, so tests can assert that no token ever reaches the log. */
export function captureLogger(): Logger & { lines: { level: string; message: string; fields: LogFields }[]; text(): string } {
  const lines: { level: string; message: string; fields: LogFields }[] = [];
  const make = (bound: LogFields): Logger => {
    const emit = (level: string) => (message: string, fields?: LogFields) => void lines.push({ level, message, fields: { ...bound, ...fields } });
    return { enabled: () => true, debug: emit("debug"), info: emit("info"), warn: emit("warn"), error: emit("error"), child: (fields) => make({ ...bound, ...fields }) };
  };
  return Object.assign(make({}), { lines, text: () => lines.map((line) => `${line.level} ${line.message} ${JSON.stringify(line.fields)}`).join("\n") });
}

/** The `oauth` section as the config loader would produce it (defaults applied, durations in ms). */
export function oauthConfig(oauth: Record<string, unknown>): OAuthConfig {
  return AuthSchema.parse({ type: "oauth", oauth }).oauth!;
}

export const FAST_RETRY = { initialDelay: 20, maxDelay: 100 };

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export { waitFor } from "../support/poll.ts";

/** An authenticator pointed at `idp` by discovery, audience RESOURCE, fast retries. */
export function makeAuthenticator(idp: { issuer: string } | undefined, oauth: Record<string, unknown> = {}, context: { fetch?: typeof fetch; now?: () => number } = {}) {
  const logger = captureLogger();
  const auth: OAuthAuthenticator = createOAuthAuthenticator(oauthConfig({ ...(idp && { discovery_url: idp.issuer }), audience: RESOURCE, ...oauth }), {
    resource: RESOURCE,
    logger,
    retry: FAST_RETRY,
    ...context,
  });
  return { auth, logger };
}

/** Asserts an AuthError with `code` whose reason matches `reason`, and that the token is in neither message nor reason. */
export async function rejectsWith(promise: Promise<unknown>, code: string, reason: RegExp, token?: string): Promise<AuthError> {
  let caught: unknown;
  await assert.rejects(promise, (error: unknown) => {
    caught = error;
    return true;
  });
  assert.ok(caught instanceof AuthError, `expected AuthError, got ${String(caught)}`);
  assert.equal(caught.code, code, `code (reason: ${caught.reason})`);
  assert.match(caught.reason, reason);
  if (token) {
    assert.ok(!caught.message.includes(token) && !caught.reason.includes(token), "the token must never appear in an error");
    // Even a long chunk of it would be a leak (signature part).
    assert.ok(!caught.message.includes(token.slice(-20)), "no part of the token in the error");
  }
  return caught;
}
