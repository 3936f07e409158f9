/**
 * @module Characters that change how the text around them reads without showing themselves:
 * controls (Cc: C0, DEL, C1), format characters (Cf: the bidi embeddings, overrides, isolates and
 * marks of UAX #9, zero-width space, word joiner, U+FEFF, soft hyphen, interlinear annotations,
 * tags), the line and paragraph separators U+2028/U+2029, and every Default_Ignorable_Code_Point
 * (UAX #44: what a renderer draws as nothing — the combining grapheme joiner U+034F, variation
 * selectors, Mongolian free variation selectors, Hangul fillers U+115F/U+3164/U+FFA0, Khmer
 * inherent vowels U+17B4/U+17B5, and the unassigned code points reserved as ignorable, such as
 * U+2065, which a later Unicode version may give an invisible meaning). A client-chosen name holding
 * U+202E can make "App X wants to use this server" read otherwise ("Trojan Source",
 * CVE-2021-42574); any of the others makes "Goo\u034Fgle" look like "Google".
 *
 * Some of them are written on purpose: variation selectors (U+FE00–U+FE0F, U+E0100–U+E01EF:
 * "❤️" is U+2764 U+FE0F) and the zero-width joiner and non-joiner (U+200D, U+200C: emoji sequences,
 * Persian and Indic words). Names may hold those, one at a time, right after a visible non-ASCII
 * character (a joiner also after U+FE0F, as in "❤️‍🔥") — the joiners also right before one — which is where those scripts and emoji put them;
 * after ASCII, at the start, or two in a row they only hide. (A stricter, per-script rule would be
 * IDNA's CONTEXTJ, RFC 5892 Appendix A.1–A.2; this rule is coarser and emoji-friendly.)
 * Logs escape every one of them, these included (EVERY_INVISIBLE): logs are read, not displayed.
 */

/** The invisible characters, as a regex character-class body (u flag). */
const INVISIBLE_CLASS = String.raw`\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}`;
/** Those of them that names may hold in the place described above (u flag). */
const SELECTOR_CLASS = String.raw`\u200c\u200d\ufe00-\ufe0f\u{e0100}-\u{e01ef}`;
/** A visible non-ASCII character: what must stand before a selector (and after a joiner). */
const VISIBLE_NON_ASCII = String.raw`[^\x00-\x7f${INVISIBLE_CLASS}]`;

/** Every invisible character, selectors and joiners included (g, u): for logs and terminals. */
export const EVERY_INVISIBLE = new RegExp(`[${INVISIBLE_CLASS}]`, "gu");

/** One invisible character that a name must not hold (g: every one), as described above. */
const INVISIBLE = new RegExp(
  String.raw`(?![${SELECTOR_CLASS}])[${INVISIBLE_CLASS}]` +
    String.raw`|(?<!${VISIBLE_NON_ASCII})[\ufe00-\ufe0f\u{e0100}-\u{e01ef}]` +
    // An emoji ZWJ sequence joins emoji presentation sequences too: "❤️‍🔥" is U+2764 U+FE0F U+200D U+1F525.
    String.raw`|(?<!${VISIBLE_NON_ASCII}|${VISIBLE_NON_ASCII}\ufe0f)[\u200c\u200d]` +
    String.raw`|[\u200c\u200d](?!${VISIBLE_NON_ASCII})`,
  "gu",
);
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
