/**
 * @module `allowed_redirect_uris` narrowed and the bridge restarted: clients registered before
 * (registrations outlive a restart in the file store) can no longer have sign-ins sent to the
 * redirect URIs the operator removed, an https one or a private-use scheme alike; what is still
 * listed keeps working for the same clients.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { RunningBridge } from "../support/bridge.ts";
import { authorizeUrl, CLAUDE_CALLBACK, openLoginPage, registerClient, startAsBridge, tempDir } from "./support.ts";

const PARTNER = "https://old-partner.example/cb";
const CURSOR = "cursor://anysphere.cursor-retrieval/oauth/callback";

function start(directory: string, allowed: string[]): Promise<RunningBridge> {
  return startAsBridge({ storage: { type: "file", path: directory }, oauthServer: { allowed_redirect_uris: allowed } });
}

test("a redirect URI removed from allowed_redirect_uris gets no sign-in, for clients registered while it was listed", { timeout: 60_000 }, async () => {
  const directory = tempDir();
  const first = await start(directory, [CLAUDE_CALLBACK, PARTNER, CURSOR]);
  let partner: string, cursor: string, both: string;
  try {
    ({ client_id: partner } = await registerClient(first.origin, [PARTNER]));
    ({ client_id: cursor } = await registerClient(first.origin, [CURSOR], { application_type: "native", token_endpoint_auth_method: "none" }));
    ({ client_id: both } = await registerClient(first.origin, [PARTNER, CLAUDE_CALLBACK]));
    const before = await fetch(authorizeUrl(first.origin, partner, { redirectUri: PARTNER }).url, { redirect: "manual" });
    assert.equal(before.status, 200, "listed: the sign-in page");
  } finally {
    await first.stop();
  }

  const second = await start(directory, [CLAUDE_CALLBACK]);
  try {
    for (const [client, redirectUri, shown] of [
      [partner, PARTNER, "old-partner.example"],
      [partner, undefined, "old-partner.example"],
      [cursor, CURSOR, "cursor"],
      [both, PARTNER, "old-partner.example"],
    ] as const) {
      const url = authorizeUrl(second.origin, client, { redirectUri: redirectUri ?? "" }).url;
      if (redirectUri === undefined) url.searchParams.delete("redirect_uri");
      const response = await fetch(url, { redirect: "manual" });
      const html = await response.text();
      assert.equal(response.status, 400, `${client} → ${redirectUri}: ${html.slice(0, 300)}`);
      assert.equal(response.headers.get("location"), null, "nothing is sent to the removed address");
      assert.match(html, new RegExp(`no longer sends sign-ins back to ${shown}`));
      assert.doesNotMatch(html, /name="password"/);
    }
    const still = await openLoginPage(authorizeUrl(second.origin, both, { redirectUri: CLAUDE_CALLBACK }).url);
    assert.match(still.html, /name="password"/, "the client's URI that is still listed keeps working");
    assert.match(second.logs(), /redirect_uri_not_allowed/);
  } finally {
    await second.stop();
  }
});
