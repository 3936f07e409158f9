/**
 * @module `connect https://…` to a server whose certificate this machine does not trust, or that
 * names another host: the local client's error named only the TLS failure ("self-signed
 * certificate"); it now names the setting that fixes it (--ca-cert / client.tls.ca_cert,
 * client.tls.server_name). And https:// to a plain-HTTP port said only OpenSSL's "wrong version
 * number"; it now asks whether the URL is http://.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ECHO_SERVER, selfSignedTls, startBridge, useBridge } from "../support/bridge.ts";
import { connectLocalClient } from "../client/support.ts";

const tls = selfSignedTls();
const server = useBridge(() => startBridge({ server: { tls, mcp_server: { command: process.execPath, args: [ECHO_SERVER] }, auth: { type: "bearer", bearer: { valid_tokens: ["tok-newcomer-0123456789"] } } } }));

/** The local client's connect failure for `connect URL --token-env T ...flags`. */
async function failure(url: string, flags: string[] = []): Promise<string> {
  const local = await connectLocalClient(["connect", url, "--token-env", "T", ...flags], { env: { T: "tok-newcomer-0123456789" }, connect: false });
  try {
    return await local.client.connect(local.transport).then(
      () => assert.fail("connected"),
      (error: Error) => error.message,
    );
  } finally {
    await local.close();
  }
}

test("a certificate no trusted CA signed: the error says to give its CA with --ca-cert", async () => {
  assert.match(await failure(server.url), /cannot reach 127\.0\.0\.1:\d+: .*\(signed by a CA this machine does not trust: give its certificate with connect --ca-cert FILE, or client\.tls\.ca_cert\)/);
});

test("a certificate for another name: the error names client.tls.server_name", async () => {
  const other = server.url.replace("127.0.0.1", "localhost");
  assert.match(await failure(other, ["--ca-cert", tls.cert_file]), /cannot reach localhost:\d+: .*\(the certificate names another host: client\.tls\.server_name gives the name it holds\)/);
});

test("https:// to a server that speaks plain HTTP: the error asks whether the URL is http://", async () => {
  const plain = await startBridge({ server: { mcp_server: { command: process.execPath, args: [ECHO_SERVER] }, auth: { type: "bearer", bearer: { valid_tokens: ["tok-newcomer-0123456789"] } } } });
  try {
    assert.match(await failure(plain.url.replace("http://", "https://")), /cannot reach 127\.0\.0\.1:\d+: .*wrong version number.* \(no TLS at that port: is the server's URL http:\/\/\?\)/s);
  } finally {
    await plain.stop();
  }
});
