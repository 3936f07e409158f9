/**
 * @module Finding the program behind `mcp_server.command` the way the operating system's shell
 * would, without a shell. Pure (the file system comes in as a function), so the Windows rules are
 * unit-tested on any machine.
 *
 * Windows: a bare name is looked up on PATH with each PATHEXT extension (".COM;.EXE;.BAT;.CMD" when
 * unset), as cmd.exe does; the current directory is not searched (as with
 * NoDefaultCurrentDirectoryInExePath), so a planted file cannot stand in for a command. A batch
 * file (`npx.cmd`) cannot be started without cmd.exe, so it runs as `cmd.exe /d /s /c "…"` with
 * every argument quoted and every cmd.exe metacharacter (the quotes included, so that cmd never
 * enters a quoted region where carets are literal) escaped with `^`. The batch file then sees each
 * argument in plain double quotes; an argument holding a double quote or a line break cannot be
 * passed to a batch file safely (cmd would end the quoting there) and is refused.
 *
 * POSIX: a name with a slash is taken relative to the child's directory; a bare name is looked up
 * on the child's PATH. Either must be a file the bridge may execute.
 */

export interface ResolveOptions {
  windows: boolean;
  /** The child's environment (PATH and PATHEXT come from it, any case on Windows). */
  env: Readonly<Record<string, string | undefined>>;
  /** The child's working directory, when configured. */
  cwd?: string;
  /** True when `path` is a regular file this process may execute. */
  isExecutableFile(path: string): boolean;
}

/** What to hand to spawn: the file, its arguments, and whether they are already one quoted command line. */
export interface ResolvedCommand {
  file: string;
  args: string[];
  /** Windows: `args` is a command line for cmd.exe, to be passed verbatim (no further quoting). */
  verbatim: boolean;
}

const DEFAULT_PATHEXT = ".COM;.EXE;.BAT;.CMD";

/** An environment variable by name; Windows names are case-insensitive (PATH is often "Path"). */
function variable(env: ResolveOptions["env"], name: string, windows: boolean): string | undefined {
  if (!windows) return env[name];
  const key = Object.keys(env).find((candidate) => candidate.toUpperCase() === name);
  return key === undefined ? undefined : env[key];
}

function join(dir: string, name: string, windows: boolean): string {
  const separator = windows ? "\\" : "/";
  return dir.endsWith("/") || dir.endsWith("\\") ? dir + name : dir + separator + name;
}

/** An absolute path on that platform's terms: "/x" (POSIX); "C:\\x", "C:/x" or "\\\\server\\share" (Windows). */
export function isAbsolute(path: string, windows: boolean): boolean {
  return windows ? /^(?:[A-Za-z]:[\\/]|[\\/]{2})/.test(path) : path.startsWith("/");
}

/** The file `command` names, or undefined when it cannot be found or run. */
export function findExecutable(command: string, options: ResolveOptions): string | undefined {
  const { windows } = options;
  const hasSeparator = command.includes("/") || (windows && (command.includes("\\") || /^[A-Za-z]:/.test(command)));
  const extensions = windows ? (variable(options.env, "PATHEXT", true) ?? DEFAULT_PATHEXT).split(";").filter(Boolean).map((ext) => ext.toLowerCase()) : [""];
  const dot = command.lastIndexOf(".");
  const ownExtension = dot > Math.max(command.lastIndexOf("/"), command.lastIndexOf("\\")) ? command.slice(dot).toLowerCase() : "";
  // A name that already ends in a PATHEXT extension is taken as it is; otherwise each is tried in order.
  const candidates = (base: string) => (!windows ? [base] : extensions.includes(ownExtension) ? [base] : extensions.map((ext) => base + ext));
  const first = (base: string) => candidates(base).find((path) => options.isExecutableFile(path));

  if (hasSeparator) {
    const base = isAbsolute(command, windows) || !options.cwd ? command : join(options.cwd, command, windows);
    return first(base);
  }
  const path = variable(options.env, "PATH", windows) ?? "";
  for (const entry of path.split(windows ? ";" : ":")) {
    const dir = windows ? entry.trim().replace(/^"(.*)"$/, "$1") : entry;
    if (!dir) continue;
    const found = first(join(dir, command, windows));
    if (found) return found;
  }
  return undefined;
}

/**
 * Quotes one argument for the C runtime's command-line parser (CommandLineToArgvW rules):
 * backslashes are literal except before a quote, where they and the quote are escaped.
 */
export function quoteWindowsArgument(arg: string): string {
  let quoted = '"';
  let backslashes = 0;
  for (const char of arg) {
    if (char === "\\") {
      backslashes++;
      continue;
    }
    if (char === '"') quoted += "\\".repeat(backslashes * 2 + 1) + '"';
    else quoted += "\\".repeat(backslashes) + char;
    backslashes = 0;
  }
  return quoted + "\\".repeat(backslashes * 2) + '"';
}

/** cmd.exe's special characters, each made literal with a caret (percent signs too: no %VAR% expansion). */
function escapeForCmd(text: string): string {
  return text.replace(/[()[\]%!^"`<>&|;, *?]/g, "^$&");
}

/**
 * How to start `command` with `args`: undefined when it cannot be found. On POSIX the command is
 * returned unchanged for the runtime's own PATH lookup (which is the same search). Throws a
 * TypeError for arguments that a batch file cannot receive intact.
 */
export function resolveCommand(command: string, args: readonly string[], options: ResolveOptions): ResolvedCommand | undefined {
  const file = findExecutable(command, options);
  if (file === undefined) return undefined;
  if (!options.windows) return { file: command, args: [...args], verbatim: false };
  if (!/\.(?:bat|cmd)$/i.test(file)) return { file, args: [...args], verbatim: false };
  const unsafe = args.find((arg) => /["\r\n]/.test(arg));
  if (unsafe !== undefined) throw new TypeError(`"${file}" is a batch file, and an argument with a double quote or a line break cannot be passed to it safely`);
  const commandLine = [file, ...args].map((part) => escapeForCmd(quoteWindowsArgument(part))).join(" ");
  const shell = variable(options.env, "COMSPEC", true) ?? "cmd.exe";
  return { file: shell, args: ["/d", "/s", "/c", `"${commandLine}"`], verbatim: true };
}
