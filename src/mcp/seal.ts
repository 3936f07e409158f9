/**
 * @module The sealed `requestState` of Multi Round-Trip Requests. The spec makes `requestState`
 * attacker-controlled input that the server must integrity-protect and bind to the principal, an
 * expiry and the originating request (basic/patterns/mrtr §Server Requirements). Sealing is
 * AES-256-GCM over a small JSON payload: what is inside can be neither read nor changed by the
 * client, and a state minted for one principal or request is refused for another.
 */
import { base64url } from "jose";
import { webAesGcm, type AesGcm } from "../util/aes-gcm.ts";
import { sha256 as webSha256, type Sha256 } from "../util/digest.ts";

const VERSION_PREFIX = "v1.";
const ADDITIONAL_DATA = new TextEncoder().encode("mcp-bridge/requestState/v1");
const IV_BYTES = 12;
/**
 * A state longer than this was not made here; refused before any decryption work. Room for a
 * 2026-07-28 child's own state, which the bridge seals inside its own (see ModernServer).
 */
export const MAX_STATE_LENGTH = 1024 * 1024;

/** What a state is bound to, and what it carries. */
export interface StateClaims {
  /** Whose call this is: the authenticated subject (or a fixed name when auth is off). */
  principal: string;
  /** Which child process holds the call open. */
  child: string;
  /** Which pending call of that child the state resumes. */
  call: string;
  /** A digest of the originating request (method and salient params); the retry must match it. */
  request: string;
  /** The `inputRequests` keys this round asked, in order. */
  keys: string[];
}

export type OpenResult = { ok: true; claims: StateClaims } | { ok: false; reason: "malformed" | "tampered" | "expired" | "foreign" | "mismatch" };

/** The primitives a sealer uses; a runtime passes faster ones (Platform.aesGcm, Platform.sha256). */
export interface SealCrypto {
  aesGcm: AesGcm;
  sha256: Sha256;
}

const WEB_CRYPTO: SealCrypto = { aesGcm: webAesGcm, sha256: webSha256 };

export class RequestStateSealer {
  /** The AES-256 key (32 bytes). */
  readonly #key: Uint8Array;
  readonly #crypto: SealCrypto;

  private constructor(key: Uint8Array, primitives: SealCrypto) {
    this.#key = key;
    this.#crypto = primitives;
  }

  /**
   * A sealer keyed by `secret` (any length; HKDF-SHA-256 derives the AES key, so every bridge
   * replica given the same secret opens the others' states), or by 256 random bits when none is
   * given (states then die with the process, which is what a bridge holding the child call wants).
   */
  static async create(secret?: string, primitives: SealCrypto = WEB_CRYPTO): Promise<RequestStateSealer> {
    if (secret === undefined) return new RequestStateSealer(crypto.getRandomValues(new Uint8Array(32)), primitives);
    const material = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), "HKDF", false, ["deriveBits"]);
    const bits = await crypto.subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: new TextEncoder().encode("mcp-bridge requestState key") }, material, 256);
    return new RequestStateSealer(new Uint8Array(bits), primitives);
  }

  /** Seals `claims`, valid for `ttlMs` milliseconds from `now`. */
  async seal(claims: StateClaims, ttlMs: number, now = Date.now()): Promise<string> {
    const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
    const payload = new TextEncoder().encode(JSON.stringify({ ...claims, exp: now + ttlMs }));
    const sealed = await this.#crypto.aesGcm.encrypt(this.#key, iv, payload, ADDITIONAL_DATA);
    const out = new Uint8Array(IV_BYTES + sealed.length);
    out.set(iv);
    out.set(sealed, IV_BYTES);
    return VERSION_PREFIX + base64url.encode(out);
  }

  /**
   * Opens a state the client echoed. Refused when it is not one of ours or was changed
   * (`malformed`/`tampered`), has lapsed (`expired`), belongs to another principal (`foreign`), or
   * was minted for another request (`mismatch`).
   */
  async open(state: unknown, expected: { principal: string; request: string }, now = Date.now()): Promise<OpenResult> {
    if (typeof state !== "string" || state.length > MAX_STATE_LENGTH || !state.startsWith(VERSION_PREFIX)) return { ok: false, reason: "malformed" };
    const encoded = state.slice(VERSION_PREFIX.length);
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(base64url.decode(encoded));
    } catch {
      return { ok: false, reason: "malformed" };
    }
    // One state, one spelling: the decoder skips whitespace and padding and ignores trailing bits,
    // so other texts would open as a state we issued.
    if (bytes.length <= IV_BYTES + 16 || base64url.encode(bytes) !== encoded) return { ok: false, reason: "malformed" };
    let claims: StateClaims & { exp: number };
    try {
      const plain = await this.#crypto.aesGcm.decrypt(this.#key, bytes.subarray(0, IV_BYTES), bytes.subarray(IV_BYTES), ADDITIONAL_DATA);
      claims = JSON.parse(new TextDecoder().decode(plain)) as StateClaims & { exp: number };
    } catch {
      return { ok: false, reason: "tampered" };
    }
    if (typeof claims.exp !== "number" || now > claims.exp) return { ok: false, reason: "expired" };
    if (claims.principal !== expected.principal) return { ok: false, reason: "foreign" };
    if (claims.request !== expected.request) return { ok: false, reason: "mismatch" };
    const { exp: _exp, ...rest } = claims;
    return { ok: true, claims: rest };
  }

  /**
   * The digest a state is bound to (base64url SHA-256): the method and the request's params
   * without `_meta` and the MRTR fields (those change between rounds; the call itself must not).
   */
  async digest(method: string, params: Record<string, unknown> | undefined): Promise<string> {
    const { _meta: _m, inputResponses: _i, requestState: _s, ...salient } = params ?? {};
    return base64url.encode(await this.#crypto.sha256(`${method}\n${canonicalJson(salient)}`));
  }
}

/** JSON with object keys sorted, so equal values digest equally whatever order the client wrote. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}
