/**
 * @module What check-config can verify of the authorization server beyond the schema: that the
 * signing key, the retired keys and the login template can be read and used, and that password_env
 * variables (builtin) or the client secret variable (federated) are set, and that the state
 * directory can be used (created if missing, as run would; a probe file written and removed). No key is generated.
 */
import type { Config } from "../config/schema.ts";
import { ConfigError } from "../config/errors.ts";
import type { Logger } from "../log/logger.ts";
import type { Platform } from "../runtime/types.ts";
import { checkStorage } from "../store/index.ts";
import { loadSigningKeys } from "./keys.ts";
import { checkBranding, readLoginTemplate } from "./index.ts";
import { environmentPasswords } from "./users.ts";
import { resolveClientSecret } from "./federated/index.ts";

const quiet: Logger = { enabled: () => false, debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };

/** Throws a ConfigError naming the key when a file the authorization server needs is unusable. */
export async function checkAuthorizationServerFiles(config: Config, platform: Platform): Promise<void> {
  const as = config.server?.oauth_server;
  if (config.mode !== "server" || !as?.enabled) return;
  const issues = [];
  for (const check of [
    () => checkBranding(as),
    // With no key_file the key is generated (or read from the state directory) at start: nothing to check here.
    () => (as.signing.key_file || as.signing.previous_key_files.length > 0 ? loadSigningKeys({ ...as.signing, generate_key: !as.signing.key_file }, { platform, logger: quiet, stateDirectory: undefined }) : undefined),
    () => readLoginTemplate(platform, as.builtin.login_template),
    () => (as.mode === "builtin" ? environmentPasswords(as.builtin, platform.env) : undefined),
    () => (as.mode === "federated" ? resolveClientSecret(as.federated, platform.env) : undefined),
    // The state directory: found, writable, and not in use by a running bridge — as `run` would find it.
    () => checkStorage(config.storage, platform),
  ]) {
    try {
      await check();
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      issues.push(...error.issues);
    }
  }
  if (issues.length > 0) throw new ConfigError("CONFIG_INVALID", issues);
}
