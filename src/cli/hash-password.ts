/** @module `mcp-bridge hash-password`: a bcrypt hash for `builtin.users[].password_hash`. */
import { UsageError } from "./args.ts";
import { EXIT_FAILURE, EXIT_USAGE, type Command } from "./command.ts";
import { InputTooLargeError } from "../util/bounded-read.ts";

export const DEFAULT_COST = 10;
/** The range `htpasswd -C` accepts: below 4 bcrypt is undefined, above 17 a login takes seconds. */
const MIN_COST = 4;
const MAX_COST = 17;
/** Longest first line of stdin read: far beyond bcrypt's 72 bytes, so a long password gets the precise refusal. */
const MAX_LINE_BYTES = 4096;

function parseCost(text: string | undefined): number {
  if (text === undefined) return DEFAULT_COST;
  const cost = /^\d{1,2}$/.test(text) ? Number(text) : NaN;
  if (!(cost >= MIN_COST && cost <= MAX_COST)) throw new UsageError(`--cost must be an integer from ${MIN_COST} to ${MAX_COST} (got "${text}")`);
  return cost;
}

export const hashPasswordCommand: Command = {
  name: "hash-password",
  summary: "Hash a password with bcrypt for oauth_server.builtin.users[].password_hash",
  usage: "hash-password [--cost N]",
  options: {
    cost: { type: "string", value: "N", description: `bcrypt cost factor, ${MIN_COST} to ${MAX_COST} (default ${DEFAULT_COST}); each step doubles the work` },
  },
  examples: [
    "mcp-bridge hash-password",
    "mcp-bridge hash-password --cost 12",
    "printf '%s\\n' \"$ADMIN_PASSWORD\" | mcp-bridge hash-password",
  ],
  details: [
    "On a terminal it asks twice without echoing; otherwise it reads the first line of stdin.",
    "Prints a $2b$ hash, which htpasswd, Python's bcrypt, PHP and Go verify as well; hashes they",
    "make ($2a$, $2b$, $2y$) are accepted in the configuration too. bcrypt reads only the first",
    "72 bytes of a password, so longer ones are refused rather than silently cut.",
  ].join("\n"),
  async run(args, platform) {
    const cost = parseCost(args.values.cost as string | undefined);
    let password: string;
    if (platform.stdinIsTerminal) {
      password = await platform.promptHidden("Password: ");
      if (password !== "" && (await platform.promptHidden("Repeat password: ")) !== password) {
        platform.writeStderr("mcp-bridge hash-password: the passwords do not match\n");
        return EXIT_FAILURE;
      }
    } else {
      try {
        password = (await platform.readStdinLine(MAX_LINE_BYTES)).replace(/\r$/, "");
      } catch (error) {
        // `yes | mcp-bridge hash-password` or a binary file: refused, never read to the end.
        const what = error instanceof InputTooLargeError ? `has no line end within ${MAX_LINE_BYTES} bytes` : "is not UTF-8 text";
        platform.writeStderr(`mcp-bridge hash-password: stdin ${what}: give the password as its first line\n`);
        return EXIT_USAGE;
      }
    }
    if (password === "") {
      platform.writeStderr("mcp-bridge hash-password: the password is empty\n");
      return EXIT_USAGE;
    }
    // Loaded here so that other commands do not pay for bcryptjs.
    const { hash, truncates } = await import("bcryptjs");
    if (truncates(password)) {
      platform.writeStderr("mcp-bridge hash-password: the password is longer than bcrypt's 72-byte limit\n");
      return EXIT_USAGE;
    }
    platform.writeStdout((await hash(password, cost)) + "\n");
    return 0;
  },
};
