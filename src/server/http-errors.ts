/** @module JSON error bodies for everything the bridge refuses outside JSON-RPC. */

export function jsonError(status: number, error: string, description: string, headers?: Record<string, string>): Response {
  return new Response(JSON.stringify({ error, error_description: description }), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

/** 405 for a method a path is not served with; `allow` lists those it is (RFC 9110 §15.5.6). */
export function methodNotAllowed(method: string, path: string, allow: string): Response {
  return jsonError(405, "method_not_allowed", `${method} is not served on ${path}; use ${allow}`, { allow });
}
