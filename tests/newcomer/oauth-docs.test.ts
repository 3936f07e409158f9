/**
 * @module docs/oauth.md's provider examples as a newcomer uses them: each `auth:` block under the
 * guide's `mode: server` header, in one file, passes `mcp-bridge check-config` (the built CLI).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { runCli, writeConfig } from "../support/bridge.ts";

const text = readFileSync(new URL("../../docs/oauth.md", import.meta.url), "utf8");
const blocks = [...text.matchAll(/```yaml\n([\s\S]*?)```/g)].map((match) => match[1]!);
const header = blocks.find((block) => block.startsWith("mode: server"));
const examples = blocks.filter((block) => block.startsWith("auth:"));

test("docs/oauth.md shows the file header its auth: examples go under", () => {
  assert.ok(header, "a mode: server block");
  assert.ok(examples.length >= 8, `${examples.length} auth: blocks`);
});

for (const example of examples) {
  test(`check-config passes: ${example.split("\n").find((line) => /_url:/.test(line))?.trim()}`, async () => {
    const result = await runCli(["check-config", "-q", "-c", writeConfig(`${header}${example}`)], { env: { OAUTH_CLIENT_SECRET: "s" } });
    assert.equal(result.code, 0, `${header}${example}\n${result.stderr}`);
  });
}
