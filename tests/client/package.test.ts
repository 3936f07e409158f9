/**
 * @module The npm package as users get it: `npm pack`, then the packed bin run the way Claude
 * Desktop's `npx -y mcp-bridge connect URL` line runs it, offline, against a live server.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { after, before, test } from "node:test";
import { ROOT } from "../support/bridge.ts";
import { connectLocalClient } from "./support.ts";
import { startStreamableServer, type TestServer } from "./sdk-servers.ts";

const exec = promisify(execFile);
let dir: string;
let tarball: string;
let server: TestServer;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "mcp-bridge-pack-"));
  // prepack builds the bundle; --ignore-scripts keeps this test from racing other test files' builds.
  const { stdout } = await exec("npm", ["pack", "--ignore-scripts", "--pack-destination", dir, "--json"], { cwd: ROOT });
  const [packed] = JSON.parse(stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  tarball = join(dir, packed!.filename);
  await exec("tar", ["-xzf", tarball, "-C", dir]);
  server = await startStreamableServer();
});

after(async () => {
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test("the package is publishable: not private, a bin, and only the bundle and docs in the tarball", async () => {
  const pkg = JSON.parse(await readFile(join(dir, "package", "package.json"), "utf8")) as { private?: boolean; bin: Record<string, string> };
  assert.equal(pkg.private, undefined);
  assert.equal(pkg.bin["mcp-bridge"], "dist/mcp-bridge.cjs");
  const { stdout } = await exec("tar", ["-tzf", tarball]);
  const files = stdout.trim().split("\n").sort();
  for (const required of ["package/dist/mcp-bridge.cjs", "package/dist/THIRD_PARTY_NOTICES.txt", "package/LICENSE"]) assert.ok(files.includes(required), `${required} missing from:\n${files.join("\n")}`);
  assert.ok(files.every((file) => /^package\/(dist\/(mcp-bridge\.cjs|THIRD_PARTY_NOTICES\.txt)|docs\/[\w-]+\.md|README\.md|LICENSE|package\.json)$/.test(file)), files.join("\n"));
});

test("the packed bin connects a stdio client to a remote server (connect URL), needing nothing beside it", async () => {
  // The bundle is self-contained (build.mjs asserts it): run from the unpacked tarball, no node_modules near.
  const bin = join(dir, "package", "dist", "mcp-bridge.cjs");
  const local = await connectLocalClient(["connect", server.url], { command: [bin] });
  try {
    const result = await local.client.callTool({ name: "echo", arguments: { text: "from the tarball" } });
    assert.deepEqual(result.content, [{ type: "text", text: "from the tarball" }]);
  } finally {
    await local.close();
  }
});

test("npx -y --package <tarball> mcp-bridge connect URL works offline (as `npx -y mcp-bridge connect URL` does from the registry)", async () => {
  const pkg = JSON.parse(await readFile(join(dir, "package", "package.json"), "utf8")) as { dependencies?: Record<string, string> };
  // npx would install declared dependencies from the registry: the bundle needs none, so there are none.
  assert.deepEqual(Object.keys(pkg.dependencies ?? {}), []);
  const local = await connectLocalClient(["connect", server.url], { command: ["npx", "-y", "--offline", "--package", tarball, "mcp-bridge"], direct: true });
  try {
    const result = await local.client.callTool({ name: "echo", arguments: { text: "via npx" } });
    assert.deepEqual(result.content, [{ type: "text", text: "via npx" }]);
  } finally {
    await local.close();
  }
});
