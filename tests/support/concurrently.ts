/** @module Independent steps of one test (CLI runs, each its own process) run side by side, a few at a time. */

/**
 * Calls `each` on every item with at most `limit` calls pending at once; resolves to the results in
 * the items' order, or rejects with the first failure (an assertion inside `each`). Each step must
 * stand alone: its own files and environment, nothing it shares with another one.
 */
export async function concurrently<T, R>(items: readonly T[], limit: number, each: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await each(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
