/**
 * @module Making outside text safe to write to a log or a terminal: control and other invisible
 * characters (util/invisible-text.ts) escaped
 * (a header with ESC sequences or CR/LF/NEL cannot forge lines or recolour a terminal, a bidi
 * override cannot turn a line around), values
 * of attacker-chosen size cut, and credentials inside URLs (query parameters, userinfo) redacted.
 */

import { EVERY_INVISIBLE } from "../util/invisible-text.ts";
import { jsonKindOf } from "../util/object.ts";

/** Longest value written; the rest is replaced by a count. */
const MAX_LOGGED_VALUE = 1024;

// Every regex here runs on attacker-sized text in time linear in it: no pattern lets one start
// scan a run that the next start scans again ("[\w.-]*key[\w.-]*=" on "&keykeykey…" tried each
// "key" against the whole run: 32,000 characters took 0.8 s). A run of name characters is matched
// once, from its first character, and the name tested apart.
/** A query parameter, from its separator to "=" (g): its name is group 1. */
const QUERY_PARAMETER = /[?&;]([\w.-]+)=/g;
/** A query value, from where it starts (y). */
const QUERY_VALUE = /[^&#\s"]*/y;
/** In a query parameter's name, the words that say credential ("access_token", "api_key", "X-Amz-Signature"). */
const CREDENTIAL_WORD = /token|secret|password|passwd|pwd|key|signature|sig|code|credential|auth/i;
/** "scheme://userinfo@": the scheme from the start of its run of scheme characters, so that each run is scanned once. */
const USERINFO = /(?<![a-z0-9+.-])([a-z0-9+.-]+:\/\/)[^/\s@"]+@/gi;

/** Whether a query parameter's name says credential: letters, digits, "_", "." and "-", with a CREDENTIAL_WORD. */
function isCredentialParameter(name: string): boolean {
  return /^[\w.-]+$/.test(name) && CREDENTIAL_WORD.test(name);
}

/** `text` with the values of credential-named query parameters (isCredentialParameter) replaced by "[redacted]". */
function redactQueryCredentials(text: string): string {
  let redacted = "";
  let end = 0;
  for (const match of text.matchAll(QUERY_PARAMETER)) {
    // A match inside a value already redacted ("?token=a?b=c") is part of it.
    if (match.index < end || !CREDENTIAL_WORD.test(match[1]!)) continue;
    const start = match.index + match[0].length;
    QUERY_VALUE.lastIndex = start;
    QUERY_VALUE.exec(text);
    redacted += `${text.slice(end, start)}[redacted]`;
    end = QUERY_VALUE.lastIndex;
  }
  return redacted + text.slice(end);
}

/**
 * `\xNN` / `\uNNNN` / `\u{NNNNN}` for every invisible character (util/invisible-text.ts
 * EVERY_INVISIBLE: controls, C1 and NEL too, U+2028/U+2029, bidi controls, zero-width and other
 * default-ignorable characters, joiners and variation selectors included); everything else unchanged.
 */
export function escapeControls(text: string): string {
  return text.replace(EVERY_INVISIBLE, (char) => {
    const code = char.codePointAt(0)!;
    if (code <= 0xff) return `\\x${code.toString(16).padStart(2, "0")}`;
    return code <= 0xffff ? `\\u${code.toString(16).padStart(4, "0")}` : `\\u{${code.toString(16)}}`;
  });
}

/** URLs in `text` with credential-like query values and userinfo replaced by "[redacted]". */
export function redactUrlCredentials(text: string): string {
  if (!text.includes("=") && !text.includes("@")) return text;
  return redactQueryCredentials(text).replace(USERINFO, "$1[redacted]@");
}

/**
 * A configured URL as a log line or a note shows it: redactUrlCredentials, and path segments and
 * query values shaped like generated credentials (GENERATED_VALUE, below) redacted too: some
 * services put the key in the path ("https://mcp.example.com/mcp/sk-ak-7fa2c9e41b0d4e8a/sse") or
 * under a name no list foresees ("?k=7fa2c9e41b0d4e8a…").
 */
export function redactUrl(url: string): string {
  const text = redactUrlCredentials(url);
  const parts = /^([a-z][a-z0-9+.-]*:\/\/[^/?#]*)([^?#]*)(.*)$/is.exec(text);
  if (!parts) return text;
  const path = parts[2]!.split("/").map((segment) => (GENERATED_VALUE.test(segment) ? "[redacted]" : segment)).join("/");
  const query = parts[3]!.replace(/([?&;][^=&#?;]*=)([^&#]*)/g, (whole, name: string, value: string) => (GENERATED_VALUE.test(value) ? `${name}[redacted]` : whole));
  return `${parts[1]}${path}${query}`;
}

/**
 * The credentials in `url` that redactUrl hides (userinfo, credential-named query values, path
 * segments and query values shaped like generated credentials), as written in it: for redacting
 * them from what a server that was sent the URL repeats (a 404 page: "Cannot POST /mcp/sk-ak-…/sse").
 */
export function urlCredentials(url: string): string[] {
  if (!URL.canParse(url)) return [];
  const parsed = new URL(url);
  const path = parsed.pathname.split("/").filter((segment) => GENERATED_VALUE.test(segment));
  const query = parsed.search
    .slice(1)
    .split("&")
    .flatMap((pair) => {
      // The value runs to the end: base64 ends in "=".
      const at = pair.indexOf("=");
      const value = at < 0 ? "" : pair.slice(at + 1);
      return isCredentialParameter(at < 0 ? pair : pair.slice(0, at)) || GENERATED_VALUE.test(value) ? [value] : [];
    });
  return [parsed.username, parsed.password, ...path, ...query].filter(Boolean);
}

/**
 * Header names that suggest a credential (Authorization, Proxy-Authorization, Cookie, X-API-Key,
 * X-Auth-Token, X-Session-Id, X-Hub-Signature, and vendors' own: X-JFrog-Art-Api, X-Honeycomb-Team,
 * OK-ACCESS-SIGN, X-GitHub-OTP, …): their values are redacted from what a server echoes; other
 * headers' values (X-Tenant, X-Region) are shown, so that errors stay readable. A wrong guess
 * either way costs readability or a secret: the words are broad on purpose.
 */
const CREDENTIAL_HEADER = /auth|token|secret|key|cookie|session|pass|pwd|sig|cred|jwt|bearer|api|access|team|otp|hmac|csrf|xsrf/i;

/**
 * A value shaped like a generated credential whatever its header is called: 16 or more characters
 * without spaces, holding letters and digits ("7fa2c9e41b0d4e8a…", "AKCp8…"). Words and short
 * codes ("engineering", "eu-west-1") are not.
 */
const GENERATED_VALUE = /^(?=\S*[A-Za-z])(?=\S*\d)\S{16,}$/;

/**
 * Whether a header `name: value` may carry a credential: its name says so (CREDENTIAL_HEADER), or
 * its value looks generated (GENERATED_VALUE), for the names no list foresees.
 */
export function isCredentialHeader(name: string, value = ""): boolean {
  return CREDENTIAL_HEADER.test(name) || GENERATED_VALUE.test(value);
}

/** 16 or more letters in both cases and nothing else: a generated value of letters alone ("RbUDTeYZMsIu…"), not a name. */
const GENERATED_LETTERS = /^(?=[A-Za-z]*[a-z])(?=[A-Za-z]*[A-Z])[A-Za-z]{16,}$/;

/**
 * Whether `name` looks like an environment variable's name (letters, digits and "_", not
 * GENERATED_VALUE or GENERATED_LETTERS) rather than a value: a secret given where a name belongs
 * (--token-env "$TOKEN", token_env: ${TOKEN}), or a literal secret that starts with "$" (token: $k8Fh2…).
 */
export function looksLikeVariableName(name: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) && !GENERATED_VALUE.test(name) && !GENERATED_LETTERS.test(name);
}

/**
 * "environment variable NAME" for a message saying that a variable the configuration names is not
 * set, without NAME when it does not look like one (looksLikeVariableName): it may be the secret.
 */
export function variableNamed(name: string): string {
  return looksLikeVariableName(name)
    ? `environment variable ${name}`
    : "environment variable named here (not shown: it looks like a value, perhaps the secret itself, where the variable's name belongs)";
}

/** Known credential values shorter than this are not searched for (they would match ordinary text). */
export const SHORTEST_REDACTED_VALUE = 8;

/**
 * A credential as a party may repeat it besides as sent: in JSON with "/" escaped (PHP's
 * json_encode), percent-encoded (a URL or form quoting it) or decoded (a value sent encoded in a
 * URL), and for a Basic credential (base64 of "user:password") the decoded pair and its password.
 */
function echoForms(value: string): string[] {
  const forms = [value, value.replaceAll("/", "\\/"), encodeURIComponent(value)];
  try {
    forms.push(decodeURIComponent(value));
  } catch {
    // Not percent-encoded text: no decoded form.
  }
  if (value.length % 4 === 0 && /^[A-Za-z0-9+/]+={0,2}$/.test(value)) {
    const pair = atob(value);
    const colon = pair.indexOf(":");
    if (colon > 0 && /^[\x20-\x7e]+$/.test(pair)) forms.push(pair, pair.slice(colon + 1));
  }
  return forms;
}

/** redactedForms of the value lists asked about before: the same list (a response's, a child's) is redacted from many strings. */
const formsOfList = new WeakMap<ReadonlyArray<string | undefined>, string[]>();

/** Every form (echoForms) of `values` worth searching for, the longest first (a pair before the password in it). */
function redactedForms(values: ReadonlyArray<string | undefined>): string[] {
  let forms = formsOfList.get(values);
  if (!forms) {
    const all = new Set(values.flatMap((value) => (value === undefined ? [] : echoForms(value))));
    forms = [...all].filter((form) => form.length >= SHORTEST_REDACTED_VALUE).sort((a, b) => b.length - a.length);
    formsOfList.set(values, forms);
  }
  return forms;
}

/** The longest form of `values` redactValues searches for (characters): what a cut must keep beyond its limit to find a split one whole. */
export function redactionMargin(values: readonly string[]): number {
  return redactedForms(values)[0]?.length ?? 0;
}

/**
 * `text` with every occurrence of the given credential values replaced by "[redacted]": for text
 * from a party that was sent them and may repeat them (an error page, an error_description), as
 * sent or in the forms echoForms lists.
 */
export function redactValues(text: string, values: ReadonlyArray<string | undefined>): string {
  return replaceForms(text, redactedForms(values));
}

function replaceForms(text: string, forms: readonly string[]): string {
  // The shortest form is the last: a shorter text holds none.
  if (forms.length === 0 || text.length < forms[forms.length - 1]!.length) return text;
  let redacted = text;
  for (const form of forms) redacted = redacted.replaceAll(form, "[redacted]");
  return redacted;
}

/**
 * The first `max` characters of `text` with `values` redacted (redactValues), a line of any length
 * costing at most `max` plus the longest value: a cut never leaves part of a value behind, where
 * redacting after cutting would miss a split copy and cutting after redacting a long text would
 * bring text from past the cut into the kept part.
 */
export function redactedHead(text: string, values: readonly string[], max: number): string {
  const forms = redactedForms(values);
  const margin = forms[0]?.length ?? 0;
  if (text.length <= max + margin) return replaceForms(text, forms).slice(0, max);
  const redacted = replaceForms(text.slice(0, max + margin), forms);
  // What the cut split is in the last margin - 1 characters (at least 0: replacing may have left fewer).
  return redacted.slice(0, Math.max(0, Math.min(max, redacted.length - margin + 1)));
}

/** redactedHead from the end: the last `max` characters of `text`, `values` redacted. */
export function redactedTail(text: string, values: readonly string[], max: number): string {
  const forms = redactedForms(values);
  const margin = forms[0]?.length ?? 0;
  if (text.length <= max + margin) return replaceForms(text, forms).slice(-max);
  const redacted = replaceForms(text.slice(-(max + margin)), forms);
  return redacted.slice(Math.max(redacted.length - max, margin - 1));
}

/** Characters of an outside value quoted in an error message (quotedValue). */
const MAX_QUOTED_CHARS = 200;

/** The first MAX_QUOTED_CHARS characters of `text`, and what says how long it was when that is not all of it. */
function quotedHead(text: string): [head: string, more: string] {
  return text.length > MAX_QUOTED_CHARS ? [text.slice(0, MAX_QUOTED_CHARS), `…(${text.length} characters)`] : [text, ""];
}

/**
 * An outside value (a field of a server's metadata, a URL its answers name) as an error message,
 * which reaches the local client (a terminal, perhaps), may quote it: a string in JSON quotes, cut
 * to 200 characters, with every invisible character escaped (escapeControls: C1 ones too, which
 * JSON leaves as they are); any other value by its JSON kind only.
 */
export function quotedValue(value: unknown): string {
  if (typeof value !== "string") return `(${jsonKindOf(value)})`;
  const [head, more] = quotedHead(value);
  return `${escapeControls(JSON.stringify(head))}${more}`;
}

/**
 * Outside prose (an error message or page of a server) as an error message may carry it after a
 * colon: like quotedValue, without the quotes — runs of ASCII white space (line breaks of an error
 * page) made one space, trimmed, cut to 200 characters with its length after, every other
 * invisible character escaped; "(empty)" for nothing, and any value that is not a string by its
 * JSON kind only.
 */
export function excerpt(value: unknown): string {
  if (typeof value !== "string") return `(${jsonKindOf(value)})`;
  const [head, more] = quotedHead(value.replace(/[\t\n\v\f\r ]+/g, " ").trim());
  return head ? `${escapeControls(head)}${more}` : "(empty)";
}

/** A string as it may be logged: credentials redacted, cut to MAX_LOGGED_VALUE, controls escaped. */
export function sanitizeForLog(text: string): string {
  let value = redactUrlCredentials(text);
  if (value.length > MAX_LOGGED_VALUE) value = `${value.slice(0, MAX_LOGGED_VALUE)}…[${value.length - MAX_LOGGED_VALUE} more characters]`;
  return escapeControls(value);
}
