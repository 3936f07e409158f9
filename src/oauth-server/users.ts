/**
 * @module Built-in users: bcrypt verification that costs the same for unknown users as for known
 * ones (a dummy hash of the same cost is compared), so response time does not tell which
 * usernames exist; and each user's credential fingerprint, which login sessions, codes and refresh
 * families keep, so that changing a user's password (or removing the user) ends them.
 */
import bcrypt from "bcryptjs";
import type { OAuthServerConfig } from "../config/schema.ts";
import { ConfigError } from "../config/errors.ts";
import type { Logger } from "../log/logger.ts";
import { variableNamed } from "../log/sanitize.ts";
import type { Platform } from "../runtime/types.ts";
import { addressBucket } from "../util/cidr.ts";
import { toBase64Url } from "../util/digest.ts";
import type { SignedInUser } from "./identity.ts";
import { keptStateFile } from "./keys.ts";
import { randomToken } from "./random.ts";

/** Cost of hashes made for password_env users (the hash-password default). */
const ENV_PASSWORD_COST = 10;
/**
 * Password checks run at once. bcryptjs is JavaScript on the event loop: each check holds it for
 * its whole cost, so more at once only delay every other request (MCP calls included).
 */
const MAX_CONCURRENT_CHECKS = 2;
/** Sign-ins waiting for a check; beyond, they are told to retry (503): a flood from many addresses must not queue without bound. */
const MAX_WAITING_CHECKS = 32;
/**
 * Sign-ins of one client address (its /64 for IPv6) checked or waiting at once; beyond, that
 * address is told to slow down (429): one address sending sign-ins at once must not fill the queue
 * and get everyone else's told to retry.
 */
const MAX_CHECKS_PER_ADDRESS = MAX_WAITING_CHECKS / 4;
const COST = /^\$2[aby]\$(\d\d)\$/;

export interface BuiltinUsers {
  /**
   * A turn to check a password for a sign-in from `address` (the client's): resolves with its
   * release once fewer than MAX_CONCURRENT_CHECKS run. At once, without a turn: `"address"` when
   * the address has MAX_CHECKS_PER_ADDRESS turns held or awaited (its own excess: 429), `"queue"`
   * when MAX_WAITING_CHECKS already wait (everyone's: 503).
   */
  turn(address: string): Promise<() => void> | "address" | "queue";
  /** The user when `username` and `password` match; undefined otherwise, after the same work either way. Call it during a turn. */
  verify(username: string, password: string): Promise<SignedInUser | undefined>;
  /** Whether `username` names a configured user (what audit lines may then show: anything else may be a password typed in the wrong field). */
  known(username: string): boolean;
  /** Every scope some user may be granted. */
  readonly allScopes: string[];
  /**
   * The configured user named `username` when `credential` (the fingerprint a login session, code
   * or refresh family kept from sign-in) is still theirs; undefined when the user was removed, their
   * password changed since, or nothing was kept (a record from before fingerprints).
   */
  holder(username: string, credential: string | undefined): SignedInUser | undefined;
}

/** Name of the credential key's file in the state directory. */
const CREDENTIAL_KEY_FILE = "credential-key";
const CREDENTIAL_KEY_TEXT = /^[A-Za-z0-9_-]{43}$/;

/**
 * The HMAC key of credential fingerprints: 32 random bytes kept in the state directory
 * (`directory`, keptStateFile), so fingerprints, and the grants bound to them, survive restarts;
 * a fresh one each start when there is no directory (memory storage: the grants go too). Keyed, so
 * the store never holds anything a password could be guessed against without this file as well.
 * A kept file that is not a key is a ConfigError naming storage.path.
 */
export async function loadCredentialKey(platform: Platform, directory: string | undefined): Promise<CryptoKey> {
  let text = randomToken(32);
  if (directory !== undefined) {
    const path = `${directory.replace(/[\\/]$/, "")}/${CREDENTIAL_KEY_FILE}`;
    text = (await keptStateFile(platform, "the credential key", path, async () => `${text}\n`)).text.trim();
    if (!CREDENTIAL_KEY_TEXT.test(text)) {
      throw new ConfigError("CONFIG_INVALID", [{ path: "storage.path", message: `the kept credential key "${path}" is unusable; remove it to generate a new one (built-in users then sign in again)` }]);
    }
  }
  return crypto.subtle.importKey("raw", new TextEncoder().encode(text), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
}

/** base64url HMAC-SHA256 of `text` under `key`. */
async function fingerprint(key: CryptoKey, text: string): Promise<string> {
  return toBase64Url(new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(text))));
}

