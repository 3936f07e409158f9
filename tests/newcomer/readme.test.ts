/**
 * @module README.md's "Use" section done as written, through the built CLI: `gen-token` gives the
 * token, the example config passes `check-config` quietly (its `sha256:` digest and `${API_TOKEN_1}`
 * are the ways the docs say to keep secrets out of the file), and every command in its table exists.
 */
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { run, runCli } from "../support/bridge.ts";

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
const use = readme.slice(readme.indexOf("## Use"), readme.indexOf("\n## ", readme.indexOf("## Use") + 1));

test("README Use: gen-token's first line, the example config at mode 644, check-config -q: valid, no warning", async () => {
  const block = /```yaml\n([\s\S]*?)```/.exec(use)?.[1];
  assert.ok(block?.includes("valid_tokens"), "the README's Use section has the example config");
  assert.match(use, /export API_TOKEN_1=\$\(mcp-bridge gen-token \| head -1\)/);
  const generated = await runCli(["gen-token"]);
  assert.equal(generated.code, 0, generated.stderr);
  const token = generated.stdout.split("\n")[0]!;
  const path = join(mkdtempSync(join(tmpdir(), "mcp-bridge-readme-")), "config.yaml");
  writeFileSync(path, block!);
  chmodSync(path, 0o644);
  const checked = await runCli(["check-config", "-q", "-c", path], { env: { API_TOKEN_1: token } });
  assert.equal(checked.code, 0, checked.stderr);
  assert.equal(checked.stdout, "");
  assert.equal(checked.stderr, "", "the documented way of keeping secrets out of the file draws no warning");
});

test("README: every command in the table answers --help", async () => {
  const commands = [...use.matchAll(/^\| `mcp-bridge (\[run\] |)([a-z-]+)?/gm)].map((match) => match[2] ?? "run");
  assert.ok(commands.length >= 6, commands.join(" "));
  for (const command of commands) {
    const help = await runCli([command, "--help"]);
    assert.equal(help.code, 0, `${command}: ${help.stderr}`);
    assert.match(help.stdout, new RegExp(`Usage: mcp-bridge (\\[run\\]|${command})`));
  }
});

test("docs/install.md and README: the documented Deno command runs as written after npm ci (npx finds the dev dependency)", async () => {
  const install = readFileSync(new URL("../../docs/install.md", import.meta.url), "utf8");
  const line = /^npx deno run -A src\/main\.ts -c config\.yaml/m.exec(install)?.[0];
  assert.ok(line, "docs/install.md shows the Deno command");
  assert.ok(readme.includes("`npx deno run -A src/main.ts -c config.yaml`"), "README shows the same command");
  // The documented line with --version in place of the config: no deno on PATH is needed.
  const [command, ...args] = line.replace("-c config.yaml", "--version").split(" ");
  const result = await run(command!, args, { env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", npm_config_update_notifier: "false" } });
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^mcp-bridge \d+\.\d+\.\d+/);
});

test("docs/authorization-server.md quick start: a password_env that is not set is an error naming the file and the key, in check-config and at start", async () => {
  const guide = readFileSync(new URL("../../docs/authorization-server.md", import.meta.url), "utf8");
  const block = /```yaml\n(# config\.yaml\nmode: server[\s\S]*?)```/.exec(guide)?.[1];
  assert.ok(block?.includes("password_env: READER_PASSWORD"), "the guide's real-deployment example");
  const { hashSync } = await import("bcryptjs");
  const dir = mkdtempSync(join(tmpdir(), "mcp-bridge-readme-"));
  const path = join(dir, "config.yaml");
  // The placeholder hash replaced as the comment says (mcp-bridge hash-password); storage kept in the test's directory.
  writeFileSync(path, `${block!.replace("$2b$10$…", hashSync("pw", 4)).replace('"127.0.0.1:8080"', '"127.0.0.1:0"')}storage: {type: memory}\n`, { mode: 0o600 });
  for (const args of [["check-config", "-q", "-c", path], ["-c", path]]) {
    const result = await runCli(args, { env: { HOME: dir } });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, new RegExp(`mcp-bridge: ${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: invalid configuration\\n {2}server\\.oauth_server\\.builtin\\.users\\[1\\]\\.password_env: environment variable READER_PASSWORD is not set or empty`));
  }
});

test("npm start's examples/config.yaml (world-readable, the token from MCP_BRIDGE_TOKEN) draws no warning, whatever the token's value", async () => {
  const path = join(mkdtempSync(join(tmpdir(), "mcp-bridge-readme-")), "config.yaml");
  writeFileSync(path, readFileSync(new URL("../../examples/config.yaml", import.meta.url), "utf8"));
  chmodSync(path, 0o644);
  // A value that also occurs elsewhere in the file's text ("examples", "type") is still not written in it.
  for (const token of ["x", "type", "a-long-random-token"]) {
    const checked = await runCli(["check-config", "-q", "-c", path], { env: { MCP_BRIDGE_TOKEN: token } });
    assert.equal(checked.code, 0, checked.stderr);
    assert.equal(checked.stderr, "", `MCP_BRIDGE_TOKEN=${token}`);
  }
});
