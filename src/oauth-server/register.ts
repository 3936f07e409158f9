/** @module The registration endpoint (RFC 7591 §3): size-capped, rate-limited per address. */
import { readBodyLimited } from "../util/body.ts";
import { MAX_REGISTRATION_BYTES } from "./clients.ts";
import type { AuthorizationServerContext } from "./context.ts";
import { OAuthError, oauthErrorResponse } from "./errors.ts";
import { json } from "./http.ts";
import { addressBucket } from "./login-limiter.ts";

/** Registrations per client address per hour: Claude registers again now and then, never dozens of times. */
const REGISTRATIONS_PER_HOUR = 30;

export function createRegistrationEndpoint(as: AuthorizationServerContext) {
  return async function register(request: Request, address: string): Promise<Response> {
    try {
      if (!/^application\/json\s*(;|$)/i.test(request.headers.get("content-type") ?? "")) throw new OAuthError("invalid_client_metadata", "the body must be application/json");
      const declared = Number(request.headers.get("content-length") ?? "0");
      if (declared > MAX_REGISTRATION_BYTES) throw new OAuthError("invalid_client_metadata", `the registration is larger than ${MAX_REGISTRATION_BYTES} bytes`, 413);
      const count = await as.store.increment(`register:${addressBucket(address)}`, 1, 3_600_000);
      if (count > REGISTRATIONS_PER_HOUR) {
        as.audit("registration_throttled", { remote: address });
        return json({ error: "too_many_requests", error_description: "too many registrations from this address; try again later" }, 429, { "retry-after": "3600" });
      }
      const text = await readBodyLimited(request, MAX_REGISTRATION_BYTES);
      if (text === undefined) throw new OAuthError("invalid_client_metadata", `the registration is larger than ${MAX_REGISTRATION_BYTES} bytes`, 413);
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        throw new OAuthError("invalid_client_metadata", "the body is not JSON");
      }
      if (typeof body !== "object" || body === null || Array.isArray(body)) throw new OAuthError("invalid_client_metadata", "the body must be a JSON object");
      const registered = await as.clients.register(body as Record<string, unknown>);
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
