/** @module Every auth: example in docs/oauth.md (the seed's provider examples among them) loads and builds an authenticator. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { parse } from "yaml";
import { createOAuthAuthenticator } from "../../src/auth/oauth/index.ts";
import { AuthSchema } from "../../src/config/schema.ts";
import { captureLogger } from "./support.ts";

const text = readFileSync(new URL("../../docs/oauth.md", import.meta.url), "utf8");
const blocks = [...text.matchAll(/```yaml\n([\s\S]*?)```/g)].map((match) => match[1]!).filter((block) => block.startsWith("auth:"));

test("docs/oauth.md has the provider examples", () => {
  assert.ok(blocks.length >= 8, `found ${blocks.length} auth: blocks`);
  for (const host of ["auth0.com", "okta.com", "keycloak", "accounts.google.com", "login.microsoftonline.com"]) assert.ok(blocks.some((block) => block.includes(host)), host);
});

for (const block of blocks) {
  test(`loads: ${block.split("\n").find((line) => /_url:/.test(line))?.trim()}`, () => {
    const auth = AuthSchema.parse(parse(block.replace("${OAUTH_CLIENT_SECRET}", "s")).auth);
    assert.equal(auth.type, "oauth");
    const authenticator = createOAuthAuthenticator(auth.oauth!, { resource: "https://mcp.example.com/mcp", logger: captureLogger() });
    assert.ok(authenticator.protectedResource.authorizationServers.length <= 1);
    authenticator.close();
  });
}
