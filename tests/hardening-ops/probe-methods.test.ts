/**
 * The probes and metrics under hostile methods: read-only routes answer other methods 405 with
 * Allow and a JSON body, on both listeners; so do the MCP endpoints for methods they do not serve.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { startBridge } from "../support/bridge.ts";
import { logged, scripted } from "./support.ts";

describe("methods other than GET and HEAD on /health, /ready and /metrics", { timeout: 60_000 }, () => {
  test("get 405 naming GET, HEAD (before: 404, as if nothing were there), and change nothing", async () => {
    const bridge = await startBridge({ server: { mcp_server: scripted(), metrics_listen: "127.0.0.1:0" } });
    try {
      const metricsUrl = /metrics served url=(\S+)/.exec(await logged(bridge, "metrics served"))![1]!;
      const targets = [`${bridge.origin}/health`, `${bridge.origin}/ready`, metricsUrl, new URL("/health", metricsUrl).href];
      for (const url of targets) {
        for (const method of ["POST", "PUT", "DELETE", "PATCH"]) {
          const response = await fetch(url, { method, headers: { "content-type": "application/json" }, body: method === "DELETE" ? undefined : "{}" });
          assert.equal(response.status, 405, `${method} ${url}`);
          assert.equal(response.headers.get("allow"), "GET, HEAD");
          assert.equal(((await response.json()) as { error: string }).error, "method_not_allowed");
        }
        assert.equal((await fetch(url, { method: "HEAD" })).status, 200, `HEAD ${url}`);
        assert.equal((await fetch(url)).status, 200, `GET ${url}`);
      }
    } finally {
      await bridge.stop();
    }
  });
});

describe("methods the MCP endpoints do not serve", { timeout: 60_000 }, () => {
  test("PUT, PATCH and OPTIONS (CORS off) on /mcp, /, /sse and /messages get 405 with the endpoint's Allow (before: 404 'no route')", async () => {
    const bridge = await startBridge({ server: { mcp_server: scripted() } });
    try {
      const endpoints: Array<[string, string]> = [["/mcp", "GET, POST, DELETE"], ["/", "GET, POST, DELETE"], ["/sse", "GET"], ["/messages", "POST"]];
      for (const [path, allow] of endpoints) {
        for (const method of ["PUT", "PATCH", "OPTIONS"]) {
          const response = await fetch(`${bridge.origin}${path}`, { method, headers: { "content-type": "application/json" }, body: method === "OPTIONS" ? undefined : "{}" });
          assert.equal(response.status, 405, `${method} ${path}`);
          assert.equal(response.headers.get("allow"), allow);
          assert.equal(((await response.json()) as { error: string }).error, "method_not_allowed");
        }
      }
    } finally {
      await bridge.stop();
    }
  });
});
