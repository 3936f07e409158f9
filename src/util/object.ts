/** @module The one check for a JSON object (not null, not an array), used on untrusted input everywhere. */

/** True for a non-null, non-array object: what JSON.parse or YAML gives for `{…}`. */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** True for an array of strings only (an empty one included): a list field of untrusted JSON. */
export function isStringList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === "string");
}

/** The JSON kind of a parsed value ("object", "array", "string", "number", "boolean", "null"): what a log may say of untrusted data without quoting it. */
export function jsonKindOf(value: unknown): string {
  return value === null ? "null" : Array.isArray(value) ? "array" : typeof value;
}

/**
 * Whether a parsed JSON value nests objects and arrays more than `limit` levels deep (a bare
 * `{}` or `[]` is one level). Walks with its own stack: the question is asked of values too deep
 * for recursion.
 */
export function nestedDeeperThan(value: unknown, limit: number): boolean {
  if (typeof value !== "object" || value === null) return false;
  // Two parallel stacks, not one of {value, depth} records: it runs on every long message, so it allocates nothing per node.
  const values: object[] = [value];
  const depths: number[] = [1];
  while (values.length > 0) {
    const next = values.pop()!;
    const depth = depths.pop()!;
    if (depth > limit) return true;
    for (const child of Array.isArray(next) ? next : Object.values(next)) {
      if (typeof child === "object" && child !== null) {
        values.push(child);
        depths.push(depth + 1);
      }
    }
  }
  return false;
}
