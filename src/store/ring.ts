/**
 * @module A bounded ring of slots in a store, for entries anyone can make without signing in
 * (unused client registrations, pending sign-ins): the next new one takes the next slot and its
 * occupant gives way, however young. Kept in the store itself, so any Store implementation (and
 * every bridge sharing one) bounds them alike. A flood then cuts short the oldest of its kind; it
 * can never refuse the next honest one, as a full store or a refusing limit would.
 */
import type { Store, StoredValue } from "./types.ts";

export interface SlotRingOptions<T extends StoredValue> {
  store: Store;
  /** Key prefix of the slots (`<prefix>0` …) and of the sequence that hands them out (`<prefix>next`). */
  prefix: string;
  /** How many slots: the most occupants kept at once. */
  slots: number;
  /** The sequence's lifetime (ms); at least the occupants' longest, so that it does not restart under them. */
  sequenceLifetime: number;
  /** Lets the occupant of a slot being taken go (drops what it names, if that may be dropped). */
  release(occupant: T): Promise<void>;
}

export class SlotRing<T extends StoredValue> {
  readonly #options: SlotRingOptions<T>;

  constructor(options: SlotRingOptions<T>) {
    if (!(options.slots >= 1)) throw new RangeError(`a slot ring needs at least one slot (got ${options.slots})`);
    this.#options = options;
  }

  /** Takes the next slot for `occupant`, kept `lifetimeMs` (ms), after its previous occupant was released. */
  async claim(occupant: T, lifetimeMs: number): Promise<void> {
    const { store, prefix, slots, sequenceLifetime, release } = this.#options;
    const sequence = await store.increment(`${prefix}next`, 1, sequenceLifetime);
    const key = `${prefix}${sequence % slots}`;
    const previous = await store.get<T>(key);
    if (previous !== undefined) await release(previous);
    await store.put(key, occupant, lifetimeMs);
  }
}
