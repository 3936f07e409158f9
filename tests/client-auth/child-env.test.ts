/**
 * @module What the programs client mode starts for a sign-in are given: the browser (browser_command
 * or the system's URL opener) runs with the bridge's environment less the variables holding the
 * configuration's secrets (client.headers values included), which it would hand to every program it
 * starts for as long as it runs; so do the token helpers.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { CLI, writeConfig } from "../support/bridge.ts";
import { startRawServer, type TestServer } from "../client/sdk-servers.ts";
import { waitFor } from "../client/support.ts";
import { INITIALIZE } from "./support.ts";

const SECRET = "cs-confidential-7f3e91d2c4";
const servers: TestServer[] = [];
after(() => Promise.all(servers.map((server) => server.close())));

/** An MCP server refusing every request (401) and its authorization server, on one loopback origin. */
async function protectedServer(): Promise<TestServer> {
  const server = await startRawServer((req, res) => {
    const origin = `http://${req.headers.host}`;
    const json = (value: object) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(value));
    if (req.url === "/.well-known/oauth-protected-resource/mcp") return json({ resource: `${origin}/mcp`, authorization_servers: [origin] });
    if (req.url === "/.well-known/oauth-authorization-server") {
      return json({ issuer: origin, authorization_endpoint: `${origin}/authorize`, token_endpoint: `${origin}/token`, code_challenge_methods_supported: ["S256"] });
    }
    res.writeHead(401, { "www-authenticate": `Bearer resource_metadata="${origin}/.well-known/oauth-protected-resource/mcp"` }).end();
  });
  servers.push(server);
  return server;
}

/**
 * Starts client mode for `server` with a confidential client signing a person in (client_secret from
 * OAUTH_CLIENT_SECRET) and `headers` as client.headers; resolves with the environment the program
 * that writes `dump` (the browser, a token helper) was started with.
 */
async function browserEnvironment(server: TestServer, oauth: Record<string, unknown>, env: Record<string, string>, dump: string, headers: Record<string, string> = {}): Promise<Record<string, string>> {
  const config = writeConfig({
    mode: "client",
    log: { level: "info" },
    client: { url: server.url, transport: "streamable_http", headers, auth: { type: "oauth", oauth: { client_id: "c1", client_secret: "${OAUTH_CLIENT_SECRET}", use_pkce: true, authorization_timeout: "60s", ...oauth } } },
  });
  return startedEnvironment(["-c", config], env, dump);
}

/** Runs the CLI with `args` and sends an initialize; resolves with the environment the program that writes `dump` was started with. */
async function startedEnvironment(args: string[], env: Record<string, string>, dump: string): Promise<Record<string, string>> {
  const bridge = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? "", HOME: tmpdir(), XDG_STATE_HOME: mkdtempSync(join(tmpdir(), "mcp-bridge-child-env-")), OAUTH_CLIENT_SECRET: SECRET, ...env } });
  let stderr = "";
  bridge.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  try {
    bridge.stdin.write(`${JSON.stringify(INITIALIZE)}\n`);
    await waitFor(() => existsSync(dump) && readFileSync(dump, "utf8").includes("\nEND\n"), () => `the program started (stderr: ${stderr})`);
    return Object.fromEntries(
      readFileSync(dump, "utf8")
        .split("\n")
        .filter((line) => line.includes("="))
        .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
    );
  } finally {
    bridge.kill("SIGKILL");
  }
}

test("browser_command is started without the client secret the configuration took from the environment; the rest of the environment is there", async () => {
  const server = await protectedServer();
  const dir = mkdtempSync(join(tmpdir(), "mcp-bridge-browser-"));
  const dump = join(dir, "env.txt");
  const browser = join(dir, "browser.cjs");
  writeFileSync(browser, `require("node:fs").writeFileSync(${JSON.stringify(dump)}, Object.entries(process.env).map(([k, v]) => k + "=" + v).join("\\n") + "\\nEND\\n");`);
  const env = await browserEnvironment(server, { browser_command: [process.execPath, browser] }, { MY_SETTING: "kept" }, dump);
  assert.equal(env.MY_SETTING, "kept");
  assert.equal(env.OAUTH_CLIENT_SECRET, undefined);
  assert.ok(!Object.values(env).includes(SECRET));
});

/** A node script that writes its environment to `dump` (then "END"), prints `output` and exits. */
function envDumper(dump: string, output = ""): string {
  const script = join(mkdtempSync(join(tmpdir(), "mcp-bridge-dumper-")), "dump.cjs");
  writeFileSync(script, `require("node:fs").writeFileSync(${JSON.stringify(dump)}, Object.entries(process.env).map(([k, v]) => k + "=" + v).join("\\n") + "\\nEND\\n"); process.stdout.write(${JSON.stringify(output)});`);
  return script;
}

