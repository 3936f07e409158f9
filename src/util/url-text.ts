/** @module URL text that every URL parser reads alike. */

/**
 * Whether `value` has only characters every URL parser reads alike: visible ASCII and no
 * backslash. The WHATWG parser (URL, fetch, browsers) drops tabs and newlines and reads "\" as "/"
 * in http(s) URLs; RFC 3986 parsers keep them, so `https://a\@b/` names host a to one and host b
 * to the other. A URL checked parsed and then passed on as written must pass this first.
 */
export function readAlikeByUrlParsers(value: string): boolean {
  return /^[\x21-\x7e]+$/.test(value) && !value.includes("\\");
}
