export interface Memory {
  rootKb: number;
  treeKb: number;
  processes: number;
}
export function treePids(root: number): number[];
export function rssKb(pid: number): number;
export function treeCpuSeconds(root: number): number;
export function cpuSeconds(pid: number): number;
export function memory(root: number): Memory;
export function startMemorySampler(root: number, intervalMs?: number): { stop(): Memory };
