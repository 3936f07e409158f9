/**
 * @module JWT access token validation (RFC 9068 profile, RFC 8725 best practices) on jose:
 * cheap header checks first, then signature and claims through jwtVerify.
 */
import { jwtVerify, type JWTPayload, type JWTVerifyGetKey, type JWTVerifyOptions } from "jose";
import { AuthError } from "../types.ts";
import { describeKid } from "./jwks-cache.ts";
import { jsonOfBase64Url } from "../../util/digest.ts";

export interface JwtPolicy {
  /** Expected iss; undefined only when the operator configured a bare jwks_url (the keys pin the issuer). */
  issuer: string | undefined;
  audience: string;
  algorithms: readonly string[];
  /** Seconds. */
  clockSkew: number;
  requireExpiration: boolean;
  /** Only `typ: at+jwt` (RFC 9068 §4), for an authorization server that issues RFC 9068 access tokens: its other JWTs (ID tokens) cannot pass. */
  requireAtJwt: boolean;
  /** Seconds. */
  maxTokenAge: number | undefined;
  now: () => number;
}

const SEGMENT = /^[A-Za-z0-9_-]+$/;
/**
 * RFC 9068 §2.1 says "at+jwt"; RFC 7519 §5.1 the older "JWT", which most IdPs (Entra, Keycloak,
 * Google) still send. Other types (id_token logout+jwt, dpop+jwt, secevent+jwt…) are different
 * kinds of JWT and must not pass as access tokens (RFC 8725 §3.11). Compared after dropping an
 * "application/" prefix, case-insensitively (RFC 7515 §4.1.9).
 */
const ACCEPTED_TYP = new Set(["jwt", "at+jwt"]);

/** The JOSE header of a JWS compact serialization, or undefined when `token` is not shaped like one. */
export function decodeJwtHeader(token: string): Record<string, unknown> | undefined {
  const parts = token.split(".");
  if (parts.length !== 3 || !parts.every((part, index) => (index === 2 && part === "") || SEGMENT.test(part))) return undefined;
  try {
    const header = jsonOfBase64Url(parts[0]!);
    if (typeof header !== "object" || header === null || Array.isArray(header)) return undefined;
    if (typeof (header as { alg?: unknown }).alg !== "string") return undefined;
    return header as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/**
 * Verifies `token` and returns its claims, or throws AuthError. `header` is decodeJwtHeader's result.
 * The header checks run first so that a token that could never pass costs no key lookup (and so
 * cannot trigger a JWKS refetch).
 */
export async function verifyJwtAccessToken(token: string, header: Record<string, unknown>, getKey: JWTVerifyGetKey, policy: JwtPolicy): Promise<JWTPayload> {
  const alg = header.alg as string;
  // RFC 8725 §3.1/§2.1: the verifier, not the token, decides the algorithm; "none" and HMAC with
  // a public key as the secret are the classic confusions, and neither is ever in the list.
  if (!policy.algorithms.includes(alg)) throw new AuthError("invalid_token", `alg ${describeKid(alg)} is not allowed`);
  if (header.typ !== undefined || policy.requireAtJwt) {
    const typ = typeof header.typ === "string" ? header.typ.toLowerCase().replace(/^application\//, "") : "";
    if (policy.requireAtJwt && typ !== "at+jwt") throw new AuthError("invalid_token", `typ ${header.typ === undefined ? "(none)" : describeKid(header.typ)} is not at+jwt, which validation.require_at_jwt asks for (RFC 9068 §4)`);
    if (!ACCEPTED_TYP.has(typ)) throw new AuthError("invalid_token", `typ ${describeKid(header.typ)} is not an access token type`);
  }
  // RFC 7515 §4.1.3 "jku"/§4.1.5 "x5u": keys named by the token itself are never fetched; jose
  // ignores them too, but a token that asks is not one our IdP sent.
  if (header.jku !== undefined || header.x5u !== undefined || header.jwk !== undefined) {
    throw new AuthError("invalid_token", "token header names its own key (jku, x5u or jwk)");
  }

  const options = {
    algorithms: [...policy.algorithms],
    ...(policy.issuer !== undefined && { issuer: policy.issuer }),
    audience: policy.audience,
    clockTolerance: policy.clockSkew,
    ...(policy.maxTokenAge !== undefined && { maxTokenAge: policy.maxTokenAge }),
    requiredClaims: policy.requireExpiration ? ["exp"] : [],
    currentDate: new Date(policy.now()),
  };
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, getKey, options));
  } catch (error) {
    if ((error as { code?: unknown }).code !== "ERR_JWKS_MULTIPLE_MATCHING_KEYS") throw toAuthError(error, header);
    // A token without kid (RFC 7515 §4.1.4 makes it optional) while the set holds several keys of
    // its type, as during a rotation: each candidate is tried (at most the set's 100 keys).
    payload = await verifyWithCandidates(token, error as AsyncIterable<CryptoKey>, options, header);
  }

  const now = policy.now() / 1000;
  // jose checks iat only together with maxTokenAge; a token issued in the future is wrong either way.
  if (payload.iat !== undefined && payload.iat > now + policy.clockSkew) throw new AuthError("invalid_token", '"iat" is in the future');
  // RFC 9449 §6 / RFC 8705 §3: a sender-constrained token is only valid with its proof, which a
  // bearer-only resource server cannot check.
  if (payload.cnf !== undefined) throw new AuthError("invalid_token", 'sender-constrained token ("cnf") presented as a bearer token');
  return payload;
}

