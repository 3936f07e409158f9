/**
 * @module Characters that change how the text around them reads without showing themselves:
 * controls (C0, C1), Unicode format characters (category Cf: the bidi embeddings, overrides,
 * isolates and marks of UAX #9, zero-width space, word joiner, U+FEFF, soft hyphen, interlinear
 * annotations, tags) and the line and paragraph separators U+2028/U+2029. A client-chosen name
 * holding U+202E can make "App X wants to use this server" read otherwise ("Trojan Source",
 * CVE-2021-42574); a zero-width character makes "Goo\u200Bgle" look like "Google".
 *
 * Zero-width joiner and non-joiner (U+200D, U+200C) are also written on purpose — Persian and Indic
 * words, emoji sequences — so, as IDNA's CONTEXTJ rule allows them only where a script needs them,
 * they pass between two non-ASCII characters and are refused beside ASCII, where they only hide.
 */

/** One invisible character, as described above (g: every one). */
const INVISIBLE = /[\p{Cc}\p{Zl}\p{Zp}]|[^\P{Cf}\u200c\u200d]|(?<![^\x00-\x7f])[\u200c\u200d]|[\u200c\u200d](?![^\x00-\x7f])/gu;
const FIRST_INVISIBLE = new RegExp(INVISIBLE.source, "u");

/** The first invisible character of `text` as "U+XXXX", or undefined when it has none. */
export function invisibleCharacter(text: string): string | undefined {
  const found = FIRST_INVISIBLE.exec(text);
  return found ? `U+${found[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}` : undefined;
}

/** `text` with every invisible character replaced by U+FFFD (�): shown, and reordering or hiding nothing. */
export function showInvisible(text: string): string {
  return text.replace(INVISIBLE, "\ufffd");
}
