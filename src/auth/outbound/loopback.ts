/**
 * @module The loopback redirect listener of the authorization-code flow (RFC 8252 §7.3): bound to
 * loopback only (127.0.0.1, ::1, or both for `localhost`), it answers exactly one path, refuses any Host but its own (DNS rebinding), and
 * ignores callbacks whose `state` is not the one sent, so a stray or hostile request can neither
 * end nor hijack the sign-in.
 */
import type { Platform, RunningServer } from "../../runtime/types.ts";

export interface LoopbackListener {
  /** The redirect URI to send, with the port actually bound. */
  redirectUri: string;
  /** Resolves with the callback's query parameters once one carries `state`; rejects on timeout or close. */
  waitForCallback(state: string, timeout: number): Promise<URLSearchParams>;
  close(): Promise<void>;
}

const PAGE = (title: string, text: string) =>
  `<!doctype html><meta charset="utf-8"><title>${title}</title><body style="font-family:system-ui;margin:3em"><h1>${title}</h1><p>${text}</p></body>`;

function html(status: number, title: string, text: string): Response {
  return new Response(PAGE(title, text), {
    status,
    headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store", "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'", "referrer-policy": "no-referrer" },
  });
}

/**
 * The addresses a redirect URI's host reaches. `localhost` resolves to ::1 before 127.0.0.1 in
 * browsers (Chromium does), so listening on one of the two would leave the other for any local
 * process to take, and the browser would hand it the code and `state` (RFC 8252 §8.3).
 */
function loopbackAddresses(hostname: string): string[] {
  if (hostname === "[::1]") return ["::1"];
  return hostname === "localhost" ? ["127.0.0.1", "::1"] : ["127.0.0.1"];
}

/** A host without IPv6 has no ::1 for anyone to take: not a reason to fail. */
function noSuchAddress(error: unknown): boolean {
  const { code, name } = error as { code?: unknown; name?: unknown };
  return code === "EADDRNOTAVAIL" || code === "EAFNOSUPPORT" || name === "AddrNotAvailable";
}

/**
 * Listens on `redirectUri`'s port (0: any free one) and path. A loopback redirect URI names
 * 127.0.0.1, [::1] or localhost; the listener binds 127.0.0.1, ::1, or both for localhost (the
 * same port), never a public address.
 *
 * @throws the platform's listen error (EADDRINUSE…) when an address cannot be had at that port.
 */
export async function startLoopbackListener(platform: Platform, redirectUri: string): Promise<LoopbackListener> {
  const wanted = new URL(redirectUri);
  const [first, ...others] = loopbackAddresses(wanted.hostname);
  let expectedState: string | undefined;
  let deliver: ((params: URLSearchParams) => void) | undefined;
  let port = 0;
  const handler = (request: Request): Response => {
    const url = new URL(request.url);
    // The Host a browser sends when it follows the redirect; anything else came some other way.
    if (request.headers.get("host") !== `${wanted.hostname}:${port}`) return html(400, "Wrong address", "This address only serves the sign-in callback of mcp-bridge.");
    if (request.method !== "GET" || url.pathname !== wanted.pathname) return html(404, "Not found", "This address only serves the sign-in callback of mcp-bridge.");
    const state = url.searchParams.get("state");
    if (!expectedState || !deliver || state !== expectedState) {
      return html(400, "Sign-in not recognised", "This sign-in response does not belong to the sign-in mcp-bridge started. Close this tab and try again from your MCP client.");
    }
    deliver(url.searchParams);
    deliver = undefined;
    return url.searchParams.has("error")
      ? html(200, "Sign-in refused", "The authorization server refused the sign-in. You can close this tab.")
      : html(200, "Signed in", "mcp-bridge received the authorization. You can close this tab and return to your MCP client.");
  };
  const listen = (host: string, at: number) =>
    platform.serve(handler, {
      host,
      port: at,
      requestTimeout: 30_000,
      idleTimeout: 5_000,
      // One browser on loopback: a handful of connections is plenty, and bounds what a local process can hold open.
      headerTimeout: 10_000,
      maxConnections: 16,
      maxConnectionsPerAddress: 16,
    });
  const servers: RunningServer[] = [await listen(first!, Number(wanted.port || 0))];
  port = servers[0]!.port;
  try {
    for (const host of others) {
      try {
        servers.push(await listen(host, port));
      } catch (error) {
        if (!noSuchAddress(error)) throw error;
      }
    }
  } catch (error) {
    await Promise.all(servers.map((server) => server.close()));
    throw error;
  }
  const redirect = new URL(redirectUri);
  redirect.port = String(port);
  let closed = false;
  let abort: ((error: Error) => void) | undefined;
  return {
    redirectUri: redirect.href,
    waitForCallback(state, timeout) {
      expectedState = state;
      return new Promise<URLSearchParams>((resolve, reject) => {
        const timer = setTimeout(() => {
          deliver = undefined;
          reject(new Error(`no sign-in completed within ${Math.round(timeout / 1000)} s`));
        }, timeout);
        abort = (error) => {
          clearTimeout(timer);
          reject(error);
        };
        deliver = (params) => {
          clearTimeout(timer);
          resolve(params);
        };
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      abort?.(new Error("sign-in cancelled"));
      await Promise.all(servers.map((server) => server.close()));
    },
  };
}
