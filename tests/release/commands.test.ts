/** @module hash-password, gen-key, gen-token and completion, run through the built bundle as a user would. */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { compare } from "bcryptjs";
import { calculateJwkThumbprint, importPKCS8, importSPKI, jwtVerify, SignJWT, type JWK } from "jose";
import { COMMANDS } from "../../src/cli/index.ts";
import { runCli } from "../support/bridge.ts";
import { CLI, DENO, hasCommand, ROOT, run, tempDir } from "./helpers.ts";

/** A whole PKCS#8 PEM (the label is assembled so that this file does not look like it holds a key). */
const PKCS8_PEM = new RegExp(`^-----BEGIN ${"PRIVATE"} KEY-----\\n[\\s\\S]+-----END ${"PRIVATE"} KEY-----\\n$`);

const ENV = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: tempDir() };
const cli = (args: string[], input?: string) => runCli(args, { env: ENV, ...(input !== undefined && { input }) });
/** Debian's python3 carries python3-bcrypt; a pyenv python on PATH may not. */
const PYTHON = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
const hasPythonBcrypt = async () => (await run(PYTHON, ["-c", "import bcrypt"], { env: ENV })).code === 0;

/** Drives a command on a pseudo-terminal (util-linux `script`): answers each prompt as it appears. */
function onTerminal(command: string, answers: Array<[prompt: string, answer: string]>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("script", ["-qec", command, "/dev/null"], { cwd: ROOT, env: { ...ENV, TERM: "dumb" } });
    let output = "";
    let next = 0;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`no prompt "${answers[next]?.[0]}" on the terminal; output so far:\n${output}`));
    }, 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk;
      // Typing only once the prompt is up: earlier input would be echoed before echo is turned off.
      while (next < answers.length && output.split(answers[next]![0]).length - 1 >= countPrompts(answers, next)) {
        child.stdin.write(answers[next]![1] + "\r");
        next++;
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** How many times answers[index]'s prompt must have appeared before it is answered (prompts may repeat). */
function countPrompts(answers: Array<[string, string]>, index: number): number {
  return answers.slice(0, index + 1).filter(([prompt]) => prompt === answers[index]![0]).length;
}

describe("hash-password", () => {
  it("hashes one piped line as $2b$ with cost 10 that bcryptjs verifies", async () => {
    const { code, stdout } = await cli(["hash-password"], "correct horse\nignored second line\n");
    assert.equal(code, 0);
    const hash = stdout.trim();
    assert.match(hash, /^\$2b\$10\$[./A-Za-z0-9]{53}$/);
    assert.ok(await compare("correct horse", hash));
    assert.ok(!(await compare("correct horse\n", hash)));
  });

  it("accepts --cost within 4..17 and refuses others as usage errors", async () => {
    const { code, stdout } = await cli(["hash-password", "--cost", "4"], "pw\n");
    assert.equal(code, 0);
    assert.match(stdout, /^\$2b\$04\$/);
    for (const cost of ["3", "18", "ten", "1e1"]) {
      const refused = await cli(["hash-password", "--cost", cost], "pw\n");
      assert.equal(refused.code, 2, cost);
      assert.match(refused.stderr, /--cost must be an integer from 4 to 17/);
    }
  });

  it("refuses an empty password and one beyond bcrypt's 72 bytes", async () => {
    assert.equal((await cli(["hash-password"], "\n")).code, 2);
    const long = await cli(["hash-password"], "é".repeat(37) + "\n");
    assert.equal(long.code, 2);
    assert.match(long.stderr, /72-byte/);
  });

  it("makes a hash the configuration accepts as password_hash", async () => {
    const hash = (await cli(["hash-password", "--cost", "4"], "pw\n")).stdout.trim();
    const config = join(tempDir(), "config.yaml");
    writeFileSync(
      config,
      [
        "mode: server",
        "server:",
        '  listen: "127.0.0.1:0"',
        "  mcp_server: {command: cat}",
        "  oauth_server:",
        "    enabled: true",
        '    issuer: "https://mcp.example.com"',
        "    signing: {algorithm: ES256, generate_key: true}",
        `    builtin: {users: [{username: admin, password_hash: "${hash}"}]}`,
      ].join("\n"),
      // Private, as a file holding a password hash should be: a world-readable one draws a warning naming password_hash.
      { mode: 0o600 },
    );
    const checked = await cli(["check-config", "-c", config]);
    // The hash is accepted by the authorization server as it is.
    assert.doesNotMatch(checked.stderr, /password_hash/);
    assert.equal(checked.code, 0, checked.stderr);
  });

  it("prompts twice without echo on a terminal, and refuses two different answers", { skip: !hasCommand("script") && "util-linux script is not installed" }, async () => {
    const good = await onTerminal(`${process.execPath} ${CLI} hash-password`, [["Password: ", "s3cret-pass"], ["Repeat password: ", "s3cret-pass"]]);
    assert.equal(good.code, 0, good.output);
    assert.ok(!good.output.includes("s3cret-pass"), `the password was echoed:\n${good.output}`);
    const hash = /\$2b\$10\$[./A-Za-z0-9]{53}/.exec(good.output)?.[0];
    assert.ok(hash && (await compare("s3cret-pass", hash)));
    const bad = await onTerminal(`${process.execPath} ${CLI} hash-password`, [["Password: ", "one"], ["Repeat password: ", "two"]]);
    assert.equal(bad.code, 1);
    assert.match(bad.output, /do not match/);
  });

  it("prompts without echo under Deno too", { skip: !hasCommand("script") && "util-linux script is not installed" }, async () => {
    const result = await onTerminal(`${DENO} run -A src/main.ts hash-password --cost 4`, [["Password: ", "deno-pass"], ["Repeat password: ", "deno-pass"]]);
    assert.equal(result.code, 0, result.output);
    assert.ok(!result.output.includes("deno-pass"), `the password was echoed:\n${result.output}`);
    const hash = /\$2b\$04\$[./A-Za-z0-9]{53}/.exec(result.output)?.[0];
    assert.ok(hash && (await compare("deno-pass", hash)));
  });

  it("is compatible both ways with htpasswd ($2y$)", { skip: !hasCommand("htpasswd") && "htpasswd is not installed (apt-get install apache2-utils)" }, async () => {
    const made = await run("htpasswd", ["-nbBC", "10", "", "from htpasswd"], { env: ENV });
    const theirs = made.stdout.trim().replace(/^:/, "");
    assert.match(theirs, /^\$2y\$10\$/);
    assert.ok(await compare("from htpasswd", theirs));
    const ours = (await cli(["hash-password"], "from us\n")).stdout.trim();
    const file = join(tempDir(), "htpasswd");
    writeFileSync(file, `user:${ours}\n`);
    assert.equal((await run("htpasswd", ["-vb", file, "user", "from us"], { env: ENV })).code, 0);
    assert.notEqual((await run("htpasswd", ["-vb", file, "user", "wrong"], { env: ENV })).code, 0);
  });

  it("is compatible both ways with Python's bcrypt ($2b$ and $2a$)", async (t) => {
    if (!(await hasPythonBcrypt())) return t.skip("Python's bcrypt is not installed (apt-get install python3-bcrypt)");
    const script = "import bcrypt; print(bcrypt.hashpw(b'from python', bcrypt.gensalt(10)).decode()); print(bcrypt.hashpw(b'from python', bcrypt.gensalt(10, prefix=b'2a')).decode())";
    const [b, a] = (await run(PYTHON, ["-c", script], { env: ENV })).stdout.trim().split("\n");
    assert.match(b!, /^\$2b\$/);
    assert.match(a!, /^\$2a\$/);
    assert.ok(await compare("from python", b!));
    assert.ok(await compare("from python", a!));
    const ours = (await cli(["hash-password"], "from us\n")).stdout.trim();
    const check = await run(PYTHON, ["-c", "import sys, bcrypt; print(bcrypt.checkpw(sys.argv[1].encode(), sys.argv[2].encode()))", "from us", ours], { env: ENV });
    assert.equal(check.stdout.trim(), "True");
  });
});

describe("gen-key", () => {
  const algorithms = ["ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "EdDSA"];
  for (const alg of algorithms) {
    it(`${alg}: a 0600 PKCS#8 key that openssl and jose load, SPKI and JWK beside it, the RFC 7638 key id on stdout`, async () => {
      const dir = tempDir();
      const [key, pub, jwkPath] = [join(dir, "k.pem"), join(dir, "k.pub.pem"), join(dir, "k.jwk")];
      const { code, stdout, stderr } = await cli(["gen-key", "--alg", alg, "--out", key, "--public-out", pub, "--jwk", jwkPath]);
      assert.equal(code, 0, stderr);
      const kid = stdout.trim();
      assert.equal(statSync(key).mode & 0o777, 0o600);
      const pem = readFileSync(key, "utf8");
      assert.match(pem, PKCS8_PEM);
      assert.equal((await run("openssl", ["pkey", "-in", key, "-noout"], { env: ENV })).code, 0);
      assert.equal((await run("openssl", ["pkey", "-pubin", "-in", pub, "-noout"], { env: ENV })).code, 0);
      const jwk = JSON.parse(readFileSync(jwkPath, "utf8")) as JWK;
      assert.equal(jwk.kid, kid);
      assert.equal(jwk.alg, alg);
      assert.equal(jwk.d, undefined, "the JWK must be the public key");
      assert.equal(await calculateJwkThumbprint(jwk, "sha256"), kid);
      // What the authorization server will do with signing.key_file: sign, and verify with the public half.
      const jwt = await new SignJWT({ sub: "x" }).setProtectedHeader({ alg, kid }).sign(await importPKCS8(pem, alg));
      const { protectedHeader } = await jwtVerify(jwt, await importSPKI(readFileSync(pub, "utf8"), alg));
      assert.equal(protectedHeader.kid, kid);
    });
  }

  it("makes 2048-bit RSA keys by default and honours --bits", async () => {
    const dir = tempDir();
    for (const [args, bits] of [[[], "2048"], [["--bits", "3072"], "3072"]] as const) {
      const key = join(dir, `${bits}.pem`);
      assert.equal((await cli(["gen-key", "--alg", "RS256", ...args, "--out", key])).code, 0);
      assert.match((await run("openssl", ["pkey", "-in", key, "-noout", "-text"], { env: ENV })).stdout, new RegExp(`\\(${bits} bit`));
    }
    assert.equal((await cli(["gen-key", "--alg", "ES256", "--bits", "2048"])).code, 2);
    assert.equal((await cli(["gen-key", "--alg", "RS256", "--bits", "1024"])).code, 2);
    assert.equal((await cli(["gen-key", "--alg", "HS256"])).code, 2);
  });

  it("writes the key to stdout without --out, and never replaces a file without --force", async () => {
    const printed = await cli(["gen-key", "--alg", "ES256"]);
    assert.match(printed.stdout, PKCS8_PEM);
    assert.match(printed.stderr, /key id: [\w-]{43}/);
    const key = join(tempDir(), "k.pem");
    writeFileSync(key, "precious");
    const refused = await cli(["gen-key", "--out", key]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /exists; use --force/);
    assert.equal(readFileSync(key, "utf8"), "precious");
    assert.equal((await cli(["gen-key", "--alg", "EdDSA", "--out", key, "--force"])).code, 0);
    assert.match(readFileSync(key, "utf8"), PKCS8_PEM);
    assert.equal(statSync(key).mode & 0o777, 0o600);
  });
});

describe("gen-token", () => {
  it("prints a 256-bit base64url token and its sha256: digest", async () => {
    const { code, stdout } = await cli(["gen-token"]);
    assert.equal(code, 0);
    const [token, digest] = stdout.trim().split("\n");
    assert.match(token!, /^[\w-]{43}$/);
    assert.equal(digest, `sha256:${createHash("sha256").update(token!).digest("hex")}`);
    const json = JSON.parse((await cli(["gen-token", "--json"])).stdout) as { token: string; valid_token: string };
    assert.equal(json.valid_token, `sha256:${createHash("sha256").update(json.token).digest("hex")}`);
    assert.notEqual(json.token, token);
  });
});

describe("completion and help", () => {
  it("has examples in every subcommand's --help", async () => {
    for (const command of COMMANDS) {
      const { code, stdout } = await cli([command.name, "--help"]);
      assert.equal(code, 0);
      assert.match(stdout, /\nExamples:\n {2}\S/, command.name);
    }
  });

  it("generates a bash script that parses and completes commands, options, files and shells", async () => {
    const script = (await cli(["completion", "bash"])).stdout;
    const file = join(tempDir(), "mcp-bridge.bash");
    writeFileSync(file, script);
    assert.equal((await run("bash", ["-n", file], { env: ENV })).code, 0);
    const complete = async (...words: string[]) => {
      const driver = `source ${file}; COMP_WORDS=(${words.map((word) => `'${word}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _mcp_bridge; printf '%s\\n' "\${COMPREPLY[@]}"`;
      return (await run("bash", ["-c", driver], { env: ENV, cwd: ROOT })).stdout.trim().split("\n");
    };
    assert.deepEqual(await complete("mcp-bridge", "gen-"), ["gen-key", "gen-token"]);
    assert.deepEqual(await complete("mcp-bridge", "gen-key", "--a"), ["--alg"]);
    assert.deepEqual(await complete("mcp-bridge", "completion", ""), ["bash", "zsh", "fish"]);
    assert.ok((await complete("mcp-bridge", "-c", "packag")).includes("package.json"));
    assert.ok((await complete("mcp-bridge", "connect", "--log-file", "packag")).includes("package.json"), "connect --log-file takes a file");
    assert.ok((await complete("mcp-bridge", "--")).includes("--log-level"), "run's options without a command");
    for (const command of COMMANDS) assert.ok(script.includes(`    ${command.name})`), command.name);
  });

  it("generates zsh and fish scripts that parse", async (t) => {
    for (const shell of ["zsh", "fish"]) {
      const { code, stdout } = await cli(["completion", shell]);
      assert.equal(code, 0);
      for (const command of COMMANDS) assert.ok(stdout.includes(command.name));
      if (!hasCommand(shell)) {
        t.diagnostic(`${shell} is not installed: syntax not checked`);
        continue;
      }
      const file = join(tempDir(), `completion.${shell}`);
      writeFileSync(file, stdout);
      assert.equal((await run(shell, ["-n", file], { env: ENV })).code, 0, shell);
    }
    assert.equal((await cli(["completion", "powershell"])).code, 2);
  });
});
