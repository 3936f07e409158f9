/**
 * @module The signing keys: the current private key (from key_file, generated once and kept in
 * the state directory, or ephemeral) and the public halves of retired ones, published together as
 * the JWKS. kid is the RFC 7638 JWK thumbprint unless configured.
 */
import { calculateJwkThumbprint, exportJWK, exportPKCS8, generateKeyPair, importPKCS8, importSPKI, SignJWT, type JWK, type JWTPayload } from "jose";
import type { OAuthServerConfig } from "../config/schema.ts";
import { ConfigError } from "../config/errors.ts";
import type { Logger } from "../log/logger.ts";
import type { Platform } from "../runtime/types.ts";
import { readPemKey, toPem, toPkcs8 } from "./pem.ts";
import { readConfiguredFile } from "../server/preflight.ts";

export type SigningAlgorithm = OAuthServerConfig["signing"]["algorithm"];

/** Private members of RSA, EC and OKP JWKs (RFC 7518 §6, RFC 8037 §2). */
const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

export interface SigningKeys {
  readonly algorithm: SigningAlgorithm;
  readonly kid: string;
  /** Every algorithm a published key is used with (the current one first). */
  readonly algorithms: string[];
  /** RFC 7517 JWK Set: public keys only. */
  readonly jwks: { keys: JWK[] };
  /** Signs `payload` as a JWS with `typ`. */
  sign(payload: JWTPayload, typ: string): Promise<string>;
}

function publicJwk(jwk: JWK): JWK {
  const copy: Record<string, unknown> = { ...jwk };
  for (const member of PRIVATE_MEMBERS) delete copy[member];
  return copy as JWK;
}

/** The algorithm a retired key was most likely used with: its curve decides, RSA keeps the current family. */
function algorithmFor(jwk: JWK, current: SigningAlgorithm): SigningAlgorithm {
  if (jwk.kty === "OKP") return "EdDSA";
  if (jwk.kty === "EC") return jwk.crv === "P-384" ? "ES384" : jwk.crv === "P-521" ? "ES512" : "ES256";
  return current.startsWith("RS") || current.startsWith("PS") ? current : "RS256";
}

/** Candidate algorithms for importing a key whose kind is known but not its use. */
const IMPORT_CANDIDATES: SigningAlgorithm[] = ["RS256", "ES256", "ES384", "ES512", "EdDSA"];

async function importPrivatePem(text: string, alg: SigningAlgorithm | undefined): Promise<{ key: CryptoKey; alg: SigningAlgorithm }> {
  const { kind, der } = readPemKey(text);
  if (kind === "spki") throw new TypeError("this is a public key; the signing key must be a private key");
  const pkcs8 = toPem("PRIVATE KEY", toPkcs8(kind, der));
  if (alg) {
    try {
      return { key: await importPKCS8(pkcs8, alg, { extractable: true }), alg };
    } catch (error) {
      throw new TypeError(`the key cannot be used with ${alg} (${(error as Error).message}); an RSA key signs RS*/PS*, P-256 ES256, P-384 ES384, P-521 ES512, Ed25519 EdDSA`);
    }
  }
  for (const candidate of IMPORT_CANDIDATES) {
    try {
      return { key: await importPKCS8(pkcs8, candidate, { extractable: true }), alg: candidate };
    } catch {
      // Try the next key type.
    }
  }
  throw new TypeError("the key type is not one of RSA, EC P-256/P-384/P-521 or Ed25519");
}

async function importPublicPem(text: string): Promise<JWK> {
  const { kind, der } = readPemKey(text);
  if (kind !== "spki") return publicJwk(await exportJWK((await importPrivatePem(text, undefined)).key));
  const pem = toPem("PUBLIC KEY", der);
  for (const candidate of IMPORT_CANDIDATES) {
    try {
      return await exportJWK(await importSPKI(pem, candidate, { extractable: true }));
    } catch {
      // Try the next key type.
    }
  }
  throw new TypeError("the key type is not one of RSA, EC P-256/P-384/P-521 or Ed25519");
}

/**
 * Loads or creates the signing keys. `stateDirectory` is where a generated key is kept when
 * neither key_file nor generate_key is set (undefined with memory storage: the key is then ephemeral).
 * Unusable keys are ConfigErrors naming the key's path.
 */
