/** Attacks on token validation that the other files do not make: cache eviction by floods, hostile key sets. */
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, test } from "node:test";
import { BRIDGE_CLIENT, makeAuthenticator, RESOURCE, rejectsWith } from "./support.ts";

/** A loopback HTTP server answering with `handler(body)`, or cutting connections while `down`. */
async function serve(handler: (body: string) => { status: number; json?: unknown }) {
  const state = { down: false };
  const server = createServer((req, res) => {
    if (state.down) return void req.socket.destroy();
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      const answer = handler(body);
      res.writeHead(answer.status, { "content-type": "application/json" }).end(answer.json === undefined ? "" : JSON.stringify(answer.json));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    state,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

describe("introspection under a flood of bad tokens", () => {
  test("an attacker's inactive tokens do not push an honest user's cached answer out: it still works while the IdP is down", async () => {
    const HONEST = "honest-opaque-token-0123456789";
    let honestCalls = 0;
    const idp = await serve((body) => {
      const token = new URLSearchParams(body).get("token");
      if (token !== HONEST) return { status: 200, json: { active: false } };
      honestCalls++;
      return { status: 200, json: { active: true, sub: "alice", aud: RESOURCE, exp: Math.floor(Date.now() / 1000) + 3600, token_type: "Bearer" } };
    });
    const { auth } = makeAuthenticator(undefined, {
      introspection_url: `${idp.url}/introspect`,
      client_id: BRIDGE_CLIENT.id,
      client_secret: BRIDGE_CLIENT.secret,
      introspection: { cache_ttl: "1h" },
    });
    try {
      await auth.start();
      assert.equal((await auth.verify(HONEST)).subject, "alice");
      // More distinct bad tokens than the bridge caches answers for (10 000), a few at a time.
      let next = 0;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < 10_100) await rejectsWith(auth.verify(`attacker-${next++}-0123456789`), "invalid_token", /not active/);
        }),
      );
      idp.state.down = true;
      assert.equal((await auth.verify(HONEST)).subject, "alice", "the honest answer is still cached");
      assert.equal(honestCalls, 1);
    } finally {
      auth.close();
      idp.close();
    }
  });
});
