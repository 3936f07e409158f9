/** @module The shape every subcommand module exports. */
import type { Platform } from "../runtime/types.ts";
import type { OptionSpecs, ParsedArgs } from "./args.ts";

export interface Command {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** Usage line after "mcp-bridge ". */
  usage: string;
  options: OptionSpecs;
  /** Words the command takes after its options (a URL, a shell name); any more are a usage error. Default 0. */
  positionals?: number;
  /** Example invocations shown in --help. */
  examples: string[];
  /** Longer help text, shown after the options. */
  details?: string;
  /** Returns the exit code: 0 ok, 1 runtime failure, 2 usage or config error. */
  run(args: ParsedArgs, platform: Platform): Promise<number>;
}

export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
