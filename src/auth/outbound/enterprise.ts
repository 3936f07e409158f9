/**
 * @module Where enterprise-managed authorization (SEP-990) gets the person's ID token: the
 * configuration, an environment variable, or a command that prints a fresh one.
 */
import type { OAuthConfig } from "../../config/schema.ts";
import type { Platform } from "../../runtime/types.ts";
import { OutboundAuthError } from "./errors.ts";

const MAX_ID_TOKEN_BYTES = 64 * 1024;
const COMMAND_TIMEOUT_MS = 60_000;

type EnterpriseConfig = NonNullable<OAuthConfig["enterprise"]>;

/** Runs `id_token_command` and returns its trimmed stdout; its stderr is passed through to ours. */
async function runIdTokenCommand(platform: Platform, command: string | string[]): Promise<string> {
  const argv = typeof command === "string" ? command.split(/\s+/).filter(Boolean) : command;
  const child = platform.spawn(argv[0]!, argv.slice(1), { env: Object.fromEntries(Object.entries(platform.env).filter((entry): entry is [string, string] => entry[1] !== undefined)) });
  let output = "";
  let tooLong = false;
  const decoder = new TextDecoder();
  child.onStdout((chunk) => {
    if (output.length > MAX_ID_TOKEN_BYTES) {
      tooLong = true;
      return;
    }
    output += decoder.decode(chunk, { stream: true });
  });
  child.onStderr((chunk) => platform.writeStderr(decoder.decode(chunk)));
  child.closeStdin();
  const timer = setTimeout(() => child.kill("SIGKILL"), COMMAND_TIMEOUT_MS);
  const exit = await child.exited.finally(() => clearTimeout(timer));
  if (exit.error) throw new OutboundAuthError("config", `client.auth.oauth.enterprise.id_token_command could not be run: ${exit.error.message}`);
  if (exit.code !== 0) throw new OutboundAuthError("grant", `client.auth.oauth.enterprise.id_token_command exited with ${exit.code ?? exit.signal}`);
  if (tooLong) throw new OutboundAuthError("grant", "client.auth.oauth.enterprise.id_token_command printed more than 64 KiB");
  const token = output.trim();
  if (!token) throw new OutboundAuthError("grant", "client.auth.oauth.enterprise.id_token_command printed nothing");
  return token;
}

/** The ID token, read anew each time a token is needed (ID tokens are short-lived). */
export async function readIdToken(enterprise: EnterpriseConfig, platform: Platform): Promise<string> {
  if (enterprise.id_token) return enterprise.id_token.reveal();
  if (enterprise.id_token_env) {
    const value = platform.env[enterprise.id_token_env];
    if (!value) throw new OutboundAuthError("config", `client.auth.oauth.enterprise.id_token_env: the environment variable ${enterprise.id_token_env} is not set or empty`);
    return value.trim();
  }
  if (enterprise.id_token_command) return runIdTokenCommand(platform, enterprise.id_token_command);
  throw new OutboundAuthError("config", "client.auth.oauth.enterprise needs id_token, id_token_env or id_token_command");
}
