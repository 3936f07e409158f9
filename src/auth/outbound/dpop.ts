/**
 * @module DPoP (RFC 9449, MCP SEP-1932): a key pair held in memory for the life of the token
 * source, proofs for token requests (through oauth4webapi) and for every request to the MCP
 * server (here, with jose): `htm`, `htu` without query or fragment, `iat`, a fresh `jti`, `ath`
 * (the token's hash) and the server's nonce once it asked for one.
 */
import * as oauth from "oauth4webapi";
import type { JWK } from "jose";
import { sha256, toBase64Url } from "../../util/digest.ts";
import type { ProofTarget } from "./types.ts";

/** The algorithm of the bridge's DPoP key; used where the authorization server lists it. */
export const DPOP_ALGORITHM = "ES256";

export interface DpopKey {
  keyPair: CryptoKeyPair;
  publicJwk: JWK;
  /** The MCP server's latest DPoP-Nonce (RFC 9449 §9). */
  resourceNonce?: string;
}

/** A fresh, non-extractable P-256 key pair. */
export async function createDpopKey(): Promise<DpopKey> {
  const keyPair = await oauth.generateKeyPair(DPOP_ALGORITHM);
  const { exportJWK } = await import("jose");
  const { kty, crv, x, y } = await exportJWK(keyPair.publicKey);
  return { keyPair, publicJwk: { kty, crv, x, y } };
}

/** The `DPoP` header for one request with `accessToken` (RFC 9449 §4.2, §7.1). */
export async function resourceProof(key: DpopKey, target: ProofTarget, accessToken: string): Promise<string> {
  const { SignJWT } = await import("jose");
  const url = new URL(target.url);
  const ath = toBase64Url(await sha256(accessToken));
  return new SignJWT({ htm: target.method.toUpperCase(), htu: `${url.origin}${url.pathname}`, ath, ...(key.resourceNonce && { nonce: key.resourceNonce }) })
    .setProtectedHeader({ alg: DPOP_ALGORITHM, typ: "dpop+jwt", jwk: key.publicJwk })
    .setIssuedAt()
    .setJti(crypto.randomUUID())
    .sign(key.keyPair.privateKey);
}

/**
 * Runs a token request made with a DPoP handle; when the server answers `use_dpop_nonce`
 * (RFC 9449 §8), the handle has kept the nonce and the request is made once more.
 */
export async function withNonceRetry<T>(request: () => Promise<T>): Promise<T> {
  try {
    return await request();
  } catch (error) {
    if (!oauth.isDPoPNonceError(error)) throw error;
    return request();
  }
}
