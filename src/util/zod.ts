/**
 * @module zod as the bridge uses it: without its JIT. On a schema's first parse zod compiles a
 * parser for each object in it (`new Function`), which pays off for a schema parsed many times.
 * The bridge parses each of its schemas a handful of times per process (the configuration at
 * start, a remote server's answer per remote call), so the compiling was pure start-up cost: about
 * a tenth of a `check-config`'s CPU. Every schema must be built after this module ran, so zod is
 * imported from here.
 */
import { config } from "zod";

config({ jitless: true });

// Imported as a namespace (`import * as z`), so the bundler keeps only the parts of zod in use: a
// namespace object passed around whole would keep all of it, a fifth of the bundle.
export * from "zod";
