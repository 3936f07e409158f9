/**
 * @module Built-in users: bcrypt verification that costs the same for unknown users as for known
 * ones (a dummy hash of the same cost is compared), so response time does not tell which
 * usernames exist.
 */
import bcrypt from "bcryptjs";
import type { OAuthServerConfig } from "../config/schema.ts";
import { ConfigError } from "../config/errors.ts";
import type { Logger } from "../log/logger.ts";
import type { SignedInUser } from "./identity.ts";
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
const COST = /^\$2[aby]\$(\d\d)\$/;

export interface BuiltinUsers {
  /**
   * A turn to check a password: resolves with its release once fewer than MAX_CONCURRENT_CHECKS
   * run; undefined at once when MAX_WAITING_CHECKS already wait (the sign-in is answered 503).
   */
  turn(): Promise<() => void> | undefined;
  /** The user when `username` and `password` match; undefined otherwise, after the same work either way. Call it during a turn. */
  verify(username: string, password: string): Promise<SignedInUser | undefined>;
  /** Every scope some user may be granted. */
  readonly allScopes: string[];
  /** The configured user named `username` (a login session's), or undefined when no longer configured. */
  find(username: string): SignedInUser | undefined;
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
    if (!password) issues.push({ path, message: `environment variable ${entry.password_env} is not set or empty` });
    else if (bcrypt.truncates(password)) issues.push({ path, message: `the password in ${entry.password_env} is longer than bcrypt's 72-byte limit` });
    else passwords.set(index, password);
  }
  if (issues.length > 0) throw new ConfigError("CONFIG_INVALID", issues);
  return passwords;
}

/** The built-in users; `logger` is told when their hashes' costs differ (a cheaper one answers faster than an unknown name). */
export async function createBuiltinUsers(config: OAuthServerConfig["builtin"], env: Readonly<Record<string, string | undefined>>, logger?: Logger): Promise<BuiltinUsers> {
  const fromEnvironment = environmentPasswords(config, env);
  const table = new Map<string, { hash: string; user: SignedInUser }>();
  for (const [index, entry] of config.users.entries()) {
    const password = fromEnvironment.get(index);
    const hash = password !== undefined ? await bcrypt.hash(password, ENV_PASSWORD_COST) : entry.password_hash!.reveal();
    table.set(entry.username, { hash, user: { subject: entry.username, name: entry.username, scopes: [...entry.scopes] } });
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
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else running--;
  };
  return {
    turn() {
      if (running < MAX_CONCURRENT_CHECKS) {
        running++;
        return Promise.resolve(once(release));
      }
      if (waiting.length >= MAX_WAITING_CHECKS) return undefined;
      // A released turn passes straight to the next waiter: `running` stays as it is.
      return new Promise((resolve) => waiting.push(() => resolve(once(release))));
    },
    allScopes: [...new Set(config.users.flatMap((user) => user.scopes))],
    find: (username) => table.get(username)?.user,
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
