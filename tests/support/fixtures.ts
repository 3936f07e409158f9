/** @module Builds the stdio fixture servers, and the scripts tests spawn, into single files that start cheaply (no tsx). */
import { build, type Plugin } from "esbuild";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** Absolute paths of the built fixtures, each runnable as `node <path>`. */
export interface BuiltFixtures {
  /** The conformance "everything" server (tests/fixtures/everything-server.ts). */
  everythingServer: string;
}

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BUILD_DIR = join(ROOT, "tests", ".build");

let pending: Promise<BuiltFixtures> | undefined;

/**
 * Bundles every fixture into `tests/.build/`. Sessions spawn one child each, so a child must start
 * in tens of milliseconds: tsx's on-the-fly compilation costs far more than a prebuilt bundle.
 *
 * Idempotent within a process (the first call's promise is shared) and safe across processes:
 * `node --test` runs each test file in its own process, so two of them may build at once; each
 * writes to a private temporary name and renames it into place, which is atomic on one
 * filesystem, so a reader never sees a half-written file.
 */
export function buildFixtures(): Promise<BuiltFixtures> {
  pending ??= buildAll().catch((error: unknown) => {
    pending = undefined; // let a later call retry instead of caching the failure
    throw error;
  });
  return pending;
}

async function buildAll(): Promise<BuiltFixtures> {
  const everythingServer = await bundle("tests/fixtures/everything-server.ts", "everything-server.cjs");
  return { everythingServer };
}

/** The conformance suites' `--command`: the SDK client driver (conformance-client.ts), bundled once, not run through tsx each scenario. */
export async function conformanceDriver(): Promise<string> {
  return `node ${await bundle("tests/support/conformance-client.ts", "conformance-client.mjs")}`;
}

/** How bundle() builds an entry beyond its defaults. */
export interface BundleOptions {
  /** Packages left as imports, loaded from node_modules at run time (playwright-core finds its own files by path). */
  external?: string[];
}

/**
 * Bundles one entry (a fixture, or a script tests spawn) into tests/.build/<outName> (atomic,
 * skipped when unchanged); returns its path, runnable as `node <path>`. An `.mjs` outName is built
 * as an ES module: scripts with top-level await need that; `require` is provided for the CommonJS
 * packages inside, and each source file keeps its own import.meta.url (see OWN_IMPORT_META_URL).
 */
export async function bundle(entry: string, outName: string, options: BundleOptions = {}): Promise<string> {
  // Test files call this directly too, and may be the first of a clean clone to run.
  await mkdir(BUILD_DIR, { recursive: true });
  const outfile = join(BUILD_DIR, outName);
  const esm = outName.endsWith(".mjs");
  const result = await build({
    entryPoints: [join(ROOT, entry)],
    outfile,
    bundle: true,
    platform: "node",
    format: esm ? "esm" : "cjs",
    target: "node20",
    write: false,
    logLevel: "warning",
    external: options.external,
    plugins: [OWN_IMPORT_META_URL],
    // Bundled CommonJS code calls require() for Node's built-in modules, which an ES module lacks.
    banner: esm ? { js: 'import { createRequire as bundleCreateRequire } from "node:module"; const require = bundleCreateRequire(import.meta.url);' } : undefined,
  });
  const output = result.outputFiles.find((file) => file.path === outfile);
  if (!output) throw new Error(`esbuild produced no "${outName}" for "${entry}"`);
  // Skip the write when an identical bundle is already there (another test file built it), so
  // a child being spawned from it is never raced by a rename.
  const existing = await readFile(outfile).catch(() => undefined);
  if (existing?.equals(output.contents)) return outfile;
  const temporary = `${outfile}.${process.pid}.${Date.now()}.tmp`;
  try {
    await writeFile(temporary, output.contents);
    await rename(temporary, outfile);
  } finally {
    await rm(temporary, { force: true });
  }
  return outfile;
}

/**
 * Gives each TypeScript source in a bundle its own import.meta.url (the source file's URL), so a
 * path it resolves relative to itself (the repository root, a file beside it) is the same bundled
 * as run through tsx; bundled, import.meta.url would otherwise be the bundle's (ESM) or empty (CJS).
 */
const OWN_IMPORT_META_URL: Plugin = {
  name: "own-import-meta-url",
  setup(builder) {
    builder.onLoad({ filter: /\.[cm]?ts$/ }, async ({ path }) => {
      const text = await readFile(path, "utf8");
      if (!text.includes("import.meta.url")) return undefined;
      return { contents: text.replaceAll("import.meta.url", JSON.stringify(pathToFileURL(path).href)), loader: "ts" };
    });
  },
};
