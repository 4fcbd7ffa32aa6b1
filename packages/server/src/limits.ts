/** What one server accepts: body size, tokens per request, generations at once. */
import { HttpError } from "./errors";

export interface Limits {
  /** largest request body in bytes (default 1 MiB) */
  maxBodyBytes: number;
  /** most tokens one request may generate (default 512) */
  maxTokens: number;
  /** generations running at once; more get 429 (default 4) */
  maxConcurrent: number;
  /** longest prompt in characters (default 32768) */
  maxPromptChars: number;
}

export const DEFAULT_LIMITS: Limits = { maxBodyBytes: 1 << 20, maxTokens: 512, maxConcurrent: 4, maxPromptChars: 32768 };

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

/** Counts running generations; a slot is taken before work starts and given back when it ends. */
export class ConcurrencyGate {
  private running = 0;
  constructor(private readonly max: number) {}

  get active(): number {
    return this.running;
  }

  /** A release function, or a 429 when every slot is taken. */
  acquire(): () => void {
    if (this.running >= this.max) {
      throw new HttpError(
        429,
        `${this.running} generations are running, the most this server runs at once; retry shortly`,
        "rate_limit_error",
        null,
        "too_many_requests",
      );
    }
    this.running++;
    let released = false;
    return () => {
      if (!released) {
        released = true;
        this.running--;
      }
    };
  }
}
