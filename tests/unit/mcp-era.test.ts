/** @module Unit tests of src/mcp: the era translation primitives shared by server and client mode. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { discoverFromInitialize, initializeFromDiscover, negotiateLegacyVersion } from "../../src/mcp/discover.ts";
import { envelopeFromInitializeParams, logLevelAllows, readEnvelope, withEnvelope, withoutEnvelope } from "../../src/mcp/envelope.ts";
import { checkParamHeaders, checkStandardHeaders, classifyPost, decodeHeaderValue, encodeHeaderValue, paramHeadersOf, requestHeaders } from "../../src/mcp/era.ts";
import {
  answersFromInputResponses,
  inputResponsesFromAnswers,
  missingCapabilities,
  readRetry,
  requestsFromInputRequests,
  requiredCapability,
  retryParams,
  toInputRequests,
} from "../../src/mcp/mrtr.ts";
import { MetaKey } from "../../src/mcp/protocol.ts";
import { completeResultLine, httpStatusOfError, toLegacyError, toLegacyResult, toModernError, toModernResult } from "../../src/mcp/results.ts";
import { RequestStateSealer, type SealCrypto } from "../../src/mcp/seal.ts";
import { nodePlatform } from "../../src/runtime/node.ts";
import type { JsonRpcMessage } from "../../src/jsonrpc/message.ts";
import { tamperedState } from "../support/modern.ts";

const META = { [MetaKey.protocolVersion]: "2026-07-28", [MetaKey.clientCapabilities]: { elicitation: {} }, [MetaKey.clientInfo]: { name: "c", version: "1" } };

function headers(values: Record<string, string>): Headers {
  return new Headers(values);
}

function request(method: string, params?: Record<string, unknown>): JsonRpcMessage {
  return { jsonrpc: "2.0", id: 1, method, ...(params && { params }) };
}

describe("classifyPost", () => {
  test("initialize without a claim is legacy; with a modern header it is a HeaderMismatch", () => {
    assert.deepEqual(classifyPost(request("initialize", { protocolVersion: "2025-11-25" }), headers({})), { era: "legacy" });
    const out = classifyPost(request("initialize", { protocolVersion: "2025-11-25" }), headers({ "mcp-protocol-version": "2026-07-28" }));
    assert.equal(out.era, "reject");
    assert.equal(out.era === "reject" && out.rejection.error.code, -32020);
  });

  test("a request with a valid modern envelope is modern and carries the envelope", () => {
    const out = classifyPost(request("tools/list", { _meta: META }), headers({ "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/list" }));
    assert.equal(out.era, "modern");
    assert.ok(out.era === "modern" && out.kind === "request");
    assert.deepEqual(out.envelope.clientCapabilities, { elicitation: {} });
  });

  test("envelope problems, version and method mismatches, unsupported versions", () => {
    const noCaps = classifyPost(request("server/discover", { _meta: { [MetaKey.protocolVersion]: "2026-07-28" } }), headers({}));
    assert.ok(noCaps.era === "reject");
    assert.equal(noCaps.rejection.status, 400);
    assert.equal(noCaps.rejection.error.code, -32602);
    const noMeta = classifyPost(request("server/discover", {}), headers({ "mcp-protocol-version": "2026-07-28" }));
    assert.ok(noMeta.era === "reject" && noMeta.rejection.error.code === -32602);
    const version = classifyPost(request("server/discover", { _meta: { ...META, [MetaKey.protocolVersion]: "v999" } }), headers({ "mcp-protocol-version": "2026-07-28" }));
    assert.ok(version.era === "reject" && version.rejection.error.code === -32020);
    const method = classifyPost(request("tools/list", { _meta: META }), headers({ "mcp-method": "tools/call" }));
    assert.ok(method.era === "reject" && method.rejection.error.code === -32020);
    const unknown = classifyPost(request("server/discover", { _meta: { ...META, [MetaKey.protocolVersion]: "v999" } }), headers({ "mcp-protocol-version": "v999" }));
    assert.ok(unknown.era === "reject");
    assert.equal(unknown.rejection.status, 400);
    assert.equal(unknown.rejection.error.code, -32022);
    assert.deepEqual(unknown.rejection.error.data, { supported: ["2026-07-28"], requested: "v999" });
  });

  test("legacy traffic stays legacy: no claim, responses, batches without claims", () => {
    assert.deepEqual(classifyPost(request("tools/list"), headers({ "mcp-protocol-version": "2025-11-25" })), { era: "legacy" });
    assert.deepEqual(classifyPost({ jsonrpc: "2.0", id: 3, result: {} }, headers({})), { era: "legacy" });
    assert.deepEqual(classifyPost([request("tools/list")], headers({})), { era: "legacy" });
    const mixed = classifyPost([request("tools/list", { _meta: META })], headers({}));
    assert.ok(mixed.era === "reject" && mixed.rejection.error.code === -32600);
  });
});

describe("headers", () => {
  test("standard headers must be present and Mcp-Name must equal the body", () => {
    const ok = headers({ "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": "echo" });
    assert.equal(checkStandardHeaders("tools/call", { name: "echo" }, ok), undefined);
    assert.equal(checkStandardHeaders("tools/call", { name: "other" }, ok)?.error.code, -32020);
    assert.equal(checkStandardHeaders("tools/call", { name: "echo" }, headers({ "mcp-method": "tools/call", "mcp-name": "echo" }))?.error.code, -32020);
    assert.equal(checkStandardHeaders("tools/call", { name: "echo" }, headers({ "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call" }))?.error.code, -32020);
    assert.equal(checkStandardHeaders("tools/list", {}, headers({ "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/list" })), undefined);
  });

  test("base64 sentinel round-trips non-ASCII values and rejects a broken one", () => {
    assert.equal(encodeHeaderValue("plain value"), "plain value");
    const encoded = encodeHeaderValue("héllo ");
    assert.match(encoded, /^=\?base64\?.+\?=$/);
    assert.equal(decodeHeaderValue(encoded), "héllo ");
    assert.equal(decodeHeaderValue("=?base64?!!!?="), undefined);
    // One value, one spelling: set trailing bits are a non-canonical form a strict reader refuses.
    assert.equal(decodeHeaderValue("=?base64?QQ==?="), "A");
    assert.equal(decodeHeaderValue("=?base64?QV==?="), undefined);
  });

  test("x-mcp-header declarations are found and Mcp-Param-* headers checked against arguments", () => {
    const schema = { type: "object", properties: { region: { type: "string", "x-mcp-header": "Region" }, n: { type: "integer", "x-mcp-header": "Count" } } };
    const declarations = paramHeadersOf(schema);
    assert.deepEqual(declarations.map((d) => d.name), ["Region", "Count"]);
    const sent = requestHeaders("tools/call", { name: "t", arguments: { region: "eu", n: 3 } }, "2026-07-28", declarations);
    assert.equal(sent["Mcp-Param-Region"], "eu");
    assert.equal(checkParamHeaders(declarations, { region: "eu", n: 3 }, headers(sent)), undefined);
    assert.equal(checkParamHeaders(declarations, { region: "us", n: 3 }, headers(sent))?.error.code, -32020);
    assert.equal(checkParamHeaders(declarations, { region: "eu" }, headers({ "mcp-param-count": "3" }))?.error.code, -32020);
    assert.equal(checkParamHeaders(declarations, { n: 3 }, headers({ "mcp-param-count": "3.0" })), undefined);
  });
});

describe("envelope ⇄ initialize", () => {
  test("a legacy session's initialize becomes the envelope a modern client would send", () => {
    const read = readEnvelope({ _meta: { ...META, [MetaKey.logLevel]: "info" } });
    assert.ok("envelope" in read);
    const init = { protocolVersion: "2025-11-25", capabilities: { elicitation: {} }, clientInfo: { name: "c", version: "1" } };
    assert.deepEqual(envelopeFromInitializeParams(init, "2026-07-28", "info"), read.envelope);
  });

  test("bad logLevel and clientInfo are reported; withEnvelope/withoutEnvelope keep other _meta", () => {
    const bad = readEnvelope({ _meta: { ...META, [MetaKey.logLevel]: "loud" } });
    assert.ok("problems" in bad && bad.problems[0]!.key === MetaKey.logLevel);
    const params = withEnvelope({ name: "x", _meta: { progressToken: 7 } }, { protocolVersion: "2026-07-28", clientCapabilities: {} });
    assert.equal((params._meta as Record<string, unknown>).progressToken, 7);
    assert.deepEqual(withoutEnvelope(params), { name: "x", _meta: { progressToken: 7 } });
    assert.deepEqual(withoutEnvelope({ _meta: META }), {});
    // A "__proto__" key a client sends is a key like any other, never the copy's prototype.
    const hostile = JSON.parse(`{"__proto__":{"polluted":1},"name":"y","_meta":${JSON.stringify(META)}}`);
    const stripped = withoutEnvelope(hostile)!;
    assert.equal(JSON.stringify(stripped), '{"__proto__":{"polluted":1},"name":"y"}');
    assert.equal(Object.getPrototypeOf(stripped), Object.prototype);
  });

  test("logLevel filter: absent allows nothing, a level allows that level and above", () => {
    assert.equal(logLevelAllows(undefined, "error"), false);
    assert.equal(logLevelAllows("warning", "info"), false);
    assert.equal(logLevelAllows("warning", "error"), true);
  });
});

describe("discover ⇄ initialize result", () => {
  test("an initialize result becomes a discover result and back", () => {
    const init = { protocolVersion: "2025-06-18", capabilities: { tools: { listChanged: true }, tasks: {} }, serverInfo: { name: "s", version: "2" }, instructions: "hi" };
    const discover = discoverFromInitialize(init, ["2026-07-28"], { ttlMs: 1000, cacheScope: "public" });
    assert.deepEqual(discover, {
      supportedVersions: ["2026-07-28"],
      capabilities: { tools: { listChanged: true } },
      instructions: "hi",
      resultType: "complete",
      ttlMs: 1000,
      cacheScope: "public",
      _meta: { [MetaKey.serverInfo]: { name: "s", version: "2" } },
    });
    const legacy = initializeFromDiscover(discover, "2025-06-18", { name: "fallback", version: "0" });
    assert.deepEqual(legacy, { protocolVersion: "2025-06-18", capabilities: { tools: { listChanged: true } }, serverInfo: { name: "s", version: "2" }, instructions: "hi" });
    assert.equal(negotiateLegacyVersion("1999-01-01", ["2025-11-25", "2025-06-18"]), "2025-11-25");
  });
});

describe("results and errors", () => {
  test("modern results get resultType and cache fields; legacy results lose them", () => {
    assert.deepEqual(toModernResult("tools/list", { tools: [] }), { tools: [], resultType: "complete", ttlMs: 0, cacheScope: "private" });
    assert.deepEqual(toModernResult("tools/list", { tools: [], ttlMs: 50, cacheScope: "public" }), { tools: [], ttlMs: 50, cacheScope: "public", resultType: "complete" });
    assert.deepEqual(toModernResult("tools/call", { content: [] }), { content: [], resultType: "complete" });
    assert.equal(toModernResult("tools/list", { resultType: "input_required" }), undefined);
    assert.deepEqual(toLegacyResult({ tools: [], resultType: "complete", ttlMs: 5, cacheScope: "public" }), { tools: [] });
  });

  test("a plain result's line gets resultType spliced in, equal to what toModernResult gives; other shapes are left to it", () => {
    const line = (result: unknown, id: number | string = "c-1") => {
      const raw = JSON.stringify({ jsonrpc: "2.0", id: 7, result });
      return completeResultLine(id, "tools/call", result, raw.slice('{"jsonrpc":"2.0","id":7'.length));
    };
    for (const result of [{ content: [{ type: "text", text: "a}\"b" }] }, {}, { content: [], isError: true, structuredContent: { "resultType": 1 } }]) {
      assert.deepEqual(JSON.parse(line(result)!), { jsonrpc: "2.0", id: "c-1", result: toModernResult("tools/call", result) });
    }
    assert.equal(JSON.parse(line({}, 3)!).id, 3);
    assert.equal(line({ resultType: "complete", content: [] }), undefined, "a result that names its type is translated");
    assert.equal(completeResultLine(1, "tools/list", { tools: [] }, ',"result":{"tools":[]}}'), undefined, "cache fields are toModernResult's to add");
    assert.equal(completeResultLine(1, "tools/call", { content: [] }, ', "result": {"content":[]}}'), undefined, "only the compact form is spliced");
    assert.equal(completeResultLine(1, "tools/call", [], ',"result":[]}'), undefined);
  });

  test("resource not found is renumbered both ways; statuses follow the spec", () => {
    assert.deepEqual(toModernError({ code: -32002, message: "nf", data: { uri: "a://b" } }), { code: -32602, message: "nf", data: { uri: "a://b" } });
    assert.deepEqual(toModernError({ code: -32002, message: "nf" }, "a://c"), { code: -32602, message: "nf", data: { uri: "a://c" } });
    assert.deepEqual(toModernError({ code: -32602, message: "Resource a://c not found" }, "a://c"), { code: -32602, message: "Resource a://c not found", data: { uri: "a://c" } });
    assert.deepEqual(toModernError({ code: -32602, message: "bad cursor" }, "a://c"), { code: -32602, message: "bad cursor" });
    assert.equal(toLegacyError("resources/read", { code: -32602, message: "nf", data: { uri: "a://b" } }).code, -32002);
    assert.equal(toLegacyError("resources/read", { code: -32602, message: "bad", data: { uri: "a://b", why: 1 } }).code, -32602);
    assert.equal(toLegacyError("tools/call", { code: -32602, message: "x", data: { uri: "a" } }).code, -32602);
    assert.equal(httpStatusOfError(-32601), 404);
    assert.equal(httpStatusOfError(-32021), 400);
    assert.equal(httpStatusOfError(-32603), 200);
  });
});

describe("MRTR", () => {
  test("server side: child requests → inputRequests, inputResponses → answers, missing keys reported", () => {
    const inputRequests = toInputRequests([
      { key: "a", request: { method: "elicitation/create", params: { message: "m" } } },
      { key: "b", request: { method: "roots/list" } },
    ]);
    assert.deepEqual(inputRequests, { a: { method: "elicitation/create", params: { message: "m" } }, b: { method: "roots/list" } });
    const { answers, missing } = answersFromInputResponses(
      [
        { key: "a", id: 7 },
        { key: "b", id: "x" },
      ],
      { a: { action: "accept" }, extra: {} },
    );
    assert.deepEqual(answers, [{ jsonrpc: "2.0", id: 7, result: { action: "accept" } }]);
    assert.deepEqual(missing, ["b"]);
  });

  test("capabilities: required per kind, bare elicitation counts as form, nested members checked", () => {
    assert.deepEqual(requiredCapability({ method: "sampling/createMessage", params: { tools: [] } }), { sampling: { tools: {} } });
    assert.equal(missingCapabilities({ elicitation: { form: {} } }, { elicitation: {} }), undefined);
    assert.deepEqual(missingCapabilities({ elicitation: { url: {} } }, { elicitation: {} }), { elicitation: { url: {} } });
    assert.deepEqual(missingCapabilities({ sampling: {} }, {}), { sampling: {} });
  });

  test("client side: inputRequests → requests with fresh ids, answers → inputResponses, retry params", () => {
    let next = 100;
    const requests = requestsFromInputRequests({ k: { method: "roots/list" }, bad: 3 }, () => next++);
    assert.deepEqual(requests, [{ key: "k", request: { jsonrpc: "2.0", id: 100, method: "roots/list" } }]);
    const { inputResponses, failed } = inputResponsesFromAnswers([
      { key: "k", response: { jsonrpc: "2.0", id: 100, result: { roots: [] } } },
      { key: "e", response: { jsonrpc: "2.0", id: 101, error: { code: -1, message: "no" } } },
    ]);
    assert.deepEqual(inputResponses, { k: { roots: [] } });
    assert.equal(failed[0]!.key, "e");
    const retry = retryParams({ name: "t", requestState: "old" }, inputResponses, "s1");
    assert.deepEqual(retry, { name: "t", inputResponses: { k: { roots: [] } }, requestState: "s1" });
    assert.deepEqual(readRetry(retry), { inputResponses: { k: { roots: [] } }, requestState: "s1", params: { name: "t" } });
  });
});

describe("requestState sealing", () => {
  const claims = { principal: "alice", child: "c1", call: "7", request: "d", keys: ["a"] };
  const node: SealCrypto = { aesGcm: nodePlatform.aesGcm, sha256: nodePlatform.sha256 };

  for (const [name, primitives] of [["Web Crypto", undefined], ["Node's crypto", node]] as const) {
    test(`${name}: opens what it sealed; refuses tampered, foreign, mismatched, expired and other keys' states`, async () => {
      const sealer = await RequestStateSealer.create(undefined, primitives);
      const state = await sealer.seal(claims, 60_000, 1_000);
      assert.deepEqual(await sealer.open(state, { principal: "alice", request: "d" }, 2_000), { ok: true, claims });
      assert.deepEqual(await sealer.open(tamperedState(state), { principal: "alice", request: "d" }, 2_000), { ok: false, reason: "tampered" });
      // The same bytes spelled otherwise (the decoder would accept each) are not a state we issued.
      const encoded = state.slice("v1.".length);
      const last = encoded.length % 4 === 0 ? undefined : encoded.at(-1)!;
      const trailingBits = last && String.fromCharCode(last.charCodeAt(0) ^ 1);
      const respelled = [`${state}=`, `v1. ${encoded}`, `${state.slice(0, 10)}\n${state.slice(10)}`, ...(trailingBits ? [state.slice(0, -1) + trailingBits] : [])];
      for (const other of respelled) assert.deepEqual(await sealer.open(other, { principal: "alice", request: "d" }, 2_000), { ok: false, reason: "malformed" }, JSON.stringify(other));
      assert.deepEqual(await sealer.open(state, { principal: "bob", request: "d" }, 2_000), { ok: false, reason: "foreign" });
      assert.deepEqual(await sealer.open(state, { principal: "alice", request: "other" }, 2_000), { ok: false, reason: "mismatch" });
      assert.deepEqual(await sealer.open(state, { principal: "alice", request: "d" }, 70_000), { ok: false, reason: "expired" });
      assert.deepEqual(await sealer.open("garbage", { principal: "alice", request: "d" }), { ok: false, reason: "malformed" });
      const other = await RequestStateSealer.create(undefined, primitives);
      assert.deepEqual(await other.open(state, { principal: "alice", request: "d" }, 2_000), { ok: false, reason: "tampered" });
    });
  }

  test("a shared secret lets two sealers open each other's states, Node's crypto and Web Crypto alike; digests ignore _meta and key order", async () => {
    const [a, b] = await Promise.all([RequestStateSealer.create("s3cret", node), RequestStateSealer.create("s3cret")]);
    assert.equal((await b.open(await a.seal(claims, 60_000), { principal: "alice", request: "d" })).ok, true);
    assert.equal((await a.open(await b.seal(claims, 60_000), { principal: "alice", request: "d" })).ok, true);
    const one = await a.digest("tools/call", { name: "t", arguments: { x: 1, y: 2 }, _meta: { a: 1 }, requestState: "z" });
    const two = await b.digest("tools/call", { arguments: { y: 2, x: 1 }, name: "t" });
    assert.equal(one, two);
    assert.notEqual(one, await a.digest("tools/call", { name: "t", arguments: { x: 2, y: 2 } }));
  });
});
