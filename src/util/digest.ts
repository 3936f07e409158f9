/** @module SHA-256 and constant-time comparison on Web Crypto: token checks, cache keys, gen-token. */

const encoder = new TextEncoder();

/** SHA-256 of a string's UTF-8 bytes. A runtime may pass a faster one in (Node's is synchronous). */
export type Sha256 = (text: string) => Uint8Array | Promise<Uint8Array>;

/** Web Crypto's SHA-256: the portable default. */
export async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
}

export function toHex(bytes: Uint8Array): string {
  let hex = "";
  for (const byte of bytes) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

/** Bytes as base64url without padding (RFC 4648 §5): tokens, ids and hashes that travel in URLs and headers. */
export function toBase64Url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Equal-length byte comparison whose time does not depend on where the inputs differ. */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a[i]! ^ b[i]!;
  return difference === 0;
}
