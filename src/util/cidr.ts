/**
 * @module IP addresses and CIDR ranges (RFC 4632, RFC 4291 §2.3), IPv4 and IPv6, for
 * `server.trusted_proxies` and per-address limits. Portable (no node:net); an IPv4-mapped IPv6 address ("::ffff:10.0.0.1",
 * what a dual-stack socket reports) matches IPv4 ranges.
 */
import { memoized } from "./memo.ts";

/** An address as 16 bytes (IPv4 as its IPv4-mapped IPv6 form). */
type Address = Uint8Array;

export interface CidrRange {
  /** The text as written, for messages. */
  readonly text: string;
  readonly network: Address;
  /** Prefix length in bits over the 16-byte form (an IPv4 /24 is /120 here). */
  readonly bits: number;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const V4_MAPPED_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

function parseIpv4(text: string): number[] | undefined {
  const match = IPV4.exec(text);
  if (!match) return undefined;
  const octets = match.slice(1).map(Number);
  // Leading zeros are refused: some parsers read them as octal, so "010.0.0.1" is ambiguous.
  if (octets.some((octet, i) => octet > 255 || (match[i + 1]!.length > 1 && match[i + 1]!.startsWith("0")))) return undefined;
  return octets;
}

function parseIpv6(text: string): Address | undefined {
  let head = text;
  let tail: number[] = [];
  // A trailing dotted IPv4 part ("::ffff:1.2.3.4") is two groups.
  const lastColon = text.lastIndexOf(":");
  if (text.includes(".")) {
    const v4 = parseIpv4(text.slice(lastColon + 1));
    if (!v4) return undefined;
    tail = [(v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!];
    head = text.slice(0, lastColon + 1);
    if (head.endsWith(":") && !head.endsWith("::")) head = head.slice(0, -1);
  }
  const halves = head.split("::");
  if (halves.length > 2) return undefined;
  const groups = (part: string) => (part === "" ? [] : part.split(":"));
  const left = groups(halves[0]!);
  const right = halves.length === 2 ? groups(halves[1]!) : [];
  if ([...left, ...right].some((group) => !/^[0-9a-f]{1,4}$/i.test(group))) return undefined;
  const known = left.length + right.length + tail.length;
  if (halves.length === 1 ? known !== 8 : known > 7) return undefined;
  const words = [...left.map((g) => parseInt(g, 16)), ...new Array<number>(8 - known).fill(0), ...right.map((g) => parseInt(g, 16)), ...tail];
  const bytes = new Uint8Array(16);
  words.forEach((word, i) => {
    bytes[i * 2] = word >> 8;
    bytes[i * 2 + 1] = word & 0xff;
  });
  return bytes;
}

/**
 * Parses an IPv4 or IPv6 address (brackets and an IPv6 zone "%eth0" allowed) into 16 bytes;
 * undefined when it is not an address.
 */
export function parseIp(text: string): Address | undefined {
  let value = text.trim();
  if (value.startsWith("[") && value.endsWith("]")) value = value.slice(1, -1);
  const zone = value.indexOf("%");
  if (zone >= 0 && value.includes(":")) value = value.slice(0, zone);
  const v4 = parseIpv4(value);
  if (v4) return Uint8Array.from([...V4_MAPPED_PREFIX, ...v4]);
  return value.includes(":") ? parseIpv6(value) : undefined;
}

/** True when `text` is an IPv4 or IPv6 address. */
export function isIp(text: string): boolean {
  return parseIp(text) !== undefined;
}

/** The canonical text of an address: dotted IPv4 for IPv4 and IPv4-mapped, otherwise compressed IPv6. */
export function formatIp(address: Address): string {
  if (V4_MAPPED_PREFIX.every((byte, i) => address[i] === byte)) return address.slice(12).join(".");
  const words = Array.from({ length: 8 }, (_, i) => (address[i * 2]! << 8) | address[i * 2 + 1]!);
  // RFC 5952 §4.2: the longest run of two or more zero groups becomes "::".
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLength) [best, bestLength] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = words.map((word) => word.toString(16));
  if (best < 0) return hex.join(":");
  return `${hex.slice(0, best).join(":")}::${hex.slice(best + bestLength).join(":")}`;
}

/**
 * Parses "10.0.0.0/8", "fd00::/8" or a single address (a /32 or /128). Throws TypeError with a
 * message fit for a config error when the text is not a range or has host bits set past the prefix.
 */
export function parseCidr(text: string): CidrRange {
  const slash = text.indexOf("/");
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const address = parseIp(addressText);
  // Not repeated: it may have come from an environment variable holding something else, a secret even.
  if (!address) throw new TypeError('is not an IP address or CIDR range (e.g. "10.0.0.0/8", "fd00::/8", "127.0.0.1")');
  const v4 = parseIpv4(addressText.trim()) !== undefined;
  const maxBits = v4 ? 32 : 128;
  const prefixText = slash < 0 ? String(maxBits) : text.slice(slash + 1).trim();
  const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (!(prefix >= 0 && prefix <= maxBits)) throw new TypeError(`"${text}" has a prefix length outside 0–${maxBits}`);
  const bits = v4 ? prefix + 96 : prefix;
  const network = address.slice();
  for (let bit = bits; bit < 128; bit++) network[bit >> 3]! &= ~(0x80 >> (bit & 7));
  if (network.some((byte, i) => byte !== address[i])) {
    throw new TypeError(`"${text}" has bits set past its prefix; did you mean "${formatIp(network)}/${prefix}"?`);
  }
  return { text, network, bits };
}

/** True when `address` (text or parsed) lies in `range`. */
function cidrContains(range: CidrRange, address: string | Address): boolean {
  const bytes = typeof address === "string" ? parseIp(address) : address;
  if (!bytes) return false;
  const whole = range.bits >> 3;
  for (let i = 0; i < whole; i++) if (bytes[i] !== range.network[i]) return false;
  const rest = range.bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (bytes[whole]! & mask) === range.network[whole];
}

/** A set of ranges; `contains` is true when any range holds the address. */
export class CidrSet {
  readonly #ranges: readonly CidrRange[];

