/**
 * llama2.c checkpoints (version 0 `.bin`): seven i32 (dim, hidden_dim, n_layers, n_heads,
 * n_kv_heads, vocab_size, seq_len; a negative vocab_size means a separate classifier),
 * then f32 arrays. The weights are exposed under Hugging Face names so one model reads
 * every format.
 */
import { ModelFormatError } from "../errors";
import type { LlamaConfig } from "../llama/config";
import { checkLlamaConfig } from "../llama/config";
import { MapTensorStore, plainBytes, type StoredTensor } from "./stored";

export function readLlama2c(file: string, input: Uint8Array): { config: LlamaConfig; store: MapTensorStore } {
  const bytes = plainBytes(input);
  if (bytes.length < 28) throw new ModelFormatError(file, `is ${bytes.length} bytes; a llama2.c checkpoint starts with a 28-byte header`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, 28);
  const [dim, hidden, layers, heads, kvHeads, vocabRaw, seqLen] = Array.from({ length: 7 }, (_, i) => dv.getInt32(4 * i, true));
  const vocab = Math.abs(vocabRaw);
  const bad = Object.entries({ dim, hidden_dim: hidden, n_layers: layers, n_heads: heads, n_kv_heads: kvHeads, vocab_size: vocab, seq_len: seqLen }).find(
    ([, v]) => !(v > 0 && v < 1 << 24),
  );
  if (bad) throw new ModelFormatError(file, `header field ${bad[0]} = ${bad[1]} is out of range (is this a llama2.c v0 checkpoint?)`);
  if (dim % heads) throw new ModelFormatError(file, `dim ${dim} is not a multiple of n_heads ${heads}`);
  const headDim = dim / heads;
  const kvDim = kvHeads * headDim;
  const config = checkLlamaConfig(file, {
    modelType: "llama",
    hiddenSize: dim,
    intermediateSize: hidden,
    numLayers: layers,
    numHeads: heads,
    numKvHeads: kvHeads,
    headDim,
    vocabSize: vocab,
    maxPositions: seqLen,
    rmsEps: 1e-5,
    ropeTheta: 10000,
    ropeScaling: { type: "default" },
    // run.c rotates adjacent pairs
    ropeStyle: "interleaved",
    tieWordEmbeddings: vocabRaw > 0,
    attentionBias: false,
    bosTokenId: 1,
    eosTokenIds: [2],
  });
  const layout: [string, number[], number][] = [
    ["model.embed_tokens.weight", [vocab, dim], 1],
    ["input_layernorm.weight", [dim], layers],
    ["self_attn.q_proj.weight", [dim, dim], layers],
    ["self_attn.k_proj.weight", [kvDim, dim], layers],
    ["self_attn.v_proj.weight", [kvDim, dim], layers],
    ["self_attn.o_proj.weight", [dim, dim], layers],
    ["post_attention_layernorm.weight", [dim], layers],
    ["mlp.gate_proj.weight", [hidden, dim], layers],
    ["mlp.down_proj.weight", [dim, hidden], layers],
    ["mlp.up_proj.weight", [hidden, dim], layers],
    ["model.norm.weight", [dim], 1],
    // the precomputed RoPE tables of old checkpoints: skipped, we compute the same frequencies
    ["freq_cis", [seqLen * headDim], 1],
  ];
  if (vocabRaw < 0) layout.push(["lm_head.weight", [vocab, dim], 1]);
  const map = new Map<string, StoredTensor>();
  let at = 28;
  for (const [name, shape, count] of layout) {
    const n = shape.reduce((a, b) => a * b, 1);
    for (let l = 0; l < count; l++) {
      const full = count > 1 ? `model.layers.${l}.${name}` : name;
      if (at + 4 * n > bytes.length) {
        throw new ModelFormatError(
          file,
          `ends at byte ${bytes.length} but the header's shapes need ${at + 4 * n} bytes here (truncated, or the header is wrong)`,
          full,
        );
      }
      if (name !== "freq_cis") map.set(full, { name: full, dtype: "F32", shape, data: bytes.subarray(at, at + 4 * n) });
      at += 4 * n;
    }
  }
  if (at !== bytes.length) throw new ModelFormatError(file, `has ${bytes.length - at} bytes after the last tensor; the header does not describe this file`);
  return { config, store: new MapTensorStore(file, map) };
}
