/** @module `mcp-bridge run` (the default command): start server or client mode from the config. */
import type { Command } from "./command.ts";
import { configOption, loadConfigFile } from "./config-file.ts";
import { ConfigError } from "../config/errors.ts";
import { createLoggerFromConfig } from "../log/from-config.ts";
import { startServer } from "../server/index.ts";

export const runCommand: Command = {
  name: "run",
  summary: "Start the bridge as its configuration says (the default command)",
  usage: "[run] [-c FILE] [--log-level LEVEL]",
  options: {
    config: configOption,
    "log-level": { type: "string", value: "LEVEL", description: "Override log.level: debug, info, warn or error" },
  },
  examples: ["mcp-bridge -c config.yaml", "mcp-bridge run -c /etc/mcp-bridge/config.yaml --log-level debug"],
  details:
    "Stops gracefully on SIGINT or SIGTERM: sessions end, children get their stdin closed, then SIGTERM, then SIGKILL (each after mcp_server.graceful_shutdown_timeout), to their whole process group. A second signal kills the children and exits at once. In client mode, stdin and stdout carry MCP messages and the remote session ends when stdin closes.",
  async run(args, platform) {
    const { config, path } = await loadConfigFile(platform, args.values.config as string | undefined);
    // Checks made while starting (users' password_env, key files, the state directory) name the file too.
    const located = (error: unknown) => (error instanceof ConfigError ? error.locatedIn(path) : error);
    const levelOverride = args.values["log-level"] as string | undefined;
    if (levelOverride !== undefined) {
      if (!["debug", "info", "warn", "error"].includes(levelOverride)) {
        const { UsageError } = await import("./args.ts");
        throw new UsageError(`--log-level must be one of debug, info, warn, error (got "${levelOverride}")`);
      }
      config.log.level = levelOverride as typeof config.log.level;
    }
    const logger = createLoggerFromConfig(config.log, platform);
    if (config.mode === "client") {
      const { runClient } = await import("../client/index.ts");
      return await runClient(config.client!, platform, logger).catch((error: unknown) => {
        throw located(error);
      });
    }
    const server = await startServer(config, platform, logger).catch((error: unknown) => {
      throw located(error);
    });
    await new Promise<void>((resolve) => {
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) {
          // The user does not want to wait: no child may outlive the bridge, so they are killed first.
          logger.warn("second signal: killing MCP server processes and exiting now", { signal });
          server.kill();
          platform.exit(1);
        }
        stopping = true;
        logger.info("shutting down; send the signal again to stop at once", { signal });
        void server.close().then(resolve);
      };
      platform.onSignal("SIGINT", () => stop("SIGINT"));
      platform.onSignal("SIGTERM", () => stop("SIGTERM"));
    });
    return 0;
  },
};
