/**
 * @module A bounded ring of slots in a store, for entries anyone can make without signing in
 * (unused client registrations, pending sign-ins): the next new one takes the next slot and its
 * occupant gives way, however young. Kept in the store itself, so any Store implementation (and
 * every bridge sharing one) bounds them alike. A flood then cuts short the oldest of its kind; it
 * can never refuse the next honest one, as a full store or a refusing limit would.
 */
import type { Store, StoredValue } from "./types.ts";

/**
 * The lifetime of the sequence that hands out slots (ms). Store.increment keeps an entry's first
 * expiry, and a sequence that restarted would hand out slots from the first again, whose occupants
 * may be young: a year, so that this happens once a year at most rather than every few minutes.
 */
const SEQUENCE_LIFETIME_MS = 366 * 86_400_000;

export interface SlotRingOptions<T extends StoredValue> {
  store: Store;
  /** Key prefix of the slots (`<prefix>0` …) and of the sequence that hands them out (`<prefix>next`). */
  prefix: string;
  /** How many slots: the most occupants kept at once. */
  slots: number;
  /** Lets the occupant of a slot being taken go (drops what it names, if that may be dropped). */
  release(occupant: T): Promise<void>;
}

export class SlotRing<T extends StoredValue> {
  readonly #options: SlotRingOptions<T>;

  constructor(options: SlotRingOptions<T>) {
    if (!(options.slots >= 1)) throw new RangeError(`a slot ring needs at least one slot (got ${options.slots})`);
    this.#options = options;
  }

  /**
   * Takes the next slot for `occupant`, kept `lifetimeMs` (ms), after its previous occupant was
   * released. Each claim gets its slot from one atomic increment. Not atomic as a whole: two
   * claims a whole ring apart that overlap (a store answering slowly) share a slot, and the one
   * whose put loses is kept until its own expiry outside the ring, so the bound is overshot by at
   * most the claims in flight.
   */
  async claim(occupant: T, lifetimeMs: number): Promise<void> {
    const { store, prefix, slots, release } = this.#options;
    const sequence = await store.increment(`${prefix}next`, 1, SEQUENCE_LIFETIME_MS);
    const key = `${prefix}${sequence % slots}`;
    const previous = await store.get<T>(key);
    if (previous !== undefined) await release(previous);
    await store.put(key, occupant, lifetimeMs);
  }
}
