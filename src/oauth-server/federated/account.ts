/**
 * @module From the upstream's verified claims to the bridge's SignedInUser: who may sign in
 * (`allowed_domains`) and which scopes they get (`default_scopes`, `admin_users`/`admin_scopes`).
 */
import type { SignedInUser } from "../identity.ts";
import { UpstreamLoginError } from "./errors.ts";

export interface AccountPolicy {
  /** Email domains (ASCII letters lower-cased) whose users may sign in; empty: any account. */
  allowedDomains: readonly string[];
  defaultScopes: readonly string[];
  /** Emails of administrators, ASCII letters lower-cased. */
  adminUsers: readonly string[];
  adminScopes: readonly string[];
}

/** Longest email (RFC 5321 §4.5.3.1: 64 + 1 + 255) and display name kept. */
const MAX_EMAIL = 320;
const MAX_NAME = 256;
/** OIDC Core §2: `sub` must not exceed 255 ASCII characters. It goes into every code, grant and token. */
const MAX_SUBJECT = 255;

/**
 * `text` with A-Z lower-cased and nothing else: full Unicode lower-casing folds other characters
 * into ASCII (the Kelvin sign U+212A into "k"), so another mailbox's address would compare equal.
 */
function asciiLowerCase(text: string): string {
  return text.replace(/[A-Z]+/g, (letters) => letters.toLowerCase());
}

/** The policy of `federated` config keys, compared case-insensitively (ASCII letters only). */
export function accountPolicy(config: { allowed_domains: string[]; default_scopes: string[]; admin_users: string[]; admin_scopes: string[] }): AccountPolicy {
  return {
    allowedDomains: config.allowed_domains.map((domain) => asciiLowerCase(domain.trim()).replace(/^@/, "")),
    defaultScopes: config.default_scopes,
    adminUsers: config.admin_users.map((email) => asciiLowerCase(email.trim())),
    adminScopes: config.admin_scopes,
  };
}

/**
 * A mailbox as providers hand them out: one "@" between a local part and a domain, neither holding
 * space, control or format characters (bidi overrides, zero-width joiners), half a UTF-16
 * surrogate pair, quotes, backslashes or the other specials of RFC 5322 §3.2.3 that an unquoted
 * address cannot hold: `( ) , : ; < > [ ]`. RFC 5322 allows quoted local parts ("a@b"@example.com)
 * and address lists; an address that needs either is refused, so that the text after the one "@"
 * is the domain `allowed_domains` and `admin_users` speak of, and what reaches logs, tokens and
 * MCP_BRIDGE_EMAIL is one plain address.
 */
const PLAIN_MAILBOX = /^[^\s@"\\(),:;<>[\]\p{Cc}\p{Cf}\p{Cs}]+@[^\s@"\\(),:;<>[\]\p{Cc}\p{Cf}\p{Cs}]+$/u;

/**
 * The email an identity provider vouches for, its ASCII letters lower-cased, or undefined. Only `email_verified: true`
 * (the boolean, OIDC Core §5.1) counts: most providers let anyone type any address into a profile,
 * so an unverified `alice@example.com` says nothing about who signed in. An address that is not a
 * PLAIN_MAILBOX counts as none.
 */
function verifiedEmail(claims: Record<string, unknown>): string | undefined {
  const email = claims.email;
  if (claims.email_verified !== true || typeof email !== "string" || email.length > MAX_EMAIL || !PLAIN_MAILBOX.test(email)) return undefined;
  return asciiLowerCase(email);
}

/**
 * The signed-in user for the claims of a validated ID token (merged with UserInfo when the ID
 * token lacked them), or UpstreamLoginError("account_not_allowed").
 */
export function signedInUser(claims: Record<string, unknown>, policy: AccountPolicy): SignedInUser {
  const subject = claims.sub;
  if (typeof subject !== "string" || subject === "") throw new UpstreamLoginError("upstream_error", 'ID token has no "sub"');
  if (subject.length > MAX_SUBJECT) throw new UpstreamLoginError("upstream_error", `ID token's "sub" is longer than ${MAX_SUBJECT} characters (OIDC Core §2)`);
  const email = verifiedEmail(claims);
  if (policy.allowedDomains.length > 0) {
    if (!email) {
      throw new UpstreamLoginError("account_not_allowed", typeof claims.email === "string" ? "email is not verified by the identity provider" : "no email from the identity provider (request the email scope)");
    }
    const domain = email.slice(email.lastIndexOf("@") + 1);
    if (!policy.allowedDomains.includes(domain)) throw new UpstreamLoginError("account_not_allowed", `email domain ${JSON.stringify(domain)} is not in allowed_domains`);
  }
  const admin = email !== undefined && policy.adminUsers.includes(email);
  const scopes = [...new Set([...policy.defaultScopes, ...(admin ? policy.adminScopes : [])])];
  const name = typeof claims.name === "string" && claims.name !== "" ? claims.name.slice(0, MAX_NAME) : undefined;
  return { subject, scopes, ...(email && { email }), ...(name && { name }) };
}
