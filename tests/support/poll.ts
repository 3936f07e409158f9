/** @module The one polling loop of the tests: wait for a condition a running process makes true. */

/**
 * Calls `check` every `everyMs` ms until it returns something other than undefined, null or false,
 * and resolves to that. Rejects after `timeoutMs` (generous: the machine may be loaded) with
 * `timed out waiting for <what>`; `what` may be a function, for a message built at that moment
 * (a log's tail).
 */
export async function waitFor<T>(check: () => T | Promise<T>, what: string | (() => string), timeoutMs = 30_000, everyMs = 50): Promise<Exclude<T, undefined | null | false>> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== null && value !== false) return value as Exclude<T, undefined | null | false>;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${typeof what === "function" ? what() : what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
