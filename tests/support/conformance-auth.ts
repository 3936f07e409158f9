/**
 * @module The `client.auth` section the conformance client driver gives the bridge for a scenario
 * (from MCP_CONFORMANCE_CONTEXT): what a user would write for that kind of server.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The context the conformance harness passes in MCP_CONFORMANCE_CONTEXT (shape varies per scenario). */
export type ConformanceContext = Record<string, unknown> & { name?: string };

/** The Client ID Metadata Document URL the suite's CIMD scenarios expect the client to use. */
const CONFORMANCE_CIMD_URL = "https://conformance-test.local/client-metadata.json";

const text = (context: ConformanceContext, key: string): string => {
  const value = context[key];
  if (typeof value !== "string" || !value) throw new Error(`MCP_CONFORMANCE_CONTEXT has no "${key}"`);
  return value;
};

/**
 * `client.auth` for `scenario`, or undefined for none.
 *
 * @param followRedirects a command that, given a URL as its last argument, follows it like a
 *   browser would (the mock authorization endpoint redirects at once to the loopback callback);
 *   meant for `browser_command`.
 */
export function conformanceAuth(scenario: string, context: ConformanceContext, followRedirects: string[]): Record<string, unknown> | undefined {
  if (!scenario.startsWith("auth/")) return undefined;
  switch (scenario) {
    case "auth/client-credentials-basic":
      return { type: "oauth", oauth: { client_id: text(context, "client_id"), client_secret: text(context, "client_secret") } };
    case "auth/client-credentials-jwt": {
      const keyFile = join(mkdtempSync(join(tmpdir(), "mcp-bridge-conformance-key-")), "client-key.pem");
      writeFileSync(keyFile, text(context, "private_key_pem"), { mode: 0o600 });
      return { type: "oauth", oauth: { client_id: text(context, "client_id"), private_key_file: keyFile, signing_algorithm: text(context, "signing_algorithm") } };
    }
    case "auth/enterprise-managed-authorization":
      return {
        type: "oauth",
        oauth: {
          client_id: text(context, "client_id"),
          client_secret: text(context, "client_secret"),
          enterprise: {
            // The suite gives the issuer too; the endpoint spares a discovery (the bridge refuses both).
            idp_token_endpoint: text(context, "idp_token_endpoint"),
            idp_client_id: text(context, "idp_client_id"),
            id_token: text(context, "idp_id_token"),
          },
        },
      };
    case "auth/wif-jwt-bearer": {
      // A workload's platform-issued JWT, as a Kubernetes projected token file would hold it.
      const tokenFile = join(mkdtempSync(join(tmpdir(), "mcp-bridge-conformance-wif-")), "token");
      writeFileSync(tokenFile, text(context, "valid_jwt"), { mode: 0o600 });
      return { type: "oauth", oauth: { client_id: text(context, "client_id"), workload_identity: { token_file: tokenFile } } };
    }
    case "auth/pre-registration":
      return {
        type: "oauth",
        oauth: {
          client_id: text(context, "client_id"),
          client_secret: text(context, "client_secret"),
          // The suite's newer revision says which authorization server the client was registered at.
          ...(typeof context.issuer === "string" && { issuer: context.issuer }),
          use_pkce: true,
          browser_command: followRedirects,
        },
      };
    default:
      // A person signing in: discovery from the 401, CIMD where offered, else dynamic registration.
      return { type: "oauth", oauth: { client_metadata_url: CONFORMANCE_CIMD_URL, browser_command: followRedirects } };
  }
}
