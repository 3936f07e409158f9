/** @module install.sh against a loopback HTTP server holding release archives: success, idempotence and every clear failure. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
// @ts-expect-error: a plain .mjs build script without type declarations.
import { archiveName, hostTarget, packExecutable, writeChecksums } from "../../scripts/release.mjs";
import { VERSION } from "../../src/version.ts";
import { ensureExecutable, ROOT, run, tempDir } from "./helpers.ts";

const INSTALL_SH = join(ROOT, "install.sh");
const TARGET = hostTarget() as string;
const supported = TARGET.startsWith("linux-") || TARGET.startsWith("darwin-");

/** A PATH of only the named tools (symlinks to the real ones), to take tools away one at a time. */
function toolbox(tools: string[], extra: Record<string, string> = {}): string {
  const dir = tempDir("mcp-bridge-tools-");
  for (const tool of tools) {
    const real = execFileSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" }).trim();
    symlinkSync(real, join(dir, tool));
  }
  for (const [name, script] of Object.entries(extra)) {
    writeFileSync(join(dir, name), `#!/bin/sh\n${script}\n`);
    chmodSync(join(dir, name), 0o755);
  }
  return dir;
}
const BASE_TOOLS = ["sh", "uname", "tar", "gzip", "mkdir", "cp", "mv", "chmod", "cmp", "awk", "cut", "mktemp", "rm", "id", "cat"];
const present = (tool: string) => {
  try {
    execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
};
const ALL_TOOLS = [...BASE_TOOLS, ...["curl", "wget", "sha256sum", "shasum"].filter(present)];

describe("install.sh", { skip: !supported && `no release build for ${TARGET}` }, () => {
  let server: Server;
  let base = "";
  let archive = "";

  before(async () => {
    const executable = await ensureExecutable();
    const release = tempDir();
    archive = archiveName(TARGET);
    packExecutable(TARGET, dirname(executable), join(release, archive));
    writeChecksums(release);
    const sums = readFileSync(join(release, "SHA256SUMS"), "utf8");
    const files: Record<string, Buffer | string> = {
      [`/good/${archive}`]: readFileSync(join(release, archive)),
      "/good/SHA256SUMS": sums,
      [`/tampered/${archive}`]: readFileSync(join(release, archive)),
      "/tampered/SHA256SUMS": sums.replace(/^[0-9a-f]{8}/m, "00000000"),
      "/missing/SHA256SUMS": sums,
    };
    server = createServer((request, response) => {
      const body = files[request.url ?? ""];
      response.writeHead(body === undefined ? 404 : 200).end(body ?? "not found");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => server?.close());

  const install = (env: Record<string, string>) => run("sh", [INSTALL_SH], { env: { PATH: toolbox(ALL_TOOLS), HOME: tempDir(), ...env }, cwd: tempDir() });

  it("installs, verifies and says how to reach the directory; a second run changes nothing", async () => {
    const dir = join(tempDir(), "bin");
    const first = await install({ MCP_BRIDGE_BASE_URL: `${base}/good/`, MCP_BRIDGE_INSTALL_DIR: dir });
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, new RegExp(`Installed ${dir}/mcp-bridge \\(mcp-bridge ${VERSION}\\)`));
    assert.match(first.stderr, /is not on your PATH\. Add it, e\.g\. in ~\/\.profile: {2}export PATH=/);
    assert.equal((await run(join(dir, "mcp-bridge"), ["--version"])).stdout, `mcp-bridge ${VERSION}\n`);
    const before = statSync(join(dir, "mcp-bridge"));
    assert.equal(before.mode & 0o777, 0o755);

    const second = await install({ MCP_BRIDGE_BASE_URL: `${base}/good`, MCP_BRIDGE_INSTALL_DIR: dir });
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, /already this release; nothing to do/);
    const after = statSync(join(dir, "mcp-bridge"));
    assert.equal(after.ino, before.ino);
    assert.equal(after.mtimeMs, before.mtimeMs);
  });

  it("installs into ~/.local/bin for a user, with wget when there is no curl", { skip: !present("wget") && "wget is not installed" }, async () => {
    const home = tempDir();
    const tools = toolbox([...BASE_TOOLS.filter((tool) => tool !== "id"), "wget", "sha256sum"], { id: 'echo 1000' });
    const result = await run("sh", [INSTALL_SH], { env: { PATH: tools, HOME: home, MCP_BRIDGE_BASE_URL: `${base}/good` } });
    assert.equal(result.code, 0, result.stderr);
    assert.ok(existsSync(join(home, ".local", "bin", "mcp-bridge")));
  });

  it("refuses an unsupported operating system or architecture", async () => {
    for (const [fake, message] of [
      ['[ "$1" = -s ] && echo SunOS || echo x86_64', /unsupported operating system "SunOS"/],
      ['[ "$1" = -s ] && echo Linux || echo riscv64', /unsupported architecture "riscv64"/],
    ] as const) {
      const tools = toolbox([...ALL_TOOLS.filter((tool) => tool !== "uname")], { uname: fake });
      const result = await run("sh", [INSTALL_SH], { env: { PATH: tools, HOME: tempDir(), MCP_BRIDGE_BASE_URL: `${base}/good` } });
      assert.equal(result.code, 1);
      assert.match(result.stderr, message);
    }
  });

  it("names the missing tool", async () => {
    const noHash = toolbox(ALL_TOOLS.filter((tool) => tool !== "sha256sum" && tool !== "shasum"));
    const withoutHash = await run("sh", [INSTALL_SH], { env: { PATH: noHash, HOME: tempDir(), MCP_BRIDGE_BASE_URL: `${base}/good` } });
    assert.equal(withoutHash.code, 1);
    assert.match(withoutHash.stderr, /needs sha256sum or shasum/);
    const noDownloader = toolbox(ALL_TOOLS.filter((tool) => tool !== "curl" && tool !== "wget"));
    const withoutDownloader = await run("sh", [INSTALL_SH], { env: { PATH: noDownloader, HOME: tempDir(), MCP_BRIDGE_BASE_URL: `${base}/good` } });
    assert.equal(withoutDownloader.code, 1);
    assert.match(withoutDownloader.stderr, /needs curl or wget/);
  });

  it("reports a 404 with the URL and installs nothing", async () => {
    const dir = join(tempDir(), "bin");
    const result = await install({ MCP_BRIDGE_BASE_URL: `${base}/missing`, MCP_BRIDGE_INSTALL_DIR: dir });
    assert.equal(result.code, 1);
    assert.ok(result.stderr.includes(`could not download ${base}/missing/${archive}: HTTP 404`), result.stderr);
    assert.ok(!existsSync(join(dir, "mcp-bridge")));
  });

  it("refuses an archive whose checksum does not match and installs nothing", async () => {
    const dir = join(tempDir(), "bin");
    mkdirSync(dir);
    const result = await install({ MCP_BRIDGE_BASE_URL: `${base}/tampered`, MCP_BRIDGE_INSTALL_DIR: dir });
    assert.equal(result.code, 1);
    assert.match(result.stderr, new RegExp(`checksum mismatch for ${archive.replace(/\./g, "\\.")}: expected 00000000`));
    assert.ok(!existsSync(join(dir, "mcp-bridge")));
  });

  it("is shellcheck-clean", { skip: !present("shellcheck") && "shellcheck is not installed (apt-get install shellcheck)" }, async () => {
    const result = await run("shellcheck", ["-s", "sh", INSTALL_SH], { env: { PATH: process.env.PATH ?? "" } });
    assert.equal(result.code, 0, result.stdout);
  });
});
