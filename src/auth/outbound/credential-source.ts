/**
 * @module Where a credential presented as an assertion comes from — the ID token of
 * enterprise-managed authorization, the workload token of workload identity federation: the
 * configuration, an environment variable, a file (re-read each time: platforms rotate them), or a
 * command that prints a fresh one. Read anew whenever a token is needed: these are short-lived.
 */
import type { OAuthConfig } from "../../config/schema.ts";
import type { Secret } from "../../config/secret.ts";
import type { Platform } from "../../runtime/types.ts";
import { OutboundAuthError } from "./errors.ts";
import { variableNamed } from "../../log/sanitize.ts";
import { MAX_CONFIGURED_FILE_BYTES } from "../../util/bounded-read.ts";

const MAX_CREDENTIAL_BYTES = 64 * 1024;
const COMMAND_TIMEOUT_MS = 60_000;

/** The configured sources of one credential; exactly one is set (config rules check it). */
export interface CredentialSource {
  value?: Secret;
  env?: string;
  file?: string;
  command?: string | string[];
}

/** A configured command as argv: a list as given, a string split on whitespace (no shell, no quoting). */
export function commandArgv(command: string | string[]): string[] {
  return typeof command === "string" ? command.split(/\s+/).filter(Boolean) : command;
}

/**
 * The bridge's environment for a command it runs for the user (browser, token helper), without the
 * variables that hold a secret of `config` (a client secret put in by `${VAR}`, the variable
 * id_token_env or token_env names) or went into a `client.headers` value (`headerVariables`: the
 * names of the variables `X-Api-Key: ${KEY}` or `Authorization: Bearer ${KEY}` read; check-config
 * takes every header value for a credential): a browser hands its environment to every program it
 * starts, for as long as it runs, and neither it nor a token helper needs them. Variables are left
 * out by name, never because their value looks like a header's: `X-Env: production` must not cost
 * the browser NODE_ENV, nor `X-Workspace: /home/alice` its HOME.
 */
export function commandEnv(platform: Platform, config: OAuthConfig, headerVariables: readonly string[]): Record<string, string> {
  const secrets = new Set([config.client_secret, config.enterprise?.idp_client_secret, config.enterprise?.id_token, config.workload_identity?.token].flatMap((secret) => (secret ? [secret.reveal()] : [])));
  const named = new Set([config.enterprise?.id_token_env, config.workload_identity?.token_env, ...headerVariables]);
  return Object.fromEntries(Object.entries(platform.env).filter((entry): entry is [string, string] => entry[1] !== undefined && !secrets.has(entry[1]) && !named.has(entry[0])));
}

/** Runs `command` and returns its trimmed stdout; its stderr is passed through to ours. */
async function runCommand(platform: Platform, command: string | string[], key: string, env: Record<string, string>): Promise<string> {
  const argv = commandArgv(command);
  const child = platform.spawn(argv[0]!, argv.slice(1), { env });
  let output = "";
  let tooLong = false;
  const decoder = new TextDecoder();
  child.onStdout((chunk) => {
    if (output.length > MAX_CREDENTIAL_BYTES) {
      tooLong = true;
      return;
    }
    output += decoder.decode(chunk, { stream: true });
  });
  child.onStderr((chunk) => platform.writeStderr(decoder.decode(chunk)));
  child.closeStdin();
  const timer = setTimeout(() => child.kill("SIGKILL"), COMMAND_TIMEOUT_MS);
  const exit = await child.exited.finally(() => clearTimeout(timer));
  if (exit.error) throw new OutboundAuthError("config", `${key} could not be run: ${exit.error.message}`);
  if (exit.code !== 0) throw new OutboundAuthError("grant", `${key} exited with ${exit.code ?? exit.signal}`);
  if (tooLong) throw new OutboundAuthError("grant", `${key} printed more than 64 KiB`);
  const value = output.trim();
  if (!value) throw new OutboundAuthError("grant", `${key} printed nothing`);
  return value;
}

/**
 * The credential, read now.
 *
 * @param path the configuration path of the source's block (e.g. "client.auth.oauth.enterprise"),
 *   for messages; `names` are its keys for the value, variable, file and command; `env` the
 *   command's environment (commandEnv).
 * @throws OutboundAuthError "config" naming the key when the source cannot be read.
 */
export async function readCredential(source: CredentialSource, platform: Platform, path: string, names: { value: string; env: string; file?: string; command: string }, env: Record<string, string>): Promise<string> {
  if (source.value) return source.value.reveal();
  if (source.env) {
    const value = platform.env[source.env]?.trim();
    if (!value) throw new OutboundAuthError("config", `${path}.${names.env}: the ${variableNamed(source.env)} is not set or empty`);
    return value;
  }
  if (source.file) {
    let text: string;
    try {
      text = await platform.readTextFile(source.file, MAX_CONFIGURED_FILE_BYTES);
    } catch (error) {
      throw new OutboundAuthError("config", `${path}.${names.file}: cannot read ${source.file} (${(error as { code?: string }).code ?? "error"})`, { cause: error });
    }
    const value = text.trim();
    if (!value || value.length > MAX_CREDENTIAL_BYTES) throw new OutboundAuthError("config", `${path}.${names.file}: ${source.file} is empty or larger than 64 KiB`);
    return value;
  }
  if (source.command) return runCommand(platform, source.command, `${path}.${names.command}`, env);
  throw new OutboundAuthError("config", `${path} needs one of ${[names.value, names.env, names.file, names.command].filter(Boolean).join(", ")}`);
}
