/**
 * `edgespec bench load [--url URL | --wrangler] [--requests 50] [--malformed 10] [--max-tokens 64] [--json]`:
 * a bounded load test of the HTTP API on 127.0.0.1. Without --url it starts `edgespec serve`
 * on TinyStories-656K itself; --wrangler starts `wrangler dev` in apps/worker instead (the
 * Worker in workerd, as deployed); with --url it loads a running server (`wrangler dev`,
 * another `edgespec serve`).
 *
 * All the streaming requests are sent at once, with malformed ones mixed in. Every
 * well-formed request must complete, and its streamed text must equal the same request's
 * text sent alone afterwards (a seed fixes the text); every malformed one must get a 4xx
 * JSON error; the server must still answer /healthz at the end. Reports time to first token
 * (p50/p99), errors, and the server's memory at start, after the model loaded and after the
 * run: the resident memory of its processes from /proc (for wrangler dev, its workerd
 * processes) and the wasm memory its /healthz reports.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { fixtures, repoRoot } from "./paths";
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
  /** the watched process's RSS (for wrangler dev: the workerd running the Worker) right before the run, the model loaded */
  rss_mb_before: number | null;
  rss_mb_after: number | null;
  /** every watched process at start (after one /healthz), after the model loaded, after the run */
  processes: WatchedMemory[];
  /** the wasm memory /healthz reports at the same three points (null where it reports none) */
  wasm_mb: { start: number | null; loaded: number | null; after: number | null };
}

export interface WatchedMemory {
  pid: number;
  role: string;
  rss_mb_start: number | null;
  rss_mb_loaded: number | null;
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

// ---------------------------------------------------------------- which processes to watch

const pids = () =>
  readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .map(Number);

function procText(pid: number, file: string): string {
  try {
    return readFileSync(`/proc/${pid}/${file}`, "utf8");
  } catch {
    return "";
  }
}

function parentOf(pid: number): number {
  // the command name in field 2 may hold spaces and parentheses: the fields resume after the last ")"
  const stat = procText(pid, "stat");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
}

function descendants(root: number): number[] {
  const all = pids();
  const out: number[] = [];
  let frontier = [root];
  while (frontier.length) {
    const next = all.filter((p) => frontier.includes(parentOf(p)));
    out.push(...next);
    frontier = next;
  }
  return out;
}

const commOf = (pid: number) => procText(pid, "comm").trim();

/** The process listening on 127.0.0.1:port (or [::]:port), from the socket inodes in /proc/net and each process's fds. */
function listenerOf(port: number): number | undefined {
  const inodes = new Set<string>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = "";
    try {
      text = readFileSync(table, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      // local address is HEX_IP:HEX_PORT; state 0A is LISTEN
      if (f.length > 9 && f[3] === "0A" && Number.parseInt(f[1].split(":")[1], 16) === port) inodes.add(f[9]);
    }
  }
  if (inodes.size === 0) return undefined;
  for (const pid of pids()) {
    let fds: string[] = [];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m && inodes.has(m[1])) return pid;
      } catch {}
    }
  }
  return undefined;
}

/**
 * wrangler dev runs two workerd processes: one listens on the dev port and proxies (wrangler's
 * ProxyWorker), the other runs the Worker itself behind it. Both are watched; the Worker's is
 * the one whose memory holds the model.
 */
function workerdOf(wrangler: number, port: number): { pid: number; role: string }[] {
  const listener = listenerOf(port);
  return descendants(wrangler)
    .filter((p) => commOf(p) === "workerd")
    .map((pid) => ({ pid, role: pid === listener ? "workerd (wrangler's proxy)" : "workerd (the Worker)" }))
    .sort((a, b) => Number(b.role.includes("the Worker")) - Number(a.role.includes("the Worker")));
}

/** The processes behind a running server's port: wrangler's workerds when it is one, else the listener. */
function serverOf(port: number): { pid: number; role: string }[] {
  const listener = listenerOf(port);
  if (listener === undefined) return [];
  if (commOf(listener) === "workerd") return workerdOf(parentOf(listener), port);
  return [{ pid: listener, role: commOf(listener) }];
}

function freePort(): Promise<number> {
  return new Promise((ok, bad) => {
    const s = createServer();
    s.once("error", bad);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => ok(port));
    });
  });
}

/** `wrangler dev` in apps/worker on a free port, the model files linked from ../shared. */
async function startWrangler(maxQueued: number, log: (s: string) => void): Promise<{ child: ChildProcess; url: string; port: number }> {
  const worker = join(repoRoot, "apps", "worker");
  const bin = join(worker, "node_modules", "wrangler", "bin", "wrangler.js");
  if (!existsSync(bin)) throw new Error(`bench load --wrangler needs wrangler at ${bin}: run pnpm install`);
  if (!existsSync(join(worker, "models", "tinystories-656k")))
    throw new Error("bench load --wrangler serves apps/worker/models/tinystories-656k: run node apps/worker/scripts/link-models.mjs");
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [bin, "dev", "--ip", "127.0.0.1", "--port", String(port), "--var", `MAX_QUEUED:${maxQueued}`, "--show-interactive-dev-session=false"],
    {
      cwd: worker,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
      stdio: ["ignore", "pipe", "pipe"],
      // its own process group, so wrangler and its workerd processes stop together
      detached: true,
    },
  );
  let out = "";
  child.stdout?.on("data", (d) => (out += d));
  child.stderr?.on("data", (d) => (out += d));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited (${child.exitCode}):\n${out}`);
    const up = await fetch(`${url}/v1/models`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) break;
    if (Date.now() > deadline) {
      await stopGroup(child);
      throw new Error(`wrangler dev did not answer on ${url} within 90 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  log(`bench load: wrangler dev (pid ${child.pid}) on ${url}`);
  return { child, url, port };
}

