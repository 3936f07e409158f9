/**
 * @module docs/client-auth.md: each of its configuration examples, completed as the guide says
 * ("example.yaml holding mode: client, client.url and one of the auth blocks above"), passes
 * check-config through the built CLI.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { runCli, writeConfig } from "../support/bridge.ts";

const text = readFileSync(new URL("../../docs/client-auth.md", import.meta.url), "utf8");
const blocks = [...text.matchAll(/```yaml\n([\s\S]*?)```/g)].map((match) => match[1]!);
const ENV = { MCP_TOKEN: "t", OAUTH_CLIENT_SECRET: "s", MCP_AS_SECRET: "s" };

test("docs/client-auth.md has its examples (bearer, client credentials, sign-in, enterprise, workload identity)", () => {
  assert.equal(blocks.length, 5);
});

for (const block of blocks) {
  const name = ["bearer", "enterprise", "workload_identity", "client_secret"].find((key) => block.includes(key)) ?? "sign-in";
  test(`docs/client-auth.md example (${name}) passes check-config`, async () => {
    const config = block.startsWith("mode: client") ? block : `mode: client\nclient:\n  url: https://mcp.example.com/mcp\n${block}`;
    const result = await runCli(["check-config", "-q", "-c", writeConfig(config)], { env: ENV });
    assert.equal(result.code, 0, `${config}\n${result.stderr}`);
  });
}
