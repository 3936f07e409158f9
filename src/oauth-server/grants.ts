/**
 * @module What the token endpoint hands out and takes back: single-use authorization codes
 * (atomic take; a replay revokes what the first redemption issued, RFC 6749 §4.1.2), RFC 9068 JWT
 * access tokens, and opaque refresh tokens rotated on every use, kept only as hashes, in families
 * with an absolute lifetime: a rotated-away token presented again revokes its family (RFC 9700
 * §4.14.2), except within a short grace after the rotation, for clients that refresh twice at once.
 * A refresh token names its family ("<family>.<secret>"): a family is one store entry however often
 * it rotates, where a link per token would let one client fill the store by refreshing in a loop.
 * The family keeps the hashes of its last REUSE_HISTORY rotated-away tokens: a token of it that is
 * none of those (made up from a logged prefix, or older) is refused without revoking anything.
 */
import { keepLatest } from "../store/latest.ts";
import type { Store } from "../store/types.ts";
import type { Sha256 } from "../util/digest.ts";
import { OAuthError } from "./errors.ts";
import type { SigningKeys } from "./keys.ts";
import { randomToken, secretHash } from "./random.ts";

/** How long a rotated-away refresh token still rotates instead of revoking its family (concurrent refreshes). */
export const REFRESH_GRACE_MS = 10_000;
/** Rotated-away refresh tokens per family whose reuse is recognized (and revokes it): the last rotation's and those of the 15 before (1 KB of hashes). */
const REUSE_HISTORY = 16;
/** Retries of a rotation whose compare-and-set lost a race with another one. */
const ROTATION_ATTEMPTS = 5;
/**
 * Refresh token families one subject keeps at most, all clients together; the next one ends the
 * oldest (Google keeps 100 refresh tokens per account and client). Without it, someone signing in again
 * and again (a script with their credentials, or any account at an open federated provider)
 * would leave a grant per sign-in in the store for a whole refresh_token_lifetime, and fill it.
 */
export const GRANTS_PER_SUBJECT = 50;

/**
 * A fixed-length key part for one person: their subject and what their sign-in rested on
 * (SignedInUser.credential), hashed (64 hex digits).
 */
export function subjectKey(sha256: Sha256, subject: string, credential: string | undefined): Promise<string> {
  return secretHash(sha256, JSON.stringify([credential ?? "", subject]));
}
/** The scope that asks for a refresh token (SEP-2207); never put into access tokens. */
export const OFFLINE_ACCESS = "offline_access";

/** Who and what a grant is for: carried from the authorization request to every token. */
export interface GrantSubject {
  client_id: string;
  sub: string;
  email?: string;
  name?: string;
  /** Granted scopes (offline_access excluded). */
  scope: string[];
  /** RFC 8707 resource: the access token's audience. */
  resource: string;
  /** What the sign-in rested on (SignedInUser.credential: a built-in user's fingerprint, a federated provider and client). Never put into tokens. */
  credential?: string;
}

/** The record behind an authorization code. */
export interface CodeRecord extends GrantSubject {
  redirect_uri: string;
  code_challenge: string;
  /** Issue a refresh token on redemption. */
  refresh: boolean;
}

/** What a redemption's proof checks: the client, its redirect_uri and the PKCE challenge the code was issued for. */
export type CodeProof = Pick<CodeRecord, "client_id" | "redirect_uri" | "code_challenge">;

/**
 * A redeemed code's mark: its proof (a replay must pass it to revoke), the family it started once
 * started, and `replayed` when a replay came before that family was linked (it is then revoked as it is linked).
 */
interface UsedCode extends CodeProof {
  family: string | null;
  replayed?: true;
}

function usedMark(record: CodeRecord, family: string | null): UsedCode {
  return { client_id: record.client_id, redirect_uri: record.redirect_uri, code_challenge: record.code_challenge, family };
}

