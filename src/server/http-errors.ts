/** @module JSON error bodies for everything the bridge refuses outside JSON-RPC. */

export function jsonError(status: number, error: string, description: string, headers?: Record<string, string>): Response {
  return new Response(JSON.stringify({ error, error_description: description }), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}
