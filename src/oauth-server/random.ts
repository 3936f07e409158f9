/** @module Secrets the authorization server makes: codes, tokens, ids, all from the CSPRNG, base64url. */
import { toBase64Url, toHex, type Sha256 } from "../util/digest.ts";

/**
 * `bytes` random bytes as base64url (no padding). crypto.getRandomValues throws rather than return
 * zeros when the system source fails (the Go original's zero-valued secrets).
 */
export function randomToken(bytes = 32): string {
  return toBase64Url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** The store key part for a secret: its SHA-256 in hex, so the store never holds the secret itself. */
export async function secretHash(sha256: Sha256, secret: string): Promise<string> {
  return toHex(await sha256(secret));
}
