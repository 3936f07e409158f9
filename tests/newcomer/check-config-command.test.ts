/**
 * @module check-config warns, as `run` does at start, when server.mcp_server.command is no
 * executable file on this machine's PATH: the usual slip of a newcomer, the whole command line in
 * `command` ("npx -y @modelcontextprotocol/server-filesystem /srv/data"), was declared valid and
 * failed only at the first client's initialize. Still exit 0 (the file may be meant for another
 * machine); the words after the first are not shown (they may hold a secret). And a relative file
 * path that is not there says where relative paths are read from.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { runCli, writeConfig } from "../support/bridge.ts";

const WARNING = /^mcp-bridge: warning: server\.mcp_server\.command cannot be run \(no executable file by that name on the child's PATH, or at that path\)/m;

test("check-config: a whole command line in mcp_server.command is valid YAML but draws a warning saying where arguments go", async () => {
  const path = writeConfig('mode: server\nserver:\n  mcp_server:\n    command: "npx -y @modelcontextprotocol/server-filesystem /srv/data-secret-4242"\n');
  const result = await runCli(["check-config", "-q", "-c", path]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stderr, WARNING);
  assert.match(result.stderr, /arguments go in server\.mcp_server\.args, one list item each/);
  assert.doesNotMatch(result.stderr, /secret-4242/);
});

test("check-config: a command found nowhere on PATH draws the warning; one that is found draws none", async () => {
  const missing = await runCli(["check-config", "-q", "-c", writeConfig("mode: server\nserver:\n  mcp_server: {command: no-such-mcp-server}\n")]);
  assert.equal(missing.code, 0, missing.stderr);
  assert.match(missing.stderr, WARNING);
  assert.doesNotMatch(missing.stderr, /arguments go in/);
  const found = await runCli(["check-config", "-q", "-c", writeConfig("mode: server\nserver:\n  mcp_server: {command: node}\n")]);
  assert.deepEqual([found.code, found.stderr], [0, ""]);
});

test("a relative file path that is not there: the error names the key and says relative paths are read from where the bridge was started", async () => {
  const { mkdtempSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const path = writeConfig("mode: server\nserver:\n  mcp_server: {command: node}\n  tls: {enabled: true, cert_file: tls/cert.pem, key_file: /nonexistent/key.pem}\n");
  const result = await runCli(["check-config", "-q", "-c", path], { cwd: mkdtempSync(join(tmpdir(), "mcp-bridge-cwd-")) });
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /\n {2}server\.tls\.cert_file: cannot read "tls\/cert\.pem" \(no such file\); a relative path is read from the directory the bridge was started in, not the configuration file's: write an absolute path\n/);
});

test("gen-key --out with a relative path: its config hint says a relative key_file is read from where the bridge starts; an absolute one has no such note", async () => {
  const { mkdtempSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const dir = mkdtempSync(join(tmpdir(), "mcp-bridge-genkey-"));
  const relative = await runCli(["gen-key", "--alg", "ES256", "--out", "signing.pem"], { cwd: dir });
  assert.equal(relative.code, 0, relative.stderr);
  assert.match(relative.stderr, /# In the config: server\.oauth_server\.signing: \{algorithm: ES256, key_file: signing\.pem, key_id: [\w-]+\} \(a relative key_file is read from the directory the bridge is started in: give the absolute path\)\n/);
  const absolute = await runCli(["gen-key", "--alg", "ES256", "--out", join(dir, "other.pem")]);
  assert.match(absolute.stderr, /key_file: \/.*other\.pem, key_id: [\w-]+\}\n/);
});

test("a world-readable file holding a password_hash: the warning says the hash's way out is password_env (it is read literally, never as a ${VAR})", async () => {
  const { chmodSync } = await import("node:fs");
  const hash = "$2b$04$R8CtY3b56U9HVKeFlHOO7eS8eBBEnXFw3M8gn3EZOJhDP1KuOW4X6";
  const path = writeConfig(`mode: server\nserver:\n  mcp_server: {command: node}\n  oauth_server:\n    enabled: true\n    builtin: {users: [{username: a, password_hash: "${hash}"}]}\nstorage: {type: memory}\n`);
  chmodSync(path, 0o644);
  const result = await runCli(["check-config", "-q", "-c", path]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stderr, /holds secrets and every user of this machine can read it \(mode 644\): run "chmod 600 .*", or move the secrets into environment variables \(\$\{VAR\}\); a password_hash cannot be a \$\{VAR\}: give the password in password_env instead\n/);
});

test('password_hash: "${HASH}" is refused saying the key is read literally and password_env is the way to use the environment', async () => {
  const path = writeConfig('mode: server\nserver:\n  mcp_server: {command: node}\n  oauth_server:\n    enabled: true\n    builtin: {users: [{username: a, password_hash: "${HASH}"}]}\nstorage: {type: memory}\n');
  const result = await runCli(["check-config", "-q", "-c", path], { env: { HASH: "$2b$04$R8CtY3b56U9HVKeFlHOO7eS8eBBEnXFw3M8gn3EZOJhDP1KuOW4X6" } });
  assert.equal(result.code, 2);
  assert.match(result.stderr, /users\[0\]\.password_hash: is not a bcrypt hash \(make one with: mcp-bridge hash-password\); password_hash is read literally, never as a \$\{VAR\}: give a password from the environment with password_env\n/);
});

test("a plain-http identity provider or validation endpoint off loopback: the error names the key itself, not only server.auth", async () => {
  const oauth = await runCli(["check-config", "-q", "-c", writeConfig('mode: server\nserver:\n  mcp_server: {command: node}\n  auth: {type: oauth, oauth: {discovery_url: "http://id.example.com"}}\n')]);
  assert.equal(oauth.code, 2);
  assert.match(oauth.stderr, /\n {2}server\.auth\.oauth\.discovery_url: must be an https URL \(plain http is accepted only for loopback addresses\)\n/);
  const bearer = await runCli(["check-config", "-q", "-c", writeConfig('mode: server\nserver:\n  mcp_server: {command: node}\n  auth: {type: bearer, bearer: {validation_endpoint: "http://auth.example.com/validate"}}\n')]);
  assert.match(bearer.stderr, /\n {2}server\.auth\.bearer\.validation_endpoint: must be an https URL/);
});

test("check-config: a value out of range, a fraction, or a misspelt choice is named in words, with the choice meant, never quoting the value", async () => {
  const path = writeConfig(
    "mode: sever\nserver:\n  mcp_server:\n    command: node\n    max_restarts: -1\n  session:\n    max_sessions: 1.5\n  auth:\n    type: bearerr\n",
  );
  const result = await runCli(["check-config", "-c", path]);
  assert.equal(result.code, 2, result.stderr);
  for (const line of [
    /^ {2}mode: must be one of: server, client \(did you mean "server"\?\)$/m,
    /^ {2}server\.mcp_server\.max_restarts: must be at least 0$/m,
    /^ {2}server\.session\.max_sessions: must be a whole number$/m,
    /^ {2}server\.auth\.type: must be one of: none, bearer, oauth \(did you mean "bearer"\?\)$/m,
  ]) {
    assert.match(result.stderr, line);
  }
  assert.doesNotMatch(result.stderr, /Too small|a int|sever|bearerr/);
  const zero = await runCli(["check-config", "-c", writeConfig("mode: server\nserver:\n  mcp_server: {command: node}\n  session: {max_sessions: 0}\n")]);
  assert.match(zero.stderr, /^ {2}server\.session\.max_sessions: must be greater than 0$/m);
  // A field's own words are kept.
  const empty = await runCli(["check-config", "-c", writeConfig('mode: server\nserver:\n  mcp_server: {command: node}\n  auth: {type: bearer, bearer: {valid_tokens: [""]}}\n')]);
  assert.match(empty.stderr, /^ {2}server\.auth\.bearer\.valid_tokens\[0\]: must not be empty$/m);
});

test("client mode: check-config reads the files run reads (client.tls certificates and keys, client.auth.oauth.private_key_file), naming the key", async () => {
  for (const [section, key] of [
    ["tls: {ca_cert: /nonexistent/ca.pem}", "client.tls.ca_cert"],
    ["tls: {cert_file: /nonexistent/client.pem, key_file: /nonexistent/client.key}", "client.tls.cert_file"],
    ["tls: {cert_file: /nonexistent/client.pem, key_file: /nonexistent/client.key}", "client.tls.key_file"],
    ["auth: {type: oauth, oauth: {client_id: c, token_endpoint_auth_method: private_key_jwt, private_key_file: /nonexistent/key.pem}}", "client.auth.oauth.private_key_file"],
  ] as const) {
    const result = await runCli(["check-config", "-q", "-c", writeConfig(`mode: client\nclient:\n  url: https://127.0.0.1:1/mcp\n  ${section}\n`)]);
    assert.equal(result.code, 2, `${key}: ${result.stderr}`);
    assert.match(result.stderr, new RegExp(`\\n {2}${key.replaceAll(".", "\\.")}: .*/nonexistent/`), key);
  }
});

test("a directory given as the configuration file, and gen-key writing into a directory that does not exist: each says so in words, exit 2", async () => {
  const { tmpdir } = await import("node:os");
  const directory = await runCli(["check-config", "-c", tmpdir()]);
  assert.equal(directory.code, 2, directory.stderr);
  assert.match(directory.stderr, /: is a directory: name the configuration file in it\n/);
  assert.doesNotMatch(directory.stderr, /EISDIR/);
  for (const flag of ["--out", "--public-out", "--jwk"]) {
    const written = await runCli(["gen-key", "--alg", "ES256", ...(flag === "--out" ? [] : ["--out", `${tmpdir()}/mcp-bridge-gen-key-${process.pid}-${Date.now()}.pem`]), flag, "/nonexistent-dir/key.pem"]);
    assert.equal(written.code, 2, `${flag}: ${written.stderr}`);
    assert.match(written.stderr, new RegExp(`${flag}: cannot write /nonexistent-dir/key\\.pem \\(no such directory\\)`), flag);
  }
});
