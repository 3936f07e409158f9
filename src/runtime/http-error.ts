/** @module The one error type outgoing HTTP requests fail with, whatever the runtime. */

/**
 * Why an outgoing request failed before a response arrived:
 * - `refused`: the connection was refused; nothing was sent.
 * - `dns`: the host name did not resolve; nothing was sent.
 * - `connect_timeout`: no connection within the connect timeout; nothing was sent.
 * - `tls`: the TLS handshake failed (certificate, name, protocol); nothing was sent.
 * - `proxy`: the proxy refused or failed the tunnel; nothing was sent to the server.
 * - `reset`: the connection broke after the request was (maybe) sent.
 * - `timeout`: no response within the time allowed after sending.
 * - `aborted`: the caller aborted the request.
 * - `not_public`: only public addresses were allowed (HttpRequestInit.publicOnly), and the host is,
 *   or resolves only to, an address off the public Internet; nothing was sent.
 */
export type HttpRequestErrorCode = "refused" | "dns" | "connect_timeout" | "tls" | "proxy" | "reset" | "timeout" | "aborted" | "not_public";

export class HttpRequestError extends Error {
  readonly code: HttpRequestErrorCode;
  /** False when the server cannot have seen the request: repeating it is then safe. */
  readonly sent: boolean;
  constructor(code: HttpRequestErrorCode, message: string, options: { sent: boolean; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.name = "HttpRequestError";
    this.code = code;
    this.sent = options.sent;
  }
}

/** Does `host` match a `NO_PROXY` list ("example.com,.internal,10.0.0.1,*")? Suffix match on dot boundaries, ports ignored. */
export function bypassesProxy(host: string, noProxy: string | undefined): boolean {
  if (!noProxy) return false;
  const name = host.replace(/^\[|\]$/g, "").toLowerCase();
  return noProxy
    .split(/[\s,]+/)
    .filter(Boolean)
    .some((raw) => {
      const entry = raw.toLowerCase().replace(/:\d+$/, "").replace(/^\*?\./, ".");
      if (entry === "*") return true;
      if (entry.startsWith(".")) return name.endsWith(entry) || name === entry.slice(1);
      return name === entry || name.endsWith(`.${entry}`);
    });
}
