/**
 * @module `bearer.validation_endpoint`: the token is POSTed as {"token": …} and the endpoint answers
 * {"valid", "subject", "scopes", "claims", "metadata"}. Answers are cached briefly (by the token's
 * hash, never the token); any failure to get a clear answer fails closed with 503.
 */
import * as z from "../util/zod.ts";
import type { BearerConfig } from "../config/schema.ts";
import { sha256 as webSha256, toHex, type Sha256 } from "../util/digest.ts";
import { TtlCache } from "./ttl-cache.ts";
import { readBodyLimited } from "../util/body.ts";
import { AuthError, AuthSettingError, type Principal } from "./types.ts";
import { isTrustedEndpoint } from "./oauth/http.ts";
import { REFUSED_TOKEN_CACHE_ENTRIES, TOKEN_CACHE_MAX_ENTRIES } from "./oauth/token-cache.ts";

const MAX_ANSWER_BYTES = 64 * 1024;
/**
 * How long one readiness probe's outcome stands: a flood of tokens the endpoint fails on costs it
 * at most one extra request per this many milliseconds.
 */
const PROBE_INTERVAL_MS = 1000;

/** The endpoint's answer; extra fields are allowed, the named ones must have the right types. */
const ValidationAnswerSchema = z.looseObject({
  valid: z.boolean(),
  subject: z.string().min(1).optional(),
  scopes: z.array(z.string()).optional(),
  claims: z.record(z.string(), z.unknown()).optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
});

export interface RemoteValidator {
  validate(token: string): Promise<Principal>;
  /**
   * False while the endpoint fails to give a clear answer for any token: after a failure the bridge
   * asks it about a random token, so that one token it fails on does not make /ready 503. Reading
   * it while false asks again (at most once a second), so it recovers without traffic.
   */
  readonly ready: boolean;
}

/** No answer at all (a network error, a timeout): the endpoint is down for every token, not for one. */
class EndpointUnreachable extends AuthError {}

/**
 * A failed fetch, with why, safe to log: the timeout, or the network error's code (ECONNREFUSED,
 * ENOTFOUND…). Deno's fetch gives no code: the last clause of its cause's message ("…: tcp connect
 * error: Connection refused (os error 111)"), which never holds the URL.
 */
function unreachable(error: unknown): AuthError {
  const name = (error as Error)?.name;
  const { code, message } = ((error as { cause?: { code?: unknown; message?: unknown } })?.cause) ?? {};
  const denoReason = typeof message === "string" ? /: ([^:()]+?)(?: \(os error \d+\))?$/.exec(message)?.[1] : undefined;
  const cause = name === "TimeoutError" || name === "AbortError" ? "no answer in time (validation_timeout)" : typeof code === "string" ? code : (denoReason ?? name ?? "error");
  return new EndpointUnreachable("temporarily_unavailable", `validation endpoint unreachable: ${cause}`);
}

/**
 * Throws TypeError (a config error at start) for a plain-http endpoint off loopback: tokens would
 * travel in clear.
 */
export function createRemoteValidator(config: BearerConfig & { validation_endpoint: string }, fetchImpl: typeof fetch = fetch, sha256: Sha256 = webSha256): RemoteValidator {
  if (!isTrustedEndpoint(config.validation_endpoint)) {
    throw new AuthSettingError("bearer.validation_endpoint", "must be an https URL (plain http is accepted only for loopback addresses: tokens would travel in clear)");
  }
  // Refusals apart from acceptances (see REFUSED_TOKEN_CACHE_ENTRIES).
  const accepted = new TtlCache<Principal>(TOKEN_CACHE_MAX_ENTRIES);
  const refused = new TtlCache<AuthError>(REFUSED_TOKEN_CACHE_ENTRIES);
  const inFlight = new Map<string, Promise<Principal>>();
  let ready = true;
  let probe: { at: number; done: Promise<void> } | undefined;

  /**
   * Whether the endpoint still answers (a clear answer about a made-up token, valid or not) sets
   * `ready`; resolves when known. One probe per PROBE_INTERVAL_MS at most, shared by the failures meanwhile.
   */
  function probeEndpoint(): Promise<void> {
    const now = performance.now();
    if (probe && now - probe.at < PROBE_INTERVAL_MS) return probe.done;
    const done = ask(`mcp-bridge-readiness-probe-${crypto.randomUUID()}`).then(
      () => void (ready = true),
      (error: unknown) => void (ready = error instanceof AuthError && error.code === "invalid_token"),
    );
    probe = { at: now, done };
    return done;
  }

  async function ask(token: string): Promise<Principal> {
    let response: Response;
    try {
      response = await fetchImpl(config.validation_endpoint, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json" },
        body: JSON.stringify({ token }),
        signal: AbortSignal.timeout(config.validation_timeout),
        redirect: "error",
      });
    } catch (error) {
      throw unreachable(error);
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw new AuthError("temporarily_unavailable", `validation endpoint answered HTTP ${response.status}`);
    }
    let text: string | undefined;
    try {
      text = await readBodyLimited(response, MAX_ANSWER_BYTES);
    } catch (error) {
      // validation_timeout covers the body too: dripping it is no answer in time.
      throw unreachable(error);
    }
    let parsed: unknown;
    try {
      parsed = text === undefined ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (parsed === undefined) throw new AuthError("temporarily_unavailable", text === undefined ? `validation endpoint answer is larger than ${MAX_ANSWER_BYTES} bytes` : "validation endpoint answer is not JSON");
    const answer = ValidationAnswerSchema.safeParse(parsed);
    if (!answer.success) throw new AuthError("temporarily_unavailable", "validation endpoint answered JSON that is not a validation result");
    const { valid, subject, scopes, claims, metadata } = answer.data;
    if (!valid) throw new AuthError("invalid_token", "validation endpoint rejected the token");
    if (!subject) throw new AuthError("temporarily_unavailable", "validation endpoint accepted the token without naming a subject");
    return { subject, owner: `endpoint:${subject}`, scopes: scopes ?? [], claims: { ...claims, ...(metadata && { metadata }) } };
  }

  return {
    get ready() {
      // Once /ready is 503 a load balancer sends no traffic, so no validation would ever find the
      // endpoint back: reading it while unready asks again (a probe, at most once per PROBE_INTERVAL_MS).
      if (!ready) void probeEndpoint();
      return ready;
    },
    async validate(token) {
      const key = toHex(await sha256(token));
      // An honest user's cached answer first: one lookup on the common path (a key is live in at most one of the two).
      const cached = accepted.get(key);
      if (cached) return cached;
      const refusal = refused.get(key);
      if (refusal) throw refusal;
      let pending = inFlight.get(key);
      if (!pending) {
        pending = ask(token).then(
          (principal) => {
            ready = true;
            accepted.set(key, principal, config.cache_ttl);
            return principal;
          },
          async (error: unknown) => {
            if (error instanceof AuthError && error.code === "invalid_token") {
              ready = true;
              refused.set(key, error, config.negative_cache_ttl);
              throw error;
            }
            // Outages are not cached: the next request asks again. Whether the endpoint fails for
            // this token alone (a token crafted to make it fail) or for all is what /ready says:
            // unreachable, it is down (a probe would wait validation_timeout again); answering, a probe tells.
            if (error instanceof EndpointUnreachable) ready = false;
            else await probeEndpoint();
            throw error;
          },
        );
        pending.finally(() => inFlight.delete(key)).catch(() => {});
        inFlight.set(key, pending);
      }
      return pending;
    },
  };
}

