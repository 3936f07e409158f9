/**
 * @module What a legacy session's child reads is what the bridge read. The bridge forwards a
 * client's compact message as received; JSON.parse keeps the last of repeated keys, and a child
 * whose parser keeps the first would otherwise run another method or tool than the one the bridge
 * checked (per-method and per-tool scopes). A child written in C reads a string up to its first
 * NUL, cJSON takes the first key equal to the one it looks up in any case ("Method" before "method"),
 * and a generic JSON-RPC dispatcher takes a tool by position: requests such a child could read as
 * another method or tool are refused before scopes are looked up.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { startIdp, type Idp } from "../auth-oauth/support.ts";
import { startBridge, useBridge } from "../support/bridge.ts";
import { fixtureServer, initialize, post } from "./support.ts";

/** The line the fixture's child read for a tools/call `body` naming its "received" tool. */
async function lineRead(url: string, session: string, body: string): Promise<string> {
  const response = await post(url, session, body, { accept: "application/json" });
  assert.equal(response.status, 200, await response.clone().text());
  const answer = (await response.json()) as { result?: { content?: Array<{ text?: string }> } };
  const line = answer.result?.content?.[0]?.text;
  assert.equal(typeof line, "string", JSON.stringify(answer));
  return line!;
}

const occurrences = (text: string, key: string) => text.split(`"${key}"`).length - 1;

describe("a legacy session's child reads each message as the bridge did", () => {
  const bridge = useBridge(() => startBridge({ server: { mcp_server: fixtureServer().config } }));

  const ambiguous: Array<[string, string]> = [
    ["the tool named twice", '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_everything","name":"received"}}'],
    ["the method named twice", '{"jsonrpc":"2.0","id":2,"method":"prompts/get","method":"tools/call","params":{"name":"received"}}'],
    ["params given twice", '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"delete_everything"},"params":{"name":"received"}}'],
    ["the tool's key spelled with an escape", '{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"delete_everything","n\\u0061me":"received"}}'],
  ];
  for (const [what, body] of ambiguous) {
    test(`${what}: the child reads only what the bridge read`, async () => {
      const { session } = await initialize(bridge.url);
      assert.ok(session);
      const line = await lineRead(bridge.url, session, body);
      assert.deepEqual(JSON.parse(line), JSON.parse(body), "the same message");
      assert.ok(!line.includes("delete_everything"), `the child read no other tool: ${line}`);
      for (const key of ["method", "params", "name"]) assert.equal(occurrences(line, key), 1, `"${key}" once in ${line}`);
    });
  }

  test("any other message reaches the child as received (numbers keep their spelling)", async () => {
    const { session } = await initialize(bridge.url);
    assert.ok(session);
    const body = '{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"received","arguments":{"amount":1.50,"account":12345678901234567890}}}';
    assert.equal(await lineRead(bridge.url, session, body), body);
  });
});

