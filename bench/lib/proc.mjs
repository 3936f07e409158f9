// Process-tree accounting from /proc (Linux): which processes descend from a pid, their resident
// memory (VmRSS) and CPU time (utime+stime, plus what reaped children left in cutime+cstime).
import { readdirSync, readFileSync } from "node:fs";

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ: 100 on every Linux ABI Node runs on

function readStat(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // comm may contain spaces and parentheses: fields start after the last ")".
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    // fields[0] is field 3 (state): field N is fields[N - 3].
    return { ppid: Number(fields[1]), utime: Number(fields[11]), stime: Number(fields[12]), cutime: Number(fields[13]), cstime: Number(fields[14]) };
  } catch {
    return undefined; // gone
  }
}

/** The pid and all its live descendants. */
export function treePids(root) {
  const children = new Map();
  for (const name of readdirSync("/proc")) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const stat = readStat(name);
    if (!stat) continue;
    const list = children.get(stat.ppid);
    if (list) list.push(Number(name));
    else children.set(stat.ppid, [Number(name)]);
  }
  const pids = [root];
  for (let i = 0; i < pids.length; i++) for (const child of children.get(pids[i]) ?? []) pids.push(child);
  return pids;
}

/** VmRSS of one process in KiB (0 if it is gone). */
export function rssKb(pid) {
  try {
    const match = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/** CPU seconds used so far by the tree under `root` (live processes, plus reaped children of each). */
export function treeCpuSeconds(root) {
  let ticks = 0;
  for (const pid of treePids(root)) {
    const stat = readStat(pid);
    if (stat) ticks += stat.utime + stat.stime + stat.cutime + stat.cstime;
  }
  return ticks / CLOCK_TICKS_PER_SECOND;
}

export function cpuSeconds(pid) {
  const stat = readStat(pid);
  return stat ? (stat.utime + stat.stime) / CLOCK_TICKS_PER_SECOND : 0;
}

export function memory(root) {
  const pids = treePids(root);
  let tree = 0;
  for (const pid of pids) tree += rssKb(pid);
  return { rootKb: rssKb(root), treeKb: tree, processes: pids.length };
}

/** Samples memory(root) every `intervalMs` until stopped; returns the peaks. */
export function startMemorySampler(root, intervalMs = 100) {
  const peak = { rootKb: 0, treeKb: 0, processes: 0 };
  const sample = () => {
    const now = memory(root);
    peak.rootKb = Math.max(peak.rootKb, now.rootKb);
    peak.treeKb = Math.max(peak.treeKb, now.treeKb);
    peak.processes = Math.max(peak.processes, now.processes);
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return peak;
    },
  };
}
