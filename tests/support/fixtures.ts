/** @module Builds the stdio fixture servers into single CommonJS files that tests can spawn cheaply. */
import { build } from "esbuild";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

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

/** Bundles one fixture entry into tests/.build/<outName> (atomic, skipped when unchanged); returns its path. */
export async function bundle(entry: string, outName: string): Promise<string> {
  // Test files call this directly too, and may be the first of a clean clone to run.
  await mkdir(BUILD_DIR, { recursive: true });
  const outfile = join(BUILD_DIR, outName);
  const result = await build({
    entryPoints: [join(ROOT, entry)],
    outfile,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    write: false,
    logLevel: "warning",
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
