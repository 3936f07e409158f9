/**
 * @module Issue 9 §4: Windows commands resolve as Windows does (PATHEXT, .cmd/.bat shims such as
 * npx, quoting), unit-tested on any machine; POSIX resolution needs an executable file. The
 * quoting is checked by round trip: what cmd.exe and the C runtime would make of the command line
 * must be the arguments we started with.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { findExecutable, quoteWindowsArgument, resolveCommand } from "../../src/runtime/command-resolution.ts";

/** A file system of the given executable files (Windows paths compared without case). */
function files(...paths: string[]) {
  const known = new Set(paths.map((path) => path.toLowerCase()));
  return (path: string) => known.has(path.toLowerCase());
}

/** CommandLineToArgvW's rules (2008 and later), as the C runtime splits a command line. */
function parseWindowsCommandLine(line: string): string[] {
  const args: string[] = [];
  let current = "";
  let inQuotes = false;
  let started = false;
  for (let i = 0; i < line.length; i++) {
    const char = line[i]!;
    if (char === "\\") {
      let count = 0;
      while (line[i] === "\\") {
        count++;
        i++;
      }
      if (line[i] === '"') {
        current += "\\".repeat(Math.floor(count / 2));
        if (count % 2 === 1) current += '"';
        else i--;
      } else {
        current += "\\".repeat(count);
        i--;
      }
      started = true;
    } else if (char === '"') {
      if (inQuotes && line[i + 1] === '"') {
        current += '"';
        i++;
      } else inQuotes = !inQuotes;
      started = true;
    } else if ((char === " " || char === "\t") && !inQuotes) {
      if (started) args.push(current);
      current = "";
      started = false;
    } else {
      current += char;
      started = true;
    }
  }
  if (started) args.push(current);
  return args;
}

/**
 * What `cmd.exe /d /s /c "<line>"` runs: /s strips the outer quotes; outside quoted regions a
 * caret makes the next character literal, and an unescaped & | < > would end the command.
 */
function cmdRuns(slashC: string): string {
  assert.ok(slashC.startsWith('"') && slashC.endsWith('"'));
  const line = slashC.slice(1, -1);
  let out = "";
  let inQuotes = false;
  for (let i = 0; i < line.length; i++) {
    const char = line[i]!;
    if (char === '"') inQuotes = !inQuotes;
    if (char === "^" && !inQuotes) {
      out += line[++i] ?? "";
      continue;
    }
    if (!inQuotes && "&|<>".includes(char)) throw new Error(`cmd would run a second command at ${JSON.stringify(line.slice(i))}`);
    if (!inQuotes && char === "%" && /^%\w+%/.test(line.slice(i))) throw new Error("cmd would expand a variable");
    out += char;
  }
  return out;
}

const windowsEnv = { Path: "C:\\Windows\\system32;\"C:\\Program Files\\nodejs\";C:\\tools", ComSpec: "C:\\Windows\\system32\\cmd.exe" };

