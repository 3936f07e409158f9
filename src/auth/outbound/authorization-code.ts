/**
 * @module OAuth 2.1 authorization code with PKCE (S256) for a person at a browser (MCP
 * authorization §Authorization Flow Steps): client registration in the spec's order
 * (pre-registered → Client ID Metadata Document → dynamic registration with
 * `application_type: native`), the authorization URL shown or opened, the loopback callback,
 * RFC 9207 `iss` and `state` validated before the code is redeemed, `resource` in both requests.
 */
import * as oauth from "oauth4webapi";
import type { OAuthConfig } from "../../config/schema.ts";
import type { Logger } from "../../log/logger.ts";
import type { Platform } from "../../runtime/types.ts";
import type { Registration } from "./cache.ts";
import { chooseAuthMethod, clientIdentity, type AssertionKey } from "./client-auth.ts";
import { commandArgv } from "./credential-source.ts";
import { withNonceRetry } from "./dpop.ts";
import { OutboundAuthError } from "./errors.ts";
import { oauthErrorCode, readJsonBody, readJsonObject } from "../oauth/http.ts";
import { quotedValue } from "../../log/sanitize.ts";
import { grantError, refusalText, type ClientIdentity } from "./grants.ts";
import { requestOptions, requireTrusted, type HttpContext } from "./http.ts";
import { startLoopbackListener, type SignInOutcome } from "./loopback.ts";
import { tokenSetFrom, type TokenSet } from "./tokens.ts";

const DEFAULT_REDIRECT = "http://127.0.0.1:0/callback";

export interface InteractiveContext {
  config: OAuthConfig;
  http: HttpContext;
  platform: Platform;
  logger: Logger;
  key: AssertionKey | undefined;
  /** The environment of the browser it starts (commandEnv: without the configuration's secrets). */
  commandEnv: Record<string, string>;
  /** Opens a URL in the system browser with environment `env`; false when it could not. */
  openBrowser?: (url: string, env: Record<string, string>) => Promise<boolean>;
  /** Aborted when the bridge shuts down: a sign-in in progress ends at once. */
  signal?: AbortSignal;
}

/** The identity to use at the token endpoint for `registration`. */
export function identityFor(context: InteractiveContext, as: oauth.AuthorizationServer, registration: Registration): ClientIdentity {
  const secret = registration.clientSecret;
  const registered = registration.authMethod;
  const method =
    registration.via === "configured"
      ? chooseAuthMethod(context.config.token_endpoint_auth_method, { secret: Boolean(secret), key: Boolean(context.key) }, as.token_endpoint_auth_methods_supported)
      : registered === "client_secret_basic" || registered === "client_secret_post" || registered === "none"
        ? registered
        : chooseAuthMethod(undefined, { secret: Boolean(secret), key: false }, as.token_endpoint_auth_methods_supported);
  return clientIdentity(registration.clientId, method, secret, context.key);
}

/**
 * RFC 7591 §3.2 registration response. Read here rather than by oauth4webapi, which insists on
 * `client_secret_expires_at` next to a secret: authorization servers in the field leave it out, and
 * it changes nothing for a client that re-registers when its secret stops working.
 */
async function readRegistration(response: Response): Promise<{ client_id: string; client_secret?: unknown; token_endpoint_auth_method?: unknown }> {
  if (response.status !== 201 && response.status !== 200) {
    const body = await readJsonBody(response, 64 * 1024, "registration").catch(() => ({}) as Record<string, unknown>);
    throw new OutboundAuthError("grant", `dynamic client registration refused (HTTP ${response.status}, ${refusalText(body.error, body.error_description, [])})`);
  }
  const body = await readJsonObject(response, 64 * 1024, "registration");
  if (typeof body.client_id !== "string" || !body.client_id) throw new OutboundAuthError("grant", "dynamic client registration answered without a client_id");
  return body as { client_id: string };
}

/**
 * A registration usable with `as` for `redirectUri`: the configured client, else a cached one
 * (whose redirect URI still fits), else the CIMD URL where the server supports it, else DCR.
 */
