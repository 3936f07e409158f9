/** @module A bounded memo for pure functions of short strings that run on every request (address and Host parsing). */

/** Inputs longer than this are computed every time: a memo of long header values would hold their bytes. */
const MAX_KEY_LENGTH = 256;

/**
 * `fn` remembered for up to `max` distinct inputs of at most MAX_KEY_LENGTH characters. When full,
 * it forgets them all at once: constant time and memory, and a client sending a new input with
 * every request costs what no memo would (a least-recently-used order would cost every lookup).
 * `fn` must be pure and its results immutable: callers share them.
 */
export function memoized<T>(fn: (text: string) => T, max = 1024): (text: string) => T {
  const known = new Map<string, T>();
  return (text) => {
    const hit = known.get(text);
    if (hit !== undefined || known.has(text)) return hit as T;
    const value = fn(text);
    if (text.length > MAX_KEY_LENGTH) return value;
    if (known.size >= max) known.clear();
    known.set(text, value);
    return value;
  };
}
