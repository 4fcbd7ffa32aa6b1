/**
 * A checkpoint as the files of a Hugging Face Llama folder: config.json,
 * generation_config.json, model.safetensors (F32) and the tokenizer's own files.
 * llama2.c and GGUF-llama weights rotate interleaved pairs; HF Llama rotates halves, so their
 * q_proj / k_proj rows are reordered per head, which leaves every attention score unchanged.
 */
import { encodeSafetensors, type LlamaConfig, ModelFormatError, type StoredTensor } from "@edgespec/models";
import type { Checkpoint, F32Tensor, Json } from "./checkpoint";

/** Extra provenance recorded in config.json under "edgespec_transplant". */
export type TransplantRecord = Record<string, string | number | boolean>;

export function checkpointFiles(ckpt: Checkpoint, record?: TransplantRecord): Map<string, Uint8Array> {
  if (ckpt.tokenizerFiles.size === 0) {
    throw new ModelFormatError(
      ckpt.label,
      "has no tokenizer files to write (a GGUF vocabulary); take the tokenizer from the model's Hugging Face folder or llama2.c tokenizer.bin",
    );
  }
  const interleaved = ckpt.config.ropeStyle === "interleaved";
  const tensors: StoredTensor[] = [];
  for (const [name, t] of [...ckpt.tensors].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const values = interleaved && /\.self_attn\.[qk]_proj\.(weight|bias)$/.test(name) ? rotateHalfRows(t, ckpt.config) : t.data;
    tensors.push({ name, dtype: "F32", shape: t.shape, data: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) });
  }
  const text = (v: unknown) => new TextEncoder().encode(`${JSON.stringify(v, null, 2)}\n`);
  const files = new Map<string, Uint8Array>();
  files.set("config.json", text(hfConfig(ckpt, record)));
  files.set("generation_config.json", text(generationConfig(ckpt.config)));
  files.set("model.safetensors", encodeSafetensors(tensors, { producer: "edgespec transplant" }));
  for (const [name, bytes] of ckpt.tokenizerFiles) files.set(name, bytes);
  return files;
}

function hfConfig(ckpt: Checkpoint, record?: TransplantRecord): Json {
  const c = ckpt.config;
  const base: Json = ckpt.hfConfig
    ? { ...ckpt.hfConfig }
    : {
        architectures: ["LlamaForCausalLM"],
        model_type: "llama",
        hidden_act: "silu",
        hidden_size: c.hiddenSize,
        intermediate_size: c.intermediateSize,
        num_hidden_layers: c.numLayers,
        num_attention_heads: c.numHeads,
        num_key_value_heads: c.numKvHeads,
        head_dim: c.headDim,
        max_position_embeddings: c.maxPositions,
        rms_norm_eps: c.rmsEps,
        rope_theta: c.ropeTheta,
        rope_scaling: null,
        attention_bias: c.attentionBias,
      };
  if (!ckpt.hfConfig && c.ropeScaling.type !== "default") {
    throw new ModelFormatError(ckpt.label, `rope scaling ${c.ropeScaling.type} from ${ckpt.format} cannot be written to config.json yet`);
  }
  const out: Json = {
    ...base,
    vocab_size: c.vocabSize,
    tie_word_embeddings: c.tieWordEmbeddings,
    bos_token_id: c.bosTokenId,
    eos_token_id: c.eosTokenIds.length === 1 ? c.eosTokenIds[0] : c.eosTokenIds,
    torch_dtype: "float32",
  };
  // the base's pad id belongs to the base's vocabulary
  delete out.pad_token_id;
  if (record) out.edgespec_transplant = record;
  return out;
}

function generationConfig(c: LlamaConfig): Json {
  return { bos_token_id: c.bosTokenId, eos_token_id: c.eosTokenIds.length === 1 ? c.eosTokenIds[0] : c.eosTokenIds };
}

/**
 * Interleaved RoPE pairs dims (2i, 2i+1) of each head; rotate-half pairs (i, i + d/2). Row 2i
 * of a head moves to i and row 2i+1 to i + d/2, so both conventions compute the same scores.
 */
function rotateHalfRows(t: F32Tensor, c: LlamaConfig): Float32Array {
  const rows = t.shape[0];
  const width = t.shape.length > 1 ? t.shape[1] : 1;
  const d = c.headDim;
  if (rows % d) throw new ModelFormatError("q_proj/k_proj", `has ${rows} rows, not a multiple of head_dim ${d}`);
  const out = new Float32Array(t.data.length);
  for (let h = 0; h < rows / d; h++) {
    for (let i = 0; i < d / 2; i++) {
      const from = h * d;
      out.set(t.data.subarray((from + 2 * i) * width, (from + 2 * i + 1) * width), (from + i) * width);
      out.set(t.data.subarray((from + 2 * i + 1) * width, (from + 2 * i + 2) * width), (from + i + d / 2) * width);
    }
  }
  return out;
}
