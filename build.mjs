// Build entry: bundles src/main.ts into dist/mcp-bridge.cjs (one file, no native addons, no runtime
// file lookups), which runs as `node dist/mcp-bridge.cjs` and is the payload of the release executables.
import { build } from "esbuild";
import { readFileSync } from "node:fs";

const pkg = JSON.parse(readFileSync(new URL("./package.json", import.meta.url), "utf8"));

await build({
  entryPoints: ["src/main.ts"],
  outfile: "dist/mcp-bridge.cjs",
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  minifySyntax: true,
  legalComments: "linked",
  banner: { js: "#!/usr/bin/env node" },
  logLevel: "warning",
});
console.error(`built dist/mcp-bridge.cjs (${pkg.name} ${pkg.version})`);