/** The payload of `token` verified by the first of `candidates` whose signature matches; the last failure otherwise. */
async function verifyWithCandidates(token: string, candidates: AsyncIterable<CryptoKey>, options: JWTVerifyOptions, header: Record<string, unknown>): Promise<JWTPayload> {
  let failure: unknown;
  for await (const key of candidates) {
    try {
      return (await jwtVerify(token, key, options)).payload;
    } catch (error) {
      failure = error;
      // A claim failure is the token's, whichever key verified it: no other key changes it.
      if ((error as { code?: unknown }).code !== "ERR_JWS_SIGNATURE_VERIFICATION_FAILED") break;
    }
  }
  throw toAuthError(failure, header);
}

function toAuthError(error: unknown, header: Record<string, unknown>): AuthError {
  if (error instanceof AuthError) return error;
  const code = (error as { code?: unknown })?.code;
  const claim = (error as { claim?: unknown })?.claim;
  const reason = (error as { reason?: unknown })?.reason;
  switch (code) {
    case "ERR_JWT_EXPIRED":
      return new AuthError("invalid_token", claim === "iat" ? "token is older than max_token_age" : "token expired");
    case "ERR_JWT_CLAIM_VALIDATION_FAILED":
      // jose's claim/reason are fixed strings ("aud", "check_failed"); its messages carry no claim values.
      return new AuthError("invalid_token", `claim "${String(claim)}" ${reason === "missing" ? "is missing" : "check failed"}: ${(error as Error).message}`);
    case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
      return new AuthError("invalid_token", `signature verification failed (kid ${describeKid(header.kid)})`);
    case "ERR_JWKS_NO_MATCHING_KEY":
      return new AuthError("invalid_token", `no key for kid ${describeKid(header.kid)} and alg ${describeKid(header.alg)}`);
    case "ERR_JOSE_ALG_NOT_ALLOWED":
      return new AuthError("invalid_token", `alg ${describeKid(header.alg)} is not allowed`);
    case "ERR_JWT_INVALID":
    case "ERR_JWS_INVALID":
      return new AuthError("invalid_token", `malformed JWT: ${(error as Error).message}`);
    case "ERR_JOSE_NOT_SUPPORTED":
    case "ERR_JWK_INVALID":
    case "ERR_JWKS_INVALID":
      return new AuthError("invalid_token", `key or algorithm not usable: ${(error as Error).message}`);
    default:
      return new AuthError("invalid_token", `JWT rejected (${typeof code === "string" ? code : (error as Error)?.name ?? "error"})`);
  }
}
