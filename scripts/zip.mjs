// A minimal .zip writer (deflate, no zip64) for the Windows release archive, so packing needs no
// `zip` binary on the build machine. Archives are reproducible: entries carry a fixed timestamp.
import { crc32, deflateRawSync } from "node:zlib";
import { writeFileSync } from "node:fs";

const DOS_DATE_1980_01_01 = (0 << 9) | (1 << 5) | 1;
/** "Made by" Unix (3), spec 2.0, so unzip on Unix restores the executable bit from the external attributes. */
const MADE_BY_UNIX = (3 << 8) | 20;
const VERSION_NEEDED = 20;

/** Writes `entries` ({ name, data, mode }) to a zip file at `path`. */
export function writeZip(path, entries) {
  if (typeof crc32 !== "function") throw new Error("zip: node:zlib has no crc32 (needs Node 20.15 or later)");
  const locals = [];
  const centrals = [];
  let offset = 0;
  for (const { name, data, mode = 0o644 } of entries) {
    const nameBytes = Buffer.from(name, "utf8");
    const compressed = deflateRawSync(data, { level: 9 });
    if (compressed.length >= 0xffffffff || data.length >= 0xffffffff) throw new Error(`zip: ${name} needs zip64, which this writer does not do`);
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(VERSION_NEEDED, 4);
    local.writeUInt16LE(8, 8);
    local.writeUInt16LE(0, 10);
    local.writeUInt16LE(DOS_DATE_1980_01_01, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(compressed.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(MADE_BY_UNIX, 4);
    central.writeUInt16LE(VERSION_NEEDED, 6);
    central.writeUInt16LE(8, 10);
    central.writeUInt16LE(0, 12);
    central.writeUInt16LE(DOS_DATE_1980_01_01, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(compressed.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE(((0o100000 | mode) << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBytes, compressed);
    centrals.push(central, nameBytes);
    offset += local.length + nameBytes.length + compressed.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  writeFileSync(path, Buffer.concat([...locals, directory, end]));
}