interface FamilyRecord extends GrantSubject {
  /** Absolute end of the family (ms since the epoch). */
  expires_at: number;
  /** Hashes of refresh tokens that may be used now. */
  heads: string[];
  /** Hashes rotated away at rotated_at; still usable within the grace. */
  retired: string[];
  /** Hashes rotated away before `retired`, the newest last, at most REUSE_HISTORY - 1: presented again, they revoke the family. */
  history: string[];
  rotated_at: number;
  revoked: boolean;
}

export interface TokenResponse {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
  scope: string;
  refresh_token?: string;
}

export interface GrantsOptions {
  store: Store;
  sha256: Sha256;
  keys: SigningKeys;
  issuer: string;
  /** Milliseconds. */
  accessTokenLifetime: number;
  refreshTokenLifetime: number;
  codeLifetime: number;
  /**
   * The scopes the user of `grant` holds now, or undefined when they may no longer sign in: the
   * configuration (users and their password, admin_users, allowed_domains) decides at every
   * redemption and refresh, not only at sign-in.
   */
  heldScopes: (grant: GrantSubject) => readonly string[] | undefined;
  now?: () => number;
  /** Audit events (never a secret). */
  audit: (event: string, fields: Record<string, unknown>) => void;
}

export class Grants {
  readonly #o: GrantsOptions;
  readonly #now: () => number;

