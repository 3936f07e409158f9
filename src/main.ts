/** @module Entry point for Node (bundled to dist/mcp-bridge.cjs) and Deno (`deno run -A src/main.ts`). */
import { runCli } from "./cli/index.ts";
import type { Platform } from "./runtime/types.ts";

async function main(): Promise<void> {
  // The one place the runtime is detected; everything below receives a Platform.
  const platform: Platform =
    "Deno" in globalThis ? (await import("./runtime/deno.ts")).denoPlatform : (await import("./runtime/node.ts")).nodePlatform;
  platform.exit(await runCli(platform.args, platform));
}

void main();
