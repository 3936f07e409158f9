/**
 * @module A browser for `browser_command` in tests: signs in at the test IdP's login form with
 * Node's fetch (carrying cookies), then loads the callback it is redirected to, as a browser would.
 *   node tests/.build/sign-in-browser.mjs [--account NAME | --deny] [--tamper NAME=VALUE | --drop NAME] [--host HOST] URL
 * --tamper / --drop change the authorization response on its way (a mix-up or CSRF attacker);
 * --host sends the callback with another Host header (a DNS-rebinding page). Writes the callback's
 * status and body to stdout and, with MCP_TEST_BROWSER_LOG, appends the URL it was given, then
 * `callback answered STATUS TITLE` and `callback text TEXT` (the page's paragraph), to that file.
 */
import { appendFileSync } from "node:fs";
import { request } from "node:http";
import { signInAtIdp } from "../auth-oauth/support.ts";

const args = process.argv.slice(2);
const url = args.pop()!;
const option = (name: string) => {
  const index = args.indexOf(name);
  return index >= 0 ? args[index + 1] : undefined;
};
if (process.env.MCP_TEST_BROWSER_LOG) appendFileSync(process.env.MCP_TEST_BROWSER_LOG, `${url}\n`);
const callback = await signInAtIdp(url, { account: option("--account") ?? "alice", deny: args.includes("--deny"), redirectUri: new URL(url).searchParams.get("redirect_uri") ?? "http://127.0.0.1:" });
const tamper = option("--tamper");
if (tamper) callback.searchParams.set(tamper.slice(0, tamper.indexOf("=")), tamper.slice(tamper.indexOf("=") + 1));
const drop = option("--drop");
if (drop) callback.searchParams.delete(drop);
const host = option("--host") ?? callback.host;
// node:http, not fetch: fetch does not let a page choose its Host header.
await new Promise<void>((resolve, reject) => {
  const req = request(callback, { headers: { host } }, (res) => {
    let body = "";
    res.on("data", (chunk) => (body += chunk));
    res.on("end", () => {
      process.stdout.write(`${res.statusCode} ${body}\n`);
      if (process.env.MCP_TEST_BROWSER_LOG) {
        appendFileSync(process.env.MCP_TEST_BROWSER_LOG, `callback answered ${res.statusCode} ${/<title>([^<]*)<\/title>/.exec(body)?.[1] ?? ""}\ncallback text ${/<p>([^<]*)<\/p>/.exec(body)?.[1] ?? ""}\n`);
      }
      resolve();
    });
  });
  req.on("error", reject);
  req.end();
});