describe("a request a child could read as another method or tool is refused before per-method and per-tool scopes", () => {
  let idp: Idp;
  const bridge = useBridge(async () => {
    idp = await startIdp();
    const auth = { type: "oauth", oauth: { discovery_url: idp.issuer, required_scopes: ["mcp:read"], method_scopes: { "tools/call": ["mcp:write"], "tools/call:received": ["mcp:admin"] } } };
    return startBridge({ server: { mcp_server: fixtureServer().config, auth } });
  });
  after(() => idp?.stop());

  /** The answer to `body` in a session of a token with `scope`. */
  async function call(scope: string, body: string): Promise<Response> {
    const headers = { authorization: `Bearer ${await idp.token({ resource: bridge.url, scope })}` };
    const { session, body: answer } = await initialize(bridge.url, headers);
    assert.ok(session, answer);
    return post(bridge.url, session, body, { ...headers, accept: "application/json" });
  }

  test("the tool's scope is checked (the fixture's received tool needs mcp:admin)", async () => {
    const response = await call("mcp:read mcp:write", '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"received"}}');
    assert.equal(response.status, 403, await response.text());
  });

  const refused: Array<[string, string, string, RegExp]> = [
    ["a tool name ending in a NUL", "mcp:read mcp:write", '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"received\\u0000"}}', /params\.name must not contain control characters/],
    ["a method ending in a NUL", "mcp:read", '{"jsonrpc":"2.0","id":3,"method":"tools/call\\u0000","params":{"name":"received"}}', /method must not contain control characters/],
    ["a tool name with another control character", "mcp:read mcp:write", '{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"received\\u001f"}}', /params\.name must not contain control characters/],
    ["tools/call params given by position", "mcp:read mcp:write", '{"jsonrpc":"2.0","id":5,"method":"tools/call","params":["received",{}]}', /params must be an object/],
    ["a method key in another case before \"method\"", "mcp:read", '{"jsonrpc":"2.0","id":6,"Method":"tools/call","method":"ping","params":{"name":"received"}}', /"Method"/],
    ["a params key in another case before \"params\"", "mcp:read mcp:write", '{"jsonrpc":"2.0","id":7,"method":"tools/call","PARAMS":{"name":"received"},"params":{"name":"echo"}}', /"PARAMS"/],
    ["a name key in another case before \"name\"", "mcp:read mcp:write", '{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"Name":"received","name":"echo"}}', /"Name"/],
    ["a params key Go folds to \"params\" (ſ for s)", "mcp:read mcp:write", '{"jsonrpc":"2.0","id":10,"method":"tools/call","param\u017f":{"name":"received"},"params":{"name":"echo"}}', /"paramſ"/],
    ["a name key in another case alone", "mcp:read mcp:write", '{"jsonrpc":"2.0","id":11,"method":"tools/call","params":{"NAME":"received"}}', /"NAME"/],
    ["a name key ending in a NUL before \"name\"", "mcp:read mcp:write", '{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name\\u0000":"received","name":"echo"}}', /"name\\u0000"/],
  ];
  // A server that dispatches a notification's method runs the tool all the same, only without an answer.
  for (const [what, body] of [
    ["a notification named tools/call", '{"jsonrpc":"2.0","method":"tools/call","params":{"name":"received"}}'],
    ["the same notification in a batch", '[{"jsonrpc":"2.0","method":"tools/call","params":{"name":"received"}}]'],
  ] as const) {
    test(`${what} is checked against the method's and tool's scopes as a request is: 403`, async () => {
      const response = await call("mcp:read mcp:write", body);
      const text = await response.text();
      assert.equal(response.status, 403, text);
      assert.match(response.headers.get("www-authenticate") ?? "", /insufficient_scope/);
    });
  }

  // A server that looks tool names up loosely would run "received" for each of these.
  for (const [what, name] of [
    ["in another case", "Received"],
    ["with a zero-width space", "rece\u200bived"],
    ["with white space around it", " received "],
    ["in fullwidth letters (NFKC)", "\uff52eceived"],
    ["with a letter that upper-cases to ASCII (dotless i)", "rece\u0131ved"],
  ] as const) {
    test(`a tool name that folds to a tool with scopes of its own (${what}) needs that tool's scopes: 403`, async () => {
      const response = await call("mcp:read mcp:write", JSON.stringify({ jsonrpc: "2.0", id: 12, method: "tools/call", params: { name } }));
      const text = await response.text();
      assert.equal(response.status, 403, text);
      assert.match(response.headers.get("www-authenticate") ?? "", /scope="[^"]*mcp:admin/);
    });
  }

  test("a tool without scopes of its own needs the method's alone", async () => {
    const response = await call("mcp:read mcp:write", '{"jsonrpc":"2.0","id":13,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}');
    assert.equal(response.status, 200, await response.text());
  });

  for (const [what, scope, body, names] of refused) {
    test(`${what}: 400, and the child runs nothing`, async () => {
      const response = await call(scope, body);
      const text = await response.text();
      assert.equal(response.status, 400, text);
      assert.match((JSON.parse(text) as { error?: { message?: string } }).error?.message ?? "", names);
    });
  }
});

describe("a shared child reads each message as the hub did", () => {
  const bridge = useBridge(() => startBridge({ server: { mcp_server: fixtureServer().config, session: { mode: "shared" } } }));

  test('a key that cJSON reads as "method" ("Method": "initialize" before "method": "ping") is refused: the shared child is initialized by the hub alone', async () => {
    const { session } = await initialize(bridge.url);
    assert.ok(session);
    const body = '{"jsonrpc":"2.0","id":2,"Method":"initialize","method":"ping","params":{"protocolVersion":"2024-11-05","capabilities":{"sampling":{}},"clientInfo":{"name":"other","version":"1"}}}';
    const response = await post(bridge.url, session, body, { accept: "application/json" });
    const text = await response.text();
    assert.equal(response.status, 400, text);
    assert.match(text, /the key \\"Method\\" may be read as \\"method\\"/);
  });
});
