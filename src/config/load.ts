/**
 * @module From YAML text to a validated Config: YAML parsing, environment substitution on parsed
 * string values, the `auth:`/`logging:` aliases, the zod schema, then rules across keys.
 * Runtime-agnostic: the caller reads files and passes the environment in.
 */
import { parseDocument, type YAMLError } from "yaml";
import type { z } from "zod";
import { ConfigSchema, type ClientConfig, type Config } from "./schema.ts";
import { ConfigError, formatPath, type ConfigIssue } from "./errors.ts";
import { checkRules } from "./rules.ts";
import type { UnenforcedSetting } from "../runtime/types.ts";
import { closestKey } from "./suggest.ts";
import { isObject } from "../util/object.ts";
import { looksLikeVariableName } from "../log/sanitize.ts";

/** Keys whose values are taken literally: bcrypt hashes contain "$". */
const LITERAL_KEYS = new Set(["password_hash"]);

type Env = Readonly<Record<string, string | undefined>>;

// The last alternative catches a "${" that is not a valid reference, which would otherwise stay in the value literally.
const VARIABLE = /\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*)|\{)/g;

/**
 * Expands `${VAR}`, `$VAR` and `${VAR:-default}`; `$$` is a literal `$`. An unset variable
 * without a default is an error, never the literal text (that would make `${TOKEN}` a valid token).
 * The name of every variable referenced is added to `used`, when given.
 */
export function substituteVariables(value: string, env: Env, path: string, issues: ConfigIssue[], used?: Set<string>): string {
  return value.replace(VARIABLE, (whole, braced: string | undefined, fallback: string | undefined, bare: string | undefined) => {
    if (whole === "$$") return "$";
    if (whole === "${") {
      issues.push({ path, message: "has a ${ that is not a variable reference: write ${NAME}, ${NAME:-default}, or $$ for a literal $" });
      return "";
    }
    const name = (braced ?? bare)!;
    used?.add(name);
    const found = env[name];
    if (found !== undefined && (found !== "" || fallback === undefined)) return found;
    if (fallback !== undefined) return fallback;
    if (bare !== undefined && (whole !== value || !looksLikeVariableName(bare))) {
      // "s3cr$tPart" in a token, or a whole "$k8Fh2…": the text after "$" may be (part of) a secret, so it is not repeated here.
      issues.push({ path, message: "has a \"$\" followed by a name that is no environment variable (not shown: it may be part of a secret): write $$ for a literal $, or ${NAME} for a variable" });
      return "";
    }
    issues.push({ path, message: `environment variable ${name} is not set (set it, give a default with \${${name}:-value}, or write $$ for a literal $)` });
    return "";
  });
}

/** Substitutes every string of `node`; the variables put into a client.headers value are added to `headerVariables`. */
function substituteTree(node: unknown, env: Env, path: (string | number)[], issues: ConfigIssue[], headerVariables: Set<string>): unknown {
  if (typeof node === "string") {
    const key = path[path.length - 1];
    const inHeader = path.length === 3 && path[0] === "client" && path[1] === "headers";
    return typeof key === "string" && LITERAL_KEYS.has(key) ? node : substituteVariables(node, env, formatPath(path), issues, inHeader ? headerVariables : undefined);
  }
  if (Array.isArray(node)) return node.map((item, index) => substituteTree(item, env, [...path, index], issues, headerVariables));
  if (node && typeof node === "object") {
    // fromEntries defines "__proto__" as an own key, which the strict schema then reports, instead of setting the prototype.
    return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, substituteTree(value, env, [...path, key], issues, headerVariables)]));
  }
  return node;
}

/** The seed shows `auth:` and `logging:` at the top level; move them where the schema has them. */
function applyAliases(raw: Record<string, unknown>, issues: ConfigIssue[]): void {
  if ("logging" in raw) {
    if ("log" in raw) issues.push({ path: "logging", message: 'both "log" and "logging" are set; keep one' });
    else raw.log = raw.logging;
    delete raw.logging;
  }
  if ("auth" in raw) {
    const mode = raw.mode;
    if (mode !== "server" && mode !== "client") {
      // The schema reports the missing or wrong mode; an "unknown key auth" on top would mislead.
      delete raw.auth;
      return;
    }
    const section = (raw[mode] ??= {});
    if (isObject(section) && "auth" in section) {
      issues.push({ path: "auth", message: `both "auth" and "${mode}.auth" are set; keep one (the top-level block applies to the active mode)` });
    } else if (isObject(section)) {
      section.auth = raw.auth;
    }
    delete raw.auth;
  }
}

function describeType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  if (typeof value === "number" && !Number.isFinite(value)) return String(value);
  return typeof value === "string" ? "a string" : `a ${typeof value}`;
}