/**
 * The passwords of password_env users, from the environment, by user index; a ConfigError naming
 * each user whose variable is unset, empty or longer than bcrypt reads.
 */
export function environmentPasswords(config: OAuthServerConfig["builtin"], env: Readonly<Record<string, string | undefined>>): Map<number, string> {
  const passwords = new Map<number, string>();
  const issues: { path: string; message: string }[] = [];
  for (const [index, entry] of config.users.entries()) {
    if (!entry.password_env) continue;
    const path = `server.oauth_server.builtin.users[${index}].password_env`;
    const password = env[entry.password_env];
    if (!password) issues.push({ path, message: `${variableNamed(entry.password_env)} is not set or empty` });
    else if (bcrypt.truncates(password)) issues.push({ path, message: `the password in ${entry.password_env} is longer than bcrypt's 72-byte limit` });
    else passwords.set(index, password);
  }
  if (issues.length > 0) throw new ConfigError("CONFIG_INVALID", issues);
  return passwords;
}

/**
 * The built-in users; `credentialKey` (loadCredentialKey) keys their credential fingerprints.
 * `logger` is told when their hashes' costs differ (a cheaper one answers faster than an unknown name).
 */
export async function createBuiltinUsers(config: OAuthServerConfig["builtin"], env: Readonly<Record<string, string | undefined>>, credentialKey: CryptoKey, logger?: Logger): Promise<BuiltinUsers> {
  const fromEnvironment = environmentPasswords(config, env);
  const table = new Map<string, { hash: string; user: SignedInUser & { credential: string } }>();
  for (const [index, entry] of config.users.entries()) {
    const password = fromEnvironment.get(index);
    const hash = password !== undefined ? await bcrypt.hash(password, ENV_PASSWORD_COST) : entry.password_hash!.reveal();
    // A password_env user's hash is salted afresh at every start: the password itself is what stays the same.
    const credential = await fingerprint(credentialKey, password !== undefined ? `password_env\0${password}` : `password_hash\0${hash}`);
    table.set(entry.username, { hash, user: { subject: entry.username, name: entry.username, scopes: [...entry.scopes], credential } });
  }
  // The dummy costs what the dearest real hash costs: a cheaper one would time unknown users apart.
  const costs = [...table.values()].map(({ hash }) => Number(COST.exec(hash)?.[1] ?? ENV_PASSWORD_COST));
  const cost = costs.length > 0 ? Math.max(...costs) : ENV_PASSWORD_COST;
  if (new Set(costs).size > 1) {
    logger?.warn("the built-in users' password hashes have different bcrypt costs: a cheaper one answers faster than an unknown username, which tells that the name exists; make every password_hash with the same cost", { costs: [...new Set(costs)].sort((a, b) => a - b).join(",") });
  }
  const dummy = await bcrypt.hash(randomToken(16), cost);
  let running = 0;
  const waiting: Array<() => void> = [];
  /** Turns held or awaited per address bucket, while it has any. */
  const perAddress = new Map<string, number>();
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else running--;
  };
  return {
    turn(address) {
      const bucket = addressBucket(address);
      const held = perAddress.get(bucket) ?? 0;
      if (held >= MAX_CHECKS_PER_ADDRESS) return "address";
      if (running >= MAX_CONCURRENT_CHECKS && waiting.length >= MAX_WAITING_CHECKS) return "queue";
      perAddress.set(bucket, held + 1);
      const done = once(() => {
        const left = (perAddress.get(bucket) ?? 1) - 1;
        if (left > 0) perAddress.set(bucket, left);
        else perAddress.delete(bucket);
        release();
      });
      if (running < MAX_CONCURRENT_CHECKS) {
        running++;
        return Promise.resolve(done);
      }
      // A released turn passes straight to the next waiter: `running` stays as it is.
      return new Promise((resolve) => waiting.push(() => resolve(done)));
    },
    allScopes: [...new Set(config.users.flatMap((user) => user.scopes))],
    known: (username) => table.has(username),
    holder(username, credential) {
      const user = table.get(username)?.user;
      return user && credential === user.credential ? user : undefined;
    },
    async verify(username, password) {
      const found = table.get(username);
      // bcrypt reads 72 bytes; a longer password matching on its prefix is refused, after the same work.
      const ok = await bcrypt.compare(password, found?.hash ?? dummy);
      return ok && found && !bcrypt.truncates(password) ? found.user : undefined;
    },
  };
}

/** `fn`, callable once (a turn released twice would let a third check run). */
function once(fn: () => void): () => void {
  let called = false;
  return () => {
    if (called) return;
    called = true;
    fn();
  };
}
