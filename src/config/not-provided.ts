/**
 * @module Settings that ask for something this version of the bridge does not do. Each is refused
 * (exit 2, by `run` and `check-config` alike) instead of being accepted and ignored: a config that
 * asks for protection must never be served without it. One entry per feature, so an
 * entry goes away with the release that provides the feature.
 */
import type { Config } from "./schema.ts";
import type { ConfigIssue } from "./errors.ts";

export interface NotProvided {
  /** The key that asks for the feature. */
  path: string;
  /** True when `config` asks for it. */
  asks(config: Config): boolean;
  /** What is missing and what to do instead. */
  message: string;
}

export const NOT_PROVIDED: readonly NotProvided[] = [
  {
    path: "server.session.enabled",
    asks: (config) => config.mode === "server" && config.server?.session.enabled === false,
    message: "sessions cannot be turned off: they are how the bridge keeps clients apart; remove the key",
  },
];

/** The issues for every feature `config` asks for that this version does not provide. */
export function notProvided(config: Config): ConfigIssue[] {
  return NOT_PROVIDED.filter((entry) => entry.asks(config)).map(({ path, message }) => ({ path, message }));
}