export async function loadSigningKeys(config: OAuthServerConfig["signing"], context: { platform: Platform; logger: Logger; stateDirectory: string | undefined }): Promise<SigningKeys> {
  const { platform, logger } = context;
  const alg = config.algorithm;
  let privateKey: CryptoKey;
  const keyIssue = (path: string, error: unknown) =>
    error instanceof ConfigError ? error : new ConfigError("CONFIG_INVALID", [{ path, message: `${(error as Error).message}` }]);

  if (config.key_file) {
    const text = await readConfiguredFile(platform, "server.oauth_server.signing.key_file", config.key_file);
    try {
      privateKey = (await importPrivatePem(text, alg)).key;
    } catch (error) {
      throw keyIssue("server.oauth_server.signing.key_file", new TypeError(`"${config.key_file}": ${(error as Error).message}`));
    }
  } else if (config.generate_key || !context.stateDirectory) {
    ({ privateKey } = await generateKeyPair(alg, { extractable: true }));
    logger.warn("the token signing key is ephemeral: every issued token stops working when the bridge restarts", {
      reason: config.generate_key ? "signing.generate_key is true" : "storage.type is memory and no signing.key_file is set",
    });
  } else {
    const path = `${context.stateDirectory.replace(/[\\/]$/, "")}/signing-key-${alg}.pem`;
    privateKey = await loadOrCreateKey(platform, logger, path, alg);
  }

  const current = publicJwk(await exportJWK(privateKey));
  const kid = config.key_id ?? (await calculateJwkThumbprint(current, "sha256"));
  const keys: JWK[] = [{ ...current, kid, alg, use: "sig" }];
  const algorithms: string[] = [alg];
  for (const [index, path] of config.previous_key_files.entries()) {
    const key = `server.oauth_server.signing.previous_key_files[${index}]`;
    const text = await readConfiguredFile(platform, key, path);
    let jwk: JWK;
    try {
      jwk = await importPublicPem(text);
    } catch (error) {
      throw keyIssue(key, new TypeError(`"${path}": ${(error as Error).message}`));
    }
    const previousKid = await calculateJwkThumbprint(jwk, "sha256");
    if (keys.some((known) => known.kid === previousKid)) continue;
    const previousAlg = algorithmFor(jwk, alg);
    keys.push({ ...jwk, kid: previousKid, alg: previousAlg, use: "sig" });
    if (!algorithms.includes(previousAlg)) algorithms.push(previousAlg);
  }

  return {
    algorithm: alg,
    kid,
    algorithms,
    jwks: { keys },
    sign: (payload, typ) => new SignJWT(payload).setProtectedHeader({ alg, kid, typ }).sign(privateKey),
  };
}

/**
 * The text kept at `path` in the state directory, or `make()`'s, written there exclusively (mode
 * 0600) and never visible half-written (a start that fails mid-write, disk full, leaves no empty
 * file to refuse the next one); a concurrent start that wrote first wins. `created`: this call
 * wrote it. An unwritable or unreadable file is a ConfigError naming storage.path and `what` it holds.
 */
export async function keptStateFile(platform: Platform, what: string, path: string, make: () => Promise<string>): Promise<{ text: string; created: boolean }> {
  if (!platform.fileExists(path)) {
    const text = await make();
    let created: boolean;
    try {
      created = await platform.createExclusiveFile(path, text, 0o600);
    } catch (error) {
      throw new ConfigError("CONFIG_INVALID", [{ path: "storage.path", message: `cannot write ${what} "${path}" (${(error as { code?: string }).code ?? (error as Error).name})` }]);
    }
    if (created) return { text, created };
  }
  return { text: await readConfiguredFile(platform, "storage.path", path), created: false };
}

/** The key kept at `path` (keptStateFile), or a new one. */
async function loadOrCreateKey(platform: Platform, logger: Logger, path: string, alg: SigningAlgorithm): Promise<CryptoKey> {
  let generated: CryptoKey | undefined;
  const { text, created } = await keptStateFile(platform, "the signing key", path, async () => {
    ({ privateKey: generated } = await generateKeyPair(alg, { extractable: true }));
    return (await exportPKCS8(generated)) + "\n";
  });
  if (created) {
    logger.info("generated a token signing key and kept it in the state directory", { path, alg });
    return generated!;
  }
  try {
    return (await importPrivatePem(text, alg)).key;
  } catch (error) {
    throw new ConfigError("CONFIG_INVALID", [{ path: "storage.path", message: `the kept signing key "${path}" is unusable (${(error as Error).message}); remove it to generate a new one` }]);
  }
}
