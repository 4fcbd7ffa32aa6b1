/**
 * SPLADE document encoding speed: a random-weight BertForMaskedLM at the bert-base shape
 * (12 layers x 768, 12 heads, FFN 3072, vocab 30522: splade-v3 / Splade_PP_en_v1's shape),
 * 128-token documents ([CLS] + 126 text tokens + [SEP]), f32 weights, wasm SIMD, one thread.
 * Each document is the full SPLADE path: encoder, MLM head at every position, max pooling of
 * log(1 + relu), sparsification. Reports the median docs/s over a few rounds.
 *
 * Run by `edgespec bench retrieval` (retrieval.ts).
 */
import { type BertConfig, BertModel, type WeightSource } from "@edgespec/models";
import { SpladeEncoder } from "@edgespec/retrieval";
import { type Backend, splitmix32, WasmBackend } from "@edgespec/runtime";
import { median } from "./stats";

/** bert-base-uncased's config.json, as BertForMaskedLM */
const BERT_BASE: BertConfig = {
  modelType: "bert",
  architecture: "BertForMaskedLM",
  hiddenSize: 768,
  intermediateSize: 3072,
  numLayers: 12,
  numHeads: 12,
  headDim: 64,
  vocabSize: 30522,
  maxPositions: 512,
  typeVocabSize: 2,
  layerNormEps: 1e-12,
  hiddenAct: "gelu",
  padTokenId: 0,
};

const TOKENS_PER_DOC = 128;
const ROUNDS = 3;

/** Uniform random weights for every BertForMaskedLM tensor (no pooler; decoder tied to the embeddings). */
function randomBertWeights(backend: Backend, seed: number): WeightSource {
  const rand = splitmix32(seed);
  const values = (n: number, scale: number, offset: number) => {
    const v = new Float32Array(n);
    for (let i = 0; i < n; i++) v[i] = offset + (2 * rand() - 1) * scale;
    return v;
  };
  return {
    label: "random bert-base weights",
    has: (name) => !name.includes("pooler") && !name.startsWith("cls.predictions.decoder"),
    matrix: (_name, shape) => backend.tensor("f32", shape, values(shape[0] * shape[1], 1 / Math.sqrt(shape[1]), 0)),
    vector: (name, n) => backend.tensor("f32", [n], values(n, 0.1, /LayerNorm\.(weight|gamma)$/.test(name) ? 1 : 0)),
  };
}

export async function benchEncode(opts: {
  docs: number;
  log?: (s: string) => void;
}): Promise<{ encode_docs_s: number; shape: string; tokens_per_doc: number }> {
  const log = opts.log ?? (() => {});
  if (!Number.isInteger(opts.docs) || opts.docs < 1) throw new RangeError(`docs must be a positive integer, got ${opts.docs}`);
  const backend = await WasmBackend.create({ initialMemoryBytes: 64 << 20 });
  const model = new BertModel(backend, BERT_BASE, randomBertWeights(backend, 7102));
  // SpladeEncoder only tokenizes in encodeDocument; the bench feeds ids
  const tokenizer = { encodeWithSpecialTokens: () => [], encode: () => [], token: (id: number) => String(id) };
  const enc = new SpladeEncoder(model, tokenizer);
  try {
    const rand = splitmix32(128);
    const docs = Array.from({ length: opts.docs }, () => [101, ...Array.from({ length: TOKENS_PER_DOC - 2 }, () => 1000 + Math.floor(rand() * 29000)), 102]);
    log(
      `edgespec SPLADE encode benchmark: bert-base shape (12 x 768, vocab 30522) random f32 weights, ${TOKENS_PER_DOC}-token documents, wasm ${backend.variant}, one thread`,
    );
    enc.encodeIds(docs[0]); // warm-up: the first call sizes the wasm memory
    const rates: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const t0 = performance.now();
      for (const ids of docs) enc.encodeIds(ids);
      const s = (performance.now() - t0) / 1000;
      rates.push(docs.length / s);
      log(`  round ${r + 1}: ${docs.length} docs in ${s.toFixed(2)} s = ${(docs.length / s).toFixed(2)} docs/s`);
    }
    const encode_docs_s = median(rates);
    log(`  median ${encode_docs_s.toFixed(2)} docs/s (${(encode_docs_s * TOKENS_PER_DOC).toFixed(0)} tokens/s)`);
    return { encode_docs_s, shape: "bert-base (12x768, ffn 3072, vocab 30522)", tokens_per_doc: TOKENS_PER_DOC };
  } finally {
    model.free();
  }
}
