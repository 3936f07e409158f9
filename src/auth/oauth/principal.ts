/** @module From validated claims (JWT payload or introspection answer) to the Principal, and the scope policy. */
import type { OAuthConfig } from "../../config/schema.ts";
import { AuthError, type Principal } from "../types.ts";
import { EVERY_INVISIBLE } from "../../util/invisible-text.ts";

type ClaimMapping = OAuthConfig["claims"];

/**
 * A claim by name; when no claim has that exact name and it contains dots, a path into nested
 * objects (Keycloak's "realm_access.roles"). Exact names come first because namespaced claims
 * are URLs full of dots ("https://example.com/roles", Auth0's convention).
 */
export function claimValue(claims: Record<string, unknown>, name: string): unknown {
  if (Object.hasOwn(claims, name)) return claims[name];
  if (!name.includes(".")) return undefined;
  let value: unknown = claims;
  for (const part of name.split(".")) {
    if (typeof value !== "object" || value === null || Array.isArray(value) || !Object.hasOwn(value, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

function stringList(value: unknown): string[] | undefined {
  if (typeof value === "string") return value.split(" ").filter((item) => item !== "");
  if (Array.isArray(value) && value.every((item) => typeof item === "string")) return [...value];
  return undefined;
}

/**
 * Granted scopes: RFC 9068 §2.2.3 / RFC 7662 §2.2 "scope" (space-separated), or "scp", which Okta
 * sends as an array and Entra ID as a space-separated string.
 */
export function scopesFromClaims(claims: Record<string, unknown>): string[] {
  return stringList(claims.scope) ?? stringList(claims.scp) ?? [];
}

/**
 * Builds the Principal. `subjectFallback` is for introspection answers, which RFC 7662 §2.2 lets
 * omit "sub": a client-credentials token then acts for its client (RFC 9068 §2.2 makes the same
 * choice for JWTs).
 */
export function principalFromClaims(claims: Record<string, unknown>, mapping: ClaimMapping, options: { subjectFallback?: string } = {}): Principal {
  const subjectValue = claimValue(claims, mapping.subject_claim);
  // The fallback stands in for a claim that is absent, never for one that is malformed: users whose
  // numeric or empty subject fell back to one shared client_id would share sessions.
  const subject = typeof subjectValue === "string" && subjectValue !== "" ? subjectValue : subjectValue === undefined ? options.subjectFallback : undefined;
  if (subject === undefined) throw new AuthError("invalid_token", `no string "${mapping.subject_claim}" claim to identify the subject`);
  const email = claimValue(claims, mapping.email_claim);
  // A lone role may come as a string; it is one role, not a space-separated list.
  const rolesValue = claimValue(claims, mapping.roles_claim);
  const roles = typeof rolesValue === "string" ? [rolesValue] : Array.isArray(rolesValue) ? rolesValue.filter((role): role is string => typeof role === "string") : undefined;
  const clientId = claimValue(claims, mapping.client_id_claim) ?? claims.azp;
  const exp = claims.exp;
  return Object.freeze({
    subject,
    // A client acting for itself is the subject its JWTs name too (RFC 9068 §2.2): one owner.
    owner: `sub:${subject}`,
    scopes: scopesFromClaims(claims),
    ...(typeof email === "string" && { email }),
    ...(roles && { roles }),
    ...(typeof clientId === "string" && { clientId }),
    ...(typeof exp === "number" && Number.isFinite(exp) && { expiresAt: exp }),
    claims: Object.freeze({ ...claims }),
  });
}

/** RFC 6749 §3.3 scope-token: NQCHAR, so it never needs quoting in a challenge. */
export const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

export interface ScopePolicy {
  readonly requiredScopes: readonly string[];
  scopesFor(method: string, toolName?: string): readonly string[];
  /** Every scope this resource names, for RFC 9728 scopes_supported. */
  readonly scopesSupported: string[];
}

/**
 * A tool name as a lenient server may look it up: NFKC-normalized, without white space or invisible
 * characters, upper-cased then lower-cased (a server comparing upper-case, or case-folding, reads
 * "paß" as "pass" and "fıle" as "file"). Most servers match names exactly, and then "Delete_File"
 * fails there; one that matches loosely would run delete_file, so the name needs its scopes.
 */
function foldedToolName(name: string): string {
  return name.normalize("NFKC").replace(EVERY_INVISIBLE, "").replace(/\s+/gu, "").toUpperCase().toLowerCase();
}

/**
 * required_scopes for every request; method_scopes keyed by JSON-RPC method ("tools/call") and by
 * method and tool ("tools/call:delete_file"), the two adding up. A tool's entry applies to every
 * name that folds to it (foldedToolName), and entries that fold alike add up.
 */
export function createScopePolicy(config: Pick<OAuthConfig, "required_scopes" | "method_scopes">): ScopePolicy {
  const forMethods = new Map<string, readonly string[]>();
  const forTools = new Map<string, readonly string[]>();
  for (const [key, scopes] of Object.entries(config.method_scopes)) {
    const colon = key.indexOf(":");
    if (colon < 0) forMethods.set(key, scopes);
    else {
      const folded = `${key.slice(0, colon)}:${foldedToolName(key.slice(colon + 1))}`;
      forTools.set(folded, [...new Set([...(forTools.get(folded) ?? []), ...scopes])]);
    }
  }
  const all = [...config.required_scopes, ...Object.values(config.method_scopes).flat()];
  for (const scope of all) {
    if (!SCOPE_TOKEN.test(scope)) throw new TypeError(`scope ${JSON.stringify(scope)} is not an RFC 6749 scope token (no spaces, quotes or backslashes)`);
  }
  const requiredScopes = Object.freeze([...new Set(config.required_scopes)]);
  return {
    requiredScopes,
    scopesSupported: [...new Set(all)],
    scopesFor(method, toolName) {
      const forMethod = forMethods.get(method) ?? [];
      const forTool = toolName === undefined || forTools.size === 0 ? [] : (forTools.get(`${method}:${foldedToolName(toolName)}`) ?? []);
      return forTool.length === 0 ? forMethod : [...new Set([...forMethod, ...forTool])];
    },
  };
}
