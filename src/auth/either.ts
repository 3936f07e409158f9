/**
 * @module Two authenticators behind one: JWTs go to the first (the built-in authorization server's
 * validator), anything else to the second (static bearer tokens for machines, as the Go original
 * allowed next to its authorization server).
 */
import { decodeJwtHeader } from "./oauth/jwt.ts";
import type { Authenticator } from "./types.ts";

export function eitherAuthenticator(jwt: Authenticator, other: Authenticator): Authenticator {
  return {
    requiredScopes: jwt.requiredScopes,
    ...(jwt.scopesFor && { scopesFor: jwt.scopesFor }),
    ...(jwt.protectedResource && { protectedResource: jwt.protectedResource }),
    verify: (token) => (decodeJwtHeader(token) ? jwt.verify(token) : other.verify(token)),
    // /ready: either side being unable to decide (a validation endpoint down) is what operators must see.
    get ready() {
      return jwt.ready !== false && other.ready !== false;
    },
    async start() {
      await Promise.all([jwt.start?.(), other.start?.()]);
    },
    close() {
      jwt.close?.();
      other.close?.();
    },
  };
}