// API keys client.headers took from the environment: a whole value, and one after a scheme.
const API_KEY = "ak-live-5d1c9e70b2f4a8";
const ORG_KEY = "ok-3b7e21f0c9d4a6e8";
const KEY_HEADERS = { "X-Api-Key": "${MY_KEY}", "X-Org-Auth": "Token ${ORG_KEY}" };

test("browser_command is started without the client.headers values the configuration took from the environment (X-Api-Key: ${MY_KEY})", async () => {
  const server = await protectedServer();
  const dump = join(mkdtempSync(join(tmpdir(), "mcp-bridge-browser-")), "env.txt");
  const env = await browserEnvironment(server, { browser_command: [process.execPath, envDumper(dump)] }, { MY_KEY: API_KEY, ORG_KEY, MY_SETTING: "kept" }, dump, KEY_HEADERS);
  assert.equal(env.MY_SETTING, "kept");
  assert.equal(env.MY_KEY, undefined);
  assert.equal(env.ORG_KEY, undefined);
  assert.ok(!Object.values(env).some((value) => value.includes(API_KEY) || value.includes(ORG_KEY)));
});

test("a variable whose value equals a header written literally stays in the browser's environment (X-Env: production, X-Workspace: the home directory)", async () => {
  const server = await protectedServer();
  const dump = join(mkdtempSync(join(tmpdir(), "mcp-bridge-browser-")), "env.txt");
  const headers = { ...KEY_HEADERS, "X-Env": "production", "X-Workspace": tmpdir() };
  const env = await browserEnvironment(server, { browser_command: [process.execPath, envDumper(dump)] }, { MY_KEY: API_KEY, ORG_KEY, DEPLOY_STAGE: "production" }, dump, headers);
  assert.equal(env.DEPLOY_STAGE, "production");
  assert.equal(env.HOME, tmpdir());
  assert.equal(env.MY_KEY, undefined);
  assert.equal(env.ORG_KEY, undefined);
});

test("connect --header 'X-Api-Key: ${MY_KEY}': the browser is started without MY_KEY", async () => {
  const server = await protectedServer();
  const dump = join(mkdtempSync(join(tmpdir(), "mcp-bridge-browser-")), "env.txt");
  const args = ["connect", server.url, "--transport", "streamable_http", "--header", "X-Api-Key: ${MY_KEY}", "--header", "X-Env: production", "--client-id", "c1", "--browser-command", `${process.execPath} ${envDumper(dump)}`];
  const env = await startedEnvironment(args, { MY_KEY: API_KEY, DEPLOY_STAGE: "production" }, dump);
  assert.equal(env.MY_KEY, undefined);
  assert.equal(env.DEPLOY_STAGE, "production");
});

test("a token helper (workload_identity.token_command) is started without them either", async () => {
  const server = await protectedServer();
  const dump = join(mkdtempSync(join(tmpdir(), "mcp-bridge-helper-")), "env.txt");
  const oauth = { use_pkce: undefined, authorization_timeout: undefined, token_url: `${new URL(server.url).origin}/token`, workload_identity: { token_command: [process.execPath, envDumper(dump, "eyJhbGciOiJub25lIn0.e30.")] } };
  const env = await browserEnvironment(server, oauth, { MY_KEY: API_KEY, ORG_KEY, MY_SETTING: "kept" }, dump, KEY_HEADERS);
  assert.equal(env.MY_SETTING, "kept");
  assert.equal(env.MY_KEY, undefined);
  assert.equal(env.ORG_KEY, undefined);
  assert.equal(env.OAUTH_CLIENT_SECRET, undefined);
});

test("the system browser (xdg-open) is started without it too", { skip: process.platform !== "linux" }, async () => {
  const server = await protectedServer();
  const dir = mkdtempSync(join(tmpdir(), "mcp-bridge-xdg-open-"));
  const dump = join(dir, "env.txt");
  writeFileSync(join(dir, "xdg-open"), `#!/bin/sh\nenv > ${JSON.stringify(dump).slice(1, -1)}.part\necho END >> ${JSON.stringify(dump).slice(1, -1)}.part\nmv ${JSON.stringify(dump).slice(1, -1)}.part ${JSON.stringify(dump).slice(1, -1)}\n`);
  chmodSync(join(dir, "xdg-open"), 0o755);
  const env = await browserEnvironment(server, {}, { PATH: `${dir}:${process.env.PATH ?? ""}`, DISPLAY: ":99", MY_SETTING: "kept" }, dump);
  assert.equal(env.DISPLAY, ":99");
  assert.equal(env.MY_SETTING, "kept");
  assert.equal(env.OAUTH_CLIENT_SECRET, undefined);
  assert.ok(!Object.values(env).includes(SECRET));
});
