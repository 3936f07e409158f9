/**
 * @module A hostile or careless operator's config files and command lines through the built CLI:
 * every one is refused with exit 2 naming what to fix (never a crash, a hang, a silently ignored
 * setting or a secret in the output).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import { CLI, ECHO_SERVER, ROOT, run, runCli, startBridge, writeConfig } from "../support/bridge.ts";
import { concurrently } from "../support/concurrently.ts";

const SERVER = "mode: server\nserver:\n  mcp_server:\n    command: node\n";
const SECRET = "tok-7f3a-SHOULD-NEVER-BE-PRINTED";
/** check-config runs of one test at once: each is its own process with its own config file. */
const AT_ONCE = 4;

before(() => {
  if (!existsSync(CLI)) execFileSync(process.execPath, ["build.mjs"], { cwd: ROOT, stdio: "inherit" });
});

/** check-config on `text`: asserts exit 2, nothing on stdout, and returns stderr. */
async function refused(text: string): Promise<string> {
  const { code, stdout, stderr } = await runCli(["check-config", "-c", writeConfig(text)]);
  assert.equal(code, 2, `exit ${code}\n${stdout}\n${stderr}`);
  assert.equal(stdout, "");
  return stderr;
}

describe("YAML the bridge does not read as written", () => {
  test("a YAML tag (!secret name) is refused, not read as the literal token", async () => {
    const stderr = await refused(SERVER + "  auth:\n    type: bearer\n    bearer:\n      valid_tokens: [!secret api_token]\n");
    assert.match(stderr, /not valid YAML/);
    assert.match(stderr, /Unresolved tag at line 8, column 22 \(YAML tags such as !secret or !env are not supported/);
  });

  test("an unknown directive is refused", async () => {
    assert.match(await refused("%INCLUDE secrets.yaml\n---\n" + SERVER), /Unknown directive at line 1, column 1/);
  });

  test("an alias bomb is a configuration error (exit 2), not a crash", async () => {
    const levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
    for (let i = 1; i < 9; i++) levels.push(`l${i}: &l${i} [${Array(10).fill(i === 1 ? "*a" : `*l${i - 1}`).join(", ")}]`);
    const stderr = await refused(levels.join("\n") + "\n" + SERVER);
    assert.match(stderr, /not valid YAML\n {2}aliases \(\*name\) expand to too much data/);
  });

  test("an alias without its anchor and a merge of a scalar are configuration errors", async () => {
    assert.match(await refused(SERVER + "    args: [*missing]\n"), /an alias \(\*name\) names no anchor \(&name\) set before it/);
    assert.match(await refused(SERVER + "<<: 5\n"), /a merge key \("<<"\) must name a mapping/);
  });

  test("syntax errors give the place, never the file's text (a value may be a secret)", async () => {
    const texts = [
      `${SERVER}  auth:\n    type: bearer\n    bearer:\n      valid_tokens:\n ]${SECRET}\n`,
      `${SERVER}  allowed_origins: [a]\n  path: } ${SECRET}\n`,
      `${SERVER}  path: |${SECRET}\n    x\n`,
      `${SERVER}  path: "\\x${SECRET}"\n`,
      `${SERVER}  path: !<${SECRET}> x\n`,
    ];
    await concurrently(texts, AT_ONCE, async (text) => {
      const stderr = await refused(text);
      assert.match(stderr, /not valid YAML\n {2}\S.* at line \d+, column \d+/);
      assert.doesNotMatch(stderr, /SHOULD-NEVER|7f3a/, stderr);
    });
  });
});

describe("command lines that disagree with themselves", () => {
  test("two configuration files are a usage error (they are not merged; the last one was read silently)", async () => {
    const first = writeConfig(SERVER);
    const second = writeConfig("mode: client\nclient:\n  url: https://mcp.example.com/mcp\n");
    const twice = await runCli(["check-config", "-c", first, "--config", second]);
    assert.equal(twice.code, 2, twice.stdout);
    assert.match(twice.stderr, /--config is given twice: the bridge reads one configuration file, files are not merged; give it once/);
    // Other options take their last value, so a wrapper's default can be overridden.
    const format = await runCli(["check-config", "-c", first, "--format", "yaml", "--format=json"]);
    assert.equal(format.code, 0, format.stderr);
    assert.equal(JSON.parse(format.stdout).mode, "server");
    // Repeatable options stay repeatable.
    const headers = await runCli(["connect", "ftp://x", "--header", "A: 1", "--header", "B: 2"]);
    // (connect names the argument typed, URL, rather than client.url.)
    assert.match(headers.stderr, /URL: must be an absolute http/);
  });
});

describe("input that does not end", () => {
  test("-c /dev/zero is refused once past a configuration file's size, not read into memory", { timeout: 120_000 }, async () => {
    const { code, stderr } = await runCli(["check-config", "-c", "/dev/zero"]);
    assert.equal(code, 2, stderr);
    assert.match(stderr, /configuration file cannot be read\n {2}\/dev\/zero: larger than 1048576 bytes/);
  });

  test("a configuration file that is not UTF-8 is refused, not read with replacement characters", async () => {
    const path = writeConfig("");
    writeFileSync(path, Buffer.concat([Buffer.from(SERVER + "    env:\n      GREETING: caf"), Buffer.from([0xe9]), Buffer.from("\n")]));
    const { code, stderr } = await runCli(["check-config", "-c", path]);
    assert.equal(code, 2, stderr);
    assert.match(stderr, /not UTF-8 text: save it as UTF-8/);
  });

  test("hash-password reads the first line of an endless stdin and stops", { timeout: 120_000 }, async () => {
    const { code, stdout, stderr } = await run("/bin/sh", ["-c", `yes | exec "${process.execPath}" "${CLI}" hash-password --cost 4`]);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^\$2b\$04\$[./A-Za-z0-9]{53}\n$/);
  });

  test("hash-password refuses a first line with no end in sight, and stdin that is not UTF-8 (exit 2)", async () => {
    const long = await runCli(["hash-password"], { input: "x".repeat(1 << 20) });
    assert.equal(long.code, 2);
    assert.match(long.stderr, /stdin has no line end within 4096 bytes/);
    const binary = await run("/bin/sh", ["-c", `printf 'pass\\377\\n' | exec "${process.execPath}" "${CLI}" hash-password`]);
    assert.equal(binary.code, 2, binary.stderr);
    assert.match(binary.stderr, /stdin is not UTF-8 text/);
  });
});

