/**
 * @module AES-256-GCM for the MRTR requestState seal (src/mcp/seal.ts): a 32-byte key, a 12-byte
 * IV, additional data, and the 16-byte tag after the ciphertext (as Web Crypto lays it out). A
 * runtime may pass a faster one in: Node's is synchronous, where Web Crypto costs a thread-pool
 * round trip per call, twice per round.
 */

export interface AesGcm {
  /** The ciphertext followed by its tag. */
  encrypt(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array, additionalData: Uint8Array): Uint8Array | Promise<Uint8Array>;
  /** The plaintext of `sealed` (ciphertext and tag); throws when the tag does not verify. */
  decrypt(key: Uint8Array, iv: Uint8Array, sealed: Uint8Array, additionalData: Uint8Array): Uint8Array | Promise<Uint8Array>;
}

/** Imported once per key (a sealer holds one key for its life). */
const imported = new WeakMap<Uint8Array, Promise<CryptoKey>>();

function cryptoKey(key: Uint8Array): Promise<CryptoKey> {
  let found = imported.get(key);
  if (!found) {
    found = crypto.subtle.importKey("raw", key as Uint8Array<ArrayBuffer>, "AES-GCM", false, ["encrypt", "decrypt"]);
    imported.set(key, found);
  }
  return found;
}

/** Web Crypto's AES-GCM: the portable default. */
export const webAesGcm: AesGcm = {
  async encrypt(key, iv, plaintext, additionalData) {
    const params = { name: "AES-GCM", iv: iv as Uint8Array<ArrayBuffer>, additionalData: additionalData as Uint8Array<ArrayBuffer> };
    return new Uint8Array(await crypto.subtle.encrypt(params, await cryptoKey(key), plaintext as Uint8Array<ArrayBuffer>));
  },
  async decrypt(key, iv, sealed, additionalData) {
    const params = { name: "AES-GCM", iv: iv as Uint8Array<ArrayBuffer>, additionalData: additionalData as Uint8Array<ArrayBuffer> };
    return new Uint8Array(await crypto.subtle.decrypt(params, await cryptoKey(key), sealed as Uint8Array<ArrayBuffer>));
  },
};
