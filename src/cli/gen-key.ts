/** @module `mcp-bridge gen-key`: a signing key pair for `oauth_server.signing.key_file`, with its RFC 7638 key id. */
import { UsageError } from "./args.ts";
import type { Command } from "./command.ts";
import { isAbsolute } from "../runtime/command-resolution.ts";

/** The algorithms `oauth_server.signing.algorithm` accepts. */
const ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"] as const;
type Algorithm = (typeof ALGORITHMS)[number];
/** Same default as `signing.algorithm`, so the key fits a config that does not name one. */
const DEFAULT_ALGORITHM: Algorithm = "RS256";
const DEFAULT_RSA_BITS = 2048;

function parseAlgorithm(text: string | undefined): Algorithm {
  if (text === undefined) return DEFAULT_ALGORITHM;
  const found = ALGORITHMS.find((alg) => alg.toLowerCase() === text.toLowerCase());
  if (!found) throw new UsageError(`--alg must be one of ${ALGORITHMS.join(", ")} (got "${text}")`);
  return found;
}

function parseBits(text: string | undefined, alg: Algorithm): number | undefined {
  const isRsa = alg.startsWith("RS") || alg.startsWith("PS");
  if (text === undefined) return isRsa ? DEFAULT_RSA_BITS : undefined;
  if (!isRsa) throw new UsageError(`--bits applies to RSA keys only; ${alg} keys have a fixed size`);
  const bits = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(bits >= 2048 && bits <= 8192 && bits % 1024 === 0)) throw new UsageError(`--bits must be 2048, 3072, 4096, … up to 8192 (got "${text}")`);
  return bits;
}

export const genKeyCommand: Command = {
  name: "gen-key",
  summary: "Generate a token signing key (PKCS#8 PEM) for oauth_server.signing.key_file and print its key id",
  usage: "gen-key [--alg ALG] [--bits N] [--out FILE [--force]] [--public-out FILE] [--jwk FILE|-]",
  options: {
    alg: { type: "string", value: "ALG", description: `${ALGORITHMS.join(", ")} (default ${DEFAULT_ALGORITHM})` },
    bits: { type: "string", value: "N", description: `RSA modulus size: 2048, 3072, 4096, … 8192 (a multiple of 1024; default ${DEFAULT_RSA_BITS})` },
    out: { type: "string", alias: "o", value: "FILE", description: "Write the private key here, mode 0600 (default: stdout)" },
    "public-out": { type: "string", value: "FILE", description: "Also write the public key (SPKI PEM)" },
    jwk: { type: "string", value: "FILE|-", description: 'Also write the public key as a JWK with "kid", "alg" and "use" ("-": stdout)' },
    force: { type: "boolean", alias: "f", description: "Overwrite existing files" },
  },
  examples: [
    "mcp-bridge gen-key --alg ES256 --out /etc/mcp-bridge/signing.pem",
    "mcp-bridge gen-key --alg RS256 --bits 3072 --out signing.pem --public-out signing.pub.pem --jwk signing.jwk",
    "mcp-bridge gen-key --alg EdDSA > signing.pem",
  ],
  details: [
    "The key id is the key's RFC 7638 JWK thumbprint (SHA-256). stdout carries one thing: the",
    "private key when there is no --out, else the JWK with --jwk -, else the key id; the rest",
    "goes to stderr. Existing files are never replaced without --force.",
  ].join("\n"),
  async run(args, platform) {
    const alg = parseAlgorithm(args.values.alg as string | undefined);
    const modulusLength = parseBits(args.values.bits as string | undefined, alg);
    const out = args.values.out as string | undefined;
    const publicOut = args.values["public-out"] as string | undefined;
    const jwkOut = args.values.jwk as string | undefined;
    const force = Boolean(args.values.force);
    if (out === undefined && jwkOut === "-") throw new UsageError("--jwk - needs --out: stdout already carries the private key");
    // One file for two outputs: the later write would replace the private key (with --force) or fail after it was written.
    const named = [["--out", out], ["--public-out", publicOut], ["--jwk", jwkOut]].filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== "-");
    for (const [i, [flag, path]] of named.entries()) {
      const same = named.slice(i + 1).find(([, other]) => other === path);
      if (same) throw new UsageError(`${flag} and ${same[0]} name the same file (${path}): give each output its own`);
    }
    for (const path of [out, publicOut, jwkOut]) {
      if (path !== undefined && path !== "-" && !force && platform.fileExists(path)) {
        throw new UsageError(`${path} exists; use --force to replace it`);
      }
    }

    // Loaded here so that other commands, and server mode without OAuth, do not pay for jose.
    const { calculateJwkThumbprint, exportJWK, exportPKCS8, exportSPKI, generateKeyPair } = await import("jose");
    const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...(modulusLength && { modulusLength }) });
    // jose's PEM has no final newline; files and terminals want one.
    const privatePem = (await exportPKCS8(privateKey)) + "\n";
    const jwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(jwk, "sha256");

    /** Writes one output file; a failure names the flag and why (a missing directory, no permission), exit 2. */
    const write = async (flag: string, path: string, text: string, mode: number) => {
      try {
        await platform.writeTextFile(path, text, { mode, overwrite: force });
      } catch (error) {
        const code = (error as { code?: string }).code ?? (error as Error).name;
        throw new UsageError(`${flag}: cannot write ${path} (${code === "ENOENT" || code === "NotFound" ? "no such directory" : code})`);
      }
    };
    if (out !== undefined) await write("--out", out, privatePem, 0o600);
    else platform.writeStdout(privatePem);
    if (publicOut !== undefined) await write("--public-out", publicOut, (await exportSPKI(publicKey)) + "\n", 0o644);
    const jwkText = JSON.stringify({ ...jwk, kid, alg, use: "sig" }, null, 2) + "\n";
    if (jwkOut === "-") platform.writeStdout(jwkText);
    else if (jwkOut !== undefined) await write("--jwk", jwkOut, jwkText, 0o644);

    if (out !== undefined && jwkOut !== "-") platform.writeStdout(kid + "\n");
    else platform.writeStderr(`key id: ${kid}\n`);
    // The config reads a relative key_file from the bridge's working directory, not from here or the config file's.
    const relative = out !== undefined && !isAbsolute(out, platform.isWindows) ? " (a relative key_file is read from the directory the bridge is started in: give the absolute path)" : "";
    platform.writeStderr(`# In the config: server.oauth_server.signing: {algorithm: ${alg}, key_file: ${out ?? "FILE"}, key_id: ${kid}}${relative}\n`);
    return 0;
  },
};
