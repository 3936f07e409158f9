/**
 * @module The `client.auth` section the conformance client driver gives the bridge for a scenario
 * (from MCP_CONFORMANCE_CONTEXT). Outbound authentication (h11b) fills in the auth scenarios.
 */

/** The context the conformance harness passes in MCP_CONFORMANCE_CONTEXT (shape varies per scenario). */
export type ConformanceContext = Record<string, unknown> & { name?: string };

/**
 * `client.auth` for `scenario`, or undefined for none.
 *
 * @param followRedirects a command that, given a URL as its last argument, follows it like a
 *   browser would (the mock authorization endpoint redirects at once to the loopback callback);
 *   meant for `browser_command`.
 */
export function conformanceAuth(scenario: string, _context: ConformanceContext, _followRedirects: string[]): Record<string, unknown> | undefined {
  if (!scenario.startsWith("auth/")) return undefined;
  throw new Error(`the conformance driver has no auth configuration for ${scenario} yet`);
}
