/**
 * @module Built-in users: bcrypt verification that costs the same for unknown users as for known
 * ones (a dummy hash of the same cost is compared), so response time does not tell which
 * usernames exist.
 */
import bcrypt from "bcryptjs";
import type { OAuthServerConfig } from "../config/schema.ts";
import { ConfigError } from "../config/errors.ts";
import type { SignedInUser } from "./identity.ts";
import { randomToken } from "./random.ts";

/** Cost of hashes made for password_env users (the hash-password default). */
const ENV_PASSWORD_COST = 10;
const COST = /^\$2[aby]\$(\d\d)\$/;

export interface BuiltinUsers {
  /** The user when `username` and `password` match; undefined otherwise, after the same work either way. */
  verify(username: string, password: string): Promise<SignedInUser | undefined>;
  /** Every scope some user may be granted. */
  readonly allScopes: string[];
}

export async function createBuiltinUsers(config: OAuthServerConfig["builtin"], env: Readonly<Record<string, string | undefined>>): Promise<BuiltinUsers> {
  const table = new Map<string, { hash: string; user: SignedInUser }>();
  const issues: { path: string; message: string }[] = [];
  for (const [index, entry] of config.users.entries()) {
    let hash = entry.password_hash?.reveal();
    if (!hash && entry.password_env) {
      const password = env[entry.password_env];
      if (!password) {
        issues.push({ path: `server.oauth_server.builtin.users[${index}].password_env`, message: `environment variable ${entry.password_env} is not set or empty` });
        continue;
      }
      if (bcrypt.truncates(password)) {
        issues.push({ path: `server.oauth_server.builtin.users[${index}].password_env`, message: `the password in ${entry.password_env} is longer than bcrypt's 72-byte limit` });
        continue;
      }
      hash = await bcrypt.hash(password, ENV_PASSWORD_COST);
    }
    table.set(entry.username, { hash: hash!, user: { subject: entry.username, name: entry.username, scopes: [...entry.scopes] } });
  }
  if (issues.length > 0) throw new ConfigError("CONFIG_INVALID", issues);
  // The dummy costs what the dearest real hash costs: a cheaper one would time unknown users apart.
  const costs = [...table.values()].map(({ hash }) => Number(COST.exec(hash)?.[1] ?? ENV_PASSWORD_COST));
  const cost = costs.length > 0 ? Math.max(...costs) : ENV_PASSWORD_COST;
  const dummy = await bcrypt.hash(randomToken(16), cost);
  return {
    allScopes: [...new Set(config.users.flatMap((user) => user.scopes))],
    async verify(username, password) {
      const found = table.get(username);
      // bcrypt reads 72 bytes; a longer password matching on its prefix is refused, after the same work.
      const ok = await bcrypt.compare(password, found?.hash ?? dummy);
      return ok && found && !bcrypt.truncates(password) ? found.user : undefined;
    },
  };
}