/**
 * Ctrl-C, as a terminal sends it to the whole group: wrangler shuts its workerd processes down
 * and reaps them (a SIGTERM ends wrangler first and leaves them as zombies); SIGKILL after 10 s.
 */
async function stopGroup(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null) return;
  const group = -child.pid;
  const exited = new Promise<void>((ok) => child.once("exit", () => ok()));
  try {
    process.kill(group, "SIGINT");
  } catch {
    child.kill("SIGINT");
  }
  const timer = new Promise<"late">((ok) => setTimeout(() => ok("late"), 10_000).unref());
  if ((await Promise.race([exited, timer])) === "late") {
    try {
      process.kill(group, "SIGKILL");
    } catch {}
  }
}

/** Total wasm memory from /healthz, in MB (null when the server reports none). */
async function wasmMb(url: string, signal: AbortSignal): Promise<number | null> {
  try {
    const h = (await (await fetch(`${url}/healthz`, { signal })).json()) as { memory?: { wasm_bytes?: number } };
    return typeof h.memory?.wasm_bytes === "number" ? h.memory.wasm_bytes / 2 ** 20 : null;
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
  const wrangler = argv.includes("--wrangler");
  let url = at >= 0 ? (argv[at + 1] ?? "").replace(/\/+$/, "") : "";
  if (url && wrangler) throw new Error("--url and --wrangler exclude each other: --wrangler starts its own wrangler dev");
  if (url && !ONLY_LOCAL.test(url)) throw new Error(`--url must be on 127.0.0.1 or localhost (a load test never leaves the machine), got ${url}`);
  const log = (s: string) => process.stderr.write(`${s}\n`);

  let server: ChildProcess | undefined;
  let watched: { pid: number; role: string }[] = [];
  if (wrangler) {
    const started = await startWrangler(requests + 8, log);
    server = started.child;
    url = started.url;
    watched = workerdOf(started.child.pid as number, started.port);
    if (watched.length === 0) log("bench load: no workerd process found under wrangler dev; its memory is not watched");
  } else if (url) {
    watched = serverOf(Number(new URL(url).port || 80));
  } else {
    const model = fixtures("load (or --url of a running server)", "models", "tinystories-656k");
    // not --preload: the memory is read before and after the model loads
    server = spawn(
      process.execPath,
      [process.argv[1], "serve", "--model", model, "--port", "0", "--max-concurrent", "4", "--max-queued", String(requests + 8)],
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
    if (server.pid !== undefined) watched = [{ pid: server.pid, role: "edgespec serve" }];
  }
  // a hard bound on the whole test
  const deadline = AbortSignal.timeout(180_000);
  try {
    const memory = watched.map((w): WatchedMemory => ({ ...w, rss_mb_start: null, rss_mb_loaded: null, rss_mb_after: null }));
    const readRss = (key: "rss_mb_start" | "rss_mb_loaded" | "rss_mb_after") => {
      for (const m of memory) m[key] = rssMb(m.pid);
    };
    // start: the server answers (a Worker's isolate is up), nothing loaded yet
    const wasmStart = await wasmMb(url, deadline);
    readRss("rss_mb_start");
    // one short request loads the model, so the run measures serving, not loading
    const warm = await fetch(`${url}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ prompt: "Once", max_tokens: 1 }),
      signal: deadline,
    });
    if (warm.status !== 200) throw new Error(`the warm-up request got HTTP ${warm.status}: ${(await warm.text()).slice(0, 200)}`);
    await warm.text();
    const wasmLoaded = await wasmMb(url, deadline);
    readRss("rss_mb_loaded");
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
    readRss("rss_mb_after");
    const wasmAfter = await wasmMb(url, deadline);
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
      rss_mb_before: memory[0]?.rss_mb_loaded ?? null,
      rss_mb_after: memory[0]?.rss_mb_after ?? null,
      processes: memory,
      wasm_mb: { start: wasmStart, loaded: wasmLoaded, after: wasmAfter },
    };
    if (json) process.stdout.write(`${JSON.stringify(out)}\n`);
    else {
      const mb = (x: number | null) => (x === null ? "?" : x.toFixed(0));
      const mb1 = (x: number | null) => (x === null ? "?" : x.toFixed(1));
      console.log(
        `${out.completed}/${requests} streams completed (${mismatched} differ from the same request alone), ${rejected}/${malformed} malformed rejected with 4xx JSON, ` +
          `TTFT p50 ${out.ttft_p50_ms.toFixed(0)} ms p99 ${out.ttft_p99_ms.toFixed(0)} ms, ${totalS.toFixed(1)} s, server ${up ? "up" : "DOWN"}`,
      );
      for (const m of memory)
        console.log(
          `  ${m.role} pid ${m.pid}: RSS ${mb(m.rss_mb_start)} -> ${mb(m.rss_mb_loaded)} -> ${mb(m.rss_mb_after)} MB (start, model loaded, after the run)`,
        );
      if (wasmStart !== null || wasmLoaded !== null) console.log(`  wasm memory (/healthz): ${mb1(wasmStart)} -> ${mb1(wasmLoaded)} -> ${mb1(wasmAfter)} MB`);
      for (const e of errors.slice(0, 10)) console.log(`  ${e}`);
    }
    const passed = out.completed === requests && mismatched === 0 && rejected === malformed && up;
    return passed ? 0 : 1;
  } finally {
    if (wrangler && server) await stopGroup(server);
    else server?.kill("SIGTERM");
  }
}
