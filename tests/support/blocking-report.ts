/**
 * @module Loaded into the test runner and each test file's process (`npm test`'s first `--import`).
 * With `--test-force-exit`, Node's test runner (20.x to 26.x at least, nodejs/node#64833) exits a
 * test file's process while its last results may still wait in the stdout pipe to the runner:
 * they are lost without a trace, the file's other results counted and its exit code 0, so a
 * failure among them would not show. Writes to a blocking stdout are in the pipe when they return.
 */
const handle = (process.stdout as unknown as { _handle?: { setBlocking?(blocking: boolean): void } })._handle;
handle?.setBlocking?.(true);
