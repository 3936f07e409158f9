/** @module parseConfig: strict keys, aliases, environment substitution, units, listen addresses and cross-key rules. */
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { describe, test } from "node:test";
import { parseConfig } from "../../src/config/load.ts";
import type { ConfigError, ConfigIssue } from "../../src/config/errors.ts";

type Env = Record<string, string | undefined>;

const SERVER = "mode: server\nserver:\n  mcp_server:\n    command: node\n";
const BCRYPT = "$2b$10$7YR8UZ42R3/Qf2fIgM5L0uP6bdl.uadZ101A7rnrDEGC3b71xR4B.";

/** The ConfigError parseConfig throws for `text`; fails the test when it accepts it. */
function rejection(text: string, env: Env = {}): ConfigError {
  try {
    parseConfig(text, env);
  } catch (error) {
    assert.equal((error as Error).name, "ConfigError", String(error));
    return error as ConfigError;
  }
  assert.fail(`accepted:\n${text}`);
}

/** Asserts that one issue has this path and a message matching `message`. */
function assertIssue(error: ConfigError, path: string, message: RegExp): void {
  const found = error.issues.some((issue: ConfigIssue) => issue.path === path && message.test(issue.message));
  assert.ok(found, `no issue ${path}: ${message} in\n${error.message}`);
}

describe("unknown keys", () => {
  test("a top-level typo names the nearest key", () => {
    assertIssue(rejection("mdoe: server\n"), "", /unknown key "mdoe" \(did you mean "mode"\?\)/);
  });

  test("a typo in a section names its path and the nearest key", () => {
    assertIssue(rejection(SERVER + "  sesion:\n    timeout: 5m\n"), "server", /unknown key "sesion" \(did you mean "session"\?\)/);
  });

  test("deep in the auth block", () => {
    const error = rejection(SERVER + "  auth:\n    type: bearer\n    bearer:\n      valid_token: [abc]\n");
    assertIssue(error, "server.auth.bearer", /unknown key "valid_token" \(did you mean "valid_tokens"\?\)/);
  });

  test("inside an item of a list", () => {
    const text = SERVER + `  oauth_server:\n    builtin:\n      users:\n        - username: a\n          pasword_env: X\n`;
    assertIssue(rejection(text), "server.oauth_server.builtin.users[0]", /unknown key "pasword_env" \(did you mean "password_env"\?\)/);
  });

  test("a key far from every valid one lists the valid keys", () => {
    assertIssue(rejection("mode: server\nlog:\n  verbosity: 3\n"), "log", /unknown key "verbosity" \(valid keys: level, format, output\)/);
  });

  test('"__proto__" is an unknown key, not a prototype', () => {
    assertIssue(rejection(SERVER + "__proto__:\n  mode: client\n"), "", /unknown key "__proto__"/);
  });
});

describe("the auth: and logging: aliases", () => {
  test("a top-level auth: block applies to server mode", () => {
    const config = parseConfig(SERVER + "auth:\n  type: bearer\n  bearer:\n    valid_tokens: [t1]\n", {});
    assert.equal(config.server?.auth?.type, "bearer");
    assert.equal(config.server?.auth?.bearer?.valid_tokens?.[0]?.reveal(), "t1");
  });

  test("a top-level auth: block applies to client mode", () => {
    const config = parseConfig('mode: client\nclient:\n  url: "https://h/mcp"\nauth:\n  type: bearer\n  bearer:\n    token: t\n', {});
    assert.equal(config.client?.auth?.bearer?.token?.reveal(), "t");
    assert.equal(config.server, undefined);
  });

  test("a top-level auth: block with mode: client and no client section still asks for client.url", () => {
    assertIssue(rejection("mode: client\nauth:\n  type: none\n"), "client.url", /is required/);
  });

  test("auth: at the top level and under server: at once is an error", () => {
    const error = rejection(SERVER + "  auth:\n    type: none\nauth:\n  type: none\n");
    assertIssue(error, "auth", /both "auth" and "server.auth" are set/);
  });

  test("the mode may come from the environment, and a top-level auth: block follows it", () => {
    const config = parseConfig('mode: ${MODE}\nclient:\n  url: "https://h/mcp"\nauth:\n  type: bearer\n  bearer:\n    token: t\n', { MODE: "client" });
    assert.equal(config.client?.auth?.type, "bearer");
  });

  test("logging: is read as log:", () => {
    assert.equal(parseConfig(SERVER + "logging:\n  level: warn\n", {}).log.level, "warn");
  });

  test("log: and logging: at once is an error", () => {
    assertIssue(rejection(SERVER + "log:\n  level: warn\nlogging:\n  level: debug\n"), "logging", /both "log" and "logging" are set/);
  });

  test("without a valid mode, only the mode is reported, not an unknown auth key", () => {
    const error = rejection("auth:\n  type: none\n");
    assert.deepEqual(
      error.issues.map((issue) => issue.path),
      ["mode"],
    );
    assertIssue(error, "mode", /is required \(one of: server, client\)/);
  });
});

