/**
 * @module OAuth clients: Dynamic Client Registration (RFC 7591) kept in the store with a sliding
 * expiry, and Client ID Metadata Documents (an https URL as client_id) resolved through a fetcher.
 * Either way a client is the same record; redirect URIs must also pass the operator's allow-list.
 */
import { canonicalJson } from "../store/memory.ts";
import { SlotRing } from "../store/ring.ts";
import type { Store } from "../store/types.ts";
import { timingSafeEqual, type Sha256 } from "../util/digest.ts";
import { invisibleCharacter } from "../util/invisible-text.ts";
import { OAuthError } from "./errors.ts";
import { randomToken, secretHash } from "./random.ts";
import { isLoopbackUrl, isPrivateUseScheme, redirectUriAllowed, redirectUriProblem } from "./redirect.ts";

export type TokenEndpointAuthMethod = "none" | "client_secret_post" | "client_secret_basic";
export const TOKEN_ENDPOINT_AUTH_METHODS: readonly TokenEndpointAuthMethod[] = ["none", "client_secret_post", "client_secret_basic"];

/** What a client says about itself (RFC 7591 §2), validated. */
export interface ClientMetadata {
  client_name?: string;
  redirect_uris: string[];
  grant_types: string[];
  token_endpoint_auth_method: TokenEndpointAuthMethod;
  application_type: "web" | "native";
}

/** A client as the authorization server knows it. */
export interface Client extends ClientMetadata {
  client_id: string;
  /** SHA-256 (hex) of the client secret, for confidential clients. */
  client_secret_hash?: string;
  client_id_issued_at: number;
  /** Dynamic registration or a metadata document. */
  source: "dcr" | "cimd";
  /** When a DCR registration was last kept alive by a token request (ms since the epoch); absent until the first. */
  touched_at?: number;
}

/** Largest registration request accepted (bytes): a few redirect URIs and a name. */
export const MAX_REGISTRATION_BYTES = 16 * 1024;
const MAX_REDIRECT_URIS = 10;
const MAX_NAME_LENGTH = 200;
/** A used registration's expiry is pushed back at most this often. */
const TOUCH_INTERVAL_MS = 3_600_000;
/**
 * A registration not yet used for a token is kept this long (or registration_lifetime, if
 * shorter): registering is unauthenticated, so a flood of unused ones must drain within a day
 * rather than hold the store for a month. Clients register right before they authorize.
 */
const UNUSED_REGISTRATION_MS = 86_400_000;
/**
 * Clients one person may make lasting (their first use keeps them registration_lifetime, or marks
 * a metadata document known) per registration_lifetime. Past it a new client still gets its tokens
 * and stays an unused registration: otherwise a script signing one account in with a new client
 * each time would keep a registration per sign-in for a month, and fill the store for everyone.
 */
export const CLIENTS_PER_SUBJECT = 50;

/** Resolves a URL-shaped client_id (Client ID Metadata Document); undefined when CIMD is off. */
export interface MetadataDocumentResolver {
  /** `address`: the requesting client's, for the limit on fetches (see cimd.ts). */
  resolve(clientId: string, address?: string): Promise<Client>;
  /**
   * The client of document `clientId` got a token: it is known, and never refused a fetch. Marked
   * the first time only when `adopt` says yes (ClientRegistry.touch); renewed after.
   */
  used(clientId: string, adopt: () => Promise<boolean>): Promise<void>;
}

export interface ClientRegistryOptions {
  store: Store;
  sha256: Sha256;
  allowedRedirectUris: readonly string[];
  /** Unused registrations expire after this (ms). */
  registrationLifetime: number;
  /**
   * Unused registrations kept at most: past it the oldest unused one is dropped (a ring of slots
   * in the store, so any Store implementation bounds them). Default 10,000.
   */
  maxUnusedRegistrations?: number;
  cimd: MetadataDocumentResolver | undefined;
  now?: () => number;
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === "string");
}

/**
 * Why this server does not send codes to `uri` for a client of `applicationType` under the
 * operator's `allowedRedirectUris` (a phrase to follow the URI), or undefined when it does. Checked
 * at registration and again at every authorization request: a registration outlives a change of
 * allowed_redirect_uris (RFC 9700 §4.1: exact, current redirect URI policy).
 */
export function redirectUriRefusal(uri: string, applicationType: "web" | "native", allowedRedirectUris: readonly string[]): string | undefined {
  return redirectUriProblem(uri, applicationType, allowedRedirectUris.includes(uri)) ?? (redirectUriAllowed(allowedRedirectUris, uri) ? undefined : "is not in this server's allowed_redirect_uris");
}

/**
 * Validates client metadata (registration body or metadata document) into a Client, or throws
 * OAuthError invalid_redirect_uri / invalid_client_metadata (RFC 7591 §3.2.2).
 */
