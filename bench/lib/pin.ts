/** @module CPU pinning for the paired benches (Linux taskset): the bridge on one CPU, the load generator on another. */
import { execFileSync } from "node:child_process";
import os from "node:os";

/** Throws unless this host can pin (Linux with taskset, at least 2 CPUs); `what` names the bench for the message. */
export function assertCanPin(what: string): void {
  if (process.platform !== "linux" || os.cpus().length < 2) throw new Error(`${what} needs Linux (taskset) and at least 2 CPUs`);
}

/** Pins every thread of `pid` (GC, libuv) to `cpu`; children it starts later inherit it. */
export function pin(pid: number, cpu: number): void {
  execFileSync("taskset", ["-a", "-p", "-c", String(cpu), String(pid)], { stdio: ["ignore", "ignore", "inherit"] });
}
