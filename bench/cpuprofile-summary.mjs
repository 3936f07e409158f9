#!/usr/bin/env node
// Aggregates a V8 .cpuprofile (node --cpu-prof) by function: self time and total (inclusive)
// time, as milliseconds and as a share of the busy time (idle excluded), plus self time by source
// (the bundle, node internals, dependencies bundled in, GC).
//   node bench/cpuprofile-summary.mjs FILE.cpuprofile [--top 30] [--json]
import { readFileSync } from "node:fs";

const argv = process.argv.slice(2);
const file = argv.find((a) => !a.startsWith("--"));
if (!file) {
  console.error("usage: cpuprofile-summary.mjs FILE.cpuprofile [--top N] [--json]");
  process.exit(2);
}
const top = Number(argv[argv.indexOf("--top") + 1]) || 30;
const profile = JSON.parse(readFileSync(file, "utf8"));

const byId = new Map();
const parent = new Map();
for (const node of profile.nodes) {
  byId.set(node.id, node);
  for (const child of node.children ?? []) parent.set(child, node.id);
}
const shortUrl = (url) => (url ? url.replace(/^file:\/\//, "").replace(/^.*\/(dist|node_modules|bench)\//, "$1/") : "");
const keyOf = (node) => {
  const f = node.callFrame;
  return `${f.functionName || "(anonymous)"} ${shortUrl(f.url)}${f.url ? `:${f.lineNumber + 1}` : ""}`;
};
// A bundle's functions come from many sources; the nearest "// src/…" or "// node_modules/…"
// comment esbuild leaves above each module tells which.
const bundleSources = new Map();
function sourceOf(node) {
  const { url, lineNumber } = node.callFrame;
  if (!url) return node.callFrame.functionName || "(native)";
  if (url.startsWith("node:")) return "node internals";
  if (!url.endsWith(".cjs") && !url.endsWith(".js") && !url.endsWith(".mjs")) return shortUrl(url);
  let markers = bundleSources.get(url);
  if (!markers) {
    markers = [];
    try {
      const lines = readFileSync(new URL(url), "utf8").split("\n");
      lines.forEach((line, i) => {
        const m = /^\/\/ ((?:src|node_modules)\/\S+)/.exec(line);
        if (m) markers.push([i, m[1]]);
      });
    } catch {
      // not readable: use the url
    }
    bundleSources.set(url, markers);
  }
  let found = shortUrl(url);
  for (const [line, name] of markers) {
    if (line > lineNumber) break;
    found = name;
  }
  return found.replace(/^node_modules\/((?:@[^/]+\/)?[^/]+)\/.*$/, "$1 (bundled)");
}

const self = new Map();
const total = new Map();
const sources = new Map();
let all = 0;
let idle = 0;
const { samples, timeDeltas } = profile;
for (let i = 0; i < samples.length; i++) {
  const ms = (timeDeltas[i] ?? 0) / 1000;
  const node = byId.get(samples[i]);
  all += ms;
  if (node.callFrame.functionName === "(idle)") {
    idle += ms;
    continue;
  }
  const key = keyOf(node);
  self.set(key, (self.get(key) ?? 0) + ms);
  const source = sourceOf(node);
  sources.set(source, (sources.get(source) ?? 0) + ms);
  const seen = new Set();
  for (let id = samples[i]; id !== undefined; id = parent.get(id)) {
    const k = keyOf(byId.get(id));
    if (seen.has(k)) continue;
    seen.add(k);
    total.set(k, (total.get(k) ?? 0) + ms);
  }
}
const busy = all - idle;
const rows = (map) =>
  [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, ms]) => ({ name, ms: Math.round(ms), pct: Math.round((ms / busy) * 1000) / 10 }));
const result = {
  file,
  wallMs: Math.round(all),
  busyMs: Math.round(busy),
  idlePct: Math.round((idle / all) * 1000) / 10,
  selfTop: rows(self),
  sourceTop: rows(sources),
  totalTop: rows(total).filter((r) => !/^\((root|program)\)/.test(r.name)),
};
if (argv.includes("--json")) {
  console.log(JSON.stringify(result, null, 2));
} else {
  console.log(`${file}: ${result.wallMs} ms sampled, ${result.busyMs} ms busy (${result.idlePct} % idle)\n`);
  const table = (title, list) => {
    console.log(`${title}\n| % busy | ms | function |\n|--:|--:|---|`);
    for (const r of list) console.log(`| ${r.pct.toFixed(1)} | ${r.ms} | \`${r.name}\` |`);
    console.log("");
  };
  table("Self time by function", result.selfTop);
  table("Self time by source", result.sourceTop);
  table("Total (inclusive) time by function", result.totalTop);
}
