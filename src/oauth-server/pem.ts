/**
 * @module PEM private keys in the three forms operators have: PKCS#8 ("PRIVATE KEY", what
 * `mcp-bridge gen-key` and `openssl genpkey` write), PKCS#1 ("RSA PRIVATE KEY", `openssl genrsa`)
 * and SEC1 ("EC PRIVATE KEY", `openssl ecparam -genkey`). Web Crypto imports PKCS#8 only, so the
 * other two are wrapped into PKCS#8 here (RFC 5208 §5) — a few bytes of DER, no parsing of the key.
 */

/** OID 1.2.840.113549.1.1.1 rsaEncryption, DER. */
const RSA_ENCRYPTION = [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
/** OID 1.2.840.10045.2.1 id-ecPublicKey, DER. */
const EC_PUBLIC_KEY = [0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];

export type PemKind = "pkcs8" | "pkcs1" | "sec1" | "spki";

const LABELS: Record<string, PemKind> = { "PRIVATE KEY": "pkcs8", "RSA PRIVATE KEY": "pkcs1", "EC PRIVATE KEY": "sec1", "PUBLIC KEY": "spki" };

/** The first key block of a PEM file: its kind and DER bytes. Throws TypeError naming what was found instead. */
export function readPemKey(text: string): { kind: PemKind; der: Uint8Array } {
  // Skips "EC PARAMETERS" blocks that `openssl ecparam -genkey` writes before the key.
  for (const match of text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g)) {
    const kind = LABELS[match[1]!];
    if (!kind) continue;
    const body = match[2]!.replace(/\s+/g, "");
    if (/^Proc-Type:/m.test(match[2]!)) throw new TypeError("the key is encrypted; decrypt it first (openssl pkey -in KEY -out PLAIN)");
    let binary: string;
    try {
      binary = atob(body);
    } catch {
      throw new TypeError(`the ${match[1]} block is not valid base64`);
    }
    return { kind, der: Uint8Array.from(binary, (c) => c.charCodeAt(0)) };
  }
  if (/ENCRYPTED PRIVATE KEY/.test(text)) throw new TypeError("the key is encrypted; decrypt it first (openssl pkey -in KEY -out PLAIN)");
  throw new TypeError('no "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY" or "PUBLIC KEY" PEM block found');
}

function derLength(length: number): number[] {
  if (length < 0x80) return [length];
  const bytes: number[] = [];
  for (let n = length; n > 0; n >>= 8) bytes.unshift(n & 0xff);
  return [0x80 | bytes.length, ...bytes];
}

function derNode(tag: number, content: ArrayLike<number>): number[] {
  return [tag, ...derLength(content.length), ...Array.from(content)];
}

/** The (offset, length) of the content of the DER element at `offset`. */
function derElement(der: Uint8Array, offset: number): { tag: number; start: number; end: number } {
  const tag = der[offset]!;
  let length = der[offset + 1]!;
  let start = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    length = 0;
    for (let i = 0; i < count; i++) length = (length << 8) | der[start + i]!;
    start += count;
  }
  if (start + length > der.length) throw new TypeError("the key's DER structure is truncated");
  return { tag, start, end: start + length };
}

/** The namedCurve OID (as DER) inside a SEC1 ECPrivateKey's [0] parameters (RFC 5915 §3). */
function sec1CurveOid(der: Uint8Array): number[] {
  const outer = derElement(der, 0);
  let offset = outer.start;
  while (offset < outer.end) {
    const element = derElement(der, offset);
    if (element.tag === 0xa0) return Array.from(der.subarray(element.start, element.end));
    offset = element.end;
  }
  throw new TypeError('the EC key names no curve; convert it with "openssl pkcs8 -topk8 -nocrypt"');
}

/** PKCS#8 DER of a PKCS#1 or SEC1 private key (PKCS#8 input is returned as is). */
export function toPkcs8(kind: Exclude<PemKind, "spki">, der: Uint8Array): Uint8Array {
  if (kind === "pkcs8") return der;
  const algorithm = kind === "pkcs1" ? derNode(0x30, [...RSA_ENCRYPTION, 0x05, 0x00]) : derNode(0x30, [...EC_PUBLIC_KEY, ...sec1CurveOid(der)]);
  return Uint8Array.from(derNode(0x30, [0x02, 0x01, 0x00, ...algorithm, ...derNode(0x04, der)]));
}

/** DER bytes as a PEM block with `label`. */
export function toPem(label: string, der: Uint8Array): string {
  let binary = "";
  for (const byte of der) binary += String.fromCharCode(byte);
  const lines = btoa(binary).match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}