describe("environment substitution", () => {
  const command = (value: string, env: Env) => parseConfig(`mode: server\nserver:\n  mcp_server:\n    command: '${value}'\n`, env).server!.mcp_server!.command;

  test("${VAR} and $VAR", () => {
    assert.equal(command("${BIN}/run-$NAME", { BIN: "/opt/bin", NAME: "fs" }), "/opt/bin/run-fs");
  });

  test("${VAR:-default} when the variable is unset or empty, the value when set", () => {
    assert.equal(command("${BIN:-/usr/bin}", {}), "/usr/bin");
    assert.equal(command("${BIN:-/usr/bin}", { BIN: "" }), "/usr/bin");
    assert.equal(command("${BIN:-/usr/bin}", { BIN: "/opt" }), "/opt");
  });

  test("$$ is a literal $, and what follows it is not a reference", () => {
    assert.equal(command("cost$$5", {}), "cost$5");
    assert.equal(command("$$HOME", { HOME: "/root" }), "$HOME");
  });

  test("a $ not followed by a name stays as it is", () => {
    assert.equal(command("price: 5$ or $5", {}), "price: 5$ or $5");
  });

  test("an unset variable is an error naming the variable and the key, never the literal text", () => {
    const error = rejection(SERVER + 'auth:\n  type: bearer\n  bearer:\n    valid_tokens: ["${API_TOKEN_1}", "$API_TOKEN_2"]\n');
    assertIssue(error, "auth.bearer.valid_tokens[0]", /environment variable API_TOKEN_1 is not set/);
    assertIssue(error, "auth.bearer.valid_tokens[1]", /environment variable API_TOKEN_2 is not set/);
  });

  test("an unset variable under server: names the full path", () => {
    assertIssue(rejection("mode: server\nserver:\n  mcp_server:\n    command: node\n    env:\n      KEY: ${UPSTREAM_KEY}\n"), "server.mcp_server.env.KEY", /UPSTREAM_KEY is not set/);
  });

  test("a ${ that is not a valid reference is an error, not literal text", () => {
    assertIssue(rejection(SERVER + 'auth:\n  type: bearer\n  bearer:\n    valid_tokens: ["${API TOKEN}"]\n'), "auth.bearer.valid_tokens[0]", /not a variable reference/);
    assertIssue(rejection(SERVER + 'log:\n  output: "${UNCLOSED"\n'), "log.output", /not a variable reference/);
  });

  test("a value with YAML syntax or newlines cannot inject keys or structure", () => {
    const hostile = "node\nmode: client\nclient: {url: 'http://evil'}\n  auth: {type: none}";
    const config = parseConfig(SERVER.replace("command: node", "command: ${CMD}") + "auth:\n  type: bearer\n  bearer:\n    valid_tokens: ['${TOKENS}']\n", {
      CMD: hostile,
      TOKENS: "a, b, [c]",
    });
    assert.equal(config.mode, "server");
    assert.equal(config.client, undefined);
    assert.equal(config.server?.mcp_server?.command, hostile);
    assert.deepEqual(config.server?.auth?.bearer?.valid_tokens?.map((token) => token.reveal()), ["a, b, [c]"]);
  });

  test("a substituted value is not substituted again", () => {
    assert.equal(command("${A}", { A: "${B}", B: "no" }), "${B}");
  });

  test("map keys are not substituted", () => {
    const config = parseConfig(SERVER + "    env:\n      $HOME: x\n", { HOME: "/root" });
    assert.deepEqual(config.server?.mcp_server?.env, { $HOME: "x" });
  });

  test("password_hash is taken literally", () => {
    const config = parseConfig(
      SERVER + `  oauth_server:\n    enabled: true\n    issuer: https://mcp.example.com\n    signing:\n      generate_key: true\n    builtin:\n      users:\n        - username: admin\n          password_hash: "${BCRYPT}"\n`,
      {},
    );
    assert.equal(config.server?.oauth_server.builtin.users[0]?.password_hash?.reveal(), BCRYPT);
  });

  test("a malformed password_hash is refused, naming the key", () => {
    const text = SERVER + `  oauth_server:\n    enabled: true\n    issuer: https://mcp.example.com\n    signing:\n      generate_key: true\n    builtin:\n      users:\n        - username: admin\n          password_hash: "$2a$10$..."\n`;
    assertIssue(rejection(text), "server.oauth_server.builtin.users[0].password_hash", /is not a bcrypt hash/);
  });
});

