/**
 * @module Every complete configuration example in README.md and docs/ (a ```yaml block that opens
 * with `mode:`, after comment lines) passes check-config through the built CLI as a reader would
 * complete it: the variables it names set, a bcrypt hash where it shows "$2b$10$…", a home
 * directory (the default state directory is under it). Examples of
 * one section are checked by the guide's own tests (client-auth-docs, oauth-docs, server-auth-docs).
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { runCli, selfSignedTls, writeConfig } from "../support/bridge.ts";

const root = new URL("../../", import.meta.url);
const guides = ["README.md", ...readdirSync(new URL("docs/", root)).filter((name) => name.endsWith(".md")).map((name) => `docs/${name}`)];
const examples = guides.flatMap((guide) =>
  [...readFileSync(new URL(guide, root), "utf8").matchAll(/```yaml\n([\s\S]*?)```/g)]
    .map((match) => match[1]!)
    .filter((block) => /^(#.*\n)*mode: /.test(block))
    .map((block, index) => ({ guide, index, block })),
);
// A bcrypt hash of "pw" at cost 4, for the "$2b$10$…" the guides leave to `mcp-bridge hash-password`.
const HASH = "$2b$04$R8CtY3b56U9HVKeFlHOO7eS8eBBEnXFw3M8gn3EZOJhDP1KuOW4X6";

test("README.md and docs/ hold complete configuration examples (README Use, authorization server, configuration reference, client mode, server auth)", () => {
  assert.ok(examples.length >= 6, examples.map(({ guide }) => guide).join(", "));
});

for (const { guide, index, block } of examples) {
  test(`${guide} example ${index + 1} passes check-config`, async () => {
    const env = Object.fromEntries(
      [...block.matchAll(/\$\{([A-Z0-9_]+)\}|_env: ([A-Z0-9_]+)/g)].map((match) => [match[1] ?? match[2]!, `value-of-${match[1] ?? match[2]}-0123456789`]),
    );
    const home = mkdtempSync(join(tmpdir(), "mcp-bridge-docs-"));
    // The reader has the certificates and keys the example names (check-config reads them).
    const files = /\/\S+\.(pem|key)\b/.test(block) ? selfSignedTls() : undefined;
    const completed = block.replace("$2b$10$…", HASH).replace(/\/\S+\.(pem|key)\b/g, (_, kind: string) => (kind === "key" ? files!.key_file : files!.cert_file));
    const result = await runCli(["check-config", "-q", "-c", writeConfig(completed)], { env: { ...env, HOME: home } });
    assert.equal(result.code, 0, `${block}\n${result.stderr}`);
  });
}
