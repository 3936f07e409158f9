/** @module A small, strict argv parser: unknown flags are usage errors with a suggestion, never ignored. */
import { closestKey } from "../config/suggest.ts";

export interface OptionSpec {
  type: "string" | "boolean";
  alias?: string;
  description: string;
  /** Shown in help as the value's placeholder. */
  value?: string;
  /** A string option that may be given several times; its value is then a list. */
  multiple?: boolean;
  /**
   * Why this option may be given only once (said in the usage error). Others take their last value,
   * so a wrapper's default can be overridden by appending the option again.
   */
  once?: string;
}

export type OptionSpecs = Record<string, OptionSpec>;

export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

/** Wrong command-line usage: exit code 2 with the message and a pointer to --help. */
export class UsageError extends Error {
  readonly code = "USAGE";
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * Parses argv against `specs`; an unknown option is a UsageError naming the nearest known one, or
 * else the `others` (other commands: name and options) that take it.
 */
export function parseArgs(argv: readonly string[], specs: OptionSpecs, others: ReadonlyArray<{ name: string; options: OptionSpecs }> = []): ParsedArgs {
  const values: ParsedArgs["values"] = {};
  const positionals: string[] = [];
  const byAlias = new Map(Object.entries(specs).flatMap(([name, spec]) => (spec.alias ? [[spec.alias, name] as const] : [])));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      positionals.push(arg);
      continue;
    }
    const long = arg.startsWith("--");
    const [rawName, inline] = long ? splitOnce(arg.slice(2), "=") : [arg.slice(1), undefined];
    const name = long ? rawName : byAlias.get(rawName);
    // Own keys only: "--toString" must not find a member every object inherits.
    const spec = name === undefined || !Object.hasOwn(specs, name) ? undefined : specs[name];
    if (!spec || name === undefined) {
      const near = closestKey(rawName, Object.keys(specs));
      // "run --token-env", "connect -c": the option belongs to another command; which one is said.
      const owners = others.filter(({ options }) => (long ? Object.hasOwn(options, rawName) : Object.values(options).some((option) => option.alias === rawName))).map(({ name }) => `mcp-bridge ${name}`);
      const hint = near ? ` (did you mean --${near}?)` : owners.length > 0 ? ` (an option of ${owners.join(", ")}, not of this command)` : "";
      // The name only: "--headr=Authorization: Bearer …" would print the value, a secret.
      throw new UsageError(`unknown option ${long ? `--${rawName}` : arg}${hint}`);
    }
    if (spec.type === "boolean") {
      if (inline !== undefined) throw new UsageError(`--${name} takes no value`);
      values[name] = true;
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new UsageError(`--${name} needs a value${spec.value ? ` (${spec.value})` : ""}`);
    if (spec.multiple) values[name] = [...((values[name] as string[] | undefined) ?? []), value];
    else if (spec.once && values[name] !== undefined) throw new UsageError(`--${name} is given twice: ${spec.once}; give it once`);
    else values[name] = value;
  }
  return { values, positionals };
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}

export function formatOptions(specs: OptionSpecs): string {
  const rows = Object.entries(specs).map(([name, spec]) => {
    const flag = `${spec.alias ? `-${spec.alias}, ` : "    "}--${name}${spec.type === "string" ? ` ${spec.value ?? "VALUE"}` : ""}`;
    return [flag, spec.description] as const;
  });
  const width = Math.max(...rows.map(([flag]) => flag.length));
  return rows.map(([flag, description]) => `  ${flag.padEnd(width)}  ${description}`).join("\n");
}
