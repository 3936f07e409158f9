#!/usr/bin/env node
// A stand-in for a browser, for `browser_command` in tests: GETs the URL given as the last argument
// and follows redirects (the conformance suite's mock authorization endpoint redirects at once to
// the client's loopback callback). Exits 0 when the final answer is 2xx.
const url = process.argv.at(-1);
if (!url) {
  console.error("usage: follow-redirects.mjs URL");
  process.exit(2);
}
let current = url;
for (let hop = 0; hop < 10; hop++) {
  const response = await fetch(current, { redirect: "manual" });
  const location = response.headers.get("location");
  await response.body?.cancel();
  if (response.status >= 300 && response.status < 400 && location) {
    current = new URL(location, current).href;
    continue;
  }
  process.exit(response.ok ? 0 : 1);
}
console.error("too many redirects");
process.exit(1);
