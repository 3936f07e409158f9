/** @module `npm run docs:config`: writes docs/configuration.md from the schema; `--check` only reports whether it is current. */
import { readFileSync, writeFileSync } from "node:fs";
import { renderConfigReference } from "../src/config/reference.ts";

const target = new URL("../docs/configuration.md", import.meta.url);
const text = renderConfigReference();

if (process.argv.includes("--check")) {
  let current = "";
  try {
    current = readFileSync(target, "utf8");
  } catch {
    // A missing file is simply out of date.
  }
  if (current !== text) {
    console.error("docs/configuration.md is out of date: run npm run docs:config");
    process.exit(1);
  }
} else {
  writeFileSync(target, text);
  console.error("wrote docs/configuration.md");
}
