/**
 * @module The authorization endpoint (RFC 6749 §4.1.1, OAuth 2.1 §4.1): checks the request, shows
 * the sign-in and consent page, and sends the browser back with a single-use code, `state` and
 * `iss` (RFC 9207) — or with an error when the redirect URI can be trusted, else an error page.
 */
import { timingSafeEqual } from "../util/digest.ts";
import { redirectUriRefusal, type Client } from "./clients.ts";
import type { AuthorizationServerContext, PendingAuthorization } from "./context.ts";
import { OAuthError } from "./errors.ts";
import { OFFLINE_ACCESS, subjectKey } from "./grants.ts";
import { keepLatest } from "../store/latest.ts";
import { cookie, firstParams, readCookie, readForm, seeOther, withQuery } from "./http.ts";
import type { SignedInUser } from "./identity.ts";
import { PENDING_LIFETIME_MS } from "./pending.ts";
import { randomToken, secretHash } from "./random.ts";
import { addressBucket } from "../util/cidr.ts";
import { isLoopbackUrl, isPrivateUseScheme, redirectTargetName, redirectUriMatches, redirectUriTrusted } from "./redirect.ts";
import { finishUpstream, redirectUpstream, type PendingRequestOutcome } from "./federated/routes.ts";
import { SCOPE_TOKEN } from "../auth/oauth/principal.ts";

/** OIDC Core §3.1.2.1 prompt values (the bridge always shows its consent page, so `consent` asks nothing more). */
const PROMPT_VALUES = new Set(["none", "login", "consent", "select_account"]);
/** Prompt values that need a sign-in made now, not a login session's. */
const FRESH_SIGN_IN = ["login", "select_account"];
/** max_age: a non-negative integer number of seconds (OIDC Core §3.1.2.1); ten digits are centuries. */
const MAX_AGE = /^(0|[1-9][0-9]{0,9})$/;
/** RFC 7636 §4.2: BASE64URL(SHA256(verifier)) is 43 characters. */
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;
/** RFC 6749 §3.3 scope-token. */
const MAX_STATE_LENGTH = 2048;
/** Authorization requests (pending sign-ins), and sign-ins started at the upstream provider, per client address per window. */
const PENDING_PER_ADDRESS = 100;
const PENDING_WINDOW_MS = 10 * 60_000;

/**
 * Sign-ins ending in a code, per person (subject and credential) per window. Each leaves a code,
 * its redemption mark and perhaps a login session in the store for minutes to days: a script
 * signing one account in from ever new addresses would otherwise fill it for everyone.
 */
const SIGN_INS_PER_SUBJECT = 60;
const SIGN_IN_WINDOW_MS = 15 * 60_000;
/** Login sessions one person keeps at most (browsers, devices): the next one ends the oldest. */
const SESSIONS_PER_SUBJECT = 10;

/** How long a sign-in told that too many are being checked is asked to wait (seconds). */
const BUSY_RETRY_SECONDS = 5;

/** A page answered with `status` and Retry-After (seconds). */
function withStatus(response: Response, status: number, retryAfterSeconds: number): Response {
  const headers = new Headers(response.headers);
  headers.set("retry-after", String(retryAfterSeconds));
  return new Response(response.body, { status, headers });
}

/** An error shown on the bridge's own page: the redirect URI cannot be trusted with it. */
class PageError extends Error {
  constructor(readonly status: number, readonly title: string, message: string) {
    super(message);
  }
}

