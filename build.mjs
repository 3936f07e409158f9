// Build entry: bundles src/main.ts into dist/mcp-bridge.cjs (one file, no native addons, no runtime
// file lookups), which runs as `node dist/mcp-bridge.cjs` and is the payload of the release executables.
//   node build.mjs                        the bundle
//   node build.mjs --sea                  + dist/mcp-bridge, this machine's standalone executable
//   node build.mjs --release [--targets linux-x64,win-x64,…]
//                                         + dist/release/: every target's archive and SHA256SUMS
import { build } from "esbuild";
import { readFileSync, writeFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname } from "node:path";
import { RELEASE_TARGETS, buildCachedExecutable, buildRelease, executableName, hostTarget } from "./scripts/release.mjs";
import { bundledPackages, noticesText } from "./scripts/notices.mjs";

const pkg = JSON.parse(readFileSync(new URL("./package.json", import.meta.url), "utf8"));
const flags = process.argv.slice(2);
const BUNDLE = "dist/mcp-bridge.cjs";
/** The licences of the packages inside the bundle; release archives add Node.js's (scripts/release.mjs). */
export const BUNDLE_NOTICES = "dist/THIRD_PARTY_NOTICES.txt";

const result = await build({
  entryPoints: ["src/main.ts"],
  outfile: BUNDLE,
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  minifySyntax: true,
  legalComments: "linked",
  banner: { js: "#!/usr/bin/env node" },
  logLevel: "warning",
  metafile: true,
  plugins: [zodEnglishOnly()],
});
assertSelfContained(result);
writeFileSync(BUNDLE_NOTICES, noticesText(bundledPackages(result.metafile)));
console.error(`built ${BUNDLE} (${pkg.name} ${pkg.version})`);

if (flags.includes("--release")) {
  const listed = flags[flags.indexOf("--targets") + 1];
  const targets = flags.includes("--targets") && listed ? listed.split(",") : RELEASE_TARGETS;
  buildRelease({ bundle: BUNDLE, outDir: "dist/release", targets });
  console.error("built dist/release/ with SHA256SUMS");
} else if (flags.includes("--sea")) {
  const output = `dist/${executableName(hostTarget())}`;
  const { built } = await buildCachedExecutable({ bundle: BUNDLE, output });
  console.error(built ? `built ${output}` : `${output} is up to date`);
}

/**
 * zod's namespace export carries its error messages in 40-odd languages (a sixth of the bundle),
 * which every start of the bridge compiles; the bridge writes its own messages and needs at most
 * zod's English ones, so its locale index is built with English alone.
 */
function zodEnglishOnly() {
  return {
    name: "zod-english-only",
    setup(build) {
      build.onLoad({ filter: /[\\/]node_modules[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/ }, ({ path }) => ({
        contents: `export { default as en } from "./en.js";`,
        resolveDir: dirname(path),
      }));
    },
  };
}

/**
 * An executable carries only the bundle: a native addon, an import left to node_modules, or code
 * esbuild could not bundle (require() of a computed name, import.meta in CommonJS) would look for
 * files beside it at run time and fail. Any of those fails the build instead.
 */
function assertSelfContained({ metafile, warnings }) {
  const builtins = new Set(builtinModules);
  const problems = [
    ...Object.keys(metafile.inputs).filter((input) => input.endsWith(".node")).map((input) => `native addon ${input}`),
    ...Object.values(metafile.outputs)
      .flatMap((output) => output.imports)
      .filter((entry) => entry.external && !entry.path.startsWith("node:") && !builtins.has(entry.path))
      .map((entry) => `unbundled import "${entry.path}"`),
    ...warnings.map((warning) => `esbuild warning: ${warning.text}`),
  ];
  if (problems.length > 0) throw new Error(`${BUNDLE} is not self-contained:\n  ${problems.join("\n  ")}`);
}
