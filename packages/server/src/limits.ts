/** What one server accepts: body size, tokens per request, generations at once. */
import { HttpError } from "./errors";

export interface Limits {
  /** largest request body in bytes (default 1 MiB) */
  maxBodyBytes: number;
  /** most tokens one request may generate (default 512) */
  maxTokens: number;
  /** generations running at once (default 4) */
  maxConcurrent: number;
  /** generations waiting for a slot, in arrival order; more get 429 (default 64) */
  maxQueued: number;
  /** longest prompt in characters (default 32768) */
  maxPromptChars: number;
}

export const DEFAULT_LIMITS: Limits = { maxBodyBytes: 1 << 20, maxTokens: 512, maxConcurrent: 4, maxQueued: 64, maxPromptChars: 32768 };

/** The body as JSON, read at most `limit` bytes (a lying Content-Length does not get past it). */
export async function readJsonBody(req: Request, limit: number): Promise<unknown> {
  const type = req.headers.get("content-type") ?? "";
  if (!type.toLowerCase().startsWith("application/json"))
    throw new HttpError(415, `send the body as application/json (got ${type ? JSON.stringify(type) : "no Content-Type"})`);
  const declared = Number(req.headers.get("content-length") ?? Number.NaN);
  if (declared > limit) throw new HttpError(413, `the body is ${declared} bytes; the limit is ${limit}`);
  const reader = req.body?.getReader();
  if (!reader) throw new HttpError(400, "the body is empty; send a JSON object");
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw new HttpError(413, `the body is larger than the limit of ${limit} bytes`);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.byteLength;
  }
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (e) {
    throw new HttpError(400, `the body is not valid JSON: ${(e as Error).message}`);
  }
}

/**
 * Slots for generations: up to `max` run at once, up to `maxQueued` more wait in arrival
 * order, the rest get 429. A waiting request whose client goes away leaves the queue.
 */
export class ConcurrencyGate {
  private running = 0;
  private readonly waiting: { grant: (release: () => void) => void }[] = [];
  constructor(
    private readonly max: number,
    private readonly maxQueued = 0,
  ) {}

  get active(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** A release function once a slot is free; 429 when the queue is full too. */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (this.running < this.max) {
      this.running++;
      return Promise.resolve(this.releaser());
    }
    if (this.waiting.length >= this.maxQueued) {
      return Promise.reject(
        new HttpError(
          429,
          `${this.running} generations are running and ${this.waiting.length} waiting, the most this server takes; retry shortly`,
          "rate_limit_error",
          null,
          "too_many_requests",
        ),
      );
    }
    return new Promise((resolve, reject) => {
      const stop = keepAlive();
      const entry = {
        grant: (release: () => void) => {
          stop();
          resolve(release);
        },
      };
      this.waiting.push(entry);
      signal?.addEventListener(
        "abort",
        () => {
          const i = this.waiting.indexOf(entry);
          if (i >= 0) {
            this.waiting.splice(i, 1);
            stop();
            reject(new HttpError(499, "the client went away while waiting for a slot", "invalid_request_error", null, "client_closed"));
          }
        },
        { once: true },
      );
    });
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // the slot passes straight to the next in line
      const next = this.waiting.shift();
      if (next) next.grant(this.releaser());
      else this.running--;
    };
  }
}

/**
 * A timer pending in the calling request until `stop()`. In a Worker every request has its
 * own I/O context, and one that only awaits a promise another request will settle (a queue
 * slot, a model another request is loading) has no event of its own pending: workerd cancels
 * it as hung, and a slot later handed to it is never given back. The timer is that event.
 */
export function keepAlive(periodMs = 1000): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  const tick = () => {
    if (!stopped) timer = setTimeout(tick, periodMs);
  };
  tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

/** `p`, awaited with a keepAlive() timer in the caller's request until it settles. */
export function awaitShared<T>(p: Promise<T>): Promise<T> {
  const stop = keepAlive();
  return p.finally(stop);
}
