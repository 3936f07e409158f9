/** @module `mcp-bridge gen-token`: a random bearer token and the `sha256:` digest to configure in its place. */
import { sha256, toBase64Url, toHex } from "../util/digest.ts";
import type { Command } from "./command.ts";

/** 32 random bytes: 256 bits, beyond any guessing; base64url so it fits a header unescaped. */
const TOKEN_BYTES = 32;

export const genTokenCommand: Command = {
  name: "gen-token",
  summary: "Generate a random bearer token and its sha256: form for server.auth.bearer.valid_tokens",
  usage: "gen-token [--json]",
  options: {
    json: { type: "boolean", description: 'Print {"token": …, "valid_token": "sha256:…"} instead of two lines' },
  },
  examples: [
    "mcp-bridge gen-token",
    "mcp-bridge gen-token --json",
    '{ read -r TOKEN; read -r DIGEST; } < <(mcp-bridge gen-token 2>/dev/null)',
  ],
  details: [
    "Prints the token (give it to clients: Authorization: Bearer TOKEN) and, on the next line, its",
    "sha256: digest (put that in valid_tokens, so the config file never holds the token itself).",
    "The labels go to stderr; stdout carries only the two values.",
  ].join("\n"),
  async run(args, platform) {
    const token = toBase64Url(crypto.getRandomValues(new Uint8Array(TOKEN_BYTES)));
    const digest = `sha256:${toHex(await sha256(token))}`;
    if (args.values.json) {
      platform.writeStdout(JSON.stringify({ token, valid_token: digest }) + "\n");
      return 0;
    }
    platform.writeStderr("# Bearer token for clients (shown only once):\n");
    platform.writeStdout(token + "\n");
    platform.writeStderr("# For server.auth.bearer.valid_tokens:\n");
    platform.writeStdout(digest + "\n");
    return 0;
  },
};
