/** @module Walks ConfigSchema: every key's path, type, default and description, and a Config written back in file form. */
import * as z from "../util/zod.ts";
import { ConfigSchema, type Config, type ValueKind } from "./schema.ts";
import { REDACTED } from "./secret.ts";
import { formatDuration, formatSize } from "./units.ts";
import { redactUrl, redactUrlCredentials } from "../log/sanitize.ts";

export interface KeyInfo {
  /** Dotted path; "[]" stands for every item of a list: "server.oauth_server.builtin.users[].username". */
  path: string;
  /** As a reader of the reference would write it: "duration", "list of string", `"text" | "json"`, "section". */
  type: string;
  kind?: ValueKind;
  /** The default as a config file would write it ("30s", "16MiB"); undefined when there is none. */
  default?: unknown;
  /** Must be written whenever the enclosing section is (no default, not optional). */
  required: boolean;
  description?: string;
  /** An object of further keys; its keys follow it in the list. */
  section: boolean;
  /** The values of this map are redacted in check-config output. */
  sensitive: boolean;
  /** Set when this section has the same schema as one listed earlier (`server.auth` and `client.auth`); its keys are listed there only. */
  sameAs?: string;
}

type Schema = z.core.$ZodType;

const KIND_TYPES: Record<ValueKind, string> = {
  duration: "duration",
  size: "size",
  secret: "secret",
  url: "URL",
  listen: "host:port",
};

/** A key's schema with optional/default/prefault peeled off, and what those wrappers and the metadata said. */
interface Peeled {
  base: Schema;
  optional: boolean;
  default?: unknown;
  description?: string;
  kind?: ValueKind;
  sensitive: boolean;
  expandedSecret: boolean;
}

function peel(schema: Schema): Peeled {
  const peeled: Peeled = { base: schema, optional: false, sensitive: false, expandedSecret: false };
  let defaultFrom: { schema: Schema; value: unknown; fileForm: boolean } | undefined;
  for (;;) {
    // The outermost description wins: a key's own .describe() sits outside the helper's metadata.
    const meta = z.globalRegistry.get(peeled.base);
    peeled.description ??= meta?.description;
    peeled.kind ??= meta?.kind;
    peeled.sensitive ||= meta?.sensitive === true;
    peeled.expandedSecret ||= meta?.expandedSecret === true;
    const def = (peeled.base as z.core.$ZodTypes)._zod.def;
    if (def.type === "optional") {
      peeled.optional = true;
      peeled.base = def.innerType;
    } else if (def.type === "default" || def.type === "prefault") {
      // prefault holds the input form ("30s"), default the parsed form (30000).
      defaultFrom ??= { schema: def.innerType, value: def.defaultValue, fileForm: def.type === "prefault" };
      peeled.base = def.innerType;
    } else {
      break;
    }
  }
  if (defaultFrom) {
    const { schema: inner, value, fileForm } = defaultFrom;
    // A prefault duration or size is text ("60s") that check-config prints parsed and written back
    // ("1m"): the reference shows it the same way, so the two never disagree.
    const printedAs = peeled.kind === "duration" || peeled.kind === "size";
    peeled.default = fileForm && !printedAs ? value : toFileForm(inner, fileForm ? z.parse(inner, value) : value);
  }
  return peeled;
}

function typeName(peeled: Peeled): string {
  if (peeled.kind) return KIND_TYPES[peeled.kind];
  const def = (peeled.base as z.core.$ZodTypes)._zod.def;
  switch (def.type) {
    case "object":
      return "section";
    case "array": {
      const item = peel(def.element);
      return item.kind || (item.base as z.core.$ZodTypes)._zod.def.type !== "object" ? `list of ${typeName(item)}` : "list of sections";
    }
    case "record":
      return `map of ${typeName(peel(def.valueType))}`;
    case "enum":
      return Object.values(def.entries)
        .map((value) => JSON.stringify(value))
        .join(" | ");
    case "number":
      return (peeled.base as z.ZodNumber).isInt ? "integer" : "number";
    case "pipe":
      return typeName(peel(def.in));
    case "union": {
      const names = def.options.map((option) => typeName(peel(option)));
      return names.length > 1 ? `${names.slice(0, -1).join(", ")} or ${names.at(-1)}` : names.join("");
    }
    default:
      return def.type;
  }
}

