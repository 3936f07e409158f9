/**
 * @module The loopback redirect listener of the authorization-code flow (RFC 8252 §7.3): bound to
 * loopback only (127.0.0.1, ::1, or both for `localhost`), it answers exactly one path, refuses any Host but its own (DNS rebinding), and
 * ignores callbacks whose `state` is not the one sent, so a stray or hostile request can neither
 * end nor hijack the sign-in. The browser's page tells how the sign-in ended: it is answered once
 * the flow has checked the response (RFC 9207 `iss`) and redeemed the code, not before.
 */
import { escapeHtml } from "../../oauth-server/pages.ts";
import type { Platform, RunningServer } from "../../runtime/types.ts";

/**
 * How the sign-in a callback started ended, for the browser's page: `signed-in` (tokens obtained),
 * `refused` (the authorization server's error response), `rejected` (the response failed the
 * checks: `iss`, a missing code), `failed` (redeeming the code failed, or the bridge stopped).
 */
export type SignInOutcome = "signed-in" | "refused" | "rejected" | "failed";

export interface LoopbackListener {
  /** The redirect URI to send, with the port actually bound. */
  redirectUri: string;
  /** Resolves with the callback's query parameters once one carries `state`; rejects on timeout or close. */
  waitForCallback(state: string, timeout: number): Promise<URLSearchParams>;
  /** Answers the browser still waiting on the callback with `outcome`'s page, then stops listening. */
  close(outcome?: SignInOutcome): Promise<void>;
}

/**
 * Longest the browser waits on the callback for the outcome (ms), below the listener's request
 * timeout: a slow token endpoint gets an honest "finishing" page rather than a hanging tab.
 */
const OUTCOME_WAIT_MS = 10_000;

const PAGE = (title: string, text: string) =>
  `<!doctype html><meta charset="utf-8"><title>${escapeHtml(title)}</title><body style="font-family:system-ui;margin:3em"><h1>${escapeHtml(title)}</h1><p>${escapeHtml(text)}</p></body>`;

const OUTCOME_PAGES: Record<SignInOutcome, [status: number, title: string, text: string]> = {
  "signed-in": [200, "Signed in", "mcp-bridge is signed in. You can close this tab and return to your MCP client."],
  refused: [200, "Sign-in refused", "The authorization server refused the sign-in. You can close this tab."],
  rejected: [400, "Sign-in failed", "This sign-in response did not pass mcp-bridge's checks (its issuer must be the authorization server mcp-bridge asked, and the response complete), so it was not used. Close this tab and try again from your MCP client."],
  failed: [502, "Sign-in failed", "mcp-bridge received the authorization but could not complete the sign-in; your MCP client shows why. Close this tab and try again from there."],
};

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
  /** Answers the browser waiting on the delivered callback. */
  let answer: ((outcome: SignInOutcome) => void) | undefined;
  let port = 0;
  const handler = (request: Request): Response | Promise<Response> => {
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
    return new Promise<Response>((resolve) => {
      const timer = setTimeout(() => {
        answer = undefined;
        resolve(html(202, "Finishing sign-in", "mcp-bridge received the authorization and is finishing the sign-in. You can close this tab; your MCP client will show whether it succeeded."));
      }, OUTCOME_WAIT_MS);
      answer = (outcome) => {
        clearTimeout(timer);
        answer = undefined;
        resolve(html(...OUTCOME_PAGES[outcome]));
      };
    });
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
    async close(outcome = "failed") {
      if (closed) return;
      closed = true;
      abort?.(new Error("sign-in cancelled"));
      if (answer) {
        answer(outcome);
        // The page is written once the microtasks the answer starts have run; closing destroys the sockets.
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
      await Promise.all(servers.map((server) => server.close()));
    },
  };
}