  constructor(options: GrantsOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  #hash(secret: string): Promise<string> {
    return secretHash(this.#o.sha256, secret);
  }

  /** A new authorization code for `record`; only its hash is stored. */
  async createCode(record: CodeRecord): Promise<string> {
    const code = randomToken(32);
    await this.#o.store.put(`code:${await this.#hash(code)}`, record as never, this.#o.codeLifetime);
    return code;
  }

  /**
   * Takes the code's record, atomically: of two concurrent redemptions one gets it. `proof` checks
   * that the presenter may redeem it (client, redirect_uri, PKCE verifier) and throws the
   * OAuthError when not, before the code is taken: a presenter without the verifier (one that
   * intercepted the code, what PKCE is for) neither uses it up nor, once the client has redeemed
   * it, revokes the client's grant. A code taken before, presented with its proof, is a replay:
   * the refresh family it started is revoked and invalid_grant thrown (RFC 6749 §4.1.2). A code
   * whose user may no longer sign in (heldScopes) is used up and refused with invalid_grant.
   */
  async redeemCode(code: string, proof: (record: CodeProof) => void | Promise<void>): Promise<CodeRecord> {
    const hash = await this.#hash(code);
    const record = await this.#o.store.get<CodeRecord & Record<string, never>>(`code:${hash}`);
    if (record) {
      await proof(record);
      // The mark is there before the code is taken: a replay that finds the code gone always finds it.
      await this.#o.store.putIfAbsent(`code-used:${hash}`, usedMark(record, null) as never, this.#o.codeLifetime);
      // Taken only now: of redemptions that passed their proof at once, one takes it, the others are replays.
      if (await this.#o.store.take(`code:${hash}`)) {
        if (!this.#o.heldScopes(record)) {
          this.#o.audit("code_refused", { client_id: record.client_id, sub: record.sub, reason: "the user can no longer sign in" });
          throw new OAuthError("invalid_grant", "the user of this grant can no longer sign in");
        }
        return record;
      }
    }
    const key = `code-used:${hash}`;
    let used = await this.#o.store.get<UsedCode & Record<string, never>>(key);
    if (used) {
      await proof(used);
      // The first redemption may still be issuing its tokens (no family linked yet): marked
      // replayed, the family is revoked as it is linked (#linkCode). Each lost race means the mark moved on.
      while (used && !used.family && !used.replayed && !(await this.#o.store.compareAndSet(key, used, { ...used, replayed: true }, this.#o.codeLifetime))) {
        used = await this.#o.store.get<UsedCode & Record<string, never>>(key);
      }
      if (used?.family) await this.#revokeFamily(used.family, "authorization code replayed");
      // Not the family's id: it is part of the grant's refresh tokens.
      this.#o.audit("code_replay", { client_id: used?.client_id, revoked: Boolean(used?.family) });
      throw new OAuthError("invalid_grant", "the authorization code was already used; the tokens issued for it are revoked");
    }
    throw new OAuthError("invalid_grant", "the authorization code is invalid or expired");
  }

  /** Links a redeemed code to the family it started, so a later replay can revoke it; one that came already (marked replayed) revokes it now. */
  async #linkCode(code: string, record: CodeRecord, family: string): Promise<void> {
    const key = `code-used:${await this.#hash(code)}`;
    if (await this.#o.store.compareAndSet(key, usedMark(record, null) as never, usedMark(record, family) as never, this.#o.codeLifetime)) return;
    await this.#revokeFamily(family, "authorization code replayed");
  }

  /** An RFC 9068 access token for `grant`. */
  async accessToken(grant: GrantSubject): Promise<{ token: string; expiresIn: number }> {
    const now = Math.floor(this.#now() / 1000);
    const expiresIn = Math.max(1, Math.floor(this.#o.accessTokenLifetime / 1000));
    const token = await this.#o.keys.sign(
      {
        iss: this.#o.issuer,
        sub: grant.sub,
        aud: grant.resource,
        client_id: grant.client_id,
        scope: grant.scope.join(" "),
        iat: now,
        exp: now + expiresIn,
        jti: randomToken(16),
        ...(grant.email !== undefined && { email: grant.email }),
        ...(grant.name !== undefined && { name: grant.name }),
      },
      "at+jwt",
    );
    return { token, expiresIn };
  }

  #response(access: { token: string; expiresIn: number }, grant: GrantSubject, refreshToken: string | undefined): TokenResponse {
    return {
      access_token: access.token,
      token_type: "Bearer",
      expires_in: access.expiresIn,
      // Always present (RFC 6749 §5.1: REQUIRED when it differs from the request), "" when nothing was granted.
      scope: grant.scope.join(" "),
      ...(refreshToken !== undefined && { refresh_token: refreshToken }),
    };
  }

  /** Tokens for a redeemed code: an access token and, when asked for, a new refresh family. */
  async issueForCode(code: string, record: CodeRecord): Promise<TokenResponse> {
    const grant = subjectOf(record);
    const access = await this.accessToken(grant);
    let refreshToken: string | undefined;
    if (record.refresh) {
      const family = randomToken(16);
      refreshToken = refreshTokenOf(family);
      const hash = await this.#hash(refreshToken);
      const expiresAt = this.#now() + this.#o.refreshTokenLifetime;
      const familyRecord: FamilyRecord = { ...grant, expires_at: expiresAt, heads: [hash], retired: [], history: [], rotated_at: 0, revoked: false };
      // Listed first: a family the list does not hold would escape the bound.
      await this.#list(grant, family);
      await this.#o.store.put(`rtf:${family}`, familyRecord as never, this.#o.refreshTokenLifetime);
      await this.#linkCode(code, record, family);
    }
    this.#o.audit("token_issued", { grant_type: "authorization_code", client_id: grant.client_id, sub: grant.sub, scope: grant.scope.join(" "), refresh: refreshToken !== undefined });
    return this.#response(access, grant, refreshToken);
  }

  /**
   * Rotates `refreshToken` (RFC 6749 §6, RFC 9700 §4.14.2). `clientId` must be the family's client;
   * `scope` (offline_access excluded), when given, may only narrow the grant (RFC 6749 §6); an
   * empty list narrows it to none. The new access token never has scopes the user no longer holds
   * (heldScopes); a user no longer configured, or whose password changed, gets invalid_grant, and
   * the family is revoked.
   */
  async refresh(refreshToken: string, clientId: string, scope: string[] | undefined): Promise<TokenResponse> {
    const familyId = familyOf(refreshToken);
    if (familyId === undefined) throw new OAuthError("invalid_grant", "the refresh token is invalid, expired or revoked");
    const hash = await this.#hash(refreshToken);
    const key = `rtf:${familyId}`;
    for (let attempt = 0; attempt < ROTATION_ATTEMPTS; attempt++) {
      const family = await this.#o.store.get<FamilyRecord & Record<string, never>>(key);
      const now = this.#now();
      // A token the family never issued (its id is in every token's first part, which logs may keep), or rotated away too long ago, touches nothing.
      if (!family || family.revoked || family.expires_at <= now || !issuedBy(family, hash)) throw new OAuthError("invalid_grant", "the refresh token is invalid, expired or revoked");
      // Before the reuse check: another client's token, even a rotated-away one, leaves the grant as it is.
      if (family.client_id !== clientId) {
        this.#o.audit("refresh_client_mismatch", { client_id: clientId });
        throw new OAuthError("invalid_grant", "the refresh token was issued to another client");
      }
      const held = this.#o.heldScopes(family);
      if (!held) {
        await this.#revokeFamily(familyId, "the user is no longer configured, or their password changed");
        throw new OAuthError("invalid_grant", "the user of this grant can no longer sign in");
      }
      // Checked before rotating: a refused request must leave the client's token as it was.
      let grant = { ...subjectOf(family), scope: family.scope.filter((item) => held.includes(item)) };
      if (scope) {
        const extra = scope.filter((item) => !family.scope.includes(item));
        if (extra.length > 0) throw new OAuthError("invalid_scope", `scope may only narrow the original grant (not granted: ${extra.join(" ")})`);
        grant = { ...grant, scope: grant.scope.filter((item) => scope.includes(item)) };
      }
      let next: FamilyRecord;
      const fresh = refreshTokenOf(familyId);
      const freshHash = await this.#hash(fresh);
      if (family.heads.includes(hash)) {
        // What is rotated away now (the last rotation's tokens, the heads not used) is still recognized when reused.
        const history = [...family.history, ...family.retired, ...family.heads.filter((head) => head !== hash)].slice(-(REUSE_HISTORY - 1));
        next = { ...family, heads: [freshHash], retired: [hash], history, rotated_at: now };
      } else if (family.retired.includes(hash) && Math.abs(now - family.rotated_at) <= REFRESH_GRACE_MS) {
        // Either side of the rotation: a wall clock stepped back (an NTP correction) must not make
        // every rotated-away token "just rotated" again until it catches up.
        // The same token refreshed twice at once: both callers get working tokens.
        next = { ...family, heads: [...family.heads, freshHash].slice(-4) };
      } else {
        await this.#revokeFamily(familyId, "refresh token reused");
        this.#o.audit("refresh_reuse", { client_id: family.client_id, sub: family.sub });
        throw new OAuthError("invalid_grant", "the refresh token was already used; its grant is revoked");
      }
      const remaining = family.expires_at - now;
      // One write: if the store refuses it (full, a disk error), nothing has rotated and the client's token still works.
      if (!(await this.#o.store.compareAndSet(key, family as never, next as never, remaining))) continue;
      const access = await this.accessToken(grant);
      this.#o.audit("token_refreshed", { client_id: family.client_id, sub: family.sub });
      return this.#response(access, grant, fresh);
    }
    throw new OAuthError("temporarily_unavailable", "too many concurrent refreshes of one token; try again", 503);
  }

  /**
   * RFC 7009: revokes the family of a refresh token of `clientId`; unknown, expired or already
   * revoked tokens are ignored (§2.2). A live token of another client stays valid, and is audited
   * (revoke_client_mismatch): for a client that authenticated (`authenticated`: a secret), the
   * request is refused with invalid_request (§2.1: the server verifies the token was issued to the
   * requesting client and, if not, refuses the request and informs the client); for a public
   * client, which anyone can be, it is ignored like an unknown token, so that nobody can ask
   * /oauth/revoke whether a token is live — oidc-provider's revocation allowedPolicy (9.x) does
   * the same.
   * @throws OAuthError invalid_request: another client's live token, the requesting client authenticated.
   */
  async revoke(token: string, clientId: string, authenticated: boolean): Promise<void> {
    const familyId = familyOf(token);
    if (familyId === undefined) return;
    const family = await this.#o.store.get<FamilyRecord & Record<string, never>>(`rtf:${familyId}`);
    // A token the family issued, current or rotated away: one made up from its id revokes nothing.
    if (!family || family.revoked || family.expires_at <= this.#now() || !issuedBy(family, await this.#hash(token))) return;
    if (family.client_id !== clientId) {
      this.#o.audit("revoke_client_mismatch", { client_id: clientId });
      if (!authenticated) return;
      throw new OAuthError("invalid_request", "the token was issued to another client; it is not revoked");
    }
    await this.#revokeFamily(familyId, "revoked by the client");
    this.#o.audit("token_revoked", { client_id: clientId, sub: family.sub });
  }

  /**
   * Adds `family` to the list of its subject's grants, kept as long as the newest; the ones past
   * GRANTS_PER_SUBJECT are removed, the oldest first.
   * @throws OAuthError temporarily_unavailable (503) when concurrent sign-ins of the subject keep winning the race.
   */
  async #list(grant: GrantSubject, family: string): Promise<void> {
    const { store, sha256, refreshTokenLifetime } = this.#o;
    const ended = await keepLatest(store, `grants-of:${await subjectKey(sha256, grant.sub, grant.credential)}`, family, GRANTS_PER_SUBJECT, refreshTokenLifetime);
    if (ended === undefined) throw new OAuthError("temporarily_unavailable", "too many concurrent sign-ins of one user; try again", 503);
    for (const old of ended) {
      // Removed rather than marked revoked: the point is the room it takes. Its tokens are then unknown, which is refused alike.
      const removed = await store.take<FamilyRecord & Record<string, never>>(`rtf:${old}`);
      if (removed && !removed.revoked) this.#o.audit("grant_revoked", { client_id: removed.client_id, sub: removed.sub, reason: `the subject's grants passed ${GRANTS_PER_SUBJECT}; the oldest ends` });
    }
  }

  async #revokeFamily(familyId: string, reason: string): Promise<void> {
    const key = `rtf:${familyId}`;
    for (let attempt = 0; attempt < ROTATION_ATTEMPTS; attempt++) {
      const family = await this.#o.store.get<FamilyRecord & Record<string, never>>(key);
      if (!family || family.revoked) return;
      const remaining = Math.max(1, family.expires_at - this.#now());
      if (await this.#o.store.compareAndSet(key, family as never, { ...family, revoked: true, heads: [], retired: [], history: [] } as never, remaining)) {
        this.#o.audit("grant_revoked", { client_id: family.client_id, sub: family.sub, reason });
        return;
      }
    }
  }
}

/** Whether the token hashed to `hash` is one `family` issued and still knows: current, or among the last REUSE_HISTORY rotated away. */
function issuedBy(family: FamilyRecord, hash: string): boolean {
  return family.heads.includes(hash) || family.retired.includes(hash) || family.history.includes(hash);
}

/** A new refresh token of `family`: its id, ".", and 32 random bytes (base64url, which has no "."). */
function refreshTokenOf(family: string): string {
  return `${family}.${randomToken(32)}`;
}

/** The family a refresh token names, or undefined when it is not in refreshTokenOf's form. */
function familyOf(token: string): string | undefined {
  const match = /^([A-Za-z0-9_-]{22})\.[A-Za-z0-9_-]{43}$/.exec(token);
  return match?.[1];
}

function subjectOf(record: GrantSubject): GrantSubject {
  return {
    client_id: record.client_id,
    sub: record.sub,
    ...(record.email !== undefined && { email: record.email }),
    ...(record.name !== undefined && { name: record.name }),
    scope: record.scope,
    resource: record.resource,
    ...(record.credential !== undefined && { credential: record.credential }),
  };
}
