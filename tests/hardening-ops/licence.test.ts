/** §5 Licence: LICENSE (Apache-2.0, as package.json says) in the repository and in every release archive, with third-party notices. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
// @ts-expect-error: a plain .mjs build script without type declarations.
import { archiveName, executableName, hostTarget, packExecutable } from "../../scripts/release.mjs";
import { ROOT } from "../support/bridge.ts";
import { tempDir } from "../release/helpers.ts";

const BUNDLED = ["@hono/node-server", "bcryptjs", "hono", "jose", "yaml", "zod"];

describe("licence", () => {
  test("the repository's LICENSE is the Apache License 2.0 that package.json names", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { license: string };
    assert.equal(pkg.license, "Apache-2.0");
    const text = readFileSync(join(ROOT, "LICENSE"), "utf8");
    assert.match(text, /^\s*Apache License\s+Version 2\.0, January 2004/);
    assert.match(text, /END OF TERMS AND CONDITIONS/);
  });

  test("the build lists every package inside the bundle with its licence text", () => {
    const notices = readFileSync(join(ROOT, "dist", "THIRD_PARTY_NOTICES.txt"), "utf8");
    for (const name of BUNDLED) assert.match(notices, new RegExp(`^ {2}${name.replace("/", "\\/")} \\d+\\.\\d+\\.\\d+ \\(`, "m"), name);
    assert.match(notices, /Permission is hereby granted, free of charge/);
  });

  test("a release archive carries the executable, LICENSE and the notices of the bundled packages and Node.js", () => {
    const target = hostTarget() as string;
    const dir = tempDir();
    const out = tempDir();
    const name = executableName(target) as string;
    writeFileSync(join(dir, name), "#!/bin/sh\necho stand-in\n", { mode: 0o755 });
    const archive = join(out, archiveName(target) as string);
    packExecutable(target, dir, archive);
    const unpacked = join(out, "unpacked");
    mkdirSync(unpacked);
    execFileSync("tar", ["-xzf", archive, "-C", unpacked]);
    assert.deepEqual(execFileSync("tar", ["-tzf", archive], { encoding: "utf8" }).trim().split("\n").sort(), ["LICENSE", "THIRD_PARTY_NOTICES.txt", name].sort());
    assert.equal(readFileSync(join(unpacked, "LICENSE"), "utf8"), readFileSync(join(ROOT, "LICENSE"), "utf8"));
    const notices = readFileSync(join(unpacked, "THIRD_PARTY_NOTICES.txt"), "utf8");
    for (const name of BUNDLED) assert.ok(notices.includes(`  ${name} `), name);
    assert.match(notices, /Node\.js \d+\.\d+\.\d+\n\nNode\.js is licensed for use as follows:/);
  });
});
