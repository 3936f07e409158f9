/** @module The bench scripts' command line: `--name value` options and bare `--name` flags. */

const argv = process.argv.slice(2);

/** The value after `name` (e.g. "--reps") on the command line, or undefined when `name` is absent. */
export function option(name: string): string | undefined {
  const at = argv.indexOf(name);
  return at === -1 ? undefined : argv[at + 1];
}

/** Whether the bare flag `name` (e.g. "--pin") is on the command line. */
export function flag(name: string): boolean {
  return argv.includes(name);
}
