/** @module The one check for a JSON object (not null, not an array), used on untrusted input everywhere. */

/** True for a non-null, non-array object: what JSON.parse or YAML gives for `{…}`. */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The JSON kind of a parsed value ("object", "array", "string", "number", "boolean", "null"): what a log may say of untrusted data without quoting it. */
export function jsonKindOf(value: unknown): string {
  return value === null ? "null" : Array.isArray(value) ? "array" : typeof value;
}
