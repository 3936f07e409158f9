/**
 * @module Static bearer tokens (`bearer.valid_tokens`): compared as SHA-256 digests in constant
 * time against every configured token, so neither the match nor its position shows in timing.
 * A configured token may be written as "sha256:<hex>" to keep the plaintext out of the file.
 */
import type { Secret } from "../config/secret.ts";
import { sha256 as webSha256, timingSafeEqual, toHex, type Sha256 } from "../util/digest.ts";
import type { Principal } from "./types.ts";

const HASHED = /^sha256:([0-9a-fA-F]{64})$/;

export interface StaticTokenSet {
  /** The principal for a known token, or undefined. */
  lookup(token: string): Promise<Principal | undefined>;
}

export function createStaticTokenSet(tokens: readonly Secret[], sha256: Sha256 = webSha256): StaticTokenSet {
  const known = Promise.all(
    tokens.map(async (secret) => {
      const value = secret.reveal();
      const hashed = HASHED.exec(value);
      const digest = hashed ? Uint8Array.from(hashed[1]!.match(/../g)!, (pair) => parseInt(pair, 16)) : await sha256(value);
      // The subject names the token without revealing it: a prefix of its digest.
      return { digest, principal: { subject: `token:${toHex(digest).slice(0, 16)}`, scopes: [] } satisfies Principal };
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