async function register(context: InteractiveContext, as: oauth.AuthorizationServer, cached: Registration | undefined, redirectUri: string): Promise<Registration> {
  const { config } = context;
  if (config.client_id) return { clientId: config.client_id, ...(config.client_secret && { clientSecret: config.client_secret.reveal() }), via: "configured" };
  // A dynamic registration fits while its redirect URI does; a CIMD one while the URL is still configured.
  if (cached?.via === "dcr" && cached.redirectUri === redirectUri) return cached;
  if (cached?.via === "cimd" && cached.clientId === config.client_metadata_url && as.client_id_metadata_document_supported === true) return cached;
  if (config.client_metadata_url && as.client_id_metadata_document_supported === true) return { clientId: config.client_metadata_url, via: "cimd" };
  if (!as.registration_endpoint) {
    throw new OutboundAuthError(
      "config",
      `the authorization server ${quotedValue(as.issuer)} offers neither Client ID Metadata Documents nor dynamic registration: set client.auth.oauth.client_id (and client_secret) of a client registered there`,
    );
  }
  try {
    const response = await oauth.dynamicClientRegistrationRequest(
      as,
      {
        client_name: config.client_name,
        redirect_uris: [redirectUri],
        grant_types: ["authorization_code", "refresh_token"],
        response_types: ["code"],
        token_endpoint_auth_method: "none",
        application_type: "native",
      } as Partial<oauth.Client>,
      requestOptions(context.http, as.registration_endpoint),
    );
    const client = await readRegistration(response);
    context.logger.info("registered with the authorization server", { issuer: as.issuer, client_id: client.client_id });
    const authMethod = typeof client.token_endpoint_auth_method === "string" ? client.token_endpoint_auth_method : undefined;
    return { clientId: client.client_id, ...(typeof client.client_secret === "string" && { clientSecret: client.client_secret }), ...(authMethod && { authMethod }), redirectUri, via: "dcr" };
  } catch (error) {
    throw grantError("dynamic client registration", error);
  }
}

/** Shows the authorization URL: browser_command, else the system browser; always printed to stderr too. */
async function present(context: InteractiveContext, url: string, redirectUri: string): Promise<void> {
  const { platform } = context;
  const command = context.config.browser_command;
  const argv = command === undefined ? undefined : commandArgv(command);
  let opened = false;
  if (argv && !(argv.length === 1 && argv[0] === "none")) {
    const child = platform.spawn(argv[0]!, [...argv.slice(1), url], { env: context.commandEnv });
    let errors = "";
    const decoder = new TextDecoder();
    child.onStdout(() => {});
    child.onStderr((chunk) => void (errors.length < 4096 && (errors += decoder.decode(chunk, { stream: true }))));
    child.closeStdin();
    void child.exited.then((exit) => {
      if (exit.error || exit.code !== 0) context.logger.warn("browser_command failed", { command: argv[0], code: exit.code, error: exit.error?.message, stderr: errors.slice(0, 4096) });
    });
    opened = true;
  } else if (!argv && context.openBrowser) {
    opened = await context.openBrowser(url, context.commandEnv).catch(() => false);
  }
  const port = new URL(redirectUri).port;
  platform.writeStderr(
    [
      "",
      `mcp-bridge: sign-in required. ${opened ? "A browser window should open; if it does not, open" : "Open"} this address in a browser:`,
      "",
      `  ${url}`,
      "",
      `If that browser runs on another machine, sign in there, then copy the address of the page that fails to load`,
      `(it starts with http://127.0.0.1:${port}/) and open it on this machine, e.g.: curl '<that address>'`,
      "",
    ].join("\n"),
  );
}

/**
 * Runs the whole flow once and returns the tokens, with the registration used.
 *
 * @throws OutboundAuthError "discovery" when the server cannot do PKCE S256; "authorization" when
 *   the sign-in is not completed in time, refused, or its response fails the `state` / `iss` checks;
 *   "grant" when the code is not redeemed.
 */
