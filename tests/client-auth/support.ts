/** @module Test support for client-mode authentication: token sources built as the bridge builds them, and one MCP request through the transport's contract. */
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTokenSource, type TokenSource, type TokenSourceDeps } from "../../src/auth/outbound/index.ts";
import { AuthSchema } from "../../src/config/schema.ts";
import { nodePlatform } from "../../src/runtime/node.ts";
import { privateFiles } from "../../src/runtime/private-files.ts";
import type { Platform } from "../../src/runtime/types.ts";
import { captureLogger } from "../auth-oauth/support.ts";
import { bundle } from "../support/fixtures.ts";

/**
 * The test browsers for `browser_command`, each bundled once (spawned through tsx, each would cost
 * a second or two of CPU): run as `node <path> [options] URL`. fetch: sign-in-browser.ts;
 * chromium: chromium-browser.ts (playwright-core stays in node_modules, where it finds its files).
 */
export const testBrowser = {
  fetch: () => bundle("tests/client-auth/sign-in-browser.ts", "sign-in-browser.mjs"),
  chromium: () => bundle("tests/client-auth/chromium-browser.ts", "chromium-browser.mjs", { external: ["playwright-core"] }),
};

export const INITIALIZE = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "client-auth-test", version: "1" } } };

/** A token source for `auth` (the client's `auth:` section as written in YAML), with a private data directory. */
export async function makeSource(auth: Record<string, unknown>, serverUrl: string, options: { platform?: Partial<Platform>; dataDir?: string; fetch?: typeof fetch; publicOnly?: TokenSourceDeps["publicOnly"] } = {}) {
  const logger = captureLogger();
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "mcp-bridge-client-auth-"));
  const stderr: string[] = [];
  const platform: Platform = { ...nodePlatform, writeStderr: (text) => void stderr.push(text), ...options.platform };
  const source = await createTokenSource(AuthSchema.parse(auth), { serverUrl, platform, logger, fetch: options.fetch ?? fetch, ...(options.publicOnly && { publicOnly: options.publicOnly }), dataDir, files: privateFiles });
  return { source, logger, dataDir, stderr: () => stderr.join("") };
}

/**
 * POSTs `body` to `url` the way the client transport does with a TokenSource: the header from
 * `authorization()`, and on 401/403 one `handleChallenge()` and, when it says so, one retry.
 */
export async function call(source: TokenSource, url: string, body: unknown = INITIALIZE, headers: Record<string, string> = {}): Promise<Response> {
  const send = async () => {
    const authorization = await source.authorization();
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers, ...(authorization && { authorization }) },
      body: JSON.stringify(body),
    });
    return { response, authorization };
  };
  const first = await send();
  if (first.response.status !== 401 && first.response.status !== 403) return first.response;
  await first.response.body?.cancel();
  const retry = await source.handleChallenge({
    status: first.response.status as 401 | 403,
    wwwAuthenticate: first.response.headers.get("www-authenticate"),
    resourceUrl: url,
    ...(first.authorization && { sentAuthorization: first.authorization }),
  });
  if (!retry) return first.response;
  return (await send()).response;
}

/** The claims of a JWT, unverified (the resource server verifies; tests only look). */
export function claimsOf(header: string | undefined): Record<string, unknown> {
  const token = header?.replace(/^Bearer /, "") ?? "";
  return JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8")) as Record<string, unknown>;
}

/** The URLs a test browser (sign-in-browser.ts, chromium-browser.ts) was given, from its MCP_TEST_BROWSER_LOG. */
export function opened(log: string): string[] {
  return browserLogLines(log).filter((line) => !line.startsWith("callback "));
}

/** What the loopback listener answered sign-in-browser.ts or chromium-browser.ts: `STATUS TITLE` per callback. */
export function callbackAnswers(log: string): string[] {
  return browserLogLines(log).flatMap((line) => (line.startsWith("callback answered ") ? [line.slice("callback answered ".length)] : []));
}

/** The text of the callback pages chromium-browser.ts loaded. */
export function callbackTexts(log: string): string[] {
  return browserLogLines(log).flatMap((line) => (line.startsWith("callback text ") ? [line.slice("callback text ".length)] : []));
}

function browserLogLines(log: string): string[] {
  return existsSync(log) ? readFileSync(log, "utf8").split("\n").filter(Boolean) : [];
}