  constructor(ranges: readonly string[]) {
    this.#ranges = ranges.map(parseCidr);
  }

  get size(): number {
    return this.#ranges.length;
  }

  contains(address: string | Address): boolean {
    const bytes = typeof address === "string" ? parseIp(address) : address;
    return bytes !== undefined && this.#ranges.some((range) => cidrContains(range, bytes));
  }
}

/**
 * Special-purpose blocks off the public Internet (IANA registries, RFC 6890): "this network",
 * private networks, shared address space, loopback, link-local (where clouds serve instance
 * metadata, 169.254.169.254), IETF protocol assignments, documentation, benchmarking, reserved and
 * multicast; for IPv6 the unspecified and loopback addresses (and the IPv4-compatible block around
 * them), discard-only, documentation, unique-local, link-local, site-local and multicast — and the
 * forms that carry an IPv4 address to a translator (NAT64 incl. the local-use 64:ff9b:1::/48,
 * 6to4, Teredo), which could lead to a private IPv4 address. IPv4-mapped IPv6 (::ffff:a.b.c.d)
 * matches the IPv4 blocks (a ::ffff:0:0/96 block here would refuse every IPv4 address).
 */
const NON_PUBLIC = new CidrSet([
  "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24",
  "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/3",
  "::/96", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001::/32", "2001:db8::/32", "2002::/16",
  "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
]);

/** True when `text` is an address (brackets allowed) off the public Internet (see NON_PUBLIC); false for a name. */
export function isNonPublicAddress(text: string): boolean {
  return NON_PUBLIC.contains(text);
}

/**
 * The unit per-address limits count: the address itself for IPv4 (IPv4-mapped IPv6 as IPv4), its
 * /64 for IPv6 — one subscriber or host commonly owns a whole /64 and could otherwise take a new
 * address for every attempt. Returns e.g. "192.0.2.7" or "2001:db8:1:2::/64"; text that is no address, unchanged.
 * Remembered (bounded): it runs for every request, from a few clients' addresses.
 */
export const addressBucket: (address: string) => string = memoized((address) => {
  const bytes = parseIp(address);
  // Not an address (a peer the runtime could not name): counted as given.
  if (!bytes) return address;
  if (V4_MAPPED_PREFIX.every((byte, i) => bytes[i] === byte)) return formatIp(bytes);
  bytes.fill(0, 8);
  return `${formatIp(bytes)}/64`;
});

/** An address's canonical text (formatIp), e.g. "::ffff:192.0.2.7" → "192.0.2.7"; text that is no address, unchanged. Remembered (bounded), as addressBucket. */
export const canonicalAddress: (text: string) => string = memoized((text) => {
  const bytes = parseIp(text);
  return bytes ? formatIp(bytes) : text;
});
