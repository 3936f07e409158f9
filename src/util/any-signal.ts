/**
 * @module An AbortSignal that aborts when any of several does: a request's own signal tied to a
 * transport's shutdown signal, which outlives thousands of requests. Node 20's `AbortSignal.any`
 * keeps every signal it made from a source for as long as that source lives (about 2 KB each,
 * with or without listeners; client mode ran out of memory after tens of thousands of requests),
 * so it is not used. Here a source has one listener, and knows the signals made from it weakly:
 * each is forgotten when it aborts or is collected.
 */

/** Each signal's controller, for as long as the signal lives (a WeakMap value does not keep its key alive). */
const controllers = new WeakMap<AbortSignal, AbortController>();
/** Per source: the signals made from it that may still abort, held weakly. */
const dependants = new WeakMap<AbortSignal, Set<WeakRef<AbortSignal>>>();
/** Forgets a collected signal in its sources' sets. */
const collected = new FinalizationRegistry<() => void>((forget) => forget());

/** The set of `source`'s dependants, and its one listener, which aborts them all with its reason. */
function dependantsOf(source: AbortSignal): Set<WeakRef<AbortSignal>> {
  let live = dependants.get(source);
  if (live) return live;
  const created = new Set<WeakRef<AbortSignal>>();
  dependants.set(source, created);
  source.addEventListener(
    "abort",
    () => {
      for (const ref of created) {
        const signal = ref.deref();
        if (signal) controllers.get(signal)?.abort(source.reason);
      }
      created.clear();
    },
    { once: true },
  );
  live = created;
  return live;
}

/**
 * A signal that aborts, with that source's reason, when any of `signals` does; the only one given,
 * or undefined when none is. A source that lives on keeps nothing of the signals made from it
 * once they aborted or were collected.
 */
export function anySignal(...signals: Array<AbortSignal | undefined>): AbortSignal | undefined {
  const sources = signals.filter((signal): signal is AbortSignal => signal !== undefined);
  return sources.length <= 1 ? sources[0] : derived(sources);
}

/**
 * A signal of its own that aborts when `source` does: listeners added to it are not the source's
 * (many on one signal, such as the questions of one round put to the local client, make Node warn
 * of a leak past 10).
 */
export function ownSignal(source: AbortSignal): AbortSignal {
  return derived([source]);
}

function derived(sources: AbortSignal[]): AbortSignal {
  const aborted = sources.find((source) => source.aborted);
  if (aborted) return AbortSignal.abort(aborted.reason);
  const controller = new AbortController();
  const { signal } = controller;
  controllers.set(signal, controller);
  const ref = new WeakRef(signal);
  const sets = sources.map(dependantsOf);
  for (const set of sets) set.add(ref);
  const forget = () => {
    for (const set of sets) set.delete(ref);
  };
  signal.addEventListener("abort", forget, { once: true });
  collected.register(signal, forget);
  return signal;
}