function walk(schema: Schema, path: string, out: KeyInfo[], seen: Map<Schema, string>): void {
  const peeled = peel(schema);
  const def = (peeled.base as z.core.$ZodTypes)._zod.def;
  const info: KeyInfo = {
    path,
    type: typeName(peeled),
    required: !peeled.optional && peeled.default === undefined,
    section: def.type === "object",
    sensitive: peeled.sensitive,
  };
  if (peeled.kind) info.kind = peeled.kind;
  if (peeled.description !== undefined) info.description = peeled.description;
  // A section's default ({}) only says "its keys' defaults apply"; those are listed per key.
  if (peeled.default !== undefined && !info.section) info.default = peeled.default;
  if (path) out.push(info);
  if (def.type === "object") {
    const earlier = seen.get(peeled.base);
    if (earlier !== undefined) {
      info.sameAs = earlier;
      return;
    }
    seen.set(peeled.base, path);
    for (const [key, child] of Object.entries(def.shape)) walk(child, path ? `${path}.${key}` : key, out, seen);
  } else if (def.type === "array" && !peeled.kind) {
    const item = peel(def.element);
    if ((item.base as z.core.$ZodTypes)._zod.def.type === "object") {
      for (const [key, child] of Object.entries((item.base as z.core.$ZodObject)._zod.def.shape)) walk(child, `${path}[].${key}`, out, seen);
    }
  }
}

/** Every key of the configuration, sections before their keys, in schema order. */
export function describeConfig(): KeyInfo[] {
  const out: KeyInfo[] = [];
  walk(ConfigSchema, "", out, new Map());
  return out;
}

/**
 * A parsed value written back the way a config file writes it: durations as "30s", sizes as
 * "16MiB", listen addresses as given, URLs through redactUrl, secrets and sensitive maps as
 * "[redacted]", and so are the values (or list items) of an expandedSecret key that are none of the
 * `written` scalars (a ${VAR} filled them in).
 * Plain data, ready for YAML or JSON.
 */
function toFileForm(schema: Schema, value: unknown, written?: ReadonlySet<string>): unknown {
  if (value === undefined) return undefined;
  const peeled = peel(schema);
  switch (peeled.kind) {
    case "duration":
      return formatDuration(value as number);
    case "size":
      return formatSize(value as number);
    case "secret":
      return REDACTED;
    case "listen":
      return (value as { text: string }).text;
    case "url":
      // As logs show URLs: a key in the path or the query ("https://host/mcp/sk-ak-…/sse") too.
      return redactUrl(value as string);
  }
  const def = (peeled.base as z.core.$ZodTypes)._zod.def;
  if (def.type === "object") {
    const record = value as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(def.shape)) {
      const form = toFileForm(child, record[key], written);
      if (form !== undefined) out[key] = form;
    }
    return out;
  }
  const expanded = (item: unknown) => peeled.expandedSecret && written !== undefined && typeof item === "string" && !written.has(item);
  if (def.type === "array") {
    return (value as unknown[]).map((item) => (expanded(item) ? REDACTED : toFileForm(def.element, item, written)));
  }
  if (def.type === "record") {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map(([key, item]) => [key, peeled.sensitive ? REDACTED : toFileForm(def.valueType, item, written)]),
    );
  }
  // Any text may hold a URL with credentials (an MCP server's arguments, a discovery URL).
  const scalar = (item: unknown) => (expanded(item) ? REDACTED : typeof item === "string" ? redactUrlCredentials(item) : item);
  // A union's value: a command given as one string or as a list of arguments (token_command).
  return Array.isArray(value) ? value.map(scalar) : scalar(value);
}

/**
 * The effective configuration as a config file would write it (check-config's output). `written`:
 * the file's scalars as written (writtenScalars), which tell the values a ${VAR} filled in.
 */
export function configToFileForm(config: Config, written?: ReadonlySet<string>): Record<string, unknown> {
  return toFileForm(ConfigSchema, config, written) as Record<string, unknown>;
}
