/** @module The one check for a JSON object (not null, not an array), used on untrusted input everywhere. */

/** True for a non-null, non-array object: what JSON.parse or YAML gives for `{…}`. */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
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
  const stack: Array<{ value: unknown; depth: number }> = [{ value, depth: 1 }];
  for (let next = stack.pop(); next; next = stack.pop()) {
    if (typeof next.value !== "object" || next.value === null) continue;
    if (next.depth > limit) return true;
    for (const child of Array.isArray(next.value) ? next.value : Object.values(next.value)) {
      if (typeof child === "object" && child !== null) stack.push({ value: child, depth: next.depth + 1 });
    }
  }
  return false;
}
