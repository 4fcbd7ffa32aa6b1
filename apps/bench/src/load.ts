/**
 * `edgespec bench load [--url URL] [--requests 50] [--malformed 10] [--max-tokens 64] [--json]`:
 * a bounded load test of the HTTP API on 127.0.0.1. Without --url it starts `edgespec serve`
 * on TinyStories-656K itself (and watches its memory); with --url it loads a running server
 * (`wrangler dev`, another `edgespec serve`).
 *
 * All the streaming requests are sent at once, with malformed ones mixed in. Every
 * well-formed request must complete, and its streamed text must equal the same request's
 * text sent alone afterwards (a seed fixes the text); every malformed one must get a 4xx
 * JSON error; the server must still answer /healthz at the end. Reports time to first token
 * (p50/p99), errors, and the server's resident memory before and after.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fixtures } from "./paths";
import { percentile } from "./stats";

const ONLY_LOCAL = /^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(\/|$)/;

export interface LoadResult {
  url: string;
  requests: number;
  malformed: number;
  completed: number;
  mismatched: number;
  malformed_rejected: number;
  errors: string[];
  ttft_p50_ms: number;
  ttft_p99_ms: number;
  total_s: number;
  server_up: boolean;
  rss_mb_before: number | null;
  rss_mb_after: number | null;
}

function rssMb(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** One streamed completion: its text and the time to the first piece of text. */
async function streamed(url: string, body: Record<string, unknown>, signal: AbortSignal): Promise<{ text: string; ttftMs: number }> {
  const t0 = performance.now();
  const res = await fetch(`${url}/v1/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ ...body, stream: true }),
    signal,
  });
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${(await res.text()).slice(0, 200)}`);
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  let text = "";
  let ttftMs = Number.NaN;
  let done = false;
  for (;;) {
    const { done: end, value } = await reader.read();
    if (end) break;
    buffered += decoder.decode(value, { stream: true });
    let cut = buffered.indexOf("\n\n");
    while (cut >= 0) {
      const event = buffered.slice(0, cut);
      buffered = buffered.slice(cut + 2);
      cut = buffered.indexOf("\n\n");
      const data = event.replace(/^data: /, "");
      if (data === "[DONE]") {
        done = true;
        continue;
      }
      const chunk = JSON.parse(data);
      if (chunk.error) throw new Error(`in-band error: ${chunk.error.message}`);
      const piece = chunk.choices[0].text as string;
      if (piece && Number.isNaN(ttftMs)) ttftMs = performance.now() - t0;
      text += piece;
    }
  }
  if (!done) throw new Error("the stream ended without [DONE]");
  return { text, ttftMs };
}

