/**
 * Peer benchmark: edgespec against wllama (llama.cpp in wasm) on the very same GGUF files, and
 * against onnxruntime-web's wasm EP on the matmuls of the SmolLM2-135M shape, in one run.
 *
 *   edgespec bench peers [--quick] [--json] [--threads 1,2] [--models id,id] [--skip-ort]
 *
 * Per model and thread count: rounds of (ours, then wllama), each a few greedy runs of the same
 * text prompt; medians over all runs. Prefill tok/s = prompt tokens / prompt time; decode
 * tok/s = (generated - 1) / time after the first token, llama.cpp's own formula. Every figure
 * also appears as a share of the roofline measured in this run on as many threads: weight
 * bytes per token over the streamed-read bandwidth.
 */
import { type LoadedModel, loadCausalLM } from "@edgespec/models";
import { LocalModelSource } from "@edgespec/models/node";
import { WasmBackend } from "@edgespec/runtime";
import { BENCH_GGUF_IDS, type BenchGgufFile, type BenchGgufId, benchGgufFiles } from "./peers/models";
import { benchOrtOps, formatOrtReport, type OrtBenchReport } from "./peers/ort";
import { runWllama, type WllamaResult } from "./peers/wllama";
import { bandwidthProbe } from "./roofline";
import { median } from "./stats";

/** A paragraph long enough for a prefill that is not all fixed cost (about 60 tokens). */
const PROMPT =
  "Once upon a time, in a small village at the edge of a great forest, there lived a girl named Lily who loved to explore. " +
  "Every morning she walked to the river with her dog, Max, and listened to the birds singing in the tall trees.";

export interface PeerRow {
  peer: "wllama" | "onnxruntime-web";
  model: string;
  dtype: string;
  threads: number;
  ours_decode_tok_s: number;
  peer_decode_tok_s: number;
  ratio_decode: number;
  ours_prefill_tok_s: number;
  peer_prefill_tok_s: number;
  ratio_prefill: number;
  /** weight bytes per token ÷ bandwidth on this many threads */
  roofline_tok_s: number;
  ours_decode_of_roofline: number;
  peer_decode_of_roofline: number;
  prompt_tokens?: number;
  /** leading greedy tokens that are equal in both engines, of how many */
  greedy_match?: string;
}

export interface PeersReport {
  roofline_gb_s: number;
  roofline_gb_s_by_threads: Record<string, number>;
  node: string;
  results: PeerRow[];
  /** ours on n threads ÷ ours on 1 thread, decode, per model */
  thread_speedup: Record<string, Record<string, number>>;
  ort?: OrtBenchReport;
}

interface OursRun {
  prefill_tok_s: number;
  decode_tok_s: number;
  tokens: number[];
  prompt_tokens: number;
}

/** Greedy pick with the end-of-sequence tokens banned: what llama.cpp's ignore_eos does. */
function argmaxNoEos(x: Float32Array, eos: ReadonlySet<number>): number {
  let best = -1;
  for (let i = 0; i < x.length; i++) if (!eos.has(i) && (best < 0 || x[i] > x[best])) best = i;
  return best;
}

/** One greedy run: prefill the prompt, then nPredict - 1 more steps, EOS banned like the peer's ignoreEos. */
function oursOnce(loaded: LoadedModel, prompt: number[], nPredict: number): OursRun {
  const { model } = loaded;
  const eos = new Set(loaded.config.eosTokenIds);
  const argmax = (x: Float32Array) => argmaxNoEos(x, eos);
  model.reset();
  let t = performance.now();
  let logits = model.prefill(prompt).logits;
  const prefillMs = performance.now() - t;
  const tokens = [argmax(logits)];
  t = performance.now();
  for (let i = 1; i < nPredict; i++) {
    logits = model.step(tokens[i - 1]);
    tokens.push(argmax(logits));
  }
  const decodeMs = performance.now() - t;
  return { prefill_tok_s: (prompt.length * 1000) / prefillMs, decode_tok_s: ((nPredict - 1) * 1000) / decodeMs, tokens, prompt_tokens: prompt.length };
}

