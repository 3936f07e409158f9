/**
 * @module Client direction of `x-mcp-header` (Streamable HTTP 2026-07-28 §Custom Headers from Tool
 * Parameters): a client MUST exclude from `tools/list` every tool whose annotations break the
 * rules, and mirror the valid ones into `Mcp-Param-*` headers (see `requestHeaders` in era.ts).
 */
import { isObject } from "./envelope.ts";
import { isHeaderToken, paramHeadersOf, type ParamHeader } from "./era.ts";

const HEADER_TYPES = new Set(["string", "integer", "boolean"]);

/** Every `x-mcp-header` key anywhere in a schema, reachable or not. */
function countAnnotations(node: unknown, depth = 0): number {
  if (depth > 64) return 0;
  if (Array.isArray(node)) return node.reduce((sum: number, item) => sum + countAnnotations(item, depth + 1), 0);
  if (!isObject(node)) return 0;
  let count = "x-mcp-header" in node ? 1 : 0;
  for (const value of Object.values(node)) count += countAnnotations(value, depth + 1);
  return count;
}

/**
 * The `Mcp-Param-*` declarations of a tool's `inputSchema`, or the reason the tool must be
 * rejected: an empty, non-token or duplicate (case-insensitive) name, a type other than string,
 * integer or boolean, or an annotation not reachable through `properties` alone.
 */
export function toolParamHeaders(inputSchema: unknown): { declarations: ParamHeader[] } | { problem: string } {
  const total = countAnnotations(inputSchema);
  if (total === 0) return { declarations: [] };
  const declarations = paramHeadersOf(inputSchema);
  if (declarations.length !== total) return { problem: "an x-mcp-header is empty, not a string, or not reachable through properties alone" };
  const seen = new Set<string>();
  for (const declaration of declarations) {
    if (!isHeaderToken(declaration.name)) return { problem: `x-mcp-header ${JSON.stringify(declaration.name)} is not an HTTP token` };
    const lower = declaration.name.toLowerCase();
    if (seen.has(lower)) return { problem: `x-mcp-header ${JSON.stringify(declaration.name)} is used twice` };
    seen.add(lower);
    if (!HEADER_TYPES.has(declaration.type ?? "")) return { problem: `x-mcp-header ${JSON.stringify(declaration.name)} is on a parameter of type ${declaration.type ?? "(none)"}, not string, integer or boolean` };
  }
  return { declarations };
}
