/** @module A static bearer token (`auth.bearer.token` in client mode): sent as is, nothing to refresh. */
import type { Secret } from "../../config/secret.ts";
import type { TokenSource } from "./types.ts";

/** A source that always sends `token`; a refusal cannot be repaired, so `handleChallenge` says no. */
export function staticBearer(token: Secret): TokenSource {
  const header = `Bearer ${token.reveal()}`;
  return {
    authorization: async () => header,
    handleChallenge: async () => false,
    close: async () => {},
  };
}
