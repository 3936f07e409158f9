/** @module docs/configuration.md, rendered from the schema walker, the cross-key rules and the loader's search order. */
import { describeConfig, type KeyInfo } from "./describe.ts";
import { configCandidates, parseConfig } from "./load.ts";
import { CROSS_KEY_RULES } from "./rules.ts";
import { NOT_PROVIDED } from "./not-provided.ts";

/** A server-mode file using most sections; checked by renderConfigReference, so the docs never show a file that does not load. */
const SERVER_EXAMPLE = `# Serve the filesystem MCP server over Streamable HTTP, with bearer tokens from the environment.
mode: server
log:
  level: info
  format: json
  output: stderr
server:
  listen: "127.0.0.1:8080"
  path: /mcp
  max_body_size: 16MiB
  sse_keepalive_interval: 30s
  mcp_server:
    command: npx
    args: ["-y", "@modelcontextprotocol/server-filesystem", "/srv/data"]
    env:
      NODE_OPTIONS: "--max-old-space-size=512"
    read_timeout: 60s
    graceful_shutdown_timeout: 10s
  session:
    mode: per_session
    timeout: 30m
    max_sessions: 100
    max_sessions_per_subject: 5
  tls:
    enabled: false              # set true and give the two files to serve HTTPS
    cert_file: /etc/mcp-bridge/tls/cert.pem
    key_file: /etc/mcp-bridge/tls/key.pem
  cors:
    enabled: true
    allowed_origins: ["https://app.example.com"]
  auth:
    type: bearer
    bearer:
      valid_tokens:
        - "\${API_TOKEN_1}"
        - "\${API_TOKEN_2}"
`;

/** A client-mode file: stdio on this side, a remote Streamable HTTP server with OAuth client credentials on the other. */
const CLIENT_EXAMPLE = `mode: client
log:
  level: warn
  output: /var/log/mcp-bridge.log   # never stdout in client mode: stdout carries the MCP messages
client:
  url: "https://mcp.example.com/mcp"
  timeout: 30s
  auth:
    type: oauth
    oauth:
      token_url: "https://auth.example.com/oauth/token"
      client_id: "my-client"
      client_secret: "\${OAUTH_CLIENT_SECRET}"
      scopes: ["mcp:read", "mcp:write"]
      resource: "https://mcp.example.com/mcp"
  retry:
    enabled: true
    max_retries: 3
    initial_delay: 100ms
    max_delay: 5s
`;

const EXAMPLE_ENV = { API_TOKEN_1: "example", API_TOKEN_2: "example", OAUTH_CLIENT_SECRET: "example" };

function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

function code(value: unknown): string {
  return `\`${JSON.stringify(value)}\``;
}

function parentOf(path: string): string {
  const at = path.lastIndexOf(".");
  return at < 0 ? "" : path.slice(0, at);
}

function nameOf(path: string): string {
  return path.slice(path.lastIndexOf(".") + 1);
}

