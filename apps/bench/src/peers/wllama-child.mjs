/**
 * Child process of the wllama peer benchmark (see wllama.ts): runs @wllama/wllama (llama.cpp
 * compiled to wasm) on a GGUF file and prints JSON lines on stdout. Needs Node >= 24 started
 * with --experimental-wasm-jspi (wllama's main build uses 64-bit wasm memory and JSPI).
 *
 *   node --experimental-wasm-jspi wllama-child.mjs '<job json>'     (or the job on stdin)
 *
 * job: { gguf, prompt, threads = 1, nPredict = 64, nCtx = 512, repeats = 3, warmup = 2,
 *        ignoreEos = false, timeoutMs = 120000, wasmUrl? }
 * lines, each an object with "wllama" naming its kind:
 *   { wllama: "load", load_ms, threads, multithread, n_ctx, version, libllama }
 *   { wllama: "reference", prompt_tokens, tokens, text, finish_reason }   greedy ids (untimed run)
 *   { wllama: "repeat", repeat, prompt_tokens, generated_tokens, prefill_ms, decode_ms,
 *     prefill_tok_s, decode_tok_s, wall_prefill_ms, wall_decode_ms, wall_prefill_tok_s,
 *     wall_decode_tok_s, text, finish_reason, same_text }
 *   { wllama: "done" }  or  { wllama: "error", stage, message }   (exit code 0 / 1)
 *
 * Timing: prefill_* and decode_* are llama.cpp's own timings (llama-server's `timings`:
 * prompt_ms is the evaluation of the prompt batch up to the first sampled token, predicted_ms
 * runs from there to the last token, i.e. generated_tokens - 1 forward passes, so
 * decode_tok_s = (predicted_n - 1) / predicted_ms). wall_* are the same two spans seen from
 * this thread: request to first streamed token, and first to last streamed token; they add
 * wllama's per-token round trip to its worker, which a browser page pays too.
 * The token ids come from one untimed greedy run with logprobs on (the only place wllama 3
 * reports ids; computing them sorts the vocabulary every step, so timed runs leave them off
 * and are checked against it by their text). `warmup` more untimed runs follow it: V8 tiers
 * wasm up from its baseline compiler while it runs. The prompt cache is off, so every repeat
 * evaluates the whole prompt.
 */