function leadingMatch(a: number[], b: number[]): string {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return `${i}/${n}`;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;
const round1 = (x: number) => Math.round(x * 10) / 10;

export async function benchPeers(argv: string[]): Promise<number> {
  const value = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const json = argv.includes("--json");
  const quick = argv.includes("--quick");
  const log = (s: string) => (json ? process.stderr : process.stdout).write(`${s}\n`);
  const threadList = (value("--threads") ?? "1,2").split(",").map(Number);
  for (const t of threadList) if (!Number.isInteger(t) || t < 1 || t > 8) throw new Error(`--threads takes integers 1..8, got ${value("--threads")}`);
  const ids = (value("--models")?.split(",") ?? BENCH_GGUF_IDS) as BenchGgufId[];
  for (const id of ids) if (!BENCH_GGUF_IDS.includes(id)) throw new Error(`unknown model ${JSON.stringify(id)}; available: ${BENCH_GGUF_IDS.join(", ")}`);
  const rounds = quick ? 1 : 2;
  const repeats = quick ? 2 : 3;
  const nPredict = quick ? 24 : 48;

  log(`edgespec peer benchmark (node ${process.versions.node}); GGUF files:`);
  const files = await benchGgufFiles({ only: ids, log: (l) => log(`  ${l}`) });

  const report: PeersReport = { roofline_gb_s: 0, roofline_gb_s_by_threads: {}, node: process.versions.node, results: [], thread_speedup: {} };
  for (const threads of threadList) {
    const backend = await WasmBackend.create({ threads, initialMemoryBytes: 64 << 20 });
    if (backend.threads !== threads) throw new Error(`could not start ${threads} threads: ${backend.threadsNote}`);
    const probe = bandwidthProbe(backend);
    const bandwidth = () => probe.measure();
    const gbs: number[] = [];
    for (const id of ids) {
      const file = files[id] as BenchGgufFile;
      const loaded = await loadCausalLM(await LocalModelSource.fromPath(file.path), { backend });
      const prompt = promptTokens(loaded);
      // warm up the JIT and the caches as the peer does (it runs untimed warmups too): the
      // first few hundred steps run V8's baseline code
      for (let w = 0; w < (quick ? 2 : 3); w++) oursOnce(loaded, prompt, nPredict);
      const ours: OursRun[] = [];
      const peer: WllamaResult[] = [];
      for (let r = 0; r < rounds; r++) {
        gbs.push(bandwidth());
        for (let k = 0; k < repeats; k++) ours.push(oursOnce(loaded, prompt, nPredict));
        peer.push(await runWllama({ gguf: file.path, prompt: PROMPT, threads, nPredict, repeats, warmup: quick ? 1 : 2, ignoreEos: true, timeoutMs: 600_000 }));
      }
      const gb = median(gbs.slice(-rounds));
      const bytes = loaded.model.weightBytes();
      const rooflineTokS = (gb * 1e9) / bytes;
      const oursDecode = median(ours.map((o) => o.decode_tok_s));
      const oursPrefill = median(ours.map((o) => o.prefill_tok_s));
      const peerDecode = median(peer.flatMap((p) => p.runs.map((x) => x.decode_tok_s)));
      const peerPrefill = median(peer.flatMap((p) => p.runs.map((x) => x.prefill_tok_s)));
      const row: PeerRow = {
        peer: "wllama",
        model: id.replace(/-(f32|f16|q8_0|q4_0)$/, ""),
        dtype: file.dtype,
        threads,
        ours_decode_tok_s: round1(oursDecode),
        peer_decode_tok_s: round1(peerDecode),
        ratio_decode: round3(oursDecode / peerDecode),
        ours_prefill_tok_s: round1(oursPrefill),
        peer_prefill_tok_s: round1(peerPrefill),
        ratio_prefill: round3(oursPrefill / peerPrefill),
        roofline_tok_s: round1(rooflineTokS),
        ours_decode_of_roofline: round3(oursDecode / rooflineTokS),
        peer_decode_of_roofline: round3(peerDecode / rooflineTokS),
        prompt_tokens: prompt.length,
        greedy_match: leadingMatch(ours[0].tokens, peer[0].tokens),
      };
      if (peer[0].prompt_tokens !== prompt.length) row.greedy_match += ` (prompt: ours ${prompt.length} tokens, wllama ${peer[0].prompt_tokens})`;
      report.results.push(row);
      log(
        `  ${id.padEnd(20)} ${threads}t  decode ${row.ours_decode_tok_s.toFixed(1).padStart(7)} vs ${row.peer_decode_tok_s.toFixed(1).padStart(7)} tok/s = ${row.ratio_decode.toFixed(2)}x` +
          `  prefill ${row.ours_prefill_tok_s.toFixed(1).padStart(7)} vs ${row.peer_prefill_tok_s.toFixed(1).padStart(7)} = ${row.ratio_prefill.toFixed(2)}x` +
          `  roofline ${row.roofline_tok_s.toFixed(0)} tok/s: ours ${(100 * row.ours_decode_of_roofline).toFixed(0)}%, wllama ${(100 * row.peer_decode_of_roofline).toFixed(0)}%  greedy ${row.greedy_match}`,
      );
      loaded.model.free();
    }
    report.roofline_gb_s_by_threads[threads] = round1(median(gbs));
    probe.release();
    backend.close();
  }
  report.roofline_gb_s = report.roofline_gb_s_by_threads[threadList[0]];
  for (const row of report.results) {
    const one = report.results.find((r) => r.peer === row.peer && r.model === row.model && r.dtype === row.dtype && r.threads === 1);
    if (one && row.threads !== 1) {
      const key = `${row.model}-${row.dtype}`;
      report.thread_speedup[key] ??= {};
      report.thread_speedup[key][row.threads] = round3(row.ours_decode_tok_s / one.ours_decode_tok_s);
    }
  }

  if (!argv.includes("--skip-ort")) {
    log("onnxruntime-web (wasm EP), op level at the SmolLM2-135M shapes:");
    // ORT's wasm thread count is fixed per process: the op comparison runs on one thread
    report.ort = await benchOrtOps({ quick, threads: 1, silent: true });
    log(formatOrtReport(report.ort));
  }
  if (json) process.stdout.write(`${JSON.stringify(report)}\n`);
  return 0;
}

/** The prompt as our tokenizer encodes it, with BOS when the vocabulary adds one (as llama.cpp does). */
function promptTokens(loaded: LoadedModel): number[] {
  const ids = loaded.tokenizer.encode(PROMPT);
  const bos = loaded.tokenizer.bosId;
  return loaded.tokenizer.addBos && bos !== null ? [bos, ...ids] : ids;
}
