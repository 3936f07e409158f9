/** @module SHA-256, base64url and constant-time comparison on Web Crypto: token checks, cache keys, gen-token. */

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

/**
 * The JSON value a base64url segment (RFC 4648 §5, padding optional) carries, as in a JWS compact
 * serialization (RFC 7515 §7.1). Throws on bad base64, bytes that are not UTF-8, or bad JSON.
 */
export function jsonOfBase64Url(segment: string): unknown {
  const base64 = segment.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(binary, (c) => c.charCodeAt(0))));
}

/** Equal-length byte comparison whose time does not depend on where the inputs differ. */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a[i]! ^ b[i]!;
  return difference === 0;
}