describe("values the schema's type allows and the bridge cannot work with", () => {
  test('"0s" where an answer is waited for, or where work repeats, is refused naming the key', async () => {
    const oauth = "  auth:\n    type: oauth\n    oauth:\n      jwks_url: https://idp.example.com/jwks\n      issuer: https://idp.example.com\n";
    // refresh_interval: 0s fetched the JWKS without pause (hundreds of requests a second to the IdP).
    const cases = [
      [SERVER + oauth + "      jwks:\n        refresh_interval: 0s\n", "server.auth.oauth.jwks.refresh_interval"],
      [SERVER + oauth + "      jwks:\n        cooldown: 0ms\n", "server.auth.oauth.jwks.cooldown"],
      [SERVER + oauth + "      http_timeout: '0'\n", "server.auth.oauth.http_timeout"],
      [SERVER + "    read_timeout: 0s\n", "server.mcp_server.read_timeout"],
      ["mode: client\nclient:\n  url: https://mcp.example.com/mcp\n  timeout: 0s\n", "client.timeout"],
      // Node takes 0 as "no limit": a body could drip for ever, and the first request head was cut at once.
      [SERVER + "  read_timeout: 0s\n", "server.read_timeout"],
      [SERVER + "  header_timeout: 0s\n", "server.header_timeout"],
      // Repeating work: keep-alive comments and idle sweeps every tick; a window of 0 never spends the restart budget.
      [SERVER + "  sse_keepalive_interval: 0s\n", "server.sse_keepalive_interval"],
      [SERVER + "  session:\n    cleanup_interval: 0s\n", "server.session.cleanup_interval"],
      [SERVER + "    restart_window: 0s\n", "server.mcp_server.restart_window"],
      // Lifetimes: what they time would expire as it is made (the stores refused a TTL of 0 with a 500 per request).
      [SERVER + "  session:\n    timeout: 0s\n", "server.session.timeout"],
      ["mode: client\nclient:\n  url: https://mcp.example.com/mcp\n  idle_conn_timeout: 0s\n", "client.idle_conn_timeout"],
      [SERVER + oauth + "      validation:\n        max_token_age: 0s\n", "server.auth.oauth.validation.max_token_age"],
      ...(["token_lifetime", "refresh_token_lifetime", "auth_code_lifetime", "registration_lifetime"] as const).map((key) => [SERVER + `  oauth_server:\n    enabled: true\n    ${key}: 0s\n`, `server.oauth_server.${key}`] as const),
      [SERVER + "  oauth_server:\n    enabled: true\n    client_metadata_documents:\n      max_cache_time: 0s\n", "server.oauth_server.client_metadata_documents.max_cache_time"],
    ] as const;
    await concurrently(cases, AT_ONCE, async ([text, key]) => {
      const stderr = await refused(text);
      assert.match(stderr, new RegExp(`\\n {2}${key.replaceAll(".", "\\.")}: must be longer than "0s"`), stderr);
    });
  });

  test("the authorization server's access tokens live at most 24h and its codes 10m (RFC 6749 §4.1.2)", async () => {
    const stderr = await refused(SERVER + "  oauth_server:\n    enabled: true\n    token_lifetime: 25h\n    auth_code_lifetime: 11m\n");
    assert.match(stderr, /\n {2}server\.oauth_server\.token_lifetime: is too long: at most "24h" \(an access token is a JWT no one can revoke/, stderr);
    assert.match(stderr, /\n {2}server\.oauth_server\.auth_code_lifetime: is too long: at most "10m" \(RFC 6749 §4\.1\.2/, stderr);
    const { code, stderr: accepted } = await runCli(["check-config", "-q", "-c", writeConfig(SERVER + "  oauth_server:\n    enabled: true\n    token_lifetime: 24h\n    auth_code_lifetime: 10m\n    refresh_token_lifetime: 90d\n    builtin:\n      users:\n        - username: alice\n          password_env: ALICE_PASSWORD\nstorage:\n  type: memory\n")], { env: { ALICE_PASSWORD: "correct horse battery staple" } });
    assert.equal(code, 0, accepted);
  });

  test('"0s" stays accepted where it means off', async () => {
    const { code, stderr } = await runCli(["check-config", "-q", "-c", writeConfig(SERVER + "  write_timeout: 0s\n  idle_timeout: 0s\n  session:\n    resume_window: 0s\n    input_window: 0s\n    cache_ttl: 0s\n")]);
    assert.equal(code, 0, stderr);
  });
});

describe("server.path", () => {
  const withPath = (path: string, extra = "") => `mode: server\nserver:\n  path: "${path}"\n${extra}  mcp_server:\n    command: node\n`;

  test("a router pattern is refused: /mcp/:tenant answered MCP on every /mcp/…, /* on every path", async () => {
    await concurrently(["/mcp/:tenant", "/*", "/mcp?x=1", "/m cp", "/mcp/{id}"], AT_ONCE, async (path) => {
      assert.match(await refused(withPath(path)), /server\.path: must be a plain URL path such as "\/mcp"/, path);
    });
  });

  test("a path the bridge answers itself is refused (the legacy /sse stream or GET /health would be lost)", async () => {
    await concurrently(["/sse", "/messages", "/health", "/ready", "/.well-known/oauth-protected-resource"], AT_ONCE, async (path) => {
      assert.match(await refused(withPath(path)), /server\.path: is a path the bridge answers itself \(.*\): choose another/, path);
    });
    const oauthServer = "  oauth_server:\n    enabled: true\n    issuer: http://127.0.0.1:8080\n    signing:\n      generate_key: true\n    builtin:\n      users:\n        - username: a\n          password_env: A_PASSWORD\n";
    assert.match(await refused(withPath("/token", oauthServer)), /server\.path: is a path the bridge answers itself/);
    assert.match(await refused(withPath("/oauth/mcp", oauthServer)), /server\.path: is a path the bridge answers itself/);
  });

  test("those paths are free when what answers them is off; ordinary paths are accepted", async () => {
    await concurrently([withPath("/sse", "  legacy_sse: false\n"), withPath("/token"), withPath("/team-a/mcp.v2"), withPath("/")], AT_ONCE, async (text) => {
      const { code, stderr } = await runCli(["check-config", "-q", "-c", writeConfig(text)]);
      assert.equal(code, 0, `${text}\n${stderr}`);
    });
  });
});

describe("secrets in error messages", () => {
  test('a "$" inside a literal secret is reported without the text after it', async () => {
    const stderr = await refused(SERVER + '  auth:\n    type: bearer\n    bearer:\n      valid_tokens: ["Xy7$Qz9pLmN4vB2kR8sT"]\n');
    assert.match(stderr, /server\.auth\.bearer\.valid_tokens\[0\]: has a "\$" followed by a name that is no environment variable \(not shown: it may be part of a secret\): write \$\$ for a literal \$/);
    assert.doesNotMatch(stderr, /Qz9p/);
  });

  test('a literal secret that starts with "$" is not read back as a variable\'s name', async () => {
    const stderr = await refused(SERVER + '  auth:\n    type: bearer\n    bearer:\n      valid_tokens: ["$k8Fh2Qz9pLmN4vB2kR8sT"]\n');
    assert.match(stderr, /server\.auth\.bearer\.valid_tokens\[0\]: has a "\$" followed by a name that is no environment variable \(not shown/);
    assert.doesNotMatch(stderr, /k8Fh2/);
  });

  test("a value that is only a reference still names its variable", async () => {
    assert.match(await refused(SERVER + "    env:\n      KEY: $UNSET_FOR_HCFG\n"), /server\.mcp_server\.env\.KEY: environment variable UNSET_FOR_HCFG is not set/);
  });
});

describe("log.output", () => {
  test("a log file that cannot be opened is a configuration error naming log.output (exit 2), not a crash", async () => {
    const { code, stderr } = await runCli(["-c", writeConfig(`mode: server\nlog:\n  output: /\nserver:\n  listen: 127.0.0.1:0\n  mcp_server:\n    command: node\n`)]);
    assert.equal(code, 2, stderr);
    assert.match(stderr, /log\.output: cannot open "\/" for appending \(EISDIR\): name a writable file, or "stderr"/);
  });

  test("a log file that stops taking lines (a full disk) hands over to stderr; the bridge keeps serving", { timeout: 60_000 }, async () => {
    const bridge = await startBridge({ log: { output: "/dev/full" }, server: { mcp_server: { command: process.execPath, args: [ECHO_SERVER] } } });
    try {
      assert.match(bridge.logs(), /cannot write to the log file "\/dev\/full" \(ENOSPC\); logging to stderr from now on/);
      const health = await fetch(`${bridge.origin}/health`);
      assert.equal(health.status, 200);
    } finally {
      await bridge.stop();
    }
  });
});

describe("listen addresses", () => {
  test("a host that is neither an IP address nor a name is refused by check-config, not at start (exit 1)", async () => {
    await concurrently(["exa mple.com:8080", "300.1.1.1:8080", "[::1::2]:8080", "-bad-.example:8080"], AT_ONCE, async (listen) => {
      assert.match(await refused(`mode: server\nserver:\n  listen: "${listen}"\n  mcp_server:\n    command: node\n`), /server\.listen: has a host that is neither an IP address nor a host name/, listen);
    });
    await concurrently([":8080", "localhost:8080", "[::]:8080", "0.0.0.0:8080", "mcp.internal.example:8080", "[fe80::1%25eth0]:8080"], AT_ONCE, async (listen) => {
      const { code, stderr } = await runCli(["check-config", "-q", "-c", writeConfig(`mode: server\nserver:\n  listen: "${listen}"\n  mcp_server:\n    command: node\n`)]);
      assert.equal(code, 0, `${listen}: ${stderr}`);
    });
  });

  test("metrics_listen on the port listen binds is refused (the second listener could not start: EADDRINUSE, exit 1)", async () => {
    const text = (listen: string, metrics: string) => `mode: server\nserver:\n  listen: "${listen}"\n  metrics_listen: "${metrics}"\n  mcp_server:\n    command: node\n`;
    assert.match(await refused(text("127.0.0.1:8080", "127.0.0.1:8080")), /server\.metrics_listen: uses port 8080, which server\.listen binds too/);
    assert.match(await refused(text(":8080", "127.0.0.1:8080")), /server\.metrics_listen: uses port 8080/);
    const apart = await runCli(["check-config", "-q", "-c", writeConfig(text("127.0.0.1:0", "127.0.0.1:0"))]);
    assert.equal(apart.code, 0, apart.stderr);
  });
});

describe("TLS files", () => {
  const tlsConfig = (cert: string, key: string) => `mode: server\nserver:\n  listen: 127.0.0.1:0\n  tls:\n    enabled: true\n    cert_file: ${cert}\n    key_file: ${key}\n  mcp_server:\n    command: node\n`;
  const pair = (dir: string, name: string) => {
    execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${dir}/${name}.key`, "-out", `${dir}/${name}.crt`, "-days", "1", "-subj", "/CN=localhost"], { stdio: "ignore" });
    return { cert: `${dir}/${name}.crt`, key: `${dir}/${name}.key` };
  };

  test("swapped or wrong files are named by check-config and run alike (they failed at start with an OpenSSL code, exit 1)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mcp-bridge-tls-"));
    const a = pair(dir, "a");
    for (const command of [["check-config", "-q"], []]) {
      const swapped = await runCli([...command, "-c", writeConfig(tlsConfig(a.key, a.cert))]);
      assert.equal(swapped.code, 2, swapped.stderr);
      assert.match(swapped.stderr, /server\.tls\.cert_file: ".*a\.key" does not hold a PEM certificate \(-----BEGIN CERTIFICATE-----\); are cert_file and key_file swapped\?/);
      const zero = await runCli([...command, "-c", writeConfig(tlsConfig("/dev/zero", a.key))]);
      assert.equal(zero.code, 2, zero.stderr);
      assert.match(zero.stderr, /server\.tls\.cert_file: cannot read "\/dev\/zero" \(larger than 8388608 bytes\)/);
    }
  });

  test("a key that is not the certificate's own is a configuration error naming server.tls (exit 2)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mcp-bridge-tls-"));
    const a = pair(dir, "a");
    const b = pair(dir, "b");
    const { code, stderr } = await runCli(["-c", writeConfig(tlsConfig(a.cert, b.key))]);
    assert.equal(code, 2, stderr);
    assert.match(stderr, /server\.tls: cert_file and key_file cannot be used together \(.*key values mismatch\): the key must be the certificate's own/);
  });
});

describe("sizes and numbers", () => {
  test("a limit of 0 that nothing fits under, and a size past 2^53, are refused naming the key", async () => {
    assert.match(await refused(SERVER + "  max_body_size: 0\n"), /server\.max_body_size: must be more than 0: nothing would fit/);
    assert.match(await refused(SERVER + "    max_message_size: 0KiB\n"), /server\.mcp_server\.max_message_size: must be more than 0/);
    assert.match(await refused(SERVER + "  max_body_size: 9999999999999999999999GiB\n"), /server\.max_body_size: is too large: at most 9007199254740991 bytes/);
    const replayOff = await runCli(["check-config", "-q", "-c", writeConfig(SERVER + "  session:\n    event_buffer_bytes: 0\n")]);
    assert.equal(replayOff.code, 0, replayOff.stderr);
  });

  test("client mode's message and answer limits: past what a string holds, or a budget no message of the largest size fits in, refused naming the key and the fix", async () => {
    const client = "mode: client\nclient:\n  url: https://mcp.example.com/mcp\n";
    assert.match(await refused(client + "  max_message_size: 300MiB\n"), /client\.max_message_size: is too large: at most 256MiB/);
    assert.match(await refused(client + "  max_message_size: 0\n"), /client\.max_message_size: must be more than 0/);
    assert.match(
      await refused(client + "  max_message_size: 8MiB\n  max_answer_bytes_in_flight: 4MiB\n"),
      /client\.max_answer_bytes_in_flight: is less than client\.max_message_size \(8388608 bytes\): no answer of that size could be held; raise it to at least that/,
    );
    // The default budget (256 MiB) is checked against a larger message limit too.
    assert.match(await refused(client + "  max_message_size: 256MiB\n  max_answer_bytes_in_flight: 255MiB\n"), /client\.max_answer_bytes_in_flight: is less than/);
    for (const sizes of ["  max_message_size: 256MiB\n", "  max_message_size: 1MiB\n  max_answer_bytes_in_flight: 1MiB\n"]) {
      const { code, stderr } = await runCli(["check-config", "-q", "-c", writeConfig(client + sizes)]);
      assert.equal(code, 0, `${sizes}\n${stderr}`);
    }
  });

  test("NaN is reported as NaN", async () => {
    assert.match(await refused(SERVER + "  auth_failure_limit: .nan\n"), /server\.auth_failure_limit: must be a number, not NaN/);
  });
});

describe("keys of the other mode", () => {
  test("client mode's OAuth and bearer keys in server mode are refused, not ignored", async () => {
    const stderr = await refused(SERVER + "  auth:\n    type: oauth\n    oauth:\n      jwks_url: https://idp.example.com/jwks\n      issuer: https://idp.example.com\n      use_pkce: true\n      scopes: [mcp:read]\n");
    assert.match(stderr, /server\.auth\.oauth\.use_pkce: is read in client mode only; in server mode it would be ignored: remove it/);
    assert.match(stderr, /server\.auth\.oauth\.scopes: is read in client mode only/);
    assert.match(await refused(SERVER + "  auth:\n    type: bearer\n    bearer:\n      valid_tokens: [abcdefgh12345678]\n      token_env: MY_TOKEN\n"), /server\.auth\.bearer\.token_env: is read in client mode only/);
  });

  test("server mode's validation keys in client mode are refused (a client would believe it checks scopes or audiences)", async () => {
    const client = "mode: client\nclient:\n  url: https://mcp.example.com/mcp\n  auth:\n    type: ";
    const stderr = await refused(client + "oauth\n    oauth:\n      client_id: app\n      client_secret: s3\n      required_scopes: [admin]\n      audience: api\n");
    assert.match(stderr, /client\.auth\.oauth\.required_scopes: is read in server mode only; in client mode it would be ignored: remove it/);
    assert.match(stderr, /client\.auth\.oauth\.audience: is read in server mode only/);
    assert.match(await refused(client + "bearer\n    bearer:\n      token: abcdefgh12345678\n      cache_ttl: 5m\n"), /client\.auth\.bearer\.cache_ttl: is read in server mode only/);
  });

  test("keys both modes read, and keys written with their default value, stay accepted", async () => {
    for (const text of [
      "mode: client\nclient:\n  url: https://mcp.example.com/mcp\n  auth:\n    type: oauth\n    oauth:\n      discovery_url: https://idp.example.com\n      client_id: app\n      client_secret: s3\n      http_timeout: 5s\n      scopes: [mcp:read]\n",
      SERVER + "  auth:\n    type: oauth\n    oauth:\n      discovery_url: https://idp.example.com\n      audience: api\n      client_name: mcp-bridge\n",
    ]) {
      const { code, stderr } = await runCli(["check-config", "-q", "-c", writeConfig(text)]);
      assert.equal(code, 0, `${text}\n${stderr}`);
    }
  });
});

describe("a section written without its switch", () => {
  test("TLS files without tls.enabled are refused, not served as plain HTTP", async () => {
    assert.match(await refused(SERVER + "  tls:\n    cert_file: /etc/mcp/cert.pem\n    key_file: /etc/mcp/key.pem\n"), /server\.tls\.enabled: is not set, so cert_file, key_file would be ignored: set enabled: true \(or enabled: false to keep them unused\)/);
  });

  test("authorization server users without oauth_server.enabled are refused, not served without authentication", async () => {
    const text = SERVER + "  oauth_server:\n    issuer: https://mcp.example.com\n    builtin:\n      users:\n        - username: admin\n          password_env: ADMIN_PASSWORD\n";
    assert.match(await refused(text), /server\.oauth_server\.enabled: is not set, so issuer, builtin would be ignored: set enabled: true/);
  });

  test("enabled: false keeps them, unused (the Go original's toggle)", async () => {
    const { code, stderr } = await runCli(["check-config", "-q", "-c", writeConfig(SERVER + "  tls:\n    enabled: false\n    cert_file: /etc/mcp/cert.pem\n    key_file: /etc/mcp/key.pem\n")]);
    assert.equal(code, 0, stderr);
  });
});

describe("server.public_url", () => {
  test("user info or a fragment is refused (it would be published in the resource metadata and be the tokens' audience)", async () => {
    for (const url of ["https://deploy:hunter2@mcp.example.com/mcp", "https://mcp.example.com/mcp#main"]) {
      const stderr = await refused(`${SERVER}  public_url: "${url}"\n`);
      assert.match(stderr, /server\.public_url: must have no user info \("user:password@"\) and no fragment/);
      assert.doesNotMatch(stderr, /hunter2/);
    }
  });
});

describe("terminal safety", () => {
  test("an ESC sequence or a newline in a key is escaped in the error, never written raw (no recoloured terminal, no forged line)", async () => {
    const stderr = await refused(SERVER + '  "\\e[31mred\\nserver.auth: forged line": 1\n');
    assert.doesNotMatch(stderr, /\u001b/);
    assert.match(stderr, /unknown key "\\x1b\[31mred\\x0aserver\.auth: forged line"/);
    assert.equal(stderr.split("\n").filter((line) => line.startsWith("  server.auth")).length, 0);
  });
});

describe("gen-key outputs", () => {
  test("one file named for two outputs is a usage error, before anything is written (--force replaced the private key with the public one)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mcp-bridge-gen-key-"));
    for (const flags of [["--public-out", `${dir}/key.pem`, "--force"], ["--jwk", `${dir}/key.pem`]]) {
      const { code, stdout, stderr } = await runCli(["gen-key", "--alg", "ES256", "--out", `${dir}/key.pem`, ...flags]);
      assert.equal(code, 2, stderr);
      assert.equal(stdout, "");
      assert.match(stderr, /--out and (--public-out|--jwk) name the same file \(.*key\.pem\): give each output its own/);
      assert.equal(existsSync(`${dir}/key.pem`), false);
    }
  });
});

describe("client.headers", () => {
  const client = (headers: string, auth = "") => `mode: client\nclient:\n  url: https://mcp.example.com/mcp\n  headers:\n${headers}${auth}`;

  test("a header name that is not one, or a value with a line break (every request failed at run time), is refused", async () => {
    const { code, stderr } = await runCli(["check-config", "-c", writeConfig(client('    "Bad Name": x\n    X-Api-Key: ${API_KEY}\n'))], { env: { API_KEY: "abc\r\nInjected: 1" } });
    assert.equal(code, 2, stderr);
    assert.match(stderr, /client\.headers\.Bad Name: is not a header name/);
    assert.match(stderr, /client\.headers\.X-Api-Key: must not contain a line break or NUL/);
    assert.doesNotMatch(stderr, /Injected/);
  });

  test("a header the bridge sets itself, or Authorization beside client.auth, is refused instead of being overridden", async () => {
    assert.match(await refused(client("    Mcp-Session-Id: fixed\n")), /client\.headers\.Mcp-Session-Id: is set by the bridge on every request/);
    const both = client("    Authorization: Bearer static-token-1234\n", "  auth:\n    type: bearer\n    bearer:\n      token_env: MCP_TOKEN\n");
    assert.match(await refused(both), /client\.headers\.Authorization: conflicts with client\.auth\.bearer, whose token would replace it: keep one/);
    const alone = await runCli(["check-config", "-q", "-c", writeConfig(client("    Authorization: Bearer static-token-1234\n    X-Api-Key: k\n"))]);
    assert.equal(alone.code, 0, alone.stderr);
  });
});

describe("the MCP server's environment and arguments", () => {
  test('a variable name with "=" (A=B: x reached the child as A="B=x") or a NUL anywhere is refused', async () => {
    const stderr = await refused(SERVER + '    args: ["--name", "a\\0b"]\n    env:\n      "A=B": x\n      C: "d\\0e"\n');
    assert.match(stderr, /server\.mcp_server\.env\.A=B: is not an environment variable name \(no "=" or NUL\)/);
    assert.match(stderr, /server\.mcp_server\.env\.C: must not contain a NUL character/);
    assert.match(stderr, /server\.mcp_server\.args\[1\]: must not contain a NUL character/);
  });
});

describe("origins", () => {
  test("an origin that no browser sends (path, trailing slash, no scheme) is refused instead of never matching", async () => {
    const stderr = await refused(SERVER + '  allowed_origins: ["https://app.example.com/", "app.example.com"]\n  cors:\n    enabled: true\n    allowed_origins: ["https://App.example.com/path"]\n');
    for (const key of ["server.allowed_origins[0]", "server.allowed_origins[1]", "server.cors.allowed_origins[0]"]) {
      assert.match(stderr, new RegExp(`${key.replace(/[.[\]]/g, "\\$&")}: must be an origin as browsers send it`), key);
    }
    const fine = await runCli(["check-config", "-q", "-c", writeConfig(SERVER + '  auth:\n    type: bearer\n    bearer:\n      valid_tokens: [abcdefgh12345678]\n  allowed_origins: ["https://app.example.com", "http://localhost:6274", "chrome-extension://abcdefghijklmnopabcdefghijklmnop", "null", "*"]\n')]);
    assert.equal(fine.code, 0, fine.stderr);
  });
});

describe("other files a configuration names", () => {
  test("a signing key_file or a client ca_cert at /dev/zero is refused once past 8 MiB, naming the key (it was read into memory until the process failed)", { timeout: 120_000 }, async () => {
    const hash = "$2b$10$7YR8UZ42R3/Qf2fIgM5L0uP6bdl.uadZ101A7rnrDEGC3b71xR4B.";
    const server = `mode: server\nserver:\n  listen: 127.0.0.1:0\n  oauth_server:\n    enabled: true\n    issuer: http://127.0.0.1:8080\n    signing:\n      key_file: /dev/zero\n    builtin:\n      users:\n        - username: a\n          password_hash: "${hash}"\n  mcp_server:\n    command: node\n`;
    const key = await runCli(["check-config", "-q", "-c", writeConfig(server)]);
    assert.equal(key.code, 2, key.stderr);
    assert.match(key.stderr, /server\.oauth_server\.signing\.key_file: cannot read "\/dev\/zero" \(larger than 8388608 bytes\)/);
    const client = await runCli(["-c", writeConfig("mode: client\nclient:\n  url: https://mcp.example.com/mcp\n  tls:\n    ca_cert: /dev/zero\n")], { input: "" });
    assert.equal(client.code, 2, client.stderr);
    assert.match(client.stderr, /client\.tls\.ca_cert: \/dev\/zero: more than 8388608 bytes/);
  });

  test("a client private_key_file at /dev/zero is refused once past 8 MiB, naming the key (it was read into memory until the process failed)", { timeout: 120_000 }, async () => {
    const config = "mode: client\nclient:\n  url: https://mcp.example.com/mcp\n  auth:\n    type: oauth\n    oauth:\n      client_id: c\n      private_key_file: /dev/zero\n";
    const { code, stderr } = await runCli(["-c", writeConfig(config)], { input: "" });
    assert.equal(code, 2, stderr);
    assert.match(stderr, /client\.auth\.oauth\.private_key_file: cannot read \/dev\/zero \(EFBIG\)/);
  });
});

describe("help", () => {
  test("help for a command that does not exist is an unknown command (exit 2), not the general help with exit 0", async () => {
    const { code, stdout, stderr } = await runCli(["help", "conect"]);
    assert.equal(code, 2);
    assert.equal(stdout, "");
    assert.match(stderr, /unknown command "conect" \(did you mean "connect"\?\)/);
    assert.equal((await runCli(["help", "connect"])).code, 0);
  });
});

describe("the world-readable file warning", () => {
  test("a short value taken from the environment is no literal secret (it was found in the file's text, and the file warned about)", async () => {
    const path = writeConfig(SERVER + "    env:\n      MODE: ${MCP_MODE}\n");
    chmodSync(path, 0o644);
    const { code, stderr } = await runCli(["check-config", "-q", "-c", path], { env: { MCP_MODE: "server" } });
    assert.equal(code, 0);
    assert.equal(stderr, "");
  });
});
