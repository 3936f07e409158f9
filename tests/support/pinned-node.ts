/**
 * @module The pinned Node.js binary (scripts/node-dist.mjs) for this host. The conformance suites
 * import `fs.globSync` (Node ≥ 22), so they run on it rather than on the tests' own Node.
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT } from "./bridge.ts";

/** Downloads (once, cached) and unpacks the pinned Node for this platform and architecture; returns its executable's path. */
export async function pinnedNode(): Promise<string> {
  const { ensureNodeBinary } = (await import(pathToFileURL(join(ROOT, "scripts", "node-dist.mjs")).href)) as { ensureNodeBinary(target: string): string };
  return ensureNodeBinary(`${process.platform === "win32" ? "win" : process.platform}-${process.arch}`);
}
