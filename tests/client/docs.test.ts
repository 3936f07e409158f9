/** @module docs/client-mode.md: its config example loads, and its host configurations are valid JSON that run `connect` or `-c`. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { parseConfig } from "../../src/config/load.ts";
import { parseArgs } from "../../src/cli/args.ts";
import { connectCommand } from "../../src/cli/connect.ts";

const text = readFileSync(new URL("../../docs/client-mode.md", import.meta.url), "utf8");

test("the client config example in docs/client-mode.md is a valid configuration", () => {
  const blocks = [...text.matchAll(/```yaml\n([\s\S]*?)```/g)].map((match) => match[1]!).filter((block) => block.startsWith("mode: client"));
  assert.equal(blocks.length, 1);
  const config = parseConfig(blocks[0]!, { MCP_TOKEN: "t" });
  assert.equal(config.client?.url, "https://mcp.example.com/mcp");
  assert.equal(config.client?.auth?.type, "bearer");
});

test("the host configurations in docs/client-mode.md are JSON whose arguments the CLI accepts", () => {
  const blocks = [...text.matchAll(/```json\n([\s\S]*?)```/g)].map((match) => match[1]!);
  assert.ok(blocks.length >= 3);
  for (const block of blocks) {
    const servers = (JSON.parse(block) as { mcpServers: Record<string, { command: string; args: string[] }> }).mcpServers;
    for (const { args } of Object.values(servers)) {
      const connect = args.indexOf("connect");
      if (connect < 0) {
        assert.equal(args[0], "-c");
        continue;
      }
      const parsed = parseArgs(args.slice(connect + 1), connectCommand.options);
      assert.match(parsed.positionals[0]!, /^https:\/\//);
    }
  }
});