export async function authorizeInteractively(
  context: InteractiveContext,
  as: oauth.AuthorizationServer,
  input: {
    resource: string;
    scopes: string[];
    cached?: Registration;
    dpop?: (client: oauth.Client) => oauth.DPoPHandle;
    /** Called with a registration made now (dynamic registration), before the person signs in: kept, it serves the next attempt if this one is abandoned. */
    registered?: (registration: Registration) => Promise<void>;
  },
): Promise<{ tokens: TokenSet; registration: Registration }> {
  // MCP authorization §Authorization Code Protection: without S256 advertised, the client must refuse.
  if (!as.code_challenge_methods_supported?.includes("S256")) {
    throw new OutboundAuthError("discovery", `the authorization server ${quotedValue(as.issuer)} does not advertise PKCE S256 (code_challenge_methods_supported); refusing to sign in there`);
  }
  if (!as.authorization_endpoint) throw new OutboundAuthError("discovery", `the authorization server ${quotedValue(as.issuer)} has no authorization_endpoint`);
  requireTrusted(as.authorization_endpoint, "authorization server authorization_endpoint");
  const { config } = context;
  const preferred = config.redirect_uri ?? (input.cached?.via === "dcr" ? input.cached.redirectUri : undefined) ?? DEFAULT_REDIRECT;
  let listener;
  try {
    listener = await startLoopbackListener(context.platform, preferred);
  } catch (error) {
    // The registered port is taken: a fresh port (and, for a dynamic client, a fresh registration).
    if (config.redirect_uri) throw new OutboundAuthError("authorization", `cannot listen on client.auth.oauth.redirect_uri ${config.redirect_uri}: ${(error as Error).message}`, { cause: error });
    listener = await startLoopbackListener(context.platform, DEFAULT_REDIRECT);
  }
  const stop = () => void listener.close();
  context.signal?.addEventListener("abort", stop, { once: true });
  // What the browser's callback page will say.
  let outcome: SignInOutcome = "failed";
  try {
    if (context.signal?.aborted) throw new OutboundAuthError("authorization", "sign-in cancelled: the bridge is shutting down");
    const registration = await register(context, as, input.cached, listener.redirectUri);
    if (registration.via === "dcr" && registration !== input.cached) await input.registered?.(registration);
    const identity = identityFor(context, as, registration);
    const verifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    const url = new URL(as.authorization_endpoint);
    url.searchParams.set("response_type", "code");
    url.searchParams.set("client_id", registration.clientId);
    url.searchParams.set("redirect_uri", listener.redirectUri);
    url.searchParams.set("code_challenge", await oauth.calculatePKCECodeChallenge(verifier));
    url.searchParams.set("code_challenge_method", "S256");
    url.searchParams.set("state", state);
    if (input.scopes.length > 0) url.searchParams.set("scope", input.scopes.join(" "));
    // OpenID Connect Core §11: offline_access is honoured only together with prompt=consent.
    if (input.scopes.includes("offline_access")) url.searchParams.set("prompt", "consent");
    url.searchParams.set("resource", input.resource);
    const callback = listener.waitForCallback(state, config.authorization_timeout);
    await present(context, url.href, listener.redirectUri);
    let params: URLSearchParams;
    try {
      params = await callback;
    } catch (error) {
      throw new OutboundAuthError("authorization", `sign-in not completed: ${(error as Error).message}`, { cause: error });
    }
    let validated: URLSearchParams;
    try {
      // RFC 9207 §2.4 and state (RFC 6749 §10.12), before the code goes anywhere.
      validated = oauth.validateAuthResponse(as, identity.client, params, state);
    } catch (error) {
      outcome = error instanceof oauth.AuthorizationResponseError ? "refused" : "rejected";
      if (error instanceof oauth.AuthorizationResponseError) {
        // It reaches the local client's error message (a terminal, perhaps): only a real error code is repeated.
        throw new OutboundAuthError("authorization", `the authorization server refused the sign-in (${oauthErrorCode(error.error) ?? "no valid error code"})`, { cause: error });
      }
      throw new OutboundAuthError("authorization", `authorization response rejected: ${(error as Error).message}`, { cause: error });
    }
    try {
      const dpop = input.dpop?.(identity.client);
      // A use_dpop_nonce answer comes before the code is consumed (RFC 9449 §8), so it may be sent again.
      const result = await withNonceRetry(async () => {
        const response = await oauth.authorizationCodeGrantRequest(as, identity.client, identity.auth, validated, listener.redirectUri, verifier, {
          ...requestOptions(context.http, as.token_endpoint!),
          additionalParameters: { resource: input.resource },
          ...(dpop && { DPoP: dpop }),
        });
        return oauth.processAuthorizationCodeResponse(as, identity.client, response);
      });
      const tokens = tokenSetFrom(result, Date.now(), input.scopes);
      outcome = "signed-in";
      return { tokens, registration };
    } catch (error) {
      throw grantError("authorization code redemption", error, [...identity.sent(), validated.get("code") ?? undefined, verifier]);
    }
  } finally {
    context.signal?.removeEventListener("abort", stop);
    await listener.close(outcome);
  }
}
