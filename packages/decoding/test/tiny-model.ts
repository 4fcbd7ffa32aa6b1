/**
 * A real LlamaModel with random weights and a vocabulary small enough to enumerate every
 * sequence (beam search vs exhaustive search). Weights come from splitmix32 with a scale
 * large enough that the next-token distributions are far from uniform.
 */
import { type LlamaConfig, LlamaModel, MapTensorStore, type StoredTensor, weightsFromStore } from "@edgespec/models";
import { createBackend, splitmix32 } from "@edgespec/runtime";

export async function tinyRandomLlama(opts: { vocab: number; seed: number; eos?: number; scale?: number; layers?: number }): Promise<LlamaModel> {
  const hidden = 16;
  const config: LlamaConfig = {
    modelType: "llama",
    hiddenSize: hidden,
    intermediateSize: 32,
    numLayers: opts.layers ?? 2,
    numHeads: 2,
    numKvHeads: 1,
    headDim: 8,
    vocabSize: opts.vocab,
    maxPositions: 64,
    rmsEps: 1e-6,
    ropeTheta: 10000,
    ropeScaling: { type: "default" },
    ropeStyle: "neox",
    tieWordEmbeddings: false,
    attentionBias: false,
    bosTokenId: null,
    eosTokenIds: [opts.eos ?? 0],
  };
  const rand = splitmix32(opts.seed);
  const scale = opts.scale ?? 1;
  const tensors = new Map<string, StoredTensor>();
  const add = (name: string, shape: number[], fill?: number) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(n);
    for (let i = 0; i < n; i++) v[i] = fill ?? (rand() * 2 - 1) * scale;
    tensors.set(name, { name, dtype: "F32", shape, data: new Uint8Array(v.buffer) });
  };
  add("model.embed_tokens.weight", [opts.vocab, hidden]);
  for (let l = 0; l < config.numLayers; l++) {
    const p = `model.layers.${l}.`;
    add(`${p}input_layernorm.weight`, [hidden], 1);
    add(`${p}self_attn.q_proj.weight`, [16, hidden]);
    add(`${p}self_attn.k_proj.weight`, [8, hidden]);
    add(`${p}self_attn.v_proj.weight`, [8, hidden]);
    add(`${p}self_attn.o_proj.weight`, [hidden, 16]);
    add(`${p}post_attention_layernorm.weight`, [hidden], 1);
    add(`${p}mlp.gate_proj.weight`, [32, hidden]);
    add(`${p}mlp.up_proj.weight`, [32, hidden]);
    add(`${p}mlp.down_proj.weight`, [hidden, 32]);
  }
  add("model.norm.weight", [hidden], 1);
  add("lm_head.weight", [opts.vocab, hidden]);
  const backend = await createBackend("wasm");
  return new LlamaModel(backend, config, weightsFromStore(backend, new MapTensorStore("tiny-random", tensors)));
}