/** Headings in schema order: the top level, every section, and the items of every list of sections. */
function renderKeyTables(keys: KeyInfo[]): string[] {
  const headings: { path: string; info?: KeyInfo }[] = [{ path: "" }];
  for (const info of keys) {
    if (info.section) headings.push({ path: info.path, info });
    else if (info.type === "list of sections") headings.push({ path: `${info.path}[]`, info });
  }
  const lines: string[] = [];
  for (const { path, info } of headings) {
    lines.push(`### ${path ? `\`${path}\`` : "Top level"}`, "");
    if (info?.description) lines.push(info.description, "");
    if (info?.sameAs) {
      lines.push(`The same keys as [\`${info.sameAs}\`](#${info.sameAs.replace(/[^a-z0-9_]/g, "")}).`, "");
      continue;
    }
    const rows = keys.filter((key) => parentOf(key.path) === path && !key.section);
    const sections = keys.filter((key) => parentOf(key.path) === path && key.section);
    if (rows.length > 0) {
      lines.push("| Key | Type | Default | Description |", "|---|---|---|---|");
      for (const key of rows) {
        const fallback = key.default !== undefined ? code(key.default) : key.required ? "**required**" : "—";
        lines.push(`| \`${nameOf(key.path)}\` | ${cell(key.type)} | ${cell(fallback)} | ${cell(key.description ?? "")} |`);
      }
      lines.push("");
    }
    if (sections.length > 0) lines.push(`Sections: ${sections.map((key) => `[\`${nameOf(key.path)}\`](#${key.path.replace(/[^a-z0-9_]/g, "")})`).join(", ")}.`, "");
  }
  return lines;
}

/** The whole of docs/configuration.md. Throws when an example would not load. */
export function renderConfigReference(): string {
  parseConfig(SERVER_EXAMPLE, EXAMPLE_ENV, "server example");
  parseConfig(CLIENT_EXAMPLE, EXAMPLE_ENV, "client example");
  const keys = describeConfig();
  const searchOrder = configCandidates({}, "<directory of the executable>").map((candidate) => `\`${candidate}\``);
  return [
    "# Configuration reference",
    "",
    "<!-- Generated from src/config/schema.ts by `npm run docs:config`; do not edit by hand. A test fails when this file is out of date. -->",
    "",
    "mcp-bridge reads one YAML file. `mode` chooses what it does: `server` serves a stdio MCP server over",
    "Streamable HTTP (and the legacy HTTP+SSE transport); `client` connects stdio to a remote MCP server.",
    "`mcp-bridge check-config -c FILE` validates a file and prints the effective configuration: every",
    "default filled in, secrets redacted. Exit codes: 0 valid, 2 invalid or not found.",
    "",
    "## Where the file is found",
    "",
    "`-c FILE` names it. Otherwise `MCP_BRIDGE_CONFIG` names it, and when that variable is set no other",
    `place is tried. Otherwise the first of these that exists is read: ${searchOrder.join(", ")}.`,
    "When none exists, the error lists every place that was tried.",
    "",
    "## Writing values",
    "",
    "- **Unknown keys are errors**, at every level, and the message names the nearest valid key",
    '  (`server: unknown key "sesion" (did you mean "session"?)`), or the section it belongs in when it is',
    '  indented one level too little (`server: unknown key "command" (it goes under "mcp_server": mcp_server.command)`).',
    "  Nothing in the file is ignored.",
    "- **Environment variables**: `${VAR}` and `$VAR` are replaced by the variable's value, `${VAR:-default}`",
    "  by the default when the variable is unset or empty, and `$$` by a single `$`. A variable that is unset",
    "  and has no default is an error naming the variable and the key; it never stays in the value as text.",
    "  A `$` inside a value, or a whole `$NAME` that looks like a value (16 or more letters and digits), is",
    "  reported without the text after it, which may be a secret: write `$$` for a literal `$`.",
    "  Replacement happens in string values after the YAML is parsed, so a value can never add keys or",
    "  structure, whatever it contains, and it always yields a string: write numbers and booleans in the file",
    "  (numbers and booleans in `args`, `env` and `headers` are taken as their text, as in the Go original).",
    "  `password_hash` values are taken literally (bcrypt hashes contain `$`).",
    '- **Durations**: a number with a unit, `ms`, `s`, `m`, `h` or `d`, combinable: `"500ms"`, `"30s"`, `"1h30m"`. A timeout or interval is at most `2147483647ms` (about 24.8 days: the longest a timer waits); lifetimes (`session.timeout`, token, cache and registration lifetimes) have no bound but `oauth_server.token_lifetime` (24h) and `auth_code_lifetime` (10m). `"0s"` turns off `write_timeout`, `idle_timeout` and the others whose description says so, and means "none" for caches, `clock_skew`, `input_window`, `resume_window`, `graceful_shutdown_timeout`, `startup_timeout` (read_timeout applies) and retry and restart delays; every other duration must be longer than `"0s"`: the time allowed for an answer or a request (`read_timeout`, `header_timeout`, `client.timeout`, every `fetch_timeout`, `http_timeout` and `validation_timeout`, `authorization_timeout`), what repeats (`jwks.refresh_interval` and `cooldown`, `sse_keepalive_interval`, `session.cleanup_interval`, `restart_window`), and what would expire as it is made (`session.timeout`, `idle_conn_timeout`, `max_token_age`, and the token, code, registration and document lifetimes of `oauth_server`).',
    "  A bare number is refused, since it is unclear whether it means seconds or milliseconds.",
    '- **Sizes**: `"16MiB"`, `"512KiB"`, `"4MB"` (KiB/MiB/GiB are powers of 1024, KB/MB/GB of 1000) or a number of bytes, at most 2^53 - 1. The limits on messages, bodies and buffers waiting to be sent (`max_message_size`, `stdin_buffer_size`, `stream_buffer_size`, `max_body_size`, `max_body_bytes_in_flight`, and in client mode `max_message_size` and `max_answer_bytes_in_flight`) must be more than 0.',
    '- **Listen addresses**: `"host:port"`, `":port"` (every interface) or `"[::1]:port"`.',
    "- **Secrets** (type `secret` below, and the values of `server.mcp_server.env` and `client.headers`) never",
    "  appear in logs, error messages or check-config output. check-config also prints URLs as logs do",
    "  (userinfo, credential-like query values, and path segments or query values that look like a key,",
    "  16 or more characters mixing letters and digits, as `[redacted]`), and prints what a `${VAR}` filled",
    "  in to `mcp_server.command`, `mcp_server.args` and the `*_command` keys (`token_command`,",
    "  `id_token_command`, `browser_command`) as `[redacted]`.",
    "- **File paths** (`key_file`, `cert_file`, `login_template`, `storage.path`, a `log.output` file, …): a",
    "  relative path is read from the directory the bridge is started in, not from the configuration file's",
    "  directory; a service manager usually starts it in `/`, so write absolute paths there.",
    "- **YAML**: anchors, aliases and `<<` merge keys work; a key written twice in one mapping is an error.",
    "- **Aliases**: an `auth:` block at the top level, as the authentication guide writes it, applies to the",
    "  active mode: it is read as `server.auth` or `client.auth`. Writing both is an error. `logging:` is",
    "  read as `log:`; writing both is an error.",
    "",
    "## Keys",
    "",
    ...renderKeyTables(keys),
    "## Rules across keys",
    "",
    "Checked after every key is valid on its own; each error names the key to change.",
    "",
    ...CROSS_KEY_RULES.map((rule) => `- ${rule.summary}`),
    "",
    "## Not provided in this version",
    "",
    "These settings ask for something this version does not do. `run` and `check-config` refuse them",
    "(exit 2) rather than accept and ignore them:",
    "",
    ...NOT_PROVIDED.map((entry) => `- \`${entry.path}\`: ${entry.message}.`),
    "",
    "`check-config` also runs every start-up check of `run` that needs no network: files named in the",
    "configuration (TLS certificates and keys) must be readable, and the authentication settings are",
    "built as `run` builds them (a plain-http identity provider or validation endpoint off loopback is",
    "refused). A file that holds secrets written literally and that every user can read gets a warning, as",
    "do the start's warnings about a listener beyond loopback (authentication off, `metrics_listen`).",
    "",
    "## Complete examples",
    "",
    "Server mode:",
    "",
    "```yaml",
    SERVER_EXAMPLE.trimEnd(),
    "```",
    "",
    "Client mode:",
    "",
    "```yaml",
    CLIENT_EXAMPLE.trimEnd(),
    "```",
    "",
  ].join("\n");
}
