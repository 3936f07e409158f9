// Preloaded into the bridge (NODE_OPTIONS=--require) by tests of a wall-clock step, such as an NTP
// correction: each SIGUSR2 moves Date.now() CLOCK_STEP_MS ahead (behind when negative). Timers
// and performance.now() are not moved, as the kernel's monotonic clock is not.
"use strict";
const realNow = Date.now;
let offset = 0;
process.on("SIGUSR2", () => {
  offset += Number(process.env.CLOCK_STEP_MS ?? 0);
});
Date.now = () => realNow() + offset;