export function createAuthorizeEndpoint(as: AuthorizationServerContext) {
  const csrfCookie = as.secureCookies ? "__Host-mcp-bridge-csrf" : "mcp-bridge-csrf";
  const sessionCookie = as.secureCookies ? "__Host-mcp-bridge-session" : "mcp-bridge-session";
  const sessionLifetime = as.config.login_session_lifetime;

  function errorRedirect(redirectUri: string, state: string | null, error: OAuthError): Response {
    as.audit("authorization_error", { error: error.code });
    return seeOther(withQuery(redirectUri, { error: error.code, error_description: error.description, state: state ?? undefined, iss: as.issuer }));
  }

  function page(error: PageError): Response {
    return as.pages.error(error.status, error.title, error.message);
  }

  /**
   * A 429 page once `address` has started more than PENDING_PER_ADDRESS sign-ins of `kind` in the
   * window (each keeps state in the store until it ends), else undefined.
   */
  async function throttled(kind: "authorize" | "upstream", address: string): Promise<Response | undefined> {
    if ((await as.store.increment(`${kind}:${addressBucket(address)}`, 1, PENDING_WINDOW_MS)) <= PENDING_PER_ADDRESS) return undefined;
    as.audit("authorization_throttled", { remote: address });
    return withStatus(page(new PageError(429, "Too many requests", "Too many sign-in requests from your address. Wait a few minutes and try again.")), 429, PENDING_WINDOW_MS / 1000);
  }

  /** A request refused before the user saw the form: sent back to the client only when its redirect URI is trusted, else shown here. */
  function refuseRequest(redirectUri: string, state: string | null, error: OAuthError): Response {
    if (redirectUriTrusted(as.config.allowed_redirect_uris, redirectUri)) return errorRedirect(redirectUri, state, error);
    as.audit("authorization_error", { error: error.code });
    return page(new PageError(400, "Invalid request", `The application's request cannot be used: ${error.description}. It asked to return to ${redirectTargetName(redirectUri)}; go back to the application and try again.`));
  }

  /** The client and redirect URI of a request, or a PageError: nothing may be sent to an unchecked redirect URI. */
  async function trustedTarget(params: Map<string, string>, address: string): Promise<{ client: Client; redirectUri: string }> {
    const clientId = params.get("client_id");
    if (!clientId) throw new PageError(400, "Invalid request", "The application did not say who it is (no client_id).");
    let client: Client | undefined;
    try {
      client = await as.clients.lookup(clientId, address);
    } catch (error) {
      const reason = error instanceof OAuthError ? error.description : "its client metadata document could not be used";
      throw new PageError(error instanceof OAuthError && error.status === 429 ? 429 : 400, "Unknown application", `The application could not be verified: ${reason}.`);
    }
    if (!client) throw new PageError(400, "Unknown application", "This application is not registered with this server, or its registration expired. Connect it again.");
    const requested = params.get("redirect_uri");
    if (requested === undefined && client.redirect_uris.length !== 1) throw new PageError(400, "Invalid request", "The application did not say where to return (no redirect_uri).");
    const registered = requested === undefined ? client.redirect_uris[0]! : client.redirect_uris.find((uri) => redirectUriMatches(uri, requested));
    if (registered === undefined) {
      as.audit("redirect_uri_mismatch", { client_id: client.client_id });
      throw new PageError(400, "Invalid redirect", "The address this application asked to return to is not one it registered.");
    }
    // Registered under an earlier allowed_redirect_uris, perhaps: the operator's current list decides.
    if (redirectUriRefusal(registered, client.application_type, as.config.allowed_redirect_uris)) {
      as.audit("redirect_uri_not_allowed", { client_id: client.client_id });
      throw new PageError(400, "Invalid redirect", `This server no longer sends sign-ins back to ${redirectTargetName(registered)}, where this application asked to return. Ask the server's operator.`);
    }
    return { client, redirectUri: requested ?? registered };
  }

  /**
   * The request's remaining parameters, checked; throws OAuthError to send to the (trusted) redirect
   * URI. A parameter asking for something this server does not do is an error, not ignored: the
   * client would otherwise take an answer it did not ask for (a query instead of a fragment, a
   * sign-in page instead of none, an old login session instead of a fresh sign-in).
   */
  function checkRequest(params: Map<string, string>, resources: string[], client: Client): Omit<PendingAuthorization, "client_id" | "client_name" | "redirect_uri" | "state" | "csrf"> & { silent: boolean } {
    const responseType = params.get("response_type");
    if (responseType === undefined) throw new OAuthError("invalid_request", "response_type is required");
    if (responseType !== "code") throw new OAuthError("unsupported_response_type", 'only response_type "code" is supported');
    // OAuth 2.0 Multiple Response Type Encoding Practices §2.1; the metadata's response_modes_supported.
    const responseMode = params.get("response_mode");
    if (responseMode !== undefined && responseMode !== "query") throw new OAuthError("invalid_request", 'only response_mode "query" is supported');
    // RFC 9101 §10.2 (JAR), OIDC Core §6: the codes for a server that takes no request objects.
    if (params.has("request")) throw new OAuthError("request_not_supported", "request objects are not supported");
    if (params.has("request_uri")) throw new OAuthError("request_uri_not_supported", "request_uri is not supported");
    const prompt = (params.get("prompt") ?? "").split(" ").filter((value) => value !== "");
    // OIDC Core §3.1.2.1; Initiating User Registration §4.1: an unsupported value is invalid_request.
    if (prompt.some((value) => !PROMPT_VALUES.has(value))) throw new OAuthError("invalid_request", "prompt may only hold none, login, consent and select_account");
    if (prompt.includes("none") && prompt.length > 1) throw new OAuthError("invalid_request", 'prompt "none" cannot be combined with other values');
    const maxAgeText = params.get("max_age");
    if (maxAgeText !== undefined && !MAX_AGE.test(maxAgeText)) throw new OAuthError("invalid_request", "max_age must be a number of seconds");
    const fresh = prompt.filter((value) => FRESH_SIGN_IN.includes(value));
    const challenge = params.get("code_challenge");
    if (!challenge) throw new OAuthError("invalid_request", "code_challenge is required (PKCE with S256)");
    if (params.get("code_challenge_method") !== "S256") throw new OAuthError("invalid_request", 'code_challenge_method must be "S256"');
    if (!S256_CHALLENGE.test(challenge)) throw new OAuthError("invalid_request", "code_challenge is not a base64url SHA-256 value");
    for (const resource of resources) {
      if (!as.acceptsResource(resource)) throw new OAuthError("invalid_target", "this server issues tokens only for its own MCP endpoint");
    }
    const scopeText = params.get("scope");
    let scope: string[] | null = null;
    let offline = false;
    if (scopeText !== undefined && scopeText.trim() !== "") {
      const asked = scopeText.split(" ").filter((item) => item !== "");
      if (!asked.every((item) => SCOPE_TOKEN.test(item))) throw new OAuthError("invalid_scope", "scope is malformed");
      offline = asked.includes(OFFLINE_ACCESS);
      // Least privilege (RFC 6749 §3.3): unknown names are ignored — clients such as Claude send
      // names of their own, so refusing them (invalid_scope) would lock those clients out — but
      // they never widen the grant: a request naming only unknown scopes gets none, and the 401
      // at /mcp names the scopes to ask for (MCP authorization, scope selection).
      const named = asked.filter((item) => item !== OFFLINE_ACCESS);
      if (named.length > 0) scope = [...new Set(named.filter((item) => as.scopesSupported.includes(item)))];
    }
    return {
      code_challenge: challenge,
      scope,
      resource: as.resource,
      refresh: offline || client.grant_types.includes("refresh_token"),
      ...(maxAgeText !== undefined && { max_age: Number(maxAgeText) }),
      ...(fresh.length > 0 && { prompt: fresh }),
      silent: prompt.includes("none"),
    };
  }

  /**
   * The user of a valid login session cookie, as configured now (scopes changed; none when removed
   * or their password changed) — for a request with `prompt=login`/`select_account` none, with
   * `max_age` only one who signed in at most that many seconds ago (OIDC Core §3.1.2.1).
   */
  async function signedInUser(request: Request, asked: Pick<PendingAuthorization, "max_age" | "prompt">): Promise<SignedInUser | undefined> {
    if (asked.prompt !== undefined) return undefined;
    const maxAge = asked.max_age;
    if (sessionLifetime <= 0 || !as.users) return undefined;
    const value = readCookie(request, sessionCookie);
    if (!value || value.length > 100) return undefined;
    const session = await as.store.get<{ subject: string; credential?: string; auth_time?: number }>(`login-session:${await secretHash(as.sha256, value)}`);
    if (!session) return undefined;
    // An age below zero is a wall clock stepped back since the sign-in: its time is then unknown, not recent.
    const age = session.auth_time === undefined ? undefined : Date.now() - session.auth_time;
    if (maxAge !== undefined && (age === undefined || age < 0 || age >= maxAge * 1000)) return undefined;
    return as.users.holder(session.subject, session.credential);
  }

  const upstreamHost = new URL(as.config.federated.upstream_issuer ?? as.config.federated.upstream_discovery_url ?? as.issuer).host;

  /** The scopes `user` gets for `pending`: those asked for (all supported when none were named) that they hold. */
  function grantedScopes(pending: PendingAuthorization, user: SignedInUser): string[] {
    return (pending.scope ?? as.scopesSupported).filter((scope) => user.scopes.includes(scope));
  }

  /** A well-formed CSRF cookie of this browser, kept so that two tabs' forms both stay valid; else a new token. */
  function csrfOf(request: Request): string {
    const existing = readCookie(request, csrfCookie);
    return existing && /^[A-Za-z0-9_-]{43}$/.test(existing) ? existing : randomToken(32);
  }

  function showForm(pending: PendingAuthorization, requestId: string, options: { askCredentials: boolean; error?: string; username?: string; status?: number }): Response {
    const response = as.pages.consent({
      requestId,
      csrfToken: pending.csrf,
      clientName: pending.client_name,
      redirectHost: redirectTargetName(pending.redirect_uri),
      documentHost: pending.client_id.startsWith("https://") ? new URL(pending.client_id).host : undefined,
      loopbackRedirect: isLoopbackUrl(new URL(pending.redirect_uri)) || isPrivateUseScheme(new URL(pending.redirect_uri)),
      // A request naming no scope gets every scope the user holds (complete()): the page lists them all, not none.
      scopes: pending.user ? grantedScopes(pending, pending.user) : (pending.scope ?? as.scopesSupported),
      askCredentials: options.askCredentials,
      error: options.error,
      username: options.username,
      ...(as.upstream && (pending.user ? { signedIn: { account: pending.user.email ?? pending.user.subject, provider: upstreamHost } } : { upstreamName: upstreamHost })),
    });
    // The confirmation after a federated callback has a token of its own, held by its page alone (approve()).
    if (!pending.user) response.headers.append("set-cookie", cookie(csrfCookie, pending.csrf, { secure: as.secureCookies, sameSite: "Strict", maxAgeSeconds: PENDING_LIFETIME_MS / 1000 }));
    return response;
  }

  /**
   * Ends a pending request with a code for `user`: the redirect back to the client, with a new
   * login session's cookie when `startSession` (a password was just checked) and sessions are on.
   */
  async function complete(requestId: string, user: SignedInUser, startSession = false): Promise<Response> {
    const owner = await subjectKey(as.sha256, user.subject, user.credential);
    if ((await as.store.increment(`sign-ins:${owner}`, 1, SIGN_IN_WINDOW_MS)) > SIGN_INS_PER_SUBJECT) {
      as.audit("authorization_throttled", { sub: user.subject });
      return withStatus(page(new PageError(429, "Too many sign-ins", "This account has signed in too often in the last few minutes. Wait a few minutes and try again.")), 429, SIGN_IN_WINDOW_MS / 1000);
    }
    const pending = await as.store.take<PendingAuthorization & Record<string, never>>(`authz:${requestId}`);
    if (!pending) return page(new PageError(400, "Sign-in expired", "This sign-in request was already used or has expired. Start again from your application."));
    const headers: [string, string][] = startSession && sessionLifetime > 0 ? await startLoginSession(user, owner) : [];
    const granted = grantedScopes(pending, user);
    const code = await as.grants.createCode({
      client_id: pending.client_id,
      sub: user.subject,
      ...(user.email !== undefined && { email: user.email }),
      ...(user.name !== undefined && { name: user.name }),
      scope: granted,
      resource: pending.resource,
      redirect_uri: pending.redirect_uri,
      code_challenge: pending.code_challenge,
      refresh: pending.refresh,
      ...(user.credential !== undefined && { credential: user.credential }),
    });
    as.audit("authorization_granted", { client_id: pending.client_id, sub: user.subject, scope: granted.join(" ") });
    return seeOther(withQuery(pending.redirect_uri, { code, state: pending.state ?? undefined, iss: as.issuer }), headers);
  }

  /**
   * Stores a login session for `user` (`owner`: their subjectKey), listed among theirs (the
   * oldest past SESSIONS_PER_SUBJECT ends); its Set-Cookie header, or none when concurrent sign-ins
   * of the same person kept winning the race to list theirs (this sign-in then goes without).
   */
  async function startLoginSession(user: SignedInUser, owner: string): Promise<[string, string][]> {
    const session = randomToken(32);
    const hash = await secretHash(as.sha256, session);
    const ended = await keepLatest(as.store, `sessions-of:${owner}`, hash, SESSIONS_PER_SUBJECT, sessionLifetime);
    if (ended === undefined) return [];
    for (const old of ended) await as.store.delete(`login-session:${old}`);
    await as.store.put(`login-session:${hash}`, { subject: user.subject, auth_time: Date.now(), ...(user.credential !== undefined && { credential: user.credential }) }, sessionLifetime);
    return [["set-cookie", cookie(sessionCookie, session, { secure: as.secureCookies, sameSite: "Lax", maxAgeSeconds: Math.floor(sessionLifetime / 1000) })]];
  }

  /** How federated sign-in (src/oauth-server/federated/routes.ts) ends a pending request. */
  const upstreamOutcome: PendingRequestOutcome = {
    secureCookies: as.secureCookies,
    /**
     * The page confirming who signed in, for whom: the callback's only tie to the browser that
     * consented is a cookie, which a page of another program on the same host (any port) can
     * plant, sending a victim signed in at the provider through a sign-in the attacker started for
     * its own client. The request moves to a new id that only this browser's page holds (whoever
     * started it knows the old one), and its form, which only this origin can send, ends it (post()).
     */
    async approve(requestId, user) {
      const pending = await as.store.take<PendingAuthorization & Record<string, never>>(`authz:${requestId}`);
      if (!pending) return page(new PageError(400, "Sign-in expired", "This sign-in request was already used or has expired. Start again from your application."));
      // A new token, not the CSRF cookie: SameSite=Strict keeps it off this cross-site navigation,
      // and replacing it would void a form another tab shows. The page alone holds this one.
      const consenting: PendingAuthorization = { ...pending, csrf: randomToken(32), user };
      const consentId = randomToken(24);
      await as.pending.put(`authz:${consentId}`, consenting as never, PENDING_LIFETIME_MS);
      return showForm(consenting, consentId, { askCredentials: false });
    },
    async deny(requestId, error, description) {
      const pending = await as.store.take<PendingAuthorization & Record<string, never>>(`authz:${requestId}`);
      if (!pending) return page(new PageError(400, "Sign-in expired", "This sign-in request was already used or has expired. Start again from your application."));
      return errorRedirect(pending.redirect_uri, pending.state, new OAuthError(error, description));
    },
    errorPage: (status, message) => page(new PageError(status, "Sign-in failed", message)),
    audit: as.audit,
  };

  return {
    /** GET /oauth/authorize (and /authorize). `address` is the client's IP address. */
    async get(request: Request, address: string): Promise<Response> {
      const url = new URL(request.url);
      const { first: params, repeated } = firstParams(url.searchParams, ["resource"]);
      // Which client, and where to, must be unambiguous before anything is sent anywhere (RFC 6749 §4.1.2.1).
      for (const name of ["client_id", "redirect_uri"]) {
        if (repeated.has(name)) return page(new PageError(400, "Invalid request", `parameter "${name}" is repeated`));
      }
      // Each request keeps a pending record until the form is sent, and a URL client_id costs a fetch
      // (and a cache entry): bounded per address before either, so nobody fills the store or uses the bridge to fetch.
      const refusal = await throttled("authorize", address);
      if (refusal) return refusal;
      let target: { client: Client; redirectUri: string };
      try {
        target = await trustedTarget(params, address);
      } catch (error) {
        if (error instanceof PageError) return page(error);
        throw error;
      }
      // A repeated state is not echoed: the client could not tell which one is its own.
      const state = repeated.has("state") ? null : (params.get("state") ?? null);
      const [firstRepeated] = repeated;
      if (firstRepeated !== undefined) return refuseRequest(target.redirectUri, state, new OAuthError("invalid_request", `parameter "${firstRepeated.slice(0, 64)}" is repeated`));
      if (state !== null && state.length > MAX_STATE_LENGTH) return refuseRequest(target.redirectUri, null, new OAuthError("invalid_request", "state is too long"));
      let checked;
      try {
        checked = checkRequest(params, url.searchParams.getAll("resource"), target.client);
      } catch (error) {
        if (error instanceof OAuthError) return refuseRequest(target.redirectUri, state, error);
        throw error;
      }
      const { silent, ...asked } = checked;
      const user = await signedInUser(request, asked);
      // prompt=none (OIDC Core §3.1.2.1): no page may be shown, and this server always asks for consent.
      if (silent) return refuseRequest(target.redirectUri, state, user ? new OAuthError("consent_required", "this server asks the user to allow every authorization") : new OAuthError("login_required", "the user is not signed in"));
      const pending: PendingAuthorization = {
        ...asked,
        client_id: target.client.client_id,
        client_name: target.client.client_name ?? target.client.client_id,
        redirect_uri: target.redirectUri,
        state,
        csrf: csrfOf(request),
      };
      const requestId = randomToken(24);
      await as.pending.put(`authz:${requestId}`, pending as never, PENDING_LIFETIME_MS);
      return showForm(pending, requestId, { askCredentials: Boolean(as.users) && !user });
    },

    /** POST /oauth/authorize: the sign-in and consent form. `address` is the client's IP address. */
    async post(request: Request, address: string): Promise<Response> {
      const origin = request.headers.get("origin");
      // "null" is what browsers send under Referrer-Policy: no-referrer; the CSRF token decides then.
      // But cookies ignore ports, so a page of another program on the same host can plant the CSRF
      // cookie: browsers that send Fetch Metadata must also say the form came from this origin.
      const site = request.headers.get("sec-fetch-site");
      if ((origin !== null && origin !== "null" && origin !== as.issuer && origin !== new URL(request.url).origin) || (site !== null && site !== "same-origin")) {
        return page(new PageError(403, "Request refused", "This form was sent from another site."));
      }
      let form: Map<string, string>;
      try {
        form = await readForm(request);
      } catch (error) {
        return page(new PageError(400, "Invalid request", (error as OAuthError).description ?? "The form could not be read."));
      }
      const requestId = form.get("request_id") ?? "";
      const pending = /^[A-Za-z0-9_-]{1,64}$/.test(requestId) ? await as.store.get<PendingAuthorization & Record<string, never>>(`authz:${requestId}`) : undefined;
      if (!pending) return page(new PageError(400, "Sign-in expired", "This sign-in request was already used or has expired. Start again from your application."));
      const encoder = new TextEncoder();
      const expected = encoder.encode(pending.csrf);
      const posted = encoder.encode(form.get("csrf_token") ?? "");
      const fromCookie = encoder.encode(readCookie(request, csrfCookie) ?? "");
      // Double-submitted with the cookie, but for a federated confirmation, whose token only its page holds (approve()).
      if (!timingSafeEqual(posted, expected) || (!pending.user && !timingSafeEqual(fromCookie, expected))) {
        as.audit("csrf_rejected", { client_id: pending.client_id });
        return page(new PageError(403, "Request refused", "The form could not be verified (it may have been sent from another page, or cookies are blocked). Start again from your application."));
      }
      if (form.get("action") === "deny") {
        if (!(await as.store.take(`authz:${requestId}`))) return page(new PageError(400, "Sign-in expired", "This sign-in request was already used or has expired."));
        as.audit("authorization_denied", { client_id: pending.client_id });
        return errorRedirect(pending.redirect_uri, pending.state, new OAuthError("access_denied", "the user denied access"));
      }
      if (form.get("action") !== "allow") return page(new PageError(400, "Invalid request", "The form was sent without choosing Allow or Deny."));

      if (as.upstream) {
        // Federated, back from the provider (upstreamOutcome.approve): the user confirmed who they
        // are in the browser that came back, on a form only this origin can send.
        if (pending.user) return complete(requestId, pending.user);
        // Consent given here, on the bridge, before anything goes upstream (MCP security best
        // practices, confused deputy). Each Allow starts a sign-in there (its state kept until the
        // callback), however often one request is sent.
        const refusal = await throttled("upstream", address);
        if (refusal) return refusal;
        return redirectUpstream(as.upstream, requestId, { prompt: pending.prompt, maxAge: pending.max_age }, upstreamOutcome);
      }

      const users = as.users!;
      const username = form.get("username") ?? "";
      const password = form.get("password") ?? "";
      if (username === "" && password === "") {
        const user = await signedInUser(request, pending);
        if (user) return complete(requestId, user);
      }
      if (username === "" || password === "" || username.length > 256 || password.length > 1024) {
        return showForm(pending, requestId, { askCredentials: true, error: "Enter your username and password.", username: username.slice(0, 256) });
      }
      // Asked for before the attempt is counted: a sign-in told to retry has not failed.
      const turn = users.turn(address);
      if (turn === "address") {
        as.audit("login_busy", { remote: address, share: "address" });
        return withStatus(showForm(pending, requestId, { askCredentials: true, error: "Too many sign-ins from your network are being checked right now. Wait a few seconds and try again.", username }), 429, BUSY_RETRY_SECONDS);
      }
      if (turn === "queue") {
        as.audit("login_busy", { remote: address });
        return withStatus(showForm(pending, requestId, { askCredentials: true, error: "Too many sign-ins are being checked right now. Wait a few seconds and try again.", username }), 503, BUSY_RETRY_SECONDS);
      }
      // A name that is no user's is often a password typed into the username field: the audit line does not repeat it.
      const who = users.known(username) ? { username } : { unknown_user: true };
      const release = await turn;
      let user: SignedInUser | undefined;
      try {
        const wait = await as.limiter.attempt(username, address);
        if (wait > 0) {
          as.audit("login_throttled", { ...who, remote: address });
          return withStatus(showForm(pending, requestId, { askCredentials: true, error: `Too many failed attempts. Wait ${waitText(wait)} and try again.`, username }), 429, Math.ceil(wait / 1000));
        }
        user = await users.verify(username, password);
      } finally {
        release();
      }
      if (!user) {
        as.audit("login_failed", { ...who, remote: address, client_id: pending.client_id });
        return showForm(pending, requestId, { askCredentials: true, error: "Wrong username or password.", username });
      }
      await as.limiter.succeeded(username, address);
      as.audit("login_succeeded", { sub: user.subject, remote: address, client_id: pending.client_id });
      return complete(requestId, user, true);
    },

    /** GET /oauth/callback: the upstream identity provider's redirect (federated mode). */
    async callback(request: Request): Promise<Response> {
      if (!as.upstream) return page(new PageError(404, "Not found", "Federated sign-in is not configured."));
      return finishUpstream(request, as.upstream, upstreamOutcome);
    },
  };
}

/** A throttling wait for people: "1 second", "45 seconds", "15 minutes" (rounded up). */
function waitText(ms: number): string {
  const seconds = Math.ceil(ms / 1000);
  if (seconds < 60) return seconds === 1 ? "1 second" : `${seconds} seconds`;
  const minutes = Math.ceil(seconds / 60);
  return minutes === 1 ? "1 minute" : `${minutes} minutes`;
}
