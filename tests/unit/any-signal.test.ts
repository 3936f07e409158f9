import assert from "node:assert/strict";
import { test } from "node:test";
import { anySignal } from "../../src/util/any-signal.ts";

test("anySignal aborts with the reason of whichever source aborts first, once; none or one source is passed through", () => {
  const shutdown = new AbortController();
  const requests = [new AbortController(), new AbortController()];
  const linked = requests.map((request) => anySignal(request.signal, shutdown.signal)!);
  requests[0]!.abort("cancelled");
  assert.equal(linked[0]!.aborted, true);
  assert.equal(linked[0]!.reason, "cancelled");
  assert.equal(linked[1]!.aborted, false, "one request's cancellation is not another's");
  shutdown.abort("closing");
  assert.equal(linked[1]!.reason, "closing");
  assert.equal(linked[0]!.reason, "cancelled", "a signal aborts once");
  assert.equal(anySignal(), undefined);
  assert.equal(anySignal(undefined, shutdown.signal), shutdown.signal);
});

test("anySignal of a source already aborted is aborted, with its reason", () => {
  const done = new AbortController();
  done.abort("gone");
  const signal = anySignal(new AbortController().signal, done.signal)!;
  assert.equal(signal.aborted, true);
  assert.equal(signal.reason, "gone");
});

test("a source that lives on aborts the signals made from it long after they were made, and the signals still alive only", async () => {
  const shutdown = new AbortController();
  for (let i = 0; i < 10_000; i++) anySignal(new AbortController().signal, shutdown.signal);
  const kept = anySignal(new AbortController().signal, shutdown.signal)!;
  let heard = 0;
  kept.addEventListener("abort", () => heard++);
  await new Promise((resolve) => setImmediate(resolve));
  shutdown.abort("closing");
  assert.equal(heard, 1);
  assert.equal(kept.reason, "closing");
});
