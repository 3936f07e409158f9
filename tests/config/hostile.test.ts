/**
 * @module A hostile or careless operator's config files and command lines through the built CLI:
 * every one is refused with exit 2 naming what to fix (never a crash, a hang, a silently ignored
 * setting or a secret in the output).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { before, describe, test } from "node:test";
import { CLI, ROOT, runCli, writeConfig } from "../support/bridge.ts";

const SERVER = "mode: server\nserver:\n  mcp_server:\n    command: node\n";
const SECRET = "tok-7f3a-SHOULD-NEVER-BE-PRINTED";

before(() => {
  if (!existsSync(CLI)) execFileSync(process.execPath, ["build.mjs"], { cwd: ROOT, stdio: "inherit" });
});

/** check-config on `text`: asserts exit 2, nothing on stdout, and returns stderr. */
async function refused(text: string): Promise<string> {
  const { code, stdout, stderr } = await runCli(["check-config", "-c", writeConfig(text)]);
  assert.equal(code, 2, `exit ${code}\n${stdout}\n${stderr}`);
  assert.equal(stdout, "");
  return stderr;
}

describe("YAML the bridge does not read as written", () => {
  test("a YAML tag (!secret name) is refused, not read as the literal token", async () => {
    const stderr = await refused(SERVER + "  auth:\n    type: bearer\n    bearer:\n      valid_tokens: [!secret api_token]\n");
    assert.match(stderr, /not valid YAML/);
    assert.match(stderr, /Unresolved tag at line 8, column 22 \(YAML tags such as !secret or !env are not supported/);
  });

  test("an unknown directive is refused", async () => {
    assert.match(await refused("%INCLUDE secrets.yaml\n---\n" + SERVER), /Unknown directive at line 1, column 1/);
  });

  test("an alias bomb is a configuration error (exit 2), not a crash", async () => {
    const levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
    for (let i = 1; i < 9; i++) levels.push(`l${i}: &l${i} [${Array(10).fill(i === 1 ? "*a" : `*l${i - 1}`).join(", ")}]`);
    const stderr = await refused(levels.join("\n") + "\n" + SERVER);
    assert.match(stderr, /not valid YAML\n {2}aliases \(\*name\) expand to too much data/);
  });

  test("an alias without its anchor and a merge of a scalar are configuration errors", async () => {
    assert.match(await refused(SERVER + "    args: [*missing]\n"), /an alias \(\*name\) names no anchor \(&name\) set before it/);
    assert.match(await refused(SERVER + "<<: 5\n"), /a merge key \("<<"\) must name a mapping/);
  });

  test("syntax errors give the place, never the file's text (a value may be a secret)", async () => {
    for (const text of [
      `${SERVER}  auth:\n    type: bearer\n    bearer:\n      valid_tokens:\n ]${SECRET}\n`,
      `${SERVER}  allowed_origins: [a]\n  path: } ${SECRET}\n`,
      `${SERVER}  path: |${SECRET}\n    x\n`,
      `${SERVER}  path: "\\x${SECRET}"\n`,
      `${SERVER}  path: !<${SECRET}> x\n`,
    ]) {
      const stderr = await refused(text);
      assert.match(stderr, /not valid YAML\n {2}\S.* at line \d+, column \d+/);
      assert.doesNotMatch(stderr, /SHOULD-NEVER|7f3a/, stderr);
    }
  });
});

describe("command lines that disagree with themselves", () => {
  test("an option that takes one value, given twice, is a usage error (not the last one silently)", async () => {
    const first = writeConfig(SERVER);
    const second = writeConfig("mode: client\nclient:\n  url: https://mcp.example.com/mcp\n");
    const twice = await runCli(["check-config", "-c", first, "--config", second]);
    assert.equal(twice.code, 2, twice.stdout);
    assert.match(twice.stderr, /--config is given twice; give it once/);
    const format = await runCli(["check-config", "-c", first, "--format", "json", "--format=yaml"]);
    assert.equal(format.code, 2);
    assert.match(format.stderr, /--format is given twice/);
    // Repeatable options stay repeatable.
    const headers = await runCli(["connect", "ftp://x", "--header", "A: 1", "--header", "B: 2"]);
    assert.match(headers.stderr, /client\.url: must be an absolute http/);
  });
});
