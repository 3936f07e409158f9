/**
 * @module docs/configuration.md's Default column is what check-config prints for a file that leaves
 * the key out: a newcomer comparing the two sees the same text ("1m", not "60s" in one and "1m" in
 * the other). Each key documented with a default is looked up in check-config --format json of
 * files that open every section (a file that writes the key is not asked about it); a key absent
 * from all of them fails.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { parse } from "yaml";
import { runCli, writeConfig } from "../support/bridge.ts";

const reference = readFileSync(new URL("../../docs/configuration.md", import.meta.url), "utf8");

/** "section.key" → the Default column's value (JSON inside backticks), for every key that has one. */
function documentedDefaults(): Map<string, unknown> {
  const defaults = new Map<string, unknown>();
  let section = "";
  for (const line of reference.split("\n")) {
    const heading = /^### (?:`([^`]+)`|Top level)$/.exec(line);
    if (heading) section = heading[1] ?? "";
    const row = /^\| `([a-z_]+)` \| .*? \| `(.+?)` \| /.exec(line);
    if (row && !section.includes("[]")) defaults.set(section ? `${section}.${row[1]}` : row[1]!, JSON.parse(row[2]!));
  }
  return defaults;
}

/** The value at a dotted path, or undefined. */
function at(config: unknown, path: string): unknown {
  return path.split(".").reduce<unknown>((value, key) => (value as Record<string, unknown> | undefined)?.[key], config);
}

// Files that between them open every section that has defaults (server.auth.oauth and its
// subsections appear only with type: oauth; client.auth.* is the same schema, listed once).
const FILES = [
  "mode: server\nserver:\n  mcp_server: {command: node}\n",
  "mode: server\nserver:\n  mcp_server: {command: node}\n  auth: {type: bearer, bearer: {valid_tokens: [a-token-0123456789]}}\n",
  "mode: server\nserver:\n  mcp_server: {command: node}\n  auth: {type: oauth, oauth: {discovery_url: https://id.example.com}}\n",
  "mode: client\nclient:\n  url: https://mcp.example.com/mcp\n",
];

// Sections check-config leaves out when the file does: without an auth section no authentication
// applies (or the authorization server's), whatever its documented type default says.
const LEFT_OUT = new Set(["server.auth.type"]);

test("docs/configuration.md: every documented default is what check-config prints when the key is left out", async () => {
  const outputs: { file: string; config: unknown }[] = [];
  for (const file of FILES) {
    const result = await runCli(["check-config", "--format", "json", "-c", writeConfig(file)]);
    assert.equal(result.code, 0, `${file}\n${result.stderr}`);
    outputs.push({ file, config: JSON.parse(result.stdout) });
  }
  const defaults = documentedDefaults();
  assert.ok(defaults.size > 100, `the reference's Default column was read (${defaults.size} keys)`);
  const differing = new Set<string>();
  for (const [path, documented] of defaults) {
    if (LEFT_OUT.has(path)) continue;
    const printed = outputs
      .filter(({ file }) => at(parse(file), path) === undefined)
      .map(({ config }) => at(config, path))
      .filter((value) => value !== undefined);
    if (printed.length === 0) differing.add(`${path}: documented ${JSON.stringify(documented)}, not printed by check-config`);
    for (const value of printed) {
      if (JSON.stringify(value) !== JSON.stringify(documented)) differing.add(`${path}: documented ${JSON.stringify(documented)}, check-config prints ${JSON.stringify(value)}`);
    }
  }
  assert.deepEqual([...differing], []);
});

test("check-config --help says how values are written back, and a written \"60s\" prints as it says", async () => {
  const help = await runCli(["check-config", "--help"]);
  assert.match(help.stdout.replace(/\s+/g, " "), /durations and sizes in the largest unit that divides them \("60s" prints as "1m", 1048576 as "1MiB"\)/);
  const result = await runCli(["check-config", "--format", "json", "-c", writeConfig("mode: server\nserver:\n  read_timeout: 60s\n  max_body_size: 1048576\n  mcp_server: {command: node}\n")]);
  assert.equal(result.code, 0, result.stderr);
  const server = (JSON.parse(result.stdout) as { server: Record<string, unknown> }).server;
  assert.deepEqual([server.read_timeout, server.max_body_size], ["1m", "1MiB"]);
});
