/**
 * @module A configuration file that holds secrets written literally (not `${VAR}` references) and
 * that every user of the machine can read gets a warning naming the fix.
 */
import { Secret } from "../config/secret.ts";
import type { Config } from "../config/schema.ts";
import type { Platform } from "../runtime/types.ts";

/** Values shorter than this are not looked for in the file's text (as redactValues in log/sanitize.ts does not). */
const SHORTEST_SECRET = 8;

/** Every Secret in the config, and the values of the maps check-config redacts (child env, client headers). */
function secretValues(config: Config): string[] {
  const values: string[] = [];
  const walk = (node: unknown): void => {
    if (node instanceof Secret) values.push(node.reveal());
    else if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === "object") Object.values(node).forEach(walk);
  };
  walk(config);
  values.push(...Object.values(config.server?.mcp_server?.env ?? {}), ...Object.values(config.client?.headers ?? {}));
  // A short value ("1", "true") is found in any file's text, ${VAR} references included: that is no sign of a literal secret.
  return values.filter((value) => value.length >= SHORTEST_SECRET);
}

/** The warning for `path`, or undefined when the file is private or holds no literal secret. */
export async function exposureWarning(platform: Platform, path: string, text: string, config: Config): Promise<string | undefined> {
  const mode = await platform.fileMode(path);
  if (mode === undefined || (mode & 0o004) === 0) return undefined;
  const literal = secretValues(config).some((value) => text.includes(value));
  if (!literal) return undefined;
  return `${path} holds secrets and every user of this machine can read it (mode ${mode.toString(8).padStart(3, "0")}): run "chmod 600 ${path}", or move the secrets into environment variables (\${VAR})`;
}
