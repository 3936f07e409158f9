/** §3 public_url is the truth for Host checks and handed-out URLs; non-loopback listeners are safe by default. */
import assert from "node:assert/strict";
import { request } from "node:http";
import { describe, test } from "node:test";
import { runCli, startBridge, writeConfig } from "../support/bridge.ts";
import { initializeBody, logged, scripted } from "./support.ts";

/** A raw HTTP request with any Host header (fetch does not let one choose it); resolves at the first body chunk for SSE. */
function raw(url: string, options: { method: string; headers: Record<string, string>; body?: string; firstChunk?: boolean }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method, headers: options.headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => {
        body += chunk;
        if (options.firstChunk && body.includes("\n\n")) {
          resolve({ status: res.statusCode!, body });
          res.destroy();
        }
      });
      res.on("end", () => resolve({ status: res.statusCode!, body }));
    });
    req.on("error", reject);
    req.end(options.body);
  });
}

const post = (url: string, headers: Record<string, string>) =>
  raw(url, { method: "POST", headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers }, body: JSON.stringify(initializeBody()) });

describe("public_url behind a reverse proxy", () => {
  test("its host passes the Host check on a loopback listener, and the legacy endpoint carries its path prefix", async () => {
    const bridge = await startBridge({ server: { mcp_server: scripted(), public_url: "https://mcp.example.com/team/mcp" } });
    try {
      // What a proxy forwards: the public Host, with and without a port, and the public Origin.
      assert.equal((await post(bridge.url, { host: "mcp.example.com" })).status, 200);
      assert.equal((await post(bridge.url, { host: "mcp.example.com:443", origin: "https://mcp.example.com" })).status, 200);
      // Other names stay refused.
      assert.equal((await post(bridge.url, { host: "other.example.com" })).status, 403);
      const sse = await raw(`${bridge.origin}/sse`, { method: "GET", headers: { host: "mcp.example.com", accept: "text/event-stream" }, firstChunk: true });
      assert.equal(sse.status, 200);
      assert.match(sse.body, /event: endpoint\ndata: \/team\/messages\?sessionId=/);
    } finally {
      await bridge.stop();
    }
  });
});

describe("secure defaults on a non-loopback listener", () => {
  test("listen 0.0.0.0 without allowed_hosts refuses a rebinding page's name, accepts IP literals, and says how to allow a name", async () => {
    const bridge = await startBridge({
      server: { listen: "0.0.0.0:0", mcp_server: scripted(), auth: { type: "bearer", bearer: { valid_tokens: ["tok-0123456789abcdef"] } } },
    });
    try {
      const port = new URL(bridge.url).port;
      const rebinding = { host: `evil.example:${port}`, origin: `http://evil.example:${port}` };
      assert.equal((await post(bridge.url, rebinding)).status, 403);
      assert.equal((await post(bridge.url, { host: `evil.example:${port}` })).status, 403);
      // An IP literal cannot be a rebinding name: it reaches authentication (401 without a token).
      assert.equal((await post(bridge.url, { host: `127.0.0.1:${port}` })).status, 401);
      assert.equal((await post(bridge.url, { host: `10.1.2.3:${port}` })).status, 401);
      // Refusals are throttled: a burst of lines, then one summary with the count.
      for (let i = 0; i < 6; i++) assert.equal((await post(bridge.url, rebinding)).status, 403);
      const logs = await logged(bridge, /requests refused by the Host\/Origin guard: lines not logged .*suppressed=5/);
      assert.match(logs, /request refused .*server\.allowed_hosts/);
      assert.equal(logs.split("\n").filter((line) => line.includes("request refused")).length, 3);
    } finally {
      await bridge.stop();
    }
  });

  test("allowed_hosts names the accepted host", async () => {
    const bridge = await startBridge({ server: { listen: "0.0.0.0:0", mcp_server: scripted(), allowed_hosts: ["mcp.internal"], auth: { type: "bearer", bearer: { valid_tokens: ["tok-0123456789abcdef"] } } } });
    try {
      assert.equal((await post(bridge.url, { host: "mcp.internal:8080" })).status, 401);
      assert.equal((await post(bridge.url, { host: "evil.example" })).status, 403);
    } finally {
      await bridge.stop();
    }
  });

  for (const [key, server] of [
    ["server.cors.allowed_origins", { cors: { enabled: true, allowed_origins: ["*"] } }],
    ["server.allowed_origins", { allowed_origins: ["*"] }],
  ] as const) {
    test(`"*" in ${key} with authentication off is refused with a message naming the fix`, async () => {
      const path = writeConfig({ mode: "server", server: { mcp_server: scripted(), ...server } });
      for (const args of [["check-config", "-c", path], ["-c", path]]) {
        const result = await runCli(args);
        assert.equal(result.code, 2);
        assert.match(result.stderr, new RegExp(`${key.replaceAll(".", "\\.")}.*list the origins that may call it, or turn authentication on`));
      }
    });
  }
});
