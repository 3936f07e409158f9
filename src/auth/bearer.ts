/**
 * @module Static bearer tokens (`bearer.valid_tokens`): compared as SHA-256 digests in constant
 * time against every configured token, so neither the match nor its position shows in timing.
 * A configured token may be written as "sha256:<hex>" to keep the plaintext out of the file.
 */
import type { Secret } from "../config/secret.ts";
import { sha256 as webSha256, timingSafeEqual, toHex, type Sha256 } from "../util/digest.ts";
import { AuthSettingError, B64TOKEN, MAX_TOKEN_LENGTH, type Principal } from "./types.ts";

/** A `valid_tokens` entry in digest form: "sha256:" and 64 hex digits. */
export const HASHED = /^sha256:([0-9a-fA-F]{64})$/;

export interface StaticTokenSet {
  /** The principal for a known token, or undefined. */
  lookup(token: string): Promise<Principal | undefined>;
}

/**
 * Throws TypeError (a config error at start) for an entry no client could present: the HTTP edge
 * refuses, before any comparison, a token that is not an RFC 6750 §2.1 b64token or is longer than
 * MAX_TOKEN_LENGTH, so such an entry would be accepted by the config and never match.
 */
export function createStaticTokenSet(tokens: readonly Secret[], sha256: Sha256 = webSha256): StaticTokenSet {
  tokens.forEach((secret, index) => {
    const value = secret.reveal();
    if (HASHED.test(value) || (value.length <= MAX_TOKEN_LENGTH && B64TOKEN.test(value))) return;
    // Whitespace is the usual cause: a value read from a file keeps its line break (CRLF ones a \r).
    const whitespace = /\s/.test(value) ? " (it holds a space or line break: trim the value)" : "";
    throw new AuthSettingError(
      `bearer.valid_tokens[${index}]`,
      `is not a token a client can send in an Authorization header${whitespace}: use RFC 6750 characters (letters, digits, - . _ ~ + / and trailing =, at most ${MAX_TOKEN_LENGTH} characters), or "sha256:<hex>" of the token`,
    );
  });
  const known = Promise.all(
    tokens.map(async (secret) => {
      const value = secret.reveal();
      const hashed = HASHED.exec(value);
      const digest = hashed ? Uint8Array.from(hashed[1]!.match(/../g)!, (pair) => parseInt(pair, 16)) : await sha256(value);
      // The subject names the token without revealing it: a prefix of its digest.
      const subject = `token:${toHex(digest).slice(0, 16)}`;
      return { digest, principal: { subject, owner: subject, scopes: [] } satisfies Principal };
    }),
  );
  return {
    async lookup(token) {
      const digest = await sha256(token);
      let match: Principal | undefined;
      // Every entry is compared, so the time taken says nothing about which one matched.
      for (const entry of await known) if (timingSafeEqual(digest, entry.digest)) match = entry.principal;
      return match && { ...match };
    },
  };
}