import { openAsBlob, statSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { installWorkerGlobal } from "./worker-shim.mjs";

let stage = "setup";
/** first lines of wllama's and llama.cpp's error logs, added to a failure's message */
const nativeErrors = [];

function emit(obj) {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

function fail(message) {
  const native = nativeErrors.filter((line) => !message.includes(line)).slice(0, 3);
  emit({ wllama: "error", stage, message: native.length ? `${message} (wllama: ${native.join(" | ")})` : message });
  process.stdout.write("", () => process.exit(1));
}

process.on("uncaughtException", (err) => fail(err?.stack ?? String(err)));
process.on("unhandledRejection", (err) => fail(err?.stack ?? String(err)));

async function readJob() {
  const arg = process.argv[2];
  if (arg && arg !== "-") return JSON.parse(arg);
  let text = "";
  for await (const chunk of process.stdin) text += chunk;
  return JSON.parse(text);
}

function positiveInt(value, fallback, name) {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 1) throw new Error(`job.${name} must be a positive integer, got ${JSON.stringify(value)}`);
  return v;
}

const round = (x) => Math.round(x * 100) / 100;
const rate = (n, ms) => (ms > 0 ? round((n * 1000) / ms) : null);

async function main() {
  stage = "job";
  const job = await readJob();
  if (typeof job.gguf !== "string" || !job.gguf) throw new Error("job.gguf (path of a .gguf file) is required");
  if (typeof job.prompt !== "string" || !job.prompt) throw new Error("job.prompt must be a non-empty string (wllama takes text prompts only)");
  const threads = positiveInt(job.threads, 1, "threads");
  const nPredict = positiveInt(job.nPredict, 64, "nPredict");
  const nCtx = positiveInt(job.nCtx, 512, "nCtx");
  const repeats = positiveInt(job.repeats, 3, "repeats");
  const warmup = job.warmup === 0 ? 0 : positiveInt(job.warmup, 2, "warmup");
  const timeoutMs = positiveInt(job.timeoutMs, 120_000, "timeoutMs");
  setTimeout(() => fail(`timed out after ${timeoutMs} ms`), timeoutMs).unref();

  stage = "environment";
  const [major] = process.versions.node.split(".").map(Number);
  if (major < 24) throw new Error(`needs Node >= 24 (64-bit wasm memory), this is ${process.version}`);
  if (typeof WebAssembly.Suspending !== "function") throw new Error("needs JSPI: start Node with --experimental-wasm-jspi");

  stage = "input";
  let size;
  try {
    const st = statSync(job.gguf);
    if (!st.isFile()) throw new Error("not a regular file");
    size = st.size;
  } catch (err) {
    throw new Error(`GGUF file ${job.gguf}: ${err.code === "ENOENT" ? "not found" : err.message}`);
  }
  if (size === 0) throw new Error(`GGUF file ${job.gguf} is empty`);

  stage = "import";
  installWorkerGlobal();
  globalThis.self ??= globalThis;
  globalThis.location ??= { href: pathToFileURL(`${process.cwd()}/`).href };
  const wllamaUrl = import.meta.resolve("@wllama/wllama");
  const { Wllama } = await import(wllamaUrl);
  const wasmUrl = job.wasmUrl ?? new URL("./wasm/wllama.wasm", wllamaUrl).href;
  const stderr =
    (level) =>
    (...args) => {
      const line = args.map((a) => (typeof a === "string" ? a : String(a?.stack ?? a))).join(" ");
      if (level === "error") nativeErrors.push(line.split("\n")[0]);
      process.stderr.write(`[wllama ${level}] ${line}\n`);
    };
  const logger = { debug: () => {}, log: () => {}, warn: stderr("warn"), error: stderr("error") };
  // cacheManager / modelManager are only used for downloads; their defaults need OPFS
  const wllama = new Wllama({ default: wasmUrl }, { logger, cacheManager: {}, modelManager: {} });

  stage = "load";
  let t = performance.now();
  // native log level ERROR (4): llama.cpp's error lines are the only explanation of a failure
  await wllama.loadModel([await openAsBlob(job.gguf)], { n_threads: threads, n_ctx: nCtx, n_gpu_layers: 0, n_parallel: 1, log_level: 4 });
  const info = wllama.getLoadedContextInfo();
  // wllama does not check the result of its load action itself
  if (info.success === false || !(info.n_ctx > 0)) throw new Error(`llama.cpp could not load ${job.gguf}`);
  emit({
    wllama: "load",
    load_ms: round(performance.now() - t),
    threads: wllama.getNumThreads(),
    multithread: wllama.isMultithread(),
    n_ctx: info.n_ctx,
    version: await packageVersion(wllamaUrl),
    libllama: Wllama.getLibllamaVersion(),
  });

  const params = {
    prompt: job.prompt,
    max_tokens: nPredict,
    temperature: 0,
    top_k: 1,
    ignore_eos: !!job.ignoreEos,
    cache_prompt: false,
    stream: true,
  };

  stage = "reference";
  const ref = await complete(wllama, { ...params, logprobs: 1, n_probs: 1 });
  emit({ wllama: "reference", prompt_tokens: ref.timings.prompt_n, tokens: ref.tokens, text: ref.text, finish_reason: ref.finishReason });

  // V8 runs wasm with its baseline compiler first and tiers hot functions up while they run
  for (let w = 0; w < warmup; w++) {
    stage = `warmup ${w}`;
    await complete(wllama, params);
  }

  for (let r = 0; r < repeats; r++) {
    stage = `repeat ${r}`;
    t = performance.now();
    const run = await complete(wllama, params);
    const { prompt_n, prompt_ms, predicted_n, predicted_ms, cache_n } = run.timings;
    if (cache_n) throw new Error(`the prompt cache was used (${cache_n} tokens), the prefill time would be wrong`);
    const wallPrefill = run.times[0] - t;
    const wallDecode = run.times[run.times.length - 1] - run.times[0];
    emit({
      wllama: "repeat",
      repeat: r,
      prompt_tokens: prompt_n,
      generated_tokens: predicted_n,
      prefill_ms: round(prompt_ms),
      decode_ms: round(predicted_ms),
      prefill_tok_s: rate(prompt_n, prompt_ms),
      decode_tok_s: rate(predicted_n - 1, predicted_ms),
      wall_prefill_ms: round(wallPrefill),
      wall_decode_ms: round(wallDecode),
      wall_prefill_tok_s: rate(prompt_n, wallPrefill),
      wall_decode_tok_s: rate(run.times.length - 1, wallDecode),
      text: run.text,
      finish_reason: run.finishReason,
      same_text: run.text === ref.text,
    });
  }

  stage = "exit";
  await wllama.exit();
  emit({ wllama: "done" });
}

/** One streamed completion: text, token ids (with logprobs), arrival time of each token, llama.cpp timings. */
async function complete(wllama, params) {
  const out = { text: "", tokens: [], times: [], timings: null, finishReason: null };
  await wllama.createCompletion({
    ...params,
    onData(chunk) {
      const now = performance.now();
      const choice = chunk.choices?.[0];
      if (choice?.text) out.text += choice.text;
      const content = choice?.logprobs?.content;
      if (content) for (const c of content) out.tokens.push(c.id);
      if (choice?.finish_reason) out.finishReason = choice.finish_reason;
      if (chunk.timings) out.timings = chunk.timings;
      // one chunk per sampled token; the final chunk carries only the finish reason and timings
      if (!choice?.finish_reason || choice.text) out.times.push(now);
    },
  });
  if (!out.timings) throw new Error("wllama returned no timings");
  return out;
}

async function packageVersion(entryUrl) {
  try {
    const { readFile } = await import("node:fs/promises");
    return JSON.parse(await readFile(new URL("../package.json", entryUrl), "utf8")).version;
  } catch {
    return null;
  }
}

main().then(
  () => process.stdout.write("", () => process.exit(0)),
  (err) => fail(err?.message ?? String(err)),
);