describe("durations, sizes and listen addresses", () => {
  const server = (lines: string) => parseConfig(SERVER + lines, {}).server!;

  test("durations become milliseconds", () => {
    assert.equal(server("  read_timeout: 30s\n").read_timeout, 30_000);
    assert.equal(server("  read_timeout: 5m\n").read_timeout, 300_000);
    assert.equal(server("  read_timeout: 1h\n").read_timeout, 3_600_000);
    assert.equal(server("  read_timeout: 1h30m\n").read_timeout, 5_400_000);
    assert.equal(server("  read_timeout: 250ms\n").read_timeout, 250);
    assert.equal(server("  read_timeout: 1.5s\n").read_timeout, 1500);
    assert.equal(server("  write_timeout: '0'\n").write_timeout, 0);
  });

  test("defaults are durations too", () => {
    const { read_timeout, write_timeout, session } = server("");
    assert.deepEqual([read_timeout, write_timeout, session.timeout], [30_000, 60_000, 1_800_000]);
  });

  test("a duration without a unit or with a wrong one is refused", () => {
    assertIssue(rejection(SERVER + "  read_timeout: 30\n"), "server.read_timeout", /needs a unit: write "30s" for seconds or "30ms"/);
    assertIssue(rejection(SERVER + "  read_timeout: '30'\n"), "server.read_timeout", /is not a duration/);
    assertIssue(rejection(SERVER + "  read_timeout: 3 weeks\n"), "server.read_timeout", /is not a duration/);
    assertIssue(rejection(SERVER + "  read_timeout: true\n"), "server.read_timeout", /must be a duration/);
  });

  test("a duration waited for with a timer is at most a timer's range; a lifetime is not bounded", () => {
    // Past 2^31-1 ms a JavaScript timer fires at once: a 30-day keep-alive would close every connection.
    for (const key of ["idle_timeout", "write_timeout", "sse_keepalive_interval"]) {
      assertIssue(rejection(SERVER + `  ${key}: 25d\n`), `server.${key}`, /is too long: a timer waits at most 2147483647 ms/);
    }
    assertIssue(rejection(SERVER + "    read_timeout: 25d\n"), "server.mcp_server.read_timeout", /is too long/);
    // The window is also the longest restart delay, waited for with a timer.
    assertIssue(rejection(SERVER + "    restart_window: 25d\n"), "server.mcp_server.restart_window", /is too long/);
    assert.equal(server("  idle_timeout: 24d\n").idle_timeout, 24 * 86_400_000);
    assert.equal(server("  session:\n    timeout: 90d\n").session.timeout, 90 * 86_400_000);
  });

  test("sizes become bytes", () => {
    assert.equal(server("  max_body_size: 4MiB\n").max_body_size, 4 * 1024 * 1024);
    assert.equal(server("  max_body_size: 512KB\n").max_body_size, 512_000);
    assert.equal(server("  max_body_size: 1gib\n").max_body_size, 1024 ** 3);
    assert.equal(server("  max_body_size: 1024\n").max_body_size, 1024);
    assert.equal(server("").max_body_size, 16 * 1024 * 1024);
  });

  test("a bad size is refused", () => {
    assertIssue(rejection(SERVER + "  max_body_size: lots\n"), "server.max_body_size", /is not a size/);
    assertIssue(rejection(SERVER + "  max_body_size: 4XB\n"), "server.max_body_size", /is not a size/);
    assertIssue(rejection(SERVER + "  max_body_size: -1\n"), "server.max_body_size", /^must be at least 0$/);
  });

  test("listen forms", () => {
    const listen = (text: string) => {
      const { host, port } = server(`  listen: "${text}"\n`).listen;
      return { host, port };
    };
    assert.deepEqual(listen(":8080"), { host: "0.0.0.0", port: 8080 });
    assert.deepEqual(listen("[::1]:9000"), { host: "::1", port: 9000 });
    assert.deepEqual(listen("127.0.0.1:8080"), { host: "127.0.0.1", port: 8080 });
    assert.deepEqual(listen("localhost:0"), { host: "localhost", port: 0 });
    assert.deepEqual({ host: server("").listen.host, port: server("").listen.port }, { host: "127.0.0.1", port: 8080 });
  });

  test("a bad listen address or port is refused", () => {
    for (const bad of [":70000", "localhost", "127.0.0.1:http", "::1:8080", "127.0.0.1:123456"]) {
      assertIssue(rejection(SERVER + `  listen: "${bad}"\n`), "server.listen", /is not host:port/);
    }
  });
});