export function validateClientMetadata(body: Record<string, unknown>, allowedRedirectUris: readonly string[]): ClientMetadata {
  const redirectUris = body.redirect_uris;
  if (!isStringArray(redirectUris) || redirectUris.length === 0) throw new OAuthError("invalid_redirect_uri", "redirect_uris must be a non-empty array of strings");
  if (redirectUris.length > MAX_REDIRECT_URIS) throw new OAuthError("invalid_redirect_uri", `at most ${MAX_REDIRECT_URIS} redirect_uris are accepted`);
  let applicationType = body.application_type;
  if (applicationType === undefined) {
    // Clients that predate application_type (Claude Code, Inspector, Cursor, most SDKs) register
    // loopback or private-use callbacks, which only native apps (RFC 8252) can use: one such URI
    // makes the client native (native clients may use https too); otherwise it is a web client.
    applicationType = redirectUris.some((uri) => URL.canParse(uri) && (isLoopbackUrl(new URL(uri)) || isPrivateUseScheme(new URL(uri)))) ? "native" : "web";
  }
  if (applicationType !== "web" && applicationType !== "native") throw new OAuthError("invalid_client_metadata", 'application_type must be "web" or "native"');
  // RFC 7591 §3.2.1 lets the server replace requested metadata: the URIs this server cannot accept
  // are left out and the rest registered (a client listing its custom scheme, https and loopback at
  // once keeps the usable ones); the response lists exactly what was registered. None usable: refused.
  const accepted: string[] = [];
  let firstProblem: string | undefined;
  for (const uri of redirectUris) {
    const problem = redirectUriRefusal(uri, applicationType, allowedRedirectUris);
    if (problem) firstProblem ??= `redirect URI ${JSON.stringify(uri.slice(0, 200))} ${problem}`;
    else accepted.push(uri);
  }
  if (accepted.length === 0) throw new OAuthError("invalid_redirect_uri", firstProblem!);
  const grantTypes = body.grant_types ?? ["authorization_code"];
  if (!isStringArray(grantTypes) || !grantTypes.includes("authorization_code") || grantTypes.some((grant) => grant !== "authorization_code" && grant !== "refresh_token")) {
    throw new OAuthError("invalid_client_metadata", 'grant_types must include "authorization_code" and may include only "refresh_token" besides');
  }
  const responseTypes = body.response_types ?? ["code"];
  if (!isStringArray(responseTypes) || responseTypes.some((type) => type !== "code")) throw new OAuthError("invalid_client_metadata", 'response_types may only be ["code"]');
  const method = body.token_endpoint_auth_method ?? "client_secret_basic";
  if (typeof method !== "string" || !TOKEN_ENDPOINT_AUTH_METHODS.includes(method as TokenEndpointAuthMethod)) {
    throw new OAuthError("invalid_client_metadata", `token_endpoint_auth_method must be one of ${TOKEN_ENDPOINT_AUTH_METHODS.join(", ")}`);
  }
  const name = body.client_name;
  if (name !== undefined && (typeof name !== "string" || name.length > MAX_NAME_LENGTH)) throw new OAuthError("invalid_client_metadata", `client_name must be a string of at most ${MAX_NAME_LENGTH} characters`);
  // The consent page shows the name in a sentence: a bidi control could reorder it, a zero-width
  // character make it pass for another (RFC 7591 §3.2.2; the pages isolate what gets through anyway).
  // Checked as registered: without the whitespace (a trailing newline, a BOM) trim() takes off.
  const invisible = typeof name === "string" ? invisibleCharacter(name.trim()) : undefined;
  if (invisible) throw new OAuthError("invalid_client_metadata", `client_name must not contain invisible formatting or control characters (it has ${invisible})`);
  return {
    ...(typeof name === "string" && name.trim() !== "" && { client_name: name.trim() }),
    redirect_uris: [...new Set(accepted)],
    grant_types: [...new Set(grantTypes)],
    token_endpoint_auth_method: method as TokenEndpointAuthMethod,
    application_type: applicationType,
  };
}

export class ClientRegistry {
  readonly #options: ClientRegistryOptions;
  readonly #now: () => number;

  /**
   * The ring of unused registrations, each with the key that finds it by its metadata (a public
   * client's): a registration used since it took its slot stays when the slot is taken again.
   */
  readonly #unused: SlotRing<{ client_id: string; fingerprint?: string }>;