describe("Windows command resolution", () => {
  test("npx resolves to npx.cmd through PATHEXT and runs through cmd.exe, verbatim", () => {
    const isExecutableFile = files("C:\\Program Files\\nodejs\\npx.cmd", "C:\\Program Files\\nodejs\\node.exe");
    const resolved = resolveCommand("npx", ["-y", "@scope/server", "--root", "C:\\My Files\\"], { windows: true, env: windowsEnv, isExecutableFile });
    assert.ok(resolved);
    assert.equal(resolved.file, "C:\\Windows\\system32\\cmd.exe");
    assert.deepEqual(resolved.args.slice(0, 3), ["/d", "/s", "/c"]);
    assert.equal(resolved.verbatim, true);
    assert.deepEqual(parseWindowsCommandLine(cmdRuns(resolved.args[3]!)), ["C:\\Program Files\\nodejs\\npx.cmd", "-y", "@scope/server", "--root", "C:\\My Files\\"]);
  });

  test("cmd.exe metacharacters and percent signs reach a batch file literally", () => {
    const isExecutableFile = files("C:\\tools\\run.bat");
    const tricky = ["a&b", "x|y", "<in>", "100%", "%PATH%", "^caret", "(paren)", "semi;colon", "comma,", "sp ace", "", "!bang!", "trailing\\"];
    const resolved = resolveCommand("run", tricky, { windows: true, env: windowsEnv, isExecutableFile });
    assert.ok(resolved);
    assert.deepEqual(parseWindowsCommandLine(cmdRuns(resolved.args[3]!)).slice(1), tricky);
  });

  test("an argument a batch file cannot receive intact is refused, not mangled", () => {
    const isExecutableFile = files("C:\\tools\\run.cmd");
    assert.throws(() => resolveCommand("run", ['say "hi" & del *'], { windows: true, env: windowsEnv, isExecutableFile }), /batch file.*double quote/);
    assert.throws(() => resolveCommand("run", ["line\nbreak"], { windows: true, env: windowsEnv, isExecutableFile }), TypeError);
  });

  test("an .exe is started directly; the runtime quotes its arguments", () => {
    const isExecutableFile = files("C:\\Program Files\\nodejs\\node.exe", "C:\\Program Files\\nodejs\\node.cmd");
    const resolved = resolveCommand("node", ["server.js"], { windows: true, env: windowsEnv, isExecutableFile });
    assert.deepEqual(resolved, { file: "C:\\Program Files\\nodejs\\node.exe", args: ["server.js"], verbatim: false }, "PATHEXT order: .EXE before .CMD");
  });

  test("PATHEXT is honoured in its order, PATH and PATHEXT in any case", () => {
    const isExecutableFile = files("C:\\tools\\tool.cmd", "C:\\tools\\tool.exe");
    assert.equal(findExecutable("tool", { windows: true, env: { PATH: "C:\\tools", pathext: ".CMD;.EXE" }, isExecutableFile }), "C:\\tools\\tool.cmd");
    assert.equal(findExecutable("tool", { windows: true, env: { path: "C:\\tools" }, isExecutableFile }), "C:\\tools\\tool.exe");
  });

  test("a name with its extension is taken as it is; paths are not looked up on PATH", () => {
    const isExecutableFile = files("C:\\tools\\tool.exe", "D:\\srv\\bin\\server.cmd", "D:\\srv\\tool.exe");
    assert.equal(findExecutable("tool.exe", { windows: true, env: windowsEnv, isExecutableFile }), "C:\\tools\\tool.exe");
    assert.equal(findExecutable("bin\\server", { windows: true, env: windowsEnv, cwd: "D:\\srv", isExecutableFile }), "D:\\srv\\bin\\server.cmd");
    assert.equal(findExecutable("D:\\srv\\tool", { windows: true, env: windowsEnv, isExecutableFile }), "D:\\srv\\tool.exe");
  });

  test("the current directory is not searched for a bare name", () => {
    const isExecutableFile = files("D:\\srv\\npx.cmd");
    assert.equal(resolveCommand("npx", [], { windows: true, env: windowsEnv, cwd: "D:\\srv", isExecutableFile }), undefined);
  });

  test("quoting for the C runtime round-trips backslashes and quotes", () => {
    for (const arg of ['a "quoted" word', "C:\\dir\\", 'back\\"slash', "\\\\server\\share", "", "tab\there"]) {
      assert.deepEqual(parseWindowsCommandLine(quoteWindowsArgument(arg)), [arg]);
    }
  });
});

describe("POSIX command resolution", () => {
  test("a bare name is looked up on the child's PATH; a relative path is taken from the child's directory", () => {
    const isExecutableFile = files("/usr/local/bin/uvx", "/srv/app/bin/server");
    const env = { PATH: "/usr/bin:/usr/local/bin" };
    assert.deepEqual(resolveCommand("uvx", ["x"], { windows: false, env, isExecutableFile }), { file: "uvx", args: ["x"], verbatim: false });
    assert.equal(findExecutable("bin/server", { windows: false, env, cwd: "/srv/app", isExecutableFile }), "/srv/app/bin/server");
    assert.equal(findExecutable("missing", { windows: false, env, isExecutableFile }), undefined);
  });
});