/** What zod expected, in the reference's words. */
const EXPECTED: Record<string, string> = { array: "a list", object: "a mapping", record: "a mapping", int: "a whole number", number: "a number", string: "a string", boolean: "true or false" };

/** A bound zod checked (too_small, too_big) in words: `at least 1`, `greater than 0`, `at most 3 items`. */
function bound(issue: { origin?: string; inclusive?: boolean }, value: number | bigint, least: boolean): string {
  const limit = `${issue.inclusive === false ? (least ? "greater than" : "less than") : least ? "at least" : "at most"} ${value}`;
  const plural = Number(value) === 1 ? "" : "s";
  if (issue.origin === "array" || issue.origin === "set") return `must have ${limit} item${plural}`;
  if (issue.origin === "string") return `must be ${limit} character${plural} long`;
  return `must be ${limit}`;
}

/**
 * zod's issues in the reference's words. The input is looked at, never quoted: it may hold a
 * secret; a misspelt choice gets the valid one it is nearest to.
 */
function zodIssues(error: z.ZodError): ConfigIssue[] {
  return error.issues.map((issue) => {
    const missing = "input" in issue && issue.input === undefined;
    let message = issue.message;
    if (issue.code === "invalid_value") {
      const values = issue.values.map(String);
      const choices = `one of: ${values.join(", ")}`;
      const near = typeof issue.input === "string" ? closestKey(issue.input, values) : undefined;
      message = missing ? `is required (${choices})` : `must be ${choices}${near ? ` (did you mean "${near}"?)` : ""}`;
    } else if (issue.code === "invalid_key") {
      // A map's key (a header name): the key's own check says what is wrong with it.
      message = issue.issues[0]?.message ?? message;
    } else if (issue.code === "invalid_type") {
      const fraction = issue.expected === "int" && typeof issue.input === "number" && Number.isFinite(issue.input);
      message = missing ? "is required" : fraction ? "must be a whole number" : `must be ${EXPECTED[issue.expected] ?? `a ${issue.expected}`}, not ${describeType(issue.input)}`;
    } else if (issue.code === "too_small" && message.startsWith("Too small")) {
      // zod's own wording only: a field's message ("must not be empty") says it better.
      message = bound(issue, issue.minimum, true);
    } else if (issue.code === "too_big" && message.startsWith("Too big")) {
      message = bound(issue, issue.maximum, false);
    }
    return { path: formatPath(issue.path), message };
  });
}

/**
 * Warnings the YAML parser gives for what the file asks and the bridge does not do: a tag it does
 * not know (`!secret name`, `!env VAR` would otherwise be read as the plain text "name", "VAR")
 * or a directive it does not know.
 */
const REFUSED_WARNINGS = new Set(["TAG_RESOLVE_FAILED", "BAD_COLLECTION_TYPE", "BAD_DIRECTIVE"]);

/**
 * A YAML parser message without the file's text: some quote it ("Unexpected scalar token in YAML
 * stream: \"<value>\"", "Unresolved tag: !x", "Invalid escape sequence \\x4"), and a value may be a
 * secret. What is left says what is wrong; the line and column say where.
 */
function yamlMessage(error: YAMLError, text: string): string {
  // A repeated key is named (keys are names, never values): which one is what the reader looks for.
  const repeated = error.code === "DUPLICATE_KEY" ? /^(?:"((?:[^"\\\n]|\\.){1,64})"|'([^'\n]{1,64})'|([^\s:#'"][^:\n]{0,63}?))\s*:/.exec(text.slice(error.pos[0])) : null;
  const what = repeated ? `the key ${JSON.stringify(repeated[1] ?? repeated[2] ?? repeated[3])} is written twice in one mapping` : error.message
    .split("\n")[0]!
    .replace(/ at line \d+, column \d+:?$/, "")
    .replace(/: .*$/, "")
    .replace(/ ?"(?:[^"\\]|\\.)*"/g, "")
    .replace(/^(Invalid escape sequence|Unknown directive) .*$/, "$1")
    .replace(/^The .* tag has no suffix$/, "A tag has no suffix")
    .replace(/^Maximum call stack size exceeded$/, "Lists or mappings nested too deeply")
    .replace(/^Verbatim tags aren't resolved, so .* is invalid\.?$/, "Verbatim tags are not supported")
    .trim();
  const position = error.linePos?.[0];
  const hint = error.code === "TAG_RESOLVE_FAILED" || error.code === "BAD_COLLECTION_TYPE" ? ' (YAML tags such as !secret or !env are not supported: write the value, or "${VAR}" to read it from the environment)' : "";
  return `${what}${position ? ` at line ${position.line}, column ${position.col}` : ""}${hint}`;
}

/**
 * Parses and validates a configuration file's text. `unenforced`: settings the runtime cannot
 * apply (Platform.unenforced), refused where the file writes them. Throws ConfigError listing
 * every problem found.
 */
