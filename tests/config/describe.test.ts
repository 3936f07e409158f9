/** @module The schema walker, check-config's file form, and docs/configuration.md staying generated from the schema. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { stringify } from "yaml";
import { configToFileForm, describeConfig } from "../../src/config/describe.ts";
import { parseConfig } from "../../src/config/load.ts";
import { renderConfigReference } from "../../src/config/reference.ts";
import { CROSS_KEY_RULES } from "../../src/config/rules.ts";

const keys = describeConfig();
const byPath = new Map(keys.map((key) => [key.path, key]));

describe("describeConfig", () => {
  test("every key has a description", () => {
    const missing = keys.filter((key) => !key.description).map((key) => key.path);
    assert.deepEqual(missing, []);
  });

  test("paths cover nested sections and list items", () => {
    for (const path of ["mode", "server.session.timeout", "server.auth.oauth.validation.clock_skew", "server.oauth_server.builtin.users[].password_hash", "client.retry.max_delay"]) {
      assert.ok(byPath.has(path), path);
    }
  });

  test("durations, sizes, secrets and listen addresses are recognised, with defaults in file form", () => {
    assert.deepEqual(pick("server.read_timeout"), { type: "duration", kind: "duration", default: "30s", required: false });
    assert.deepEqual(pick("server.max_body_size"), { type: "size", kind: "size", default: "16MiB", required: false });
    assert.deepEqual(pick("server.listen"), { type: "host:port", kind: "listen", default: "127.0.0.1:8080", required: false });
    assert.deepEqual(pick("server.auth.bearer.token"), { type: "secret", kind: "secret", default: undefined, required: false });
    assert.deepEqual(pick("client.retry.initial_delay"), { type: "duration", kind: "duration", default: "100ms", required: false });
    assert.equal(byPath.get("server.auth.bearer.valid_tokens")?.type, "list of secret");
  });

  test("enums, required keys and sensitive maps", () => {
    assert.deepEqual(pick("mode"), { type: '"server" | "client"', kind: undefined, default: undefined, required: true });
    assert.equal(byPath.get("server.mcp_server.command")?.required, true);
    assert.equal(byPath.get("client.url")?.required, true);
    assert.equal(byPath.get("server.mcp_server.env")?.sensitive, true);
    assert.equal(byPath.get("client.headers")?.sensitive, true);
  });

  test("the shared auth schema is listed once, client.auth points at it", () => {
    assert.equal(byPath.get("client.auth")?.sameAs, "server.auth");
    assert.ok(!keys.some((key) => key.path.startsWith("client.auth.")));
  });

  function pick(path: string) {
    const key = byPath.get(path);
    assert.ok(key, path);
    return { type: key.type, kind: key.kind, default: key.default, required: key.required };
  }
});

describe("configToFileForm", () => {
  const TEXT = `mode: server
server:
  listen: "[::1]:9000"
  read_timeout: 90s
  max_body_size: 512KB
  mcp_server:
    command: node
    env: {API_KEY: "\${KEY}"}
  session:
    timeout: 1h
auth:
  type: bearer
  bearer:
    valid_tokens: ["\${KEY}"]
`;
  const form = configToFileForm(parseConfig(TEXT, { KEY: "k-123" }));
  const get = (path: string): unknown => path.split(".").reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], form);

  test("writes durations, sizes and listen addresses the way the file does", () => {
    assert.equal(get("server.listen"), "[::1]:9000");
    assert.equal(get("server.read_timeout"), "90s");
    assert.equal(get("server.max_body_size"), "500KiB");
    assert.equal(get("server.session.timeout"), "1h");
    assert.equal(get("server.write_timeout"), "1m");
  });

  test("redacts secrets and sensitive maps", () => {
    assert.deepEqual(get("server.auth.bearer.valid_tokens"), ["[redacted]"]);
    assert.deepEqual(get("server.mcp_server.env"), { API_KEY: "[redacted]" });
    assert.ok(!JSON.stringify(form).includes("k-123"));
  });

  test("its YAML loads back to the same effective configuration", () => {
    assert.deepEqual(configToFileForm(parseConfig(stringify(form), {})), form);
  });
});

describe("docs/configuration.md", () => {
  const committed = readFileSync(new URL("../../docs/configuration.md", import.meta.url), "utf8");

  test("is what the schema generates (run npm run docs:config after changing the schema)", () => {
    assert.ok(committed === renderConfigReference(), "docs/configuration.md is out of date: run npm run docs:config");
  });

  test("lists every key and every cross-key rule", () => {
    for (const key of keys) {
      const name = key.path.slice(key.path.lastIndexOf(".") + 1);
      assert.ok(committed.includes(`\`${name}\``), key.path);
    }
    for (const rule of CROSS_KEY_RULES) assert.ok(committed.includes(rule.summary), rule.summary);
  });
});
