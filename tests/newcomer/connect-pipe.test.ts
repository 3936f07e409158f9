/**
 * @module `mcp-bridge connect` fed by a pipe, a newcomer's first try (`printf '…' | mcp-bridge
 * connect URL`). stdin ends right after the requests, which is MCP's stdio shutdown: the bridge
 * stops at once, but each request still gets an answer on stdout before it exits: the remote
 * server's, or the error saying why there is none (the documented way to wait for the answers is
 * to keep stdin open: `(printf '…'; sleep 2) | …`).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { test } from "node:test";
import { CLI, ECHO_SERVER, runCli, startBridge, useBridge } from "../support/bridge.ts";

const TOKEN = "pipe-token-0123456789abcdef";
const lines = (...messages: object[]) => messages.map((message) => `${JSON.stringify({ jsonrpc: "2.0", ...message })}\n`).join("");
const INITIALIZE = { id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "pipe", version: "1" } } };
const ECHO = { id: 2, method: "tools/call", params: { name: "echo", arguments: { text: "piped" } } };

type Answer = { id: number; result?: Record<string, any>; error?: { message: string; data?: { reason?: string } } };
const answersOf = (stdout: string) => stdout.trim().split("\n").filter(Boolean).map((line) => JSON.parse(line) as Answer);

const bridge = useBridge(() => startBridge({ server: { mcp_server: { command: process.execPath, args: [ECHO_SERVER] }, auth: { type: "bearer", bearer: { valid_tokens: [TOKEN] } } } }));

test("connect: stdin ending right after the requests stops the bridge, and each request gets its answer or an error on stdout first (a good token, a bad one, a closed port)", { timeout: 60_000 }, async () => {
  for (const [what, url, token, failure] of [
    ["a good token", bridge.url, TOKEN, /stdin closed/],
    ["a bad token", bridge.url, "not-the-token-0123456789", /401|stdin closed/],
    ["a closed port", "http://127.0.0.1:1/mcp", TOKEN, /cannot reach 127\.0\.0\.1:1|stdin closed/],
  ] as const) {
    const result = await runCli(["connect", url, "--token-env", "TK"], { input: lines(INITIALIZE, { method: "notifications/initialized" }, ECHO), env: { TK: token } });
    assert.equal(result.code, 0, `${what}: ${result.stderr}`);
    const answers = answersOf(result.stdout);
    assert.deepEqual(answers.map((answer) => answer.id).sort(), [1, 2], `${what}: one answer each: ${result.stdout}`);
    for (const answer of answers) if (answer.error) assert.match(answer.error.message, failure, what);
  }
});

test("connect: stdin kept open until the answers come (`(printf '…'; sleep 2) | …`): the remote server's answers", { timeout: 60_000 }, async () => {
  const child = spawn(process.execPath, [CLI, "connect", bridge.url, "--token-env", "TK"], { env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", TK: TOKEN } });
  let stdout = "";
  const two = new Promise<void>((resolve) => child.stdout.on("data", (chunk: Buffer) => ((stdout += chunk), stdout.split("\n").length > 2 && resolve())));
  child.stdin.write(lines(INITIALIZE, { method: "notifications/initialized" }, ECHO));
  await two;
  child.stdin.end();
  const [code] = (await once(child, "close")) as [number | null];
  assert.equal(code, 0);
  const answers = answersOf(stdout);
  assert.equal(answers.find((answer) => answer.id === 1)?.result?.protocolVersion, "2025-06-18", stdout);
  assert.match(JSON.stringify(answers.find((answer) => answer.id === 2)?.result), /piped/);
});