  constructor(options: ClientRegistryOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    const { store } = options;
    this.#unused = new SlotRing({
      store,
      prefix: "client-slot:",
      slots: this.maxUnused,
      release: async ({ client_id, fingerprint }) => {
        const client = await store.get<Client & Record<string, never>>(`client:${client_id}`);
        if (client?.touched_at !== undefined) return;
        await store.delete(`client:${client_id}`);
        // Unless a later registration of the same metadata took the key over.
        if (fingerprint !== undefined && (await store.get(fingerprint)) === client_id) await store.delete(fingerprint);
      },
    });
  }

  /** Unused registrations kept at most (ClientRegistryOptions.maxUnusedRegistrations, default 10,000). */
  get maxUnused(): number {
    return this.#options.maxUnusedRegistrations ?? 10_000;
  }

  /**
   * RFC 7591 §3.1: registers a client and returns the §3.2.1 response, or undefined when `admit`
   * (the caller's rate limit, asked only when a new registration would be stored) says no. A
   * client asking for a secret (client_secret_basic / _post) gets one, shown once and kept only as
   * a hash.
   *
   * A public client (no secret) whose validated metadata equals an existing registration's gets
   * that registration back: its client_id is no credential, so sharing it gives nothing away, and
   * clients that register on every connection (or every user of a hosted client) then cost
   * neither rate-limit quota nor store space. Unused registrations live in a bounded ring: when it
   * is full the oldest unused one is dropped (its client registers again, as on any
   * invalid_client), however young: refusing while the ring held only fresh ones let a few
   * addresses get everyone's registration refused, where dropping the oldest lets a flood at most
   * cut short a sign-in under way when it replaces the whole ring within that sign-in.
   */
  async register(body: Record<string, unknown>, admit: (metadata: ClientMetadata) => Promise<boolean> = async () => true): Promise<Record<string, unknown> | undefined> {
    const { store, sha256 } = this.#options;
    const metadata = validateClientMetadata(body, this.#options.allowedRedirectUris);
    const secret = metadata.token_endpoint_auth_method === "none" ? undefined : randomToken(32);
    const fingerprint = secret ? undefined : `client-dedup:${await secretHash(sha256, canonicalJson(metadata as never))}`;
    if (fingerprint) {
      const existingId = await store.get<string>(fingerprint);
      const existing = existingId === undefined ? undefined : await this.lookup(existingId);
      if (existing) return registrationResponse(existing, undefined);
    }
    if (!(await admit(metadata))) return undefined;
    const clientId = randomToken(18);
    const client: Client = {
      ...metadata,
      client_id: clientId,
      client_id_issued_at: Math.floor(this.#now() / 1000),
      source: "dcr",
      ...(secret && { client_secret_hash: await secretHash(sha256, secret) }),
    };
    const lifetime = Math.min(this.#options.registrationLifetime, UNUSED_REGISTRATION_MS);
    await this.#unused.claim({ client_id: clientId, ...(fingerprint && { fingerprint }) }, lifetime);
    await store.put(`client:${clientId}`, client as never, lifetime);
    if (fingerprint) await store.put(fingerprint, clientId, lifetime);
    return registrationResponse(client, secret);
  }

  /**
   * The client for `clientId`, or undefined when unknown (never registered, expired, or CIMD off).
   * A metadata document that cannot be used throws OAuthError; `address` is the requester's.
   */
  async lookup(clientId: string, address?: string): Promise<Client | undefined> {
    if (clientId.length > 2048) return undefined;
    if (clientId.startsWith("https://")) {
      if (!this.#options.cimd) return undefined;
      return this.#options.cimd.resolve(clientId, address);
    }
    return this.#options.store.get<Client & Record<string, never>>(`client:${clientId}`);
  }

  /**
   * Keeps a registration alive: it is used, so it expires `registrationLifetime` from now. Written
   * on its first use, then at most once per TOUCH_INTERVAL_MS per client, not on every token request.
   * A metadata document's client is marked known instead (see cimd.ts). The first use counts
   * against `adopter` (the subjectKey of the person whose code was redeemed; none for a refresh,
   * which only keeps lasting clients alive): past CLIENTS_PER_SUBJECT the client stays unused.
   */
  async touch(client: Client, adopter?: string): Promise<void> {
    const { store, registrationLifetime } = this.#options;
    // A count that cannot be kept (a full store) adopts nothing: the tokens are issued already.
    const adopt = async () => adopter !== undefined && (await store.increment(`adopted:${adopter}`, 1, registrationLifetime).catch(() => Infinity)) <= CLIENTS_PER_SUBJECT;
    if (client.source === "cimd") return this.#options.cimd?.used(client.client_id, adopt);
    const now = this.#now();
    if (client.touched_at === undefined ? !(await adopt()) : now - client.touched_at < Math.min(TOUCH_INTERVAL_MS, registrationLifetime / 2)) return;
    await store.put(`client:${client.client_id}`, { ...client, touched_at: now } as never, registrationLifetime);
  }

  /** Checks a confidential client's secret in constant time. */
  async secretMatches(client: Client, secret: string): Promise<boolean> {
    if (!client.client_secret_hash) return false;
    const presented = new TextEncoder().encode(await secretHash(this.#options.sha256, secret));
    return timingSafeEqual(presented, new TextEncoder().encode(client.client_secret_hash));
  }
}

/** The §3.2.1 registration response: the client's metadata, with its secret when one was just issued. */
function registrationResponse(client: Client, secret: string | undefined): Record<string, unknown> {
  const { client_secret_hash: _hash, source: _source, touched_at: _touched, ...visible } = client;
  return { ...visible, response_types: ["code"], ...(secret && { client_secret: secret, client_secret_expires_at: 0 }) };
}