describe("types and required keys", () => {
  test("wrong types say what was expected", () => {
    const error = rejection(SERVER + "    args: --verbose\n  session:\n    max_sessions: lots\n    mode: 3\n");
    assertIssue(error, "server.mcp_server.args", /must be a list, not a string/);
    assertIssue(error, "server.session.max_sessions", /must be a number, not a string/);
    assertIssue(error, "server.session.mode", /must be one of: per_session, shared/);
  });

  test("numbers and booleans in args and env are taken as text, as the Go original does", () => {
    const config = parseConfig(SERVER + "    args: [--port, 8080, --verbose, true]\n    env:\n      PORT: 8080\n      DEBUG: false\n", {});
    assert.deepEqual(config.server?.mcp_server?.args, ["--port", "8080", "--verbose", "true"]);
    assert.deepEqual(config.server?.mcp_server?.env, { PORT: "8080", DEBUG: "false" });
  });

  test("missing keys are required, each named", () => {
    const error = rejection("server:\n  mcp_server: {}\n");
    assertIssue(error, "mode", /is required/);
    assertIssue(error, "server.mcp_server.command", /is required/);
  });

  test("an empty file needs a mode; a list is not a config", () => {
    assertIssue(rejection(""), "mode", /is required/);
    assertIssue(rejection("- a\n- b\n"), "", /must be a YAML mapping/);
  });

  test("anchors, aliases and << merge keys work as in the Go original", () => {
    const text = `mode: server
server:
  allowed_origins: &origins ["https://a.example"]
  cors:
    enabled: true
    allowed_origins: *origins
  mcp_server:
    command: node
    env:
      <<: {A: "1", B: "2"}
      B: "3"
`;
    const server = parseConfig(text, {}).server!;
    assert.deepEqual(server.cors.allowed_origins, ["https://a.example"]);
    assert.deepEqual(server.mcp_server?.env, { A: "1", B: "3" });
  });

  test("YAML syntax errors give the line", () => {
    const error = rejection("mode: server\nserver:\n  mcp_server: {command: node\n");
    assert.equal(error.code, "CONFIG_SYNTAX");
    assert.match(error.message, /at line \d+, column \d+/);
    // A repeated key is named, quoted or not, nested or not.
    assert.match(rejection("mode: server\nmode: client\n").message, /the key "mode" is written twice in one mapping at line 2/);
    assert.match(rejection("mode: server\nserver:\n  listen: 127.0.0.1:0\n  listen: 127.0.0.1:1\n").message, /the key "listen" is written twice in one mapping at line 4, column 3/);
    assert.match(rejection('mode: server\nserver:\n  mcp_server:\n    command: node\n    env: {"A B": x, "A B": y}\n').message, /the key "A B" is written twice/);
  });
});

