/**
 * @module The conformance suite's "client under test": an SDK client that spawns the bridge's client
 * mode with the scenario's URL, so the suite checks what the bridge sends on the wire.
 *
 *   conformance client --command "node tests/.build/conformance-client.mjs" --scenario S
 *
 * The harness appends the server URL and sets MCP_CONFORMANCE_SCENARIO (and, for some scenarios,
 * MCP_CONFORMANCE_CONTEXT). The local client is SDK v1 (legacy era): against a 2026-07-28 server
 * the bridge does the translation, which is what these runs are meant to show.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { CreateMessageRequestSchema, ElicitRequestSchema, ListRootsRequestSchema, type Tool } from "@modelcontextprotocol/sdk/types.js";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { conformanceAuth, type ConformanceContext } from "./conformance-auth.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CLI = join(ROOT, "dist", "mcp-bridge.cjs");
const FOLLOW_REDIRECTS = [process.execPath, fileURLToPath(new URL("./follow-redirects.mjs", import.meta.url))];

/** Arguments for the scenarios that look at what is sent, not only that a call was made. */
const TOOL_ARGUMENTS: Record<string, Record<string, unknown>> = {
  add_numbers: { a: 5, b: 3 },
  test_custom_headers: {
    region: "us-west1",
    priority: 42,
    verbose: true,
    debug: false,
    non_ascii_val: "Grüße 日本",
    whitespace_val: "  padded  ",
    leading_space_val: " leading",
    trailing_space_val: "trailing ",
    internal_space_val: "a b c",
    control_char_val: "bell\u0007",
    crlf_val: "line1\r\nline2",
    tab_val: "\ttabbed",
    query: "not mirrored",
  },
  test_custom_headers_null: { region: "eu-central1", priority: 7, verbose: null, query: "q" },
};

/** Values for a tool's required arguments, from its schema, when the table above has none. */
function synthesize(tool: Tool): Record<string, unknown> {
  const known = TOOL_ARGUMENTS[tool.name];
  if (known) return known;
  const properties = (tool.inputSchema.properties ?? {}) as Record<string, { type?: string }>;
  const args: Record<string, unknown> = {};
  for (const name of tool.inputSchema.required ?? []) {
    const type = properties[name]?.type;
    args[name] = type === "number" || type === "integer" ? 1 : type === "boolean" ? true : type === "object" ? {} : type === "array" ? [] : "value";
  }
  return args;
}

async function main(): Promise<number> {
  const scenario = process.env.MCP_CONFORMANCE_SCENARIO ?? "";
  const url = process.argv.at(-1);
  if (!url || !/^https?:\/\//.test(url)) {
    console.error("usage: conformance-client.ts URL (MCP_CONFORMANCE_SCENARIO set)");
    return 2;
  }
  const context = JSON.parse(process.env.MCP_CONFORMANCE_CONTEXT ?? "{}") as ConformanceContext;
  const auth = conformanceAuth(scenario, context, FOLLOW_REDIRECTS);
  const dir = mkdtempSync(join(tmpdir(), "mcp-bridge-conformance-client-"));
  const configPath = join(dir, "client.yaml");
  writeFileSync(configPath, stringify({ mode: "client", log: { level: "debug" }, client: { url, ...(auth && { auth }) } }));

  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, "-c", configPath],
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? dir, XDG_STATE_HOME: dir },
    stderr: "inherit",
  });
  const client = new Client(
    { name: "mcp-bridge-conformance-client", version: "1.0.0" },
    { capabilities: { sampling: {}, elicitation: { form: { applyDefaults: true } }, roots: { listChanged: false } } },
  );
  client.setRequestHandler(ElicitRequestSchema, async () => ({ action: "accept", content: {} }));
  client.setRequestHandler(CreateMessageRequestSchema, async () => ({ role: "assistant", model: "conformance-model", content: { type: "text", text: "sampled" } }));
  client.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: [{ uri: "file:///tmp/conformance", name: "conformance" }] }));

  await client.connect(transport);
  try {
    const { tools } = await client.listTools();
    for (const tool of tools) {
      // json-schema-2020-12-preservation: the focal tool's schema, as the client received it, echoed back.
      const focal = tools.find((candidate) => candidate.name === "json_schema_2020_12_tool");
      const args = tool.name === "json_schema_echo" && focal ? { schema: focal.inputSchema } : synthesize(tool);
      try {
        await client.callTool({ name: tool.name, arguments: args });
      } catch (error) {
        // Some scenarios serve tools that are meant to fail; the suite judges, the driver goes on.
        console.error(`tools/call ${tool.name} failed: ${(error as Error).message}`);
      }
    }
  } finally {
    await client.close();
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
