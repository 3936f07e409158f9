/**
 * @module How the bridge authenticates itself at a token endpoint: client_secret_basic / _post,
 * private_key_jwt (RFC 7523 §2.2, signed with the configured key) or none (a public client).
 */
import * as oauth from "oauth4webapi";
import type { OAuthConfig } from "../../config/schema.ts";
import { OutboundAuthError } from "./errors.ts";
import type { ClientIdentity } from "./grants.ts";

export type TokenEndpointAuthMethod = "client_secret_basic" | "client_secret_post" | "private_key_jwt" | "none";

/** A loaded private key for private_key_jwt. */
export interface AssertionKey {
  key: CryptoKey;
  kid?: string;
}

/** Reads `private_key_file` (PKCS#8 PEM) as a signing key for `signing_algorithm`. */
export async function loadAssertionKey(config: OAuthConfig, readTextFile: (path: string) => Promise<string>): Promise<AssertionKey | undefined> {
  const path = config.private_key_file;
  if (!path) return undefined;
  let pem: string;
  try {
    pem = await readTextFile(path);
  } catch (error) {
    throw new OutboundAuthError("config", `client.auth.oauth.private_key_file: cannot read ${path} (${(error as { code?: string }).code ?? "error"})`, { cause: error });
  }
  const { importPKCS8 } = await import("jose");
  try {
    const key = await importPKCS8(pem, config.signing_algorithm);
    return { key, ...(config.private_key_id && { kid: config.private_key_id }) };
  } catch (error) {
    throw new OutboundAuthError(
      "config",
      `client.auth.oauth.private_key_file: ${path} is not a PKCS#8 PEM private key for ${config.signing_algorithm} (set signing_algorithm to fit the key)`,
      { cause: error },
    );
  }
}

/**
 * The method to use: the configured one; else private_key_jwt with a key; else, with a secret, the
 * first of basic / post the server lists (basic when it lists neither: RFC 8414's default); else none.
 */
export function chooseAuthMethod(configured: TokenEndpointAuthMethod | undefined, has: { secret: boolean; key: boolean }, supported: readonly string[] | undefined): TokenEndpointAuthMethod {
  if (configured) return configured;
  if (has.key) return "private_key_jwt";
  if (!has.secret) return "none";
  if (!supported || supported.length === 0) return "client_secret_basic";
  return (["client_secret_basic", "client_secret_post"] as const).find((method) => supported.includes(method)) ?? "client_secret_basic";
}

/** application/x-www-form-urlencoded as browsers write it (WHATWG URL §5.2): "-", ".", "_" and "*" stay as they are. */
const formEncode = (value: string) => new URLSearchParams([["", value]]).toString().slice(1);

/**
 * RFC 6749 §2.3.1 HTTP Basic with form-encoded id and secret. oauth4webapi's own encodes
 * unreserved characters such as "-" too, which servers that compare the decoded Basic value without
 * form-decoding it (several in the field, and the MCP conformance suite) refuse.
 */
function clientSecretBasic(secret: string): oauth.ClientAuth {
  return (_as, client, _body, headers) => {
    headers.set("authorization", `Basic ${btoa(`${formEncode(client.client_id)}:${formEncode(secret)}`)}`);
  };
}

/** oauth4webapi's ClientAuth for `method`; a method without the credential it needs is a configuration error. */
function clientAuthentication(method: TokenEndpointAuthMethod, secret: string | undefined, key: AssertionKey | undefined): oauth.ClientAuth {
  switch (method) {
    case "client_secret_basic":
    case "client_secret_post":
      if (!secret) throw new OutboundAuthError("config", `client.auth.oauth.client_secret is required for token_endpoint_auth_method ${method}`);
      return method === "client_secret_basic" ? clientSecretBasic(secret) : oauth.ClientSecretPost(secret);
    case "private_key_jwt":
      if (!key) throw new OutboundAuthError("config", "client.auth.oauth.private_key_file is required for token_endpoint_auth_method private_key_jwt");
      return oauth.PrivateKeyJwt(key.kid ? { key: key.key, kid: key.kid } : key.key);
    case "none":
      return oauth.None();
  }
}

/**
 * The identity token requests present: `clientId`, authenticated by `method` (clientAuthentication,
 * same errors), with what it sends (the secret, the last private_key_jwt client_assertion) kept so
 * that grantError redacts it from error answers.
 */
export function clientIdentity(clientId: string, method: TokenEndpointAuthMethod, secret: string | undefined, key: AssertionKey | undefined): ClientIdentity {
  const auth = clientAuthentication(method, secret, key);
  let assertion: string | undefined;
  const recording: oauth.ClientAuth = async (as, client, body, headers) => {
    await auth(as, client, body, headers);
    assertion = body.get("client_assertion") ?? undefined;
  };
  return { client: { client_id: clientId }, auth: recording, sent: () => [secret, assertion] };
}