export function parseConfig(text: string, env: Env, source?: string, unenforced: readonly UnenforcedSetting[] = []): Config {
  // merge: "<<" keys, which the Go original's YAML decoder also understands.
  const document = parseDocument(text, { uniqueKeys: true, prettyErrors: true, merge: true });
  const problems = [...document.errors, ...document.warnings.filter((warning) => REFUSED_WARNINGS.has(warning.code))];
  if (problems.length > 0) throw new ConfigError("CONFIG_SYNTAX", problems.map((error) => ({ path: "", message: yamlMessage(error, text) })), source);
  let tree: unknown;
  try {
    // Aliases are resolved here: one without its anchor, a merge of a non-mapping and an alias bomb
    // (beyond yaml's default maxAliasCount) throw, with the anchor's name in the message.
    tree = document.toJS();
  } catch (error) {
    const reason = (error as Error).message;
    const message = /^Unresolved alias/.test(reason)
      ? "an alias (*name) names no anchor (&name) set before it"
      : /alias count/.test(reason)
        ? "aliases (*name) expand to too much data: use fewer aliases, or aliases of smaller blocks"
        : /^Merge sources/.test(reason)
          ? 'a merge key ("<<") must name a mapping or a list of mappings'
          : "the file cannot be read as YAML data";
    throw new ConfigError("CONFIG_SYNTAX", [{ path: "", message }], source);
  }
  const issues: ConfigIssue[] = [];
  // Substitution first, so that its errors name the keys as written in the file (a top-level auth: included).
  const headerVariables = new Set<string>();
  const raw = substituteTree(tree ?? {}, env, [], issues, headerVariables);
  if (!isObject(raw)) throw new ConfigError("CONFIG_INVALID", [{ path: "", message: "the file must be a YAML mapping of keys" }], source);
  applyAliases(raw, issues);
  if (issues.length > 0) throw new ConfigError("CONFIG_INVALID", issues, source);
  return validateConfig(raw, source, headerVariables, unenforced);
}

/**
 * Validates a configuration built in code (`connect`'s flags) as if it had been read from a file.
 * `headerVariables`: the environment variables substituted into client.headers values, kept as the
 * client section's headerVariables.
 */
export function validateConfig(raw: Record<string, unknown>, source?: string, headerVariables: ReadonlySet<string> = new Set(), unenforced: readonly UnenforcedSetting[] = []): Config {
  const result = ConfigSchema.safeParse(raw, { reportInput: true });
  if (!result.success) throw new ConfigError("CONFIG_INVALID", zodIssues(result.error), source);
  const ruleIssues = [...checkRules(result.data, raw), ...unenforced.filter(({ path }) => isWritten(raw, path))];
  if (ruleIssues.length > 0) throw new ConfigError("CONFIG_INVALID", ruleIssues, source);
  const client: ClientConfig | undefined = result.data.client;
  if (client) client.headerVariables = [...headerVariables];
  return result.data;
}

/** Whether the dotted `path` is a key the file wrote (defaults do not count). */
function isWritten(raw: Record<string, unknown>, path: string): boolean {
  let node: unknown = raw;
  for (const key of path.split(".")) {
    if (!isObject(node) || !Object.hasOwn(node, key)) return false;
    node = node[key];
  }
  return true;
}

/**
 * Where a config is looked for without -c, in order. MCP_BRIDGE_CONFIG, when set, is the only
 * place: a variable naming a missing file is an error, not a reason to read some other file.
 */
export function configCandidates(env: Env, executableDir: string): string[] {
  if (env.MCP_BRIDGE_CONFIG) return [env.MCP_BRIDGE_CONFIG];
  return ["config.yaml", "/etc/mcp-bridge/config.yaml", "/etc/pgedge/config.yaml", `${executableDir}/config.yaml`];
}

/** The error when none of `candidates` exists; `env` tells a MCP_BRIDGE_CONFIG naming a missing file apart. */
export function notFoundError(candidates: string[], env: Env = {}): ConfigError {
  if (env.MCP_BRIDGE_CONFIG) {
    return new ConfigError("CONFIG_NOT_FOUND", [
      { path: "", message: `MCP_BRIDGE_CONFIG names ${env.MCP_BRIDGE_CONFIG}, which does not exist` },
      { path: "", message: "correct or unset the variable (then ./config.yaml and the other usual places are tried), or pass -c FILE" },
    ]);
  }
  return new ConfigError("CONFIG_NOT_FOUND", [
    { path: "", message: `looked in: ${candidates.join(", ")}` },
    { path: "", message: "pass one with -c FILE or set MCP_BRIDGE_CONFIG" },
    // A newcomer's first bare `mcp-bridge` lands here: the ways on without a file.
    { path: "", message: "without a file: mcp-bridge connect URL (client mode); mcp-bridge --help lists the commands" },
  ]);
}
