/**
 * @module Limits across requests. Request bodies being read share one byte budget
 * (server.max_body_bytes_in_flight). Requests in progress per client behind a trusted proxy. The listener caps connections
 * per peer address, but a trusted proxy is exempt from that cap (it carries everyone), so the
 * clients it forwards are capped here, by the address it names (server.trusted_proxies; an IPv6
 * address counts as its /64, see addressBucket, or one client would get a share per address it
 * owns): the same `max_connections_per_address`, counted as requests whose response is still being
 * sent (an SSE stream counts for as long as it is open).
 */
import type { MiddlewareHandler } from "hono";
import type { Logger } from "../log/logger.ts";
import { throttledLog } from "../log/throttle.ts";
import type { ConnectionInfo } from "../runtime/types.ts";
import { addressBucket, CidrSet } from "../util/cidr.ts";
import type { ClientAddressResolver } from "./client-address.ts";
import { jsonError } from "./http-errors.ts";

/**
 * What a client without a principal is counted as, for per-client shares (the body budget's
 * holder, legacy sessions): its address, an IPv6 address's /64 (addressBucket), e.g. "addr:192.0.2.7".
 */
export function addressHolder(clientAddress: string): string {
  return `addr:${addressBucket(clientAddress)}`;
}

/**
 * Bytes reserved across concurrent operations (request bodies being read): a reservation that does
 * not fit is refused instead of waiting, so the total held at once never passes the budget. Each
 * holder (a principal, or a client address without one) may hold at most a quarter of it beyond its
 * first reservation: bodies declared large and sent slowly by one client must not make every
 * other client's POST wait for read_timeout.
 */
export class ByteBudget {
  #used = 0;
  /** Bytes held per holder, while it holds any (so at most one entry per request being read). */
  readonly #held = new Map<string, number>();

  constructor(readonly limit: number) {}

  /**
   * Reserves `bytes` more for `holder`; false when they do not fit now. `own`: what the same body
   * already holds (a growing reservation), so that a holder's only body may keep growing.
   */
  tryReserve(bytes: number, holder: string, own = 0): boolean {
    if (this.#used + bytes > this.limit) return false;
    const held = this.#held.get(holder) ?? 0;
    // A holder's first body (its only one, growing) may be as large as the whole budget allows (max_body_size may exceed a quarter).
    if (held > own && held + bytes > this.limit / 4) return false;
    this.#used += bytes;
    this.#held.set(holder, held + bytes);
    return true;
  }

  /** Gives back what tryReserve reserved for `holder`. */
  release(bytes: number, holder: string): void {
    this.#used -= bytes;
    const left = (this.#held.get(holder) ?? bytes) - bytes;
    if (left > 0) this.#held.set(holder, left);
    else this.#held.delete(holder);
  }
}

/**
 * Bytes a body without Content-Length (chunked) reserves at a time. A whole step is reserved before
 * the first byte is read, so a chunked POST that cannot get one is refused unread, as a declared
 * one is; most messages fit in one step (one reservation per body, as with Content-Length); and a
 * step is the most a socket read delivers (libuv), so a body sent fast takes about one per chunk.
 */
const BODY_RESERVATION_STEP = 64 * 1024;

/**
 * The reservation of a body whose length is not declared: it grows by BODY_RESERVATION_STEP as
 * bytes arrive, against the budget and the holder's share, up to `max` (max_body_size: a body
 * beyond it is refused 413 by its reader, so it never needs more).
 */
export class GrowingReservation {
  #reserved = 0;

  constructor(
    readonly budget: ByteBudget,
    readonly holder: string,
    readonly max: number,
  ) {}

  /** Makes the reservation cover `bytes` received; false when the budget or the holder's share has no room for them. */
  cover(bytes: number): boolean {
    const next = Math.min(Math.ceil(bytes / BODY_RESERVATION_STEP) * BODY_RESERVATION_STEP, this.max);
    if (next <= this.#reserved) return true;
    if (!this.budget.tryReserve(next - this.#reserved, this.holder, this.#reserved)) return false;
    this.#reserved = next;
    return true;
  }

  /** Gives back everything reserved; once the body's read has ended, whatever way. */
  release(): void {
    this.budget.release(this.#reserved, this.holder);
    this.#reserved = 0;
  }
}

/** Wraps a streamed body so that `done` runs once when it ends, fails or the client cancels it. */
function onBodyDone(response: Response, done: () => void): Response {
  const body = response.body;
  if (!body) {
    done();
    return response;
  }
  const reader = body.getReader();
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    done();
  };
  const wrapped = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const { done: end, value } = await reader.read();
          if (end) {
            finish();
            controller.close();
          } else controller.enqueue(value);
        } catch (error) {
          finish();
          controller.error(error);
        }
      },
      cancel(reason) {
        finish();
        return reader.cancel(reason);
      },
    },
    // No read-ahead: the wrapped body's own queue (and its byte cap) stays where it is.
    { highWaterMark: 0 },
  );
  return new Response(wrapped, { status: response.status, statusText: response.statusText, headers: response.headers });
}

/** The middleware, or undefined when no proxy is trusted (the listener's per-peer cap is then enough). */
export function perClientLimit(options: {
  trustedProxies: readonly string[];
  clientAddress: ClientAddressResolver;
  maxPerClient: number;
  logger: Logger;
}): MiddlewareHandler<{ Bindings: ConnectionInfo }> | undefined {
  if (options.trustedProxies.length === 0) return undefined;
  const trusted = new CidrSet(options.trustedProxies);
  const inProgress = new Map<string, number>();
  const refusals = throttledLog(options.logger, "requests refused", { burst: 10, windowMs: 60_000 });
  return async function limitPerClient(c, next) {
    const peer = c.env.remoteAddress;
    if (!trusted.contains(peer)) return next();
    const client = addressBucket(options.clientAddress(peer, c.req.raw.headers));
    const count = inProgress.get(client) ?? 0;
    if (count >= options.maxPerClient) {
      refusals.write("warn", "request refused: too many in progress for this client", { client, limit: options.maxPerClient });
      return jsonError(429, "too_many_requests", `this client already has ${options.maxPerClient} requests in progress (server.max_connections_per_address)`, { "retry-after": "5" });
    }
    inProgress.set(client, count + 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const left = (inProgress.get(client) ?? 1) - 1;
      if (left <= 0) inProgress.delete(client);
      else inProgress.set(client, left);
    };
    try {
      await next();
    } catch (error) {
      release();
      throw error;
    }
    c.res = onBodyDone(c.res, release);
  };
}