const MALFORMED: ((url: string) => Promise<Response>)[] = [
  (u) => fetch(`${u}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: "{not json" }),
  (u) => fetch(`${u}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ prompt: 42 }) }),
  (u) =>
    fetch(`${u}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ prompt: "a", max_tokens: 10 ** 7 }),
    }),
  (u) => fetch(`${u}/v1/completions`, { method: "POST", headers: { "content-type": "text/plain" }, body: "hello" }),
  (u) =>
    fetch(`${u}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ messages: [{ role: 1 }] }) }),
  (u) =>
    fetch(`${u}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ prompt: "x".repeat(2 * 2 ** 20) }),
    }),
];

export async function benchLoad(argv: string[]): Promise<number> {
  const arg = (name: string, fallback: number) => {
    const i = argv.indexOf(`--${name}`);
    if (i < 0) return fallback;
    const n = Number(argv[i + 1]);
    if (!Number.isInteger(n) || n < 0 || n > 1000) throw new Error(`--${name} must be an integer in [0, 1000], got ${argv[i + 1]}`);
    return n;
  };
  const json = argv.includes("--json");
  const requests = arg("requests", 50);
  const malformed = arg("malformed", 10);
  const maxTokens = arg("max-tokens", 64);
  const at = argv.indexOf("--url");
  let url = at >= 0 ? (argv[at + 1] ?? "").replace(/\/+$/, "") : "";
  if (url && !ONLY_LOCAL.test(url)) throw new Error(`--url must be on 127.0.0.1 or localhost (a load test never leaves the machine), got ${url}`);
  const log = (s: string) => process.stderr.write(`${s}\n`);

  let server: ChildProcess | undefined;
  if (!url) {
    const model = fixtures("load (or --url of a running server)", "models", "tinystories-656k");
    server = spawn(
      process.execPath,
      [process.argv[1], "serve", "--model", model, "--port", "0", "--max-concurrent", "4", "--max-queued", String(requests + 8), "--preload"],
      {
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    url = await new Promise<string>((done, fail) => {
      let err = "";
      server?.stderr?.on("data", (d) => {
        err += d;
        const m = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(err);
        if (m) done(m[1]);
      });
      server?.on("exit", (code) => fail(new Error(`edgespec serve exited (${code}): ${err}`)));
    });
  }
  // a hard bound on the whole test
  const deadline = AbortSignal.timeout(180_000);
  try {
    const rssBefore = rssMb(server?.pid);
    const bodies = Array.from({ length: requests }, (_, i) => ({
      prompt: i % 2 ? "Once upon a time" : "The little dog",
      max_tokens: maxTokens,
      temperature: 0.9,
      seed: 1000 + i,
    }));
    log(`bench load: ${requests} streaming requests and ${malformed} malformed ones at once against ${url}`);
    const t0 = performance.now();
    const good = bodies.map((b) =>
      streamed(url, b, deadline).then(
        (r) => ({ ok: true as const, ...r }),
        (e: Error) => ({ ok: false as const, error: e.message }),
      ),
    );
    const bad = Array.from({ length: malformed }, (_, i) =>
      MALFORMED[i % MALFORMED.length](url).then(
        async (r) => {
          const body = await r.json().catch(() => null);
          return r.status >= 400 && r.status < 500 && typeof body?.error?.message === "string";
        },
        () => false,
      ),
    );
    const results = await Promise.all(good);
    const rejected = (await Promise.all(bad)).filter(Boolean).length;
    const totalS = (performance.now() - t0) / 1000;
    const rssAfter = rssMb(server?.pid);
    const errors = results.flatMap((r, i) => (r.ok ? [] : [`request ${i}: ${r.error}`]));
    // each text again, alone: the same seed must give the same text
    let mismatched = 0;
    for (let i = 0; i < results.length; i++) {
      const r = results[i];
      if (!r.ok) continue;
      const alone = await streamed(url, bodies[i], deadline);
      if (alone.text !== r.text) mismatched++;
    }
    const up = await fetch(`${url}/healthz`, { signal: deadline }).then(
      (r) => r.ok,
      () => false,
    );
    const ttfts = results.flatMap((r) => (r.ok && Number.isFinite(r.ttftMs) ? [r.ttftMs] : []));
    const out: LoadResult = {
      url,
      requests,
      malformed,
      completed: results.filter((r) => r.ok).length,
      mismatched,
      malformed_rejected: rejected,
      errors,
      ttft_p50_ms: percentile(ttfts, 50),
      ttft_p99_ms: percentile(ttfts, 99),
      total_s: totalS,
      server_up: up,
      rss_mb_before: rssBefore,
      rss_mb_after: rssAfter,
    };
    if (json) process.stdout.write(`${JSON.stringify(out)}\n`);
    else {
      console.log(
        `${out.completed}/${requests} streams completed (${mismatched} differ from the same request alone), ${rejected}/${malformed} malformed rejected with 4xx JSON, ` +
          `TTFT p50 ${out.ttft_p50_ms.toFixed(0)} ms p99 ${out.ttft_p99_ms.toFixed(0)} ms, ${totalS.toFixed(1)} s, server ${up ? "up" : "DOWN"}` +
          (rssBefore !== null ? `, RSS ${rssBefore.toFixed(0)} -> ${rssAfter?.toFixed(0)} MB` : ""),
      );
      for (const e of errors.slice(0, 10)) console.log(`  ${e}`);
    }
    const passed = out.completed === requests && mismatched === 0 && rejected === malformed && up;
    return passed ? 0 : 1;
  } finally {
    server?.kill("SIGTERM");
  }
}
