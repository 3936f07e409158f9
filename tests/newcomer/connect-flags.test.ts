/**
 * @module `mcp-bridge connect`'s mistakes, as a newcomer makes them on the command line: each error
 * names the flag typed (not the config key it becomes) and says what to write; exit code 2.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { runCli } from "../support/bridge.ts";

const URL = "http://127.0.0.1:9/mcp";

const cases: [args: string[], flag: string, fix: RegExp][] = [
  [["--timeout", "5"], "--timeout", /needs a unit, "s" for seconds or "ms" for milliseconds/],
  [["--timeout", "5 min"], "--timeout", /use forms like "500ms", "30s"/],
  [["--transport", "http"], "--transport", /must be one of: auto, streamable_http, sse/],
  [["--log-level", "verbose"], "--log-level", /must be one of: debug, info, warn, error/],
  [["--callback", "http://example.com/cb"], "--callback", /must be a loopback http URL/],
  [["--client-metadata-url", "http://example.com/c.json"], "--client-metadata-url", /must be an https URL with a path/],
  [["--ca-cert", "/nonexistent/ca.pem"], "--ca-cert", /\/nonexistent\/ca\.pem: no such file/],
  [["--token-env", "MCP_NEWCOMER_UNSET"], "--token-env", /environment variable MCP_NEWCOMER_UNSET is not set or empty/],
];

for (const [args, flag, fix] of cases) {
  test(`connect ${args.join(" ")}: the error names ${flag} and the fix`, async () => {
    const result = await runCli(["connect", URL, ...args]);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, new RegExp(`^mcp-bridge: command line: invalid configuration\\n  ${flag}: `), result.stderr);
    assert.match(result.stderr, fix);
    assert.doesNotMatch(result.stderr, /\bclient\.(url|transport|timeout|tls|auth)|\blog\.(level|output)/, "no config key the user never wrote");
  });
}

test("connect --token-env naming a value that is no bearer token (a trailing newline): refused at start, naming the flag, the token not shown", async () => {
  const result = await runCli(["connect", URL, "--token-env", "MCP_NEWCOMER_TOKEN"], { env: { MCP_NEWCOMER_TOKEN: "tok-secret-4242\n" } });
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /\n {2}--token-env: the value of MCP_NEWCOMER_TOKEN is not a bearer token \(RFC 6750: .*\); a trailing newline or space\?/);
  assert.doesNotMatch(result.stderr, /tok-secret-4242/);
});

test("a configured client token with a space in it: refused at start, naming client.auth.bearer.token", async () => {
  const { writeConfig } = await import("../support/bridge.ts");
  const path = writeConfig(`mode: client\nclient:\n  url: ${URL}\n  auth:\n    type: bearer\n    bearer: {token: "tok-secret-4242 x"}\n`);
  const result = await runCli(["-c", path]);
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /client\.auth\.bearer\.token: the token is not a bearer token/);
  assert.doesNotMatch(result.stderr, /tok-secret-4242/);
});

test("connect with a URL that is not one: the error names URL", async () => {
  const result = await runCli(["connect", "mcp.example.com/mcp"]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /\n {2}URL: must be an absolute http:\/\/ or https:\/\/ URL/);
});

test("a duration written as a bare number in a config file says the unit is missing", async () => {
  const { writeConfig } = await import("../support/bridge.ts");
  const path = writeConfig('mode: server\nserver:\n  read_timeout: "30"\n  mcp_server: {command: node}\n');
  const result = await runCli(["check-config", "-q", "-c", path]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /server\.read_timeout: is not a duration: it needs a unit, "s" for seconds or "ms" for milliseconds \(e\.g\. "30s"\)/);
});

test("a listen address written as a bare port says to add the host", async () => {
  const { writeConfig } = await import("../support/bridge.ts");
  const path = writeConfig("mode: server\nserver:\n  listen: 8080\n  mcp_server: {command: node}\n");
  const result = await runCli(["check-config", "-q", "-c", path]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /server\.listen: a port alone is not an address: write "127\.0\.0\.1:8080" \(this machine only\) or ":8080" \(every interface\), quoted/);
});

test("a key indented one level too little in a config file says which section it goes under", async () => {
  const { writeConfig } = await import("../support/bridge.ts");
  const path = writeConfig("mode: server\nserver:\n  command: node\n  auth:\n    type: bearer\n    valid_tokens: [a-token-0123456789]\n");
  const result = await runCli(["check-config", "-q", "-c", path]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /\n {2}server: unknown key "command" \(it goes under "mcp_server": mcp_server\.command\)/);
  assert.match(result.stderr, /\n {2}server\.auth: unknown key "valid_tokens" \(it goes under "bearer": bearer\.valid_tokens\)/);
});

test("connect to a server that is not there: the local client's error names the host once, then the cause", async () => {
  const { createServer } = await import("node:net");
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const port = (probe.address() as { port: number }).port;
  await new Promise((resolve) => probe.close(resolve));
  const { connectLocalClient } = await import("../client/support.ts");
  const local = await connectLocalClient(["connect", `http://127.0.0.1:${port}/mcp`, "--token-env", "T"], { env: { T: "t" }, connect: false });
  try {
    const failure = await local.client.connect(local.transport).then(
      () => assert.fail("connected to nothing"),
      (error: Error) => error.message,
    );
    assert.match(failure, new RegExp(`cannot reach 127\\.0\\.0\\.1:${port}: connect ECONNREFUSED`));
    assert.doesNotMatch(failure, new RegExp(`127\\.0\\.0\\.1:${port}: 127\\.0\\.0\\.1:${port}`), "the host named once before the cause");
  } finally {
    await local.close();
  }
});

test("a stray word: quoting advice only where the command takes values, the header example only for connect", async () => {
  const token = await runCli(["gen-token", "extra"]);
  assert.equal(token.code, 2);
  assert.match(token.stderr, /unexpected argument \(not shown: it may be a secret\); gen-token takes only options\n/);
  const check = await runCli(["check-config", "extra"]);
  assert.match(check.stderr, /check-config takes only options, and a value holding spaces must be quoted as one argument\n/);
  const connect = await runCli(["connect", URL, "--header", "X-Api-Key:", "secret-4242"]);
  assert.match(connect.stderr, /connect takes 1 argument besides its options, and a value holding spaces must be quoted as one argument \('Name: value'\)\n/);
  assert.doesNotMatch(connect.stderr, /secret-4242/);
});

test("connect --header without a colon ('Authorization Bearer tok'): the error says the colon is missing, never the value", async () => {
  const result = await runCli(["connect", URL, "--header", "Authorization Bearer tok-secret-4242"]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /--header needs "Name: value" \(got no colon after the name; quote the whole header as one argument: --header 'X-Api-Key: value'\)/);
  assert.doesNotMatch(result.stderr, /tok-secret-4242/);
  const unnamed = await runCli(["connect", URL, "--header", ": tok-secret-4242"]);
  assert.match(unnamed.stderr, /--header needs "Name: value" \(got a header without a valid name\)/);
});

test("an option of another command (run --token-env, connect -c): the error says which command takes it", async () => {
  const run = await runCli(["-c", "/nonexistent.yaml", "--token-env", "T"]);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /^mcp-bridge run: unknown option --token-env \(an option of mcp-bridge connect, not of this command\)\n/);
  const connect = await runCli(["connect", URL, "-c", "client.yaml"]);
  assert.equal(connect.code, 2);
  assert.match(connect.stderr, /^mcp-bridge connect: unknown option -c \(an option of mcp-bridge run, mcp-bridge check-config, not of this command\)\n/);
});
