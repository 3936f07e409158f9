/** @module The registration endpoint (RFC 7591 §3): size-capped, rate-limited per address. */
import { readBodyLimited } from "../util/body.ts";
import { MAX_REGISTRATION_BYTES, type ClientMetadata } from "./clients.ts";
import type { AuthorizationServerContext } from "./context.ts";
import { OAuthError, oauthErrorResponse } from "./errors.ts";
import { json } from "./http.ts";
import { addressBucket } from "../util/cidr.ts";

/** New registrations per client address per hour: a desktop client registers again now and then, never dozens of times. */
const REGISTRATIONS_PER_HOUR = 30;
/**
 * New registrations per address per hour for a hosted client the operator listed by name: every
 * redirect URI is an https entry of allowed_redirect_uris (claude.ai by default). Claude registers
 * from Anthropic's servers for all its users, so the ordinary per-address limit would let anyone
 * with a Claude account lock every Claude user out. These count in a bucket of their own, so
 * nothing else from the shared address uses their quota; storage stays bounded by the ring of
 * unused registrations (clients.ts), which drops the oldest unused one rather than refusing.
 */
const HOSTED_REGISTRATIONS_PER_HOUR = 1000;
/**
 * Each per-address limit is at most this part of the ring of unused registrations (clients.ts): one
 * address must not replace the whole ring within a sign-in, dropping every registration a person is
 * signing in with (a small storage.max_entries).
 */
const RING_SHARE = 4;

export function createRegistrationEndpoint(as: AuthorizationServerContext) {
  const hostedCallbacks = new Set(as.config.allowed_redirect_uris.filter((uri) => uri.startsWith("https://")));
  const isHosted = (metadata: ClientMetadata) => metadata.redirect_uris.every((uri) => hostedCallbacks.has(uri));
  const share = Math.max(1, Math.floor(as.clients.maxUnused / RING_SHARE));
  function throttled(address: string): Response {
    as.audit("registration_throttled", { remote: address });
    return json({ error: "too_many_requests", error_description: "too many registrations from this address; try again later" }, 429, { "retry-after": "3600" });
  }

  return async function register(request: Request, address: string): Promise<Response> {
    try {
      if (!/^application\/json\s*(;|$)/i.test(request.headers.get("content-type") ?? "")) throw new OAuthError("invalid_client_metadata", "the body must be application/json");
      const declared = Number(request.headers.get("content-length") ?? "0");
      if (declared > MAX_REGISTRATION_BYTES) throw new OAuthError("invalid_client_metadata", `the registration is larger than ${MAX_REGISTRATION_BYTES} bytes`, 413);
      const text = await readBodyLimited(request, MAX_REGISTRATION_BYTES);
      if (text === undefined) throw new OAuthError("invalid_client_metadata", `the registration is larger than ${MAX_REGISTRATION_BYTES} bytes`, 413);
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        throw new OAuthError("invalid_client_metadata", "the body is not JSON");
      }
      if (typeof body !== "object" || body === null || Array.isArray(body)) throw new OAuthError("invalid_client_metadata", "the body must be a JSON object");
      // Counted only when a registration is stored: an identical public one is handed back for free (clients.ts).
      const registered = await as.clients.register(body as Record<string, unknown>, async (metadata) => {
        const hosted = isHosted(metadata);
        const count = await as.store.increment(`register:${hosted ? "hosted:" : ""}${addressBucket(address)}`, 1, 3_600_000);
        return count <= Math.min(share, hosted ? HOSTED_REGISTRATIONS_PER_HOUR : REGISTRATIONS_PER_HOUR);
      });
      if (!registered) return throttled(address);
      as.audit("client_registered", { client_id: registered.client_id, client_name: registered.client_name, redirect_uris: registered.redirect_uris, remote: address });
      return json(registered, 201);
    } catch (error) {
      if (error instanceof OAuthError) {
        as.audit("registration_refused", { error: error.code, remote: address });
        return oauthErrorResponse(error);
      }
      throw error;
    }
  };
}
