/**
 * @module Reading a `WWW-Authenticate` header (RFC 9110 §11.6.1, RFC 6750 §3, RFC 9728 §5.1): the
 * Bearer challenge's `resource_metadata`, `scope` and `error`. oauth4webapi parses challenges only
 * inside its own resource-request helper, so the few lines live here.
 */

export interface BearerChallenge {
  /** "bearer" or "dpop" (RFC 9449 §7.1 challenges carry the same parameters). */
  scheme: "bearer" | "dpop";
  /** RFC 9728 §5.1: where the server's Protected Resource Metadata is. */
  resourceMetadata?: string;
  /** Scopes the request needs (space-separated in the header). */
  scopes?: string[];
  error?: string;
}

// auth-param: token "=" ( token / quoted-string ); quoted-string allows \-escapes.
const PARAM = /\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([!#$%&'*+.^_`|~0-9A-Za-z-/=:]+))\s*(?:,|$)/y;
const SCHEME = /\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)(?:\s+|$)/y;

/**
 * The first Bearer or DPoP challenge in `header`, or undefined when there is none. A header may
 * carry several challenges; parameters of other schemes are skipped.
 * Malformed input yields what could be read before it, never an exception.
 */
export function parseBearerChallenge(header: string | null | undefined): BearerChallenge | undefined {
  if (!header || header.length > 8192) return undefined;
  let position = 0;
  let found: Record<string, string> | undefined;
  let foundScheme: "bearer" | "dpop" = "bearer";
  let current: Record<string, string> | undefined;
  while (position < header.length) {
    PARAM.lastIndex = position;
    const param = PARAM.exec(header);
    if (param && current) {
      const name = param[1]!.toLowerCase();
      if (!(name in current)) current[name] = param[2] !== undefined ? param[2].replace(/\\(.)/g, "$1") : param[3]!;
      position = PARAM.lastIndex;
      continue;
    }
    SCHEME.lastIndex = position;
    const scheme = SCHEME.exec(header);
    if (!scheme) break;
    position = SCHEME.lastIndex;
    current = {};
    const name = scheme[1]!.toLowerCase();
    if ((name === "bearer" || name === "dpop") && !found) {
      found = current;
      foundScheme = name;
    }
    // A bare token68 after the scheme is not something Bearer challenges use; skip to the next comma.
    while (position < header.length && header[position] === ",") position++;
  }
  if (!found) return undefined;
  const scopes = found.scope?.split(" ").filter(Boolean);
  return {
    scheme: foundScheme,
    ...(found.resource_metadata && { resourceMetadata: found.resource_metadata }),
    ...(scopes && scopes.length > 0 && { scopes }),
    ...(found.error && { error: found.error }),
  };
}
