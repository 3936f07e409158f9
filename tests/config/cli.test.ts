/** @module check-config, --help and --version through the built CLI: output, search order, errors and exit codes. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { before, describe, test } from "node:test";
import { CLI, ROOT, runCli } from "../support/bridge.ts";

const VALID = "mode: server\nserver:\n  mcp_server:\n    command: node\n";
const TOKEN = "tok-3c1d-SHOULD-NEVER-BE-PRINTED";
const SYSTEM_PLACES = ["/etc/mcp-bridge/config.yaml", "/etc/pgedge/config.yaml", join(dirname(CLI), "config.yaml")];

/** A fresh directory holding the given files. */
function directory(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), "mcp-bridge-config-"));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

before(() => {
  if (!existsSync(CLI)) execFileSync(process.execPath, ["build.mjs"], { cwd: ROOT, stdio: "inherit" });
});

describe("check-config output", () => {
  test("prints a header and the effective config in file units", async () => {
    const dir = directory({ "c.yaml": VALID + "  max_body_size: 4MiB\n" });
    const { code, stdout, stderr } = await runCli(["check-config", "-c", join(dir, "c.yaml")]);
    assert.equal(code, 0, stderr);
    assert.equal(stderr, "");
    assert.match(stdout.split("\n")[0]!, /^# .*c\.yaml: valid \(mode: server\)/);
    assert.match(stdout, /\n {2}listen: 127\.0\.0\.1:8080\n/);
    assert.match(stdout, /\n {2}read_timeout: 30s\n/);
    assert.match(stdout, /\n {2}max_body_size: 4MiB\n/);
    assert.match(stdout, /\n {4}timeout: 30m\n/);
  });

  test("--format json is bare JSON in the same units", async () => {
    const dir = directory({ "c.yaml": VALID });
    const { code, stdout } = await runCli(["check-config", "-c", join(dir, "c.yaml"), "--format", "json"]);
    assert.equal(code, 0);
    const config = JSON.parse(stdout);
    assert.equal(config.server.write_timeout, "1m");
    assert.equal(config.server.max_body_size, "16MiB");
    assert.equal(config.log.output, "stderr");
  });

  test("--quiet prints nothing for a valid file", async () => {
    const dir = directory({ "c.yaml": VALID });
    const { code, stdout, stderr } = await runCli(["check-config", "-q", "-c", join(dir, "c.yaml")]);
    assert.deepEqual({ code, stdout, stderr }, { code: 0, stdout: "", stderr: "" });
  });

  test("--quiet still reports an invalid file", async () => {
    const dir = directory({ "c.yaml": "mode: server\n" });
    const { code, stdout, stderr } = await runCli(["check-config", "--quiet", "-c", join(dir, "c.yaml")]);
    assert.equal(code, 2);
    assert.equal(stdout, "");
    assert.match(stderr, /server: is required when mode is "server"/);
  });

  test("an unknown --format or option is a usage error", async () => {
    const dir = directory({ "c.yaml": VALID });
    const format = await runCli(["check-config", "-c", join(dir, "c.yaml"), "--format", "toml"]);
    assert.equal(format.code, 2);
    assert.match(format.stderr, /--format must be yaml or json/);
    const option = await runCli(["check-config", "--quite"]);
    assert.equal(option.code, 2);
    assert.match(option.stderr, /unknown option --quite \(did you mean --quiet\?\)/);
    // A name every object inherits is no option either.
    for (const inherited of ["--toString", "--hasOwnProperty", "--constructor"]) {
      const refused = await runCli(["check-config", inherited, "x"]);
      assert.equal(refused.code, 2, refused.stderr);
      assert.match(refused.stderr, new RegExp(`unknown option ${inherited}`));
    }
  });

  test("a mistyped or unquoted header never prints its value", async () => {
    // A misspelt option with its value attached: the name is shown, the value is not.
    const option = await runCli(["connect", "http://127.0.0.1:9/mcp", `--headr=X-Api-Key: ${TOKEN}`]);
    assert.equal(option.code, 2);
    assert.match(option.stderr, /unknown option --headr \(did you mean --header\?\)/);
    assert.ok(!option.stderr.includes(TOKEN), option.stderr);
    // Unquoted in a shell, "X-Api-Key: <key>" is two words: the key is the stray one.
    const stray = await runCli(["connect", "http://127.0.0.1:9/mcp", "--header", "X-Api-Key:", TOKEN]);
    assert.equal(stray.code, 2);
    assert.match(stray.stderr, /unexpected argument .*connect takes 1 argument besides its options/);
    assert.ok(!stray.stderr.includes(TOKEN), stray.stderr);
  });
});

describe("where the config is found", () => {
  test("./config.yaml in the working directory", async () => {
    const cwd = directory({ "config.yaml": VALID });
    const { code, stdout } = await runCli(["check-config"], { cwd });
    assert.equal(code, 0);
    assert.match(stdout, /^# config\.yaml: valid/);
  });

  test("MCP_BRIDGE_CONFIG comes before ./config.yaml", async () => {
    const cwd = directory({ "config.yaml": "mode: nonsense\n", "other.yaml": VALID });
    const { code, stdout } = await runCli(["check-config"], { cwd, env: { MCP_BRIDGE_CONFIG: join(cwd, "other.yaml") } });
    assert.equal(code, 0);
    assert.match(stdout, /other\.yaml: valid/);
  });

  test("-c comes before MCP_BRIDGE_CONFIG", async () => {
    const cwd = directory({ "a.yaml": VALID, "b.yaml": "mode: nonsense\n" });
    const { code, stdout } = await runCli(["check-config", "-c", "a.yaml"], { cwd, env: { MCP_BRIDGE_CONFIG: join(cwd, "b.yaml") } });
    assert.equal(code, 0);
    assert.match(stdout, /^# a\.yaml: valid/);
  });

  test("MCP_BRIDGE_CONFIG naming a missing file is an error, not a fall-back to ./config.yaml", async () => {
    const cwd = directory({ "config.yaml": VALID });
    const missing = join(cwd, "missing.yaml");
    const { code, stdout, stderr } = await runCli(["check-config"], { cwd, env: { MCP_BRIDGE_CONFIG: missing } });
    assert.equal(code, 2);
    assert.equal(stdout, "");
    assert.match(stderr, new RegExp(`no configuration file found\\n {2}MCP_BRIDGE_CONFIG names ${missing.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}, which does not exist\\n`));
    // The variable is set: telling the user to set it would send them in a circle.
    assert.doesNotMatch(stderr, /or set MCP_BRIDGE_CONFIG/);
    assert.match(stderr, /correct or unset the variable/);
  });

  test("when nothing is found, the error lists every place it looked", async (t) => {
    if (SYSTEM_PLACES.some((place) => existsSync(place))) return t.skip("a system-wide config exists on this machine");
    const cwd = directory();
    const { code, stdout, stderr } = await runCli(["check-config"], { cwd });
    assert.equal(code, 2);
    assert.equal(stdout, "");
    assert.match(stderr, /no configuration file found/);
    for (const place of ["config.yaml", ...SYSTEM_PLACES]) assert.ok(stderr.includes(place), `${place} missing from:\n${stderr}`);
    assert.match(stderr, /-c FILE or set MCP_BRIDGE_CONFIG\n {2}without a file: mcp-bridge connect URL \(client mode\); mcp-bridge --help lists the commands\n/);
  });

  test("run looks in the same places", async (t) => {
    if (SYSTEM_PLACES.some((place) => existsSync(place))) return t.skip("a system-wide config exists on this machine");
    const { code, stderr } = await runCli([], { cwd: directory() });
    assert.equal(code, 2);
    assert.match(stderr, /no configuration file found\n {2}looked in: config\.yaml, \/etc\/mcp-bridge\/config\.yaml/);
  });
});

describe("errors and exit codes", () => {
  test("a missing -c file", async () => {
    const { code, stderr } = await runCli(["check-config", "-c", "/nonexistent/config.yaml"]);
    assert.equal(code, 2);
    assert.match(stderr, /configuration file cannot be read\n {2}\/nonexistent\/config\.yaml: no such file/);
  });

  test("an unreadable file (a directory)", async () => {
    const dir = directory();
    mkdirSync(join(dir, "config.yaml"));
    const { code, stderr } = await runCli(["check-config", "-c", join(dir, "config.yaml")]);
    assert.equal(code, 2);
    assert.match(stderr, /configuration file cannot be read/);
  });

  test("a YAML syntax error names the file and the line", async () => {
    const dir = directory({ "c.yaml": "mode: server\nserver:\n  mcp_server: [oops\n" });
    const { code, stderr } = await runCli(["check-config", "-c", join(dir, "c.yaml")]);
    assert.equal(code, 2);
    assert.match(stderr, /c\.yaml: configuration file is not valid YAML\n.* at line \d+, column \d+/);
  });

  test("an invalid config lists every problem by key", async () => {
    const dir = directory({ "c.yaml": VALID + "  sesion: {}\n  read_timeout: soon\nauth:\n  type: bearer\n  bearer:\n    valid_tokens: ['${NOT_SET_ANYWHERE}']\n" });
    const { code, stdout, stderr } = await runCli(["check-config", "-c", join(dir, "c.yaml")]);
    assert.equal(code, 2);
    assert.equal(stdout, "");
    assert.match(stderr, /auth\.bearer\.valid_tokens\[0\]: environment variable NOT_SET_ANYWHERE is not set/);
  });

  test("a pasted argon2 or yescrypt password_hash is told bcrypt is expected, not that it is read as a ${VAR}; a bare $HASH is", async () => {
    const user = (hash: string) => `mode: server\nserver:\n  mcp_server: {command: node}\n  oauth_server:\n    enabled: true\n    builtin: {users: [{username: a, password_hash: '${hash}'}]}\nstorage: {type: memory}\n`;
    for (const hash of ["$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$UXl1b2Jvc3Rvbmhhc2hoYXNoaGFzaA", "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$X3DX6M94c7o.9agCG9G317fhZg9SqC.5i5rd.RhAtQ7"]) {
      const { code, stderr } = await runCli(["check-config", "-q", "-c", join(directory({ "c.yaml": user(hash) }), "c.yaml")]);
      assert.equal(code, 2);
      assert.match(stderr, /users\[0\]\.password_hash: is not a bcrypt hash \(make one with: mcp-bridge hash-password\)\n/);
      assert.doesNotMatch(stderr, /\$\{VAR\}/);
    }
    const { stderr } = await runCli(["check-config", "-q", "-c", join(directory({ "c.yaml": user("$HASH") }), "c.yaml")]);
    assert.match(stderr, /is not a bcrypt hash \(make one with: mcp-bridge hash-password\); password_hash is read literally, never as a \$\{VAR\}/);
  });

  test("the run command gives config errors the same exit code", async () => {
    const dir = directory({ "c.yaml": "mode: server\nserver:\n  mcp_server:\n    comand: node\n" });
    const { code, stderr } = await runCli(["-c", join(dir, "c.yaml")]);
    assert.equal(code, 2);
    assert.match(stderr, /server\.mcp_server: unknown key "comand" \(did you mean "command"\?\)/);
  });
});

describe("secrets never reach the output", () => {
  const env = { API_TOKEN: TOKEN, UPSTREAM_KEY: TOKEN, OAUTH_SECRET: TOKEN };
  const SECRET_CONFIG = `mode: server
server:
  mcp_server:
    command: node
    args: ["server.js", "--api-key", "\${UPSTREAM_KEY}", "--region=eu"]
    env:
      UPSTREAM_KEY: \${UPSTREAM_KEY}
  auth:
    type: bearer
    bearer:
      valid_tokens: ["\${API_TOKEN}", "literal-${TOKEN}"]
`;

  for (const format of ["yaml", "json"]) {
    test(`check-config --format ${format}`, async () => {
      const dir = directory({ "c.yaml": SECRET_CONFIG });
      const { code, stdout, stderr } = await runCli(["check-config", "-c", join(dir, "c.yaml"), "--format", format], { env });
      assert.equal(code, 0, stderr);
      assert.ok(stdout.includes("[redacted]"));
      assert.ok(!stdout.includes(TOKEN) && !stderr.includes(TOKEN), stdout + stderr);
      // Arguments written as they are still show; the one a ${VAR} filled in does not.
      for (const written of ["server.js", "--api-key", "--region=eu"]) assert.ok(stdout.includes(written), stdout);
      assert.match(stdout, /command"?: "?node/);
    });
  }

  // ${VAR}s filling in other keys than mcp_server.args: URLs (a key in the path or under a query name no list foresees), commands.
  for (const command of ['["print-token", "--key", "${KEY}"]', '"print-token --key ${KEY}"']) {
    test(`check-config hides what a \${VAR} put in URLs and in token_command ${command}`, async () => {
      const key = "sk-ak-7fa2c9e41b0d4e8aSHOULDNEVER";
      const client = `mode: client\nclient:\n  url: https://mcp.example.com/mcp/\${KEY}/sse?k=\${KEY}\n  auth:\n    type: oauth\n    oauth:\n      client_id: c1\n      token_url: https://as.example.com/t/\${KEY}/token\n      workload_identity:\n        token_command: ${command}\n`;
      // The usual slip: arguments written into command.
      const server = "mode: server\nserver:\n  mcp_server:\n    command: npx -y server --api-key ${KEY}\n  auth:\n    type: bearer\n    bearer:\n      validation_endpoint: https://check.example.com/v/${KEY}\n";
      const dir = directory({ "client.yaml": client, "server.yaml": server });
      const printed: string[] = [];
      for (const file of ["client.yaml", "server.yaml"]) {
        const { code, stdout, stderr } = await runCli(["check-config", "-c", join(dir, file)], { env: { KEY: key } });
        assert.equal(code, 0, stderr);
        assert.ok(!stdout.includes(key) && !stderr.includes(key), stdout + stderr);
        printed.push(stdout);
      }
      const stdout = printed[0]!;
      assert.match(stdout, /url: https:\/\/mcp\.example\.com\/mcp\/\[redacted\]\/sse\?k=\[redacted\]\n/);
      // Arguments written as they are still show.
      if (command.startsWith("[")) assert.match(stdout, /- print-token\n\s+- --key\n\s+- "\[redacted\]"\n/);
    });
  }

  test("client mode's start line hides a key that a service put in client.url's path", async () => {
    // As some hosted MCP servers hand out: https://host/mcp/<key>/sse.
    const key = "sk-ak-7fa2c9e41b0d4e8aSHOULDNEVER";
    const { code, stderr } = await runCli(["connect", `http://127.0.0.1:9/mcp/${key}/sse`, "--log-level", "info"], { input: "" });
    assert.equal(code, 0, stderr);
    assert.match(stderr, /client mode started url="?http:\/\/127\.0\.0\.1:9\/mcp\/\[redacted\]\/sse[" ]/);
    assert.ok(!stderr.includes(key), stderr);
  });

  test("error messages", async () => {
    const dir = directory({
      "c.yaml": `mode: server\nserver:\n  listen: \${API_TOKEN}\n  read_timeout: \${API_TOKEN}\n  max_body_size: \${API_TOKEN}\n  public_url: \${API_TOKEN}\n  trusted_proxies: ["\${API_TOKEN}"]\n  mcp_server:\n    command: node\n  auth:\n    type: \${API_TOKEN}\n    oauth:\n      client_secret: \${OAUTH_SECRET}\n`,
    });
    const { code, stdout, stderr } = await runCli(["check-config", "-c", join(dir, "c.yaml")], { env });
    assert.equal(code, 2);
    assert.match(stderr, /server\.listen: is not host:port/);
    assert.match(stderr, /server\.trusted_proxies\[0\]: is not an IP address or CIDR range/);
    assert.ok(!stdout.includes(TOKEN) && !stderr.includes(TOKEN), stderr);
  });
});

describe("a secret given where a variable's name belongs is not repeated", () => {
  // The shell expanded it: --token-env "$MCP_TOKEN", token_env: ${MCP_TOKEN}.
  const GENERATED = "ghp_3c1dSHOULDnever0BE0PRINTED7f";
  /** A generated value of letters alone (no digit): a valid name by its characters. */
  const LETTERS = "RbUDTeYZMsIuGsAdQPOcLMBxZTDNmXsq";

  test("connect --token-env and --client-secret-env", async () => {
    for (const [flag, value] of [["--token-env", TOKEN], ["--token-env", GENERATED], ["--token-env", LETTERS], ["--client-secret-env", TOKEN]] as const) {
      const { code, stderr } = await runCli(["connect", "http://127.0.0.1:9/mcp", flag, value]);
      assert.equal(code, 2, stderr);
      assert.match(stderr, new RegExp(`${flag}: environment variable named here \\(not shown`));
      assert.ok(!stderr.includes(value), stderr);
    }
    const named = await runCli(["connect", "http://127.0.0.1:9/mcp", "--token-env", "MCP_TOKEN_UNSET"]);
    assert.match(named.stderr, /environment variable MCP_TOKEN_UNSET is not set or empty/, "a variable's name is still shown");
  });

  test("client.auth.bearer.token_env in a file", async () => {
    const dir = directory({ "c.yaml": `mode: client\nclient:\n  url: http://127.0.0.1:9/mcp\n  auth:\n    type: bearer\n    bearer:\n      token_env: \${MCP_TOKEN}\n` });
    const { code, stderr } = await runCli(["-c", join(dir, "c.yaml")], { env: { MCP_TOKEN: GENERATED } });
    assert.equal(code, 2, stderr);
    assert.match(stderr, /client\.auth\.bearer\.token_env: the environment variable named here \(not shown/);
    assert.ok(!stderr.includes(GENERATED), stderr);
  });
});

test("connect's errors name the flags a user typed, in the message as well as before it", async () => {
  const token = await runCli(["connect", "http://127.0.0.1:9/mcp", "--header", "Authorization: Bearer abc", "--token-env", "MCP_TOKEN"], { env: { MCP_TOKEN: "tok-42" } });
  assert.equal(token.code, 2, token.stderr);
  assert.match(token.stderr, /\n {2}--header Authorization: conflicts with --token-env, whose token would replace it: keep one/);
  const oauth = await runCli(["connect", "http://127.0.0.1:9/mcp", "--header", "Authorization: Bearer abc", "--client-id", "abc"]);
  assert.equal(oauth.code, 2, oauth.stderr);
  assert.match(oauth.stderr, /\n {2}--header Authorization: conflicts with the OAuth flags, whose token would replace it: keep one/);
  const tls = await runCli(["connect", "http://127.0.0.1:9/mcp", "--token-env", "MCP_TOKEN", "--ca-cert", "/nonexistent/ca.pem"], { env: { MCP_TOKEN: "tok-42" } });
  assert.equal(tls.code, 2, tls.stderr);
  assert.match(tls.stderr, /\n {2}--ca-cert: configures TLS to the remote server, and URL is plain http:\/\/ \(and --token-env reaches no other server\)/);
  for (const { stderr } of [token, oauth, tls]) assert.doesNotMatch(stderr, /client\./, "no configuration key: connect has no file");
});

describe("--help and --version", () => {
  test("--help lists the commands and exit codes", async () => {
    const { code, stdout } = await runCli(["--help"]);
    assert.equal(code, 0);
    assert.match(stdout, /Usage: mcp-bridge \[command\] \[options\]/);
    assert.match(stdout, /check-config/);
    assert.match(stdout, /Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error/);
  });

  test("check-config --help shows its options", async () => {
    const { code, stdout } = await runCli(["check-config", "--help"]);
    assert.equal(code, 0);
    assert.match(stdout, /Usage: mcp-bridge check-config/);
    assert.match(stdout, /--format yaml\|json/);
    assert.match(stdout, /-q, --quiet/);
  });

  test("--version prints package.json's version", async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
    for (const flag of ["--version", "-V"]) {
      const { code, stdout } = await runCli([flag]);
      assert.equal(code, 0);
      assert.equal(stdout, `mcp-bridge ${version}\n`);
    }
  });
});
