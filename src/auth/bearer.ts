/**
 * @module Static bearer tokens (`bearer.valid_tokens`): compared as SHA-256 digests in constant
 * time against every configured token, so neither the match nor its position shows in timing.
 * A configured token may be written as "sha256:<hex>" to keep the plaintext out of the file.
 */
import type { Secret } from "../config/secret.ts";
import { sha256, timingSafeEqual, toHex } from "./digest.ts";
import type { Principal } from "./types.ts";

const HASHED = /^sha256:([0-9a-fA-F]{64})$/;

export interface StaticTokenSet {
  /** The principal for a known token, or undefined. */
  lookup(token: string): Promise<Principal | undefined>;
}

export function createStaticTokenSet(tokens: readonly Secret[]): StaticTokenSet {
  const digests = Promise.all(
    tokens.map(async (secret) => {
      const value = secret.reveal();
      const hashed = HASHED.exec(value);
      if (!hashed) return sha256(value);
      return Uint8Array.from(hashed[1]!.match(/../g)!, (pair) => parseInt(pair, 16));
    }),
  );
  return {
    async lookup(token) {
      const digest = await sha256(token);
      let matched = false;
      for (const known of await digests) matched = timingSafeEqual(digest, known) || matched;
      // The subject names the token without revealing it: a prefix of its digest.
      return matched ? { subject: `token:${toHex(digest).slice(0, 16)}`, scopes: [] } : undefined;
    },
  };
}

