/**
 * @module Unit: turning a legacy server's answers into modern ones (toModernResult, resultProblem,
 * initializeResultProblem): what cannot be translated is refused, never made an empty success.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { discoverFromInitialize, initializeResultProblem } from "../../src/mcp/discover.ts";
import { resultProblem, toModernResult } from "../../src/mcp/results.ts";
import { jsonKindOf } from "../../src/util/object.ts";

const NOT_OBJECTS: unknown[] = [[], [{ content: [] }], "", "x", 0, 3, true, false, null, undefined];

test("a result that is not a JSON object has no modern form, for plain and cacheable methods alike", () => {
  for (const method of ["tools/call", "prompts/get", "resources/read", "tools/list", "resources/templates/list", "completion/complete"]) {
    for (const result of NOT_OBJECTS) {
      assert.equal(toModernResult(method, result), undefined, `${method} ${JSON.stringify(result)}`);
      assert.equal(resultProblem(method, result), `the MCP server answered ${method} with a result that is not an object (${jsonKindOf(result)})`);
    }
  }
});

test("an object result gets resultType, and cache fields on a cacheable method; a resultType the method cannot have is refused", () => {
  assert.deepEqual(toModernResult("tools/call", { content: [] }), { content: [], resultType: "complete" });
  assert.deepEqual(toModernResult("tools/list", { tools: [], ttlMs: -1, cacheScope: "all" }, { ttlMs: 5, cacheScope: "public" }), { tools: [], resultType: "complete", ttlMs: 5, cacheScope: "public" });
  assert.equal(toModernResult("tools/list", { tools: [], resultType: "input_required" }), undefined);
  assert.match(resultProblem("tools/list", { resultType: "input_required" }), /result type other than complete/);
});

test("jsonKindOf names the JSON kind", () => {
  assert.deepEqual([{}, [], "", 1, false, null].map(jsonKindOf), ["object", "array", "string", "number", "boolean", "null"]);
});

test("an initialize result is told as server/discover only when its fields have the types the spec gives them", () => {
  const good = { protocolVersion: "2025-11-25", capabilities: { tools: {} }, serverInfo: { name: "s", version: "1" } };
  assert.equal(initializeResultProblem(good), undefined);
  assert.equal(initializeResultProblem({ ...good, instructions: "use it" }), undefined);
  assert.equal(discoverFromInitialize({ ...good, instructions: "use it" }, ["2026-07-28"]).instructions, "use it");
  // null says as much as absent: read so, not refused.
  assert.equal(initializeResultProblem({ ...good, instructions: null }), undefined);
  assert.equal("instructions" in discoverFromInitialize({ ...good, instructions: null } as never, ["2026-07-28"]), false);
  for (const bad of [
    [],
    null,
    "x",
    { ...good, capabilities: undefined },
    { ...good, capabilities: [] },
    { ...good, capabilities: "all" },
    { ...good, serverInfo: undefined },
    { ...good, serverInfo: "s" },
    { ...good, serverInfo: { name: "s" } },
    { ...good, serverInfo: { name: 1, version: "1" } },
    { ...good, instructions: 42 },
    { ...good, instructions: {} },
  ]) {
    assert.match(initializeResultProblem(bad) ?? "", /^its initialize result /, JSON.stringify(bad));
  }
});
