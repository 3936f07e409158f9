/** @module The standalone executable: no Node, no node_modules, no environment; then server mode through it. */
import assert from "node:assert/strict";
import { chmodSync, copyFileSync, existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { VERSION } from "../../src/version.ts";
import { assertBearerBridgeWorks, ensureExecutable, hasCommand, run, startBearerBridge, tempDir } from "./helpers.ts";

describe("the standalone executable for this machine", () => {
  /** The executable alone in a directory: nothing beside it to find at run time. */
  let executable = "";
  before(async () => {
    const built = await ensureExecutable();
    executable = join(tempDir(), "mcp-bridge");
    copyFileSync(built, executable);
    chmodSync(executable, 0o755);
  });

  it("answers --version from an empty directory with an empty environment", async () => {
    const started = performance.now();
    const { code, stdout, stderr } = await run(executable, ["--version"], { cwd: tempDir(), env: {} });
    const elapsed = performance.now() - started;
    assert.equal(code, 0, stderr);
    assert.equal(stdout, `mcp-bridge ${VERSION}\n`);
    assert.equal(stderr, "", "no SEA warning or anything else on stderr");
    assert.ok(elapsed < 2000, `--version took ${elapsed.toFixed(0)} ms`);
  });

  it("runs check-config from an empty directory with an empty environment", async () => {
    const config = join(tempDir(), "config.yaml");
    writeFileSync(config, 'mode: server\nserver:\n  listen: "127.0.0.1:0"\n  mcp_server: {command: /bin/cat}\n');
    const valid = await run(executable, ["check-config", "-c", config], { cwd: tempDir(), env: {} });
    assert.equal(valid.code, 0, valid.stderr);
    assert.match(valid.stdout, /valid/);
    writeFileSync(config, "mode: server\nserver:\n  lisen: x\n");
    const invalid = await run(executable, ["check-config", "-c", config], { cwd: tempDir(), env: {} });
    assert.equal(invalid.code, 2);
  });

  it("serves a stdio MCP server with bearer auth, driven by the SDK client", async () => {
    const { token, valid_token } = JSON.parse((await run(executable, ["gen-token", "--json"])).stdout) as { token: string; valid_token: string };
    const bridge = await startBearerBridge(executable, [], valid_token);
    try {
      await assertBearerBridgeWorks(bridge.url, token);
    } finally {
      assert.equal(await bridge.stop(), 0, bridge.logs());
    }
  });
});

const ARM64_LIBS = "/usr/aarch64-linux-gnu";
const canEmulateArm64 =
  process.platform === "linux" && process.arch === "x64" && hasCommand("qemu-aarch64") && existsSync(join(ARM64_LIBS, "lib", "libatomic.so.1"));

describe("the linux-arm64 executable", () => {
  it(
    "answers --version under qemu-aarch64",
    { skip: !canEmulateArm64 && "needs qemu-aarch64 and arm64 glibc (apt-get install qemu-user libc6-arm64-cross libstdc++6-arm64-cross libatomic1-arm64-cross)", timeout: 120_000 },
    async () => {
      const executable = await ensureExecutable("linux-arm64");
      const { code, stdout, stderr } = await run("qemu-aarch64", ["-L", ARM64_LIBS, executable, "--version"], { cwd: tempDir(), env: {} });
      assert.equal(code, 0, stderr);
      assert.equal(stdout, `mcp-bridge ${VERSION}\n`);
    },
  );
});
