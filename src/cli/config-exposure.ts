/**
 * @module A configuration file that holds secrets written literally (not `${VAR}` references) and
 * that every user of the machine can read gets a warning naming the fix.
 */
import { HASHED } from "../auth/bearer.ts";
import { Secret } from "../config/secret.ts";
import { SHORTEST_REDACTED_VALUE } from "../log/sanitize.ts";
import type { Config } from "../config/schema.ts";
import type { Platform } from "../runtime/types.ts";
import { parseDocument } from "yaml";

/**
 * Every Secret in the config with the key holding it, and the values of the maps check-config redacts (child env, client
 * headers). A `valid_tokens` digest ("sha256:…") is no secret: it is the form the docs and
 * gen-token recommend writing into the file.
 */
function secretValues(config: Config): Array<{ value: string; key: string }> {
  const values: Array<{ value: string; key: string }> = [];
  const walk = (node: unknown, key: string): void => {
    if (node instanceof Secret && !HASHED.test(node.reveal())) values.push({ value: node.reveal(), key });
    else if (Array.isArray(node)) node.forEach((item) => walk(item, key));
    else if (node && typeof node === "object") Object.entries(node).forEach(([name, child]) => walk(child, name));
  };
  walk(config, "");
  values.push(...[...Object.values(config.server?.mcp_server?.env ?? {}), ...Object.values(config.client?.headers ?? {})].map((value) => ({ value, key: "" })));
  // A short value ("1", "true") is also some other scalar of many files (a count, a switch): no sign of a literal secret.
  return values.filter(({ value }) => value.length >= SHORTEST_REDACTED_VALUE);
}

/**
 * Every scalar of the file as written, before ${VAR} substitution (with `$$` also read as `$`): a
 * secret is literal when it is one of them. (A substring test of the text would take a short value
 * from the environment, such as "x", for a literal.)
 */
export function writtenScalars(text: string): Set<string> {
  const scalars = new Set<string>();
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === "object") Object.values(node).forEach(walk);
    else if (node !== null && node !== undefined) scalars.add(String(node)).add(String(node).replaceAll("$$", "$"));
  };
  walk(parseDocument(text, { merge: true }).toJS());
  return scalars;
}

/** The warning for `path`, or undefined when the file is private or holds no literal secret. */
export async function exposureWarning(platform: Platform, path: string, text: string, config: Config): Promise<string | undefined> {
  const mode = await platform.fileMode(path);
  if (mode === undefined || (mode & 0o004) === 0) return undefined;
  const written = writtenScalars(text);
  const literal = secretValues(config).filter(({ value }) => written.has(value));
  if (literal.length === 0) return undefined;
  // password_hash is read literally (bcrypt hashes hold "$"): its way out of the file is password_env.
  const hash = literal.some(({ key }) => key === "password_hash") ? "; a password_hash cannot be a ${VAR}: give the password in password_env instead" : "";
  return `${path} holds secrets and every user of this machine can read it (mode ${mode.toString(8).padStart(3, "0")}): run "chmod 600 ${path}", or move the secrets into environment variables (\${VAR})${hash}`;
}
