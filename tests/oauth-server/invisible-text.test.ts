/**
 * @module Client names with bidi controls and other invisible characters, through the built CLI:
 * registration refuses them (RFC 7591 §3.2.2), names people write in other scripts pass, and a
 * name that got in anyway (registered by an earlier version, kept in the state directory) can
 * neither reorder the consent page's sentence in Chromium nor hide on it.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import type { Browser } from "playwright-core";
import { useBrowser } from "../support/browser.ts";
import { authorizeUrl, postJson, registerClient, startAsBridge, tempDir, useAsBridge } from "./support.ts";

/** Every kind of invisible character, each where it does its harm: in or around a name. */
const REFUSED: [string, string][] = [
  ["U+202E", "Good App\u202E"],
  ["U+202A", "\u202AGood App"],
  ["U+202B", "Good\u202B App"],
  ["U+202C", "Good App\u202C"],
  ["U+202D", "\u202DGood App"],
  ["U+2066", "\u2066Good App"],
  ["U+2067", "Good \u2067App"],
  ["U+2068", "Good App\u2068"],
  ["U+2069", "Good App\u2069"],
  ["U+200E", "Good App\u200E"],
  ["U+200F", "\u200FGood App"],
  ["U+061C", "Good App\u061C"],
  ["U+200B", "Goo\u200Bgle"],
  ["U+200D", "Goo\u200Dgle"],
  ["U+200C", "Goo\u200Cgle"],
  ["U+2060", "Goo\u2060gle"],
  ["U+FEFF", "Goo\uFEFFgle"],
  ["U+00AD", "Goo\u00ADgle"],
  ["U+2028", "Good\u2028App"],
  ["U+2029", "Good\u2029App"],
  ["U+0009", "Good\tApp"],
  ["U+0085", "Good\u0085App"],
  ["U+E0041", "Good App\u{E0041}"],
  // Default_Ignorable_Code_Point beyond Cf: drawn as nothing.
  ["U+034F", "Goo\u034Fgle"],
  ["U+FE0F", "Goo\uFE0Fgle"],
  ["U+FE00", "Goo\uFE00gle"],
  ["U+180B", "Goo\u180Bgle"],
  ["U+3164", "Goo\u3164gle"],
  ["U+FFA0", "Goo\uFFA0gle"],
  ["U+115F", "Goo\u115Fgle"],
  ["U+17B4", "Goo\u17B4gle"],
  ["U+E0100", "Goo\u{E0100}gle"],
  ["U+2065", "Goo\u2065gle"],
  // Selectors and joiners where no script or emoji puts them: at the start, or in a run.
  ["U+FE0F", "\uFE0FGood App"],
  ["U+FE0F", "Caf\u00E9\uFE0F\uFE0F App"],
  ["U+200D", "\u05D0\u200D\u200D\u05D1 App"],
];

describe("client_name at registration", () => {
  const bridge = useAsBridge();

  test("a bidi control, zero-width or other invisible character is invalid_client_metadata naming it, as JSON", async () => {
    for (const [code, name] of REFUSED) {
      const response = await postJson(`${bridge.origin}/register`, { client_name: name, redirect_uris: ["https://claude.ai/api/mcp/auth_callback"], token_endpoint_auth_method: "none" });
      assert.equal(response.status, 400, code);
      assert.match(response.headers.get("content-type")!, /^application\/json/);
      const body = (await response.json()) as { error: string; error_description: string };
      assert.equal(body.error, "invalid_client_metadata", code);
      assert.equal(body.error_description, `client_name must not contain invisible formatting or control characters (it has ${code})`);
    }
  });

  test("names in right-to-left scripts, with the joiners Persian and emoji need, register, and the page isolates them", async () => {
    for (const name of ["עוזר קוד 2", "دستیار می\u200Cخواهد", "Family 👨\u200D👩\u200D👧 App", "\u2764\uFE0F App", "👩\u200D💻 Coder", "\u2764\uFE0F\u200D🔥 Hot", "Café (beta)"]) {
      const { client_id: clientId } = await registerClient(bridge.origin, undefined, { client_name: name });
      const html = await (await fetch(authorizeUrl(bridge.origin, clientId).url)).text();
      assert.ok(html.includes(`<strong><bdi>${name}</bdi></strong> wants to use`), `${name}: isolated on the page`);
      assert.match(html, /goes back to <strong><bdi>claude\.ai<\/bdi><\/strong>/);
    }
  });
});

let browser: Browser;
useBrowser((started) => (browser = started));

describe("a name with bidi controls already in the store (registered by an earlier version)", () => {
  test("the consent page shows its controls as U+FFFD and isolates it: Chromium draws the sentence in its order", { timeout: 120_000 }, async () => {
    const storage = tempDir();
    let bridge = await startAsBridge({ storage: { type: "file", path: storage } });
    let clientId: string;
    try {
      ({ client_id: clientId } = await registerClient(bridge.origin, undefined, { client_name: "PLACEHOLDER-NAME" }));
    } finally {
      await bridge.stop();
    }
    // An override (U+202E) left open turns the rest of the paragraph around: "Mallory .flaheb ruoy no … stnaw".
    let written = 0;
    for (const file of readdirSync(storage).filter((name) => name.startsWith("state"))) {
      const text = readFileSync(join(storage, file), "utf8");
      if (!text.includes("PLACEHOLDER-NAME")) continue;
      writeFileSync(join(storage, file), text.replaceAll("PLACEHOLDER-NAME", String.raw`Mallory\u202e`));
      written++;
    }
    assert.ok(written > 0, "the registration is in the state directory");
    bridge = await startAsBridge({ storage: { type: "file", path: storage } });
    try {
      const url = authorizeUrl(bridge.origin, clientId).url;
      const html = await (await fetch(url)).text();
      assert.match(html, /<strong><bdi>Mallory\uFFFD<\/bdi><\/strong> wants to use this MCP server/);
      assert.doesNotMatch(html, /\u202e/);
      const page = await browser.newPage();
      try {
        await page.goto(url.href);
        // A string, not a function: the test runner's transform would name the function's inner arrows with a helper the page lacks.
        const positions = (await page.evaluate(`(() => {
          const paragraph = [...document.querySelectorAll("p")].find((element) => element.textContent.includes("wants to use"));
          const text = paragraph.querySelector("strong").nextSibling;
          const at = (word) => {
            const range = document.createRange();
            const index = text.data.indexOf(word);
            range.setStart(text, index);
            range.setEnd(text, index + 1);
            return range.getBoundingClientRect().left;
          };
          return { name: paragraph.querySelector("strong").getBoundingClientRect().right, wants: at("wants"), use: at("use"), this: at("this") };
        })()`)) as { name: number; wants: number; use: number; this: number };
        assert.ok(positions.name <= positions.wants && positions.wants < positions.use && positions.use < positions.this, `drawn left to right after the name: ${JSON.stringify(positions)}`);
      } finally {
        await page.close();
      }
    } finally {
      await bridge.stop();
    }
  });
});