describe("cross-key rules", () => {
  test("mode: server needs server.mcp_server; mode: client needs client", () => {
    assertIssue(rejection("mode: server\n"), "server", /is required when mode is "server"/);
    assertIssue(rejection("mode: server\nserver:\n  listen: ':1'\n"), "server.mcp_server", /is required/);
    assertIssue(rejection("mode: client\n"), "client", /is required when mode is "client"/);
  });

  test("client mode cannot log to stdout, which carries the MCP messages", () => {
    assertIssue(rejection('mode: client\nclient:\n  url: "https://h/mcp"\nlog:\n  output: stdout\n'), "log.output", /must not be "stdout" in client mode/);
    assert.equal(parseConfig(SERVER + "log:\n  output: stdout\n", {}).log.output, "stdout");
  });

  test("an auth block for another type than the one chosen is an error, not ignored", () => {
    assertIssue(rejection(SERVER + "auth:\n  bearer:\n    valid_tokens: [t]\n"), "server.auth.bearer", /is set but server.auth.type is "none"/);
    assertIssue(rejection(SERVER + "auth:\n  type: bearer\n  bearer:\n    valid_tokens: [t]\n  oauth:\n    jwks_url: https://x/jwks\n"), "server.auth.oauth", /set type: oauth or remove the block/);
  });

  test("server bearer auth needs tokens or an endpoint, and refuses the client's token key", () => {
    assertIssue(rejection(SERVER + "auth:\n  type: bearer\n"), "server.auth.bearer", /needs valid_tokens or validation_endpoint/);
    assertIssue(rejection(SERVER + "auth:\n  type: bearer\n  bearer:\n    valid_tokens: [a]\n    token: b\n"), "server.auth.bearer.token", /is for client mode/);
  });

  test("client bearer auth needs a token, and refuses the server's keys", () => {
    const head = 'mode: client\nclient:\n  url: "https://h/mcp"\n';
    assertIssue(rejection(head + "auth:\n  type: bearer\n"), "client.auth.bearer.token", /is required/);
    assertIssue(rejection(head + "auth:\n  type: bearer\n  bearer:\n    token: t\n    valid_tokens: [a]\n"), "client.auth.bearer.valid_tokens", /is for server mode/);
  });

  test("TLS needs its files", () => {
    const error = rejection(SERVER + "  tls:\n    enabled: true\n    client_auth: require_and_verify\n    min_version: '1.3'\n    max_version: '1.2'\n");
    assertIssue(error, "server.tls.cert_file", /is required/);
    assertIssue(error, "server.tls.key_file", /is required/);
    assertIssue(error, "server.tls.client_ca", /is required when client_auth is "require_and_verify"/);
    assertIssue(error, "server.tls.max_version", /must not be lower than min_version/);
  });

  test("server OAuth needs a way to validate tokens", () => {
    assertIssue(rejection(SERVER + "auth:\n  type: oauth\n  oauth:\n    audience: x\n"), "server.auth.oauth", /needs discovery_url, jwks_url or introspection_url/);
    assertIssue(rejection(SERVER + "auth:\n  type: oauth\n  oauth:\n    introspection_url: https://a/introspect\n"), "server.auth.oauth.client_id", /is required for token introspection/);
  });

  test("the authorization server needs users, an https origin as issuer, and one key source", () => {
    const error = rejection(SERVER + "  oauth_server:\n    enabled: true\n    issuer: http://mcp.example.com/base/\n    signing: {generate_key: true, key_file: k.pem}\n    allowed_redirect_uris: [claude.ai/callback]\n");
    assertIssue(error, "server.oauth_server.allowed_redirect_uris[0]", /absolute http\(s\) URL/);
    assertIssue(error, "server.oauth_server.issuer", /must be an https URL/);
    assertIssue(error, "server.oauth_server.issuer", /must be an origin only/);
    assertIssue(error, "server.oauth_server.signing.generate_key", /cannot be combined with key_file/);
    assertIssue(error, "server.oauth_server.builtin.users", /at least one user/);
    const both = rejection(SERVER + `  oauth_server:\n    enabled: true\n    issuer: https://a\n    signing: {generate_key: true}\n    builtin:\n      users: [{username: a, password_env: P, password_hash: "${BCRYPT}"}]\n`);
    assertIssue(both, "server.oauth_server.builtin.users[0]", /exactly one of password_hash and password_env/);
    const federated = rejection(SERVER + "  oauth_server:\n    enabled: true\n    issuer: https://a\n    mode: federated\n    signing: {generate_key: true}\n");
    assertIssue(federated, "server.oauth_server.federated.upstream_issuer", /is required in federated mode/);
    assertIssue(federated, "server.oauth_server.federated.client_id", /is required in federated mode/);
  });
});

describe("secrets", () => {
  const TOKEN = "tok-9f8e7d6c5b4a-SECRET";

  test("secret values print as [redacted] however they are printed", () => {
    const config = parseConfig(SERVER + "auth:\n  type: bearer\n  bearer:\n    valid_tokens: ['${TOKEN}']\n", { TOKEN });
    const token = config.server!.auth!.bearer!.valid_tokens![0]!;
    assert.equal(token.reveal(), TOKEN);
    for (const printed of [String(token), JSON.stringify(config), inspect(config, { depth: 10 }), `${token}`]) assert.ok(!printed.includes(TOKEN), printed);
  });

  test("a secret put in the wrong key is not echoed by the error", () => {
    const text = `mode: \${TOKEN}\nlog:\n  level: \${TOKEN}\nserver:\n  listen: \${TOKEN}\n  read_timeout: \${TOKEN}\n  max_body_size: \${TOKEN}\n  public_url: \${TOKEN}\n  mcp_server:\n    command: node\n    max_restarts: \${TOKEN}\n`;
    const error = rejection(text, { TOKEN });
    assert.ok(error.issues.length >= 6, error.message);
    assert.ok(!error.message.includes(TOKEN), error.message);
  });
});
