/**
 * BERT-style encoders (BERT, sentence-transformers / BGE, DistilBERT) in one file, llama2.c style.
 *
 *   x = LayerNorm(word_embeddings[ids] + position_embeddings[0..n) + token_type_embeddings[types])
 *   for each layer (post-norm):
 *     q, k, v = query(x), key(x), value(x)               (all with biases)
 *     x = LayerNorm(x + output(attention(q, k, v)))      (every token sees every token)
 *     x = LayerNorm(x + output(gelu(intermediate(x))))
 *   last_hidden_state = x
 *   pooler = tanh(pooler.dense(x[0]))                    (when the checkpoint has a pooler)
 *   mlm    = decoder(LayerNorm(gelu(transform(x[p])))) + bias, decoder = word_embeddings (tied)
 *
 * Tensor names are Hugging Face's, under a prefix found from the weights: "bert." (BertFor*),
 * "distilbert." (DistilBertFor*) or none (BertModel / sentence-transformers / BGE saves).
 * LayerNorm parameters may also be named gamma / beta (old TF-converted checkpoints).
 * DistilBERT is the same network under other names and without token types:
 *   attention.{q,k,v,out}_lin = attention.self.{query,key,value} / attention.output.dense,
 *   sa_layer_norm = attention.output.LayerNorm, ffn.lin1 / ffn.lin2 = intermediate / output.dense,
 *   output_layer_norm = output.LayerNorm; its MLM head is vocab_transform -> gelu ->
 *   vocab_layer_norm -> vocab_projector (tied to the word embeddings) + vocab_projector.bias.
 *
 * The whole input is one unpadded sequence (an all-ones attention mask); batch by calling
 * `encode` once per text. The backend has no tanh, so the pooler's tanh runs in JavaScript on
 * its single [hidden] vector after the dense layer ran on the backend.
 */
import { type Backend, BackendUnavailableError, OutOfRangeError, type Tensor } from "@edgespec/runtime";
import { ModelFormatError } from "../errors";
import type { WeightSource } from "../weights";
import type { BertConfig } from "./config";

/** y = x w^T + b */
interface Linear {
  weight: Tensor;
  bias: Tensor;
}

interface LayerNorm {
  weight: Tensor;
  bias: Tensor;
}

interface BertLayer {
  query: Linear;
  key: Linear;
  value: Linear;
  /** attention.output.dense (DistilBERT: attention.out_lin) */
  attention_output: Linear;
  /** attention.output.LayerNorm (DistilBERT: sa_layer_norm) */
  attention_LayerNorm: LayerNorm;
  /** intermediate.dense (DistilBERT: ffn.lin1) */
  intermediate: Linear;
  /** output.dense (DistilBERT: ffn.lin2) */
  output: Linear;
  /** output.LayerNorm (DistilBERT: output_layer_norm) */
  output_LayerNorm: LayerNorm;
}

interface MlmHead {
  /** cls.predictions.transform.dense (DistilBERT: vocab_transform) */
  transform: Linear;
  /** cls.predictions.transform.LayerNorm (DistilBERT: vocab_layer_norm) */
  LayerNorm: LayerNorm;
  /** [vocab, hidden]: the word embeddings unless the checkpoint stores its own decoder */
  decoder: Tensor;
  /** [vocab]: cls.predictions.bias (DistilBERT: vocab_projector.bias) */
  bias: Tensor;
}

export interface BertOptions {
  /** load the pooler when the checkpoint has one; default true */
  pooler?: boolean;
  /** load the masked-LM head when the checkpoint has one; default true (required for *ForMaskedLM) */
  mlmHead?: boolean;
}

export interface BertOutput {
  /** [n, hidden] row-major */
  lastHiddenState: Float32Array;
  n: number;
  hidden: number;
  /** tanh(pooler.dense(last_hidden_state[0])) [hidden], when the checkpoint has a pooler */
  pooler?: Float32Array;
}

export class BertModel {
  /** "bert.", "distilbert." or "" */
  readonly prefix: string;
  readonly word_embeddings: Tensor;
  readonly position_embeddings: Tensor;
  /** null for DistilBERT */
  readonly token_type_embeddings: Tensor | null;
  readonly embeddings_LayerNorm: LayerNorm;
  readonly layers: BertLayer[] = [];
  readonly pooler: Linear | null = null;
  readonly mlm: MlmHead | null = null;
  private readonly owned: Tensor[] = [];
  private freed = false;

  constructor(
    readonly backend: Backend,
    readonly config: BertConfig,
    weights: WeightSource,
    opts: BertOptions = {},
  ) {
    // encode / mlmLogits return their outputs synchronously; WebGPU can only read with await
    if (!backend.syncRead)
      throw new BackendUnavailableError(
        `BERT encoders read their outputs synchronously, which the ${backend.name} backend cannot; load them on the wasm backend`,
      );
    const c = config;
    const H = c.hiddenSize;
    const distil = c.modelType === "distilbert";
    this.prefix = findPrefix(weights, distil ? "distilbert." : "bert.");
    const p = this.prefix;
    const keep = (t: Tensor) => {
      this.owned.push(t);
      return t;
    };
    const linear = (name: string, out: number, inp: number): Linear => ({
      weight: keep(weights.matrix(`${name}.weight`, [out, inp])),
      bias: keep(weights.vector(`${name}.bias`, out)),
    });
    // the original Google conversions (bert-base-uncased's own files) name LayerNorm parameters gamma / beta
    const normParam = (name: string, param: "weight" | "bias", legacy: "gamma" | "beta") =>
      keep(weights.vector(!weights.has(`${name}.${param}`) && weights.has(`${name}.${legacy}`) ? `${name}.${legacy}` : `${name}.${param}`, H));
    const norm = (name: string): LayerNorm => ({ weight: normParam(name, "weight", "gamma"), bias: normParam(name, "bias", "beta") });
    try {
      this.word_embeddings = keep(weights.matrix(`${p}embeddings.word_embeddings.weight`, [c.vocabSize, H]));
      this.position_embeddings = keep(weights.matrix(`${p}embeddings.position_embeddings.weight`, [c.maxPositions, H]));
      this.token_type_embeddings = distil ? null : keep(weights.matrix(`${p}embeddings.token_type_embeddings.weight`, [c.typeVocabSize, H]));
      this.embeddings_LayerNorm = norm(`${p}embeddings.LayerNorm`);
      for (let l = 0; l < c.numLayers; l++) {
        if (distil) {
          const q = `${p}transformer.layer.${l}.`;
          this.layers.push({
            query: linear(`${q}attention.q_lin`, H, H),
            key: linear(`${q}attention.k_lin`, H, H),
            value: linear(`${q}attention.v_lin`, H, H),
            attention_output: linear(`${q}attention.out_lin`, H, H),
            attention_LayerNorm: norm(`${q}sa_layer_norm`),
            intermediate: linear(`${q}ffn.lin1`, c.intermediateSize, H),
            output: linear(`${q}ffn.lin2`, H, c.intermediateSize),
            output_LayerNorm: norm(`${q}output_layer_norm`),
          });
        } else {
          const q = `${p}encoder.layer.${l}.`;
          this.layers.push({
            query: linear(`${q}attention.self.query`, H, H),
            key: linear(`${q}attention.self.key`, H, H),
            value: linear(`${q}attention.self.value`, H, H),
            attention_output: linear(`${q}attention.output.dense`, H, H),
            attention_LayerNorm: norm(`${q}attention.output.LayerNorm`),
            intermediate: linear(`${q}intermediate.dense`, c.intermediateSize, H),
            output: linear(`${q}output.dense`, H, c.intermediateSize),
            output_LayerNorm: norm(`${q}output.LayerNorm`),
          });
        }
      }
      if (opts.pooler !== false && !distil && weights.has(`${p}pooler.dense.weight`)) this.pooler = linear(`${p}pooler.dense`, H, H);
      // a *ForMaskedLM checkpoint must have its head: loading it names whatever tensor is missing
      const wantMlm =
        opts.mlmHead !== false &&
        (c.architecture?.endsWith("ForMaskedLM") || weights.has(distil ? "vocab_transform.weight" : "cls.predictions.transform.dense.weight"));
      if (wantMlm && distil) {
        this.mlm = {
          transform: linear("vocab_transform", H, H),
          LayerNorm: norm("vocab_layer_norm"),
          decoder: weights.has("vocab_projector.weight") ? keep(weights.matrix("vocab_projector.weight", [c.vocabSize, H])) : this.word_embeddings,
          bias: keep(weights.vector("vocab_projector.bias", c.vocabSize)),
        };
      } else if (wantMlm) {
        this.mlm = {
          transform: linear("cls.predictions.transform.dense", H, H),
          LayerNorm: norm("cls.predictions.transform.LayerNorm"),
          decoder: weights.has("cls.predictions.decoder.weight")
            ? keep(weights.matrix("cls.predictions.decoder.weight", [c.vocabSize, H]))
            : this.word_embeddings,
          // older saves hold the bias as cls.predictions.decoder.bias only
          bias: keep(
            weights.vector(
              !weights.has("cls.predictions.bias") && weights.has("cls.predictions.decoder.bias") ? "cls.predictions.decoder.bias" : "cls.predictions.bias",
              c.vocabSize,
            ),
          ),
        };
      }
    } catch (e) {
      for (const t of this.owned) t.free();
      throw e;
    }
  }

  // ------------------------------------------------------------------ public API

  /** Run the encoder over one sequence (with its [CLS]/[SEP] already in `ids`). */
  encode(ids: readonly number[], tokenTypeIds?: readonly number[]): BertOutput {
    return this.run(ids, tokenTypeIds, (x, n) => {
      const out: BertOutput = { lastHiddenState: this.backend.read(x) as Float32Array, n, hidden: this.config.hiddenSize };
      if (this.pooler) out.pooler = this.pool(x);
      return out;
    });
  }

  /** Masked-LM logits [positions.length, vocab] row-major: row j scores the token at ids[positions[j]]. */
  mlmLogits(ids: readonly number[], positions: readonly number[], tokenTypeIds?: readonly number[]): Float32Array {
    this.checkPositions("mlmLogits", ids, positions);
    return this.run(ids, tokenTypeIds, (x) => this.mlmHead(x, positions));
  }

  /** The last hidden state and the MLM logits at `positions`, from one forward (what DupMAE needs). */
  encodeWithMlm(ids: readonly number[], positions: readonly number[], tokenTypeIds?: readonly number[]): { hidden: BertOutput; logits: Float32Array } {
    this.checkPositions("encodeWithMlm", ids, positions);
    return this.run(ids, tokenTypeIds, (x, n) => ({
      hidden: { lastHiddenState: this.backend.read(x) as Float32Array, n, hidden: this.config.hiddenSize },
      logits: this.mlmHead(x, positions),
    }));
  }

  private checkPositions(what: string, ids: readonly number[], positions: readonly number[]): void {
    if (!this.mlm) throw new OutOfRangeError(`${what}: this checkpoint (${this.config.architecture ?? this.config.modelType}) has no masked-LM head`);
    for (let j = 0; j < positions.length; j++) {
      const p = positions[j];
      if (!Number.isInteger(p) || p < 0 || p >= ids.length)
        throw new OutOfRangeError(`${what}: position ${p} (index ${j}) is outside the ${ids.length} input tokens`);
    }
  }

  /** transform → activation → LayerNorm → decoder over the rows of `x` at `positions`. */
  private mlmHead(x: Tensor, positions: readonly number[]): Float32Array {
    const head = this.mlm as NonNullable<typeof this.mlm>;
    const m = positions.length;
    if (m === 0) return new Float32Array(0);
    const be = this.backend;
    const c = this.config;
    const tmp: Tensor[] = [];
    const make = (shape: number[]) => {
      const t = be.empty("f32", shape);
      tmp.push(t);
      return t;
    };
    try {
      const sel = make([m, c.hiddenSize]);
      const t = make([m, c.hiddenSize]);
      const logits = make([m, c.vocabSize]);
      be.getRows(sel, x, positions);
      this.linear(t, head.transform, sel);
      this.act(t);
      be.layernorm(sel, t, head.LayerNorm.weight, head.LayerNorm.bias, c.layerNormEps);
      be.matmul(logits, head.decoder, sel);
      be.add(logits, logits, head.bias);
      return be.read(logits) as Float32Array;
    } finally {
      for (const t of tmp) t.free();
    }
  }

  free(): void {
    if (this.freed) return;
    this.freed = true;
    for (const t of new Set(this.owned)) t.free();
  }

  // ------------------------------------------------------------------ forward

  /** Encode into a backend tensor x [n, hidden], hand it to `use`, then free every activation. */
  private run<T>(ids: readonly number[], tokenTypeIds: readonly number[] | undefined, use: (x: Tensor, n: number) => T): T {
    if (this.freed) throw new OutOfRangeError("the model was freed");
    const c = this.config;
    const be = this.backend;
    const n = ids.length;
    const H = c.hiddenSize;
    if (n === 0) throw new OutOfRangeError("encode: the input is empty (expected at least [CLS] and [SEP])");
    if (n > c.maxPositions) throw new OutOfRangeError(`encode: the input has ${n} tokens, more than max_position_embeddings (${c.maxPositions})`);
    for (let i = 0; i < n; i++) {
      const t = ids[i];
      if (!Number.isInteger(t) || t < 0 || t >= c.vocabSize)
        throw new OutOfRangeError(`encode: token id ${t} at index ${i} is outside the vocabulary [0, ${c.vocabSize})`);
    }
    if (tokenTypeIds !== undefined) {
      if (tokenTypeIds.length !== n) throw new OutOfRangeError(`encode: ${tokenTypeIds.length} token type ids for ${n} tokens`);
      const types = c.typeVocabSize;
      for (let i = 0; i < n; i++) {
        const t = tokenTypeIds[i];
        if (types === 0 && t !== 0)
          throw new OutOfRangeError(`encode: ${c.modelType} has no token type embeddings, but token type id ${t} is given at index ${i}`);
        if (types > 0 && (!Number.isInteger(t) || t < 0 || t >= types))
          throw new OutOfRangeError(`encode: token type id ${t} at index ${i} is outside [0, ${types})`);
      }
    }

    const buffers: Tensor[] = [];
    const make = (shape: number[]) => {
      const t = be.empty("f32", shape);
      buffers.push(t);
      return t;
    };
    try {
      const x = make([n, H]);
      const a = make([n, H]);
      const q = make([n, H]);
      const k = make([n, H]);
      const v = make([n, H]);
      // attention wants k, v as [head, slot, headDim]; projections come out as [token, head, headDim]
      const kc = make([c.numHeads, n, c.headDim]);
      const vc = make([c.numHeads, n, c.headDim]);
      const attn = make([n, c.numHeads, c.headDim]);
      const ff = make([n, c.intermediateSize]);
      const q3 = be.view(q, 0, "f32", [n, c.numHeads, c.headDim]);
      const attn2 = be.view(attn, 0, "f32", [n, H]);
      const row = c.headDim * 4;

      // embeddings
      be.getRows(a, this.word_embeddings, ids);
      be.getRows(
        x,
        this.position_embeddings,
        Array.from({ length: n }, (_, i) => i),
      );
      be.add(a, a, x);
      if (this.token_type_embeddings) {
        be.getRows(x, this.token_type_embeddings, tokenTypeIds ?? new Array<number>(n).fill(0));
        be.add(a, a, x);
      }
      be.layernorm(x, a, this.embeddings_LayerNorm.weight, this.embeddings_LayerNorm.bias, c.layerNormEps);

      for (const L of this.layers) {
        // self-attention
        this.linear(q, L.query, x);
        this.linear(k, L.key, x);
        this.linear(v, L.value, x);
        for (let t = 0; t < n; t++) {
          for (let h = 0; h < c.numHeads; h++) {
            const src = (t * c.numHeads + h) * row;
            const dst = (h * n + t) * row;
            be.copy(be.view(kc, dst, "f32", [c.headDim]), be.view(k, src, "f32", [c.headDim]));
            be.copy(be.view(vc, dst, "f32", [c.headDim]), be.view(v, src, "f32", [c.headDim]));
          }
        }
        be.attention(attn, q3, kc, vc, { kvLen: n, mask: "none" });
        this.linear(a, L.attention_output, attn2);
        be.add(a, a, x);
        be.layernorm(x, a, L.attention_LayerNorm.weight, L.attention_LayerNorm.bias, c.layerNormEps);
        // feed-forward
        this.linear(ff, L.intermediate, x);
        this.act(ff);
        this.linear(a, L.output, ff);
        be.add(a, a, x);
        be.layernorm(x, a, L.output_LayerNorm.weight, L.output_LayerNorm.bias, c.layerNormEps);
      }
      return use(x, n);
    } finally {
      for (const t of buffers) t.free();
    }
  }

  /** y = x w^T + b */
  private linear(y: Tensor, l: Linear, x: Tensor): void {
    this.backend.matmul(y, l.weight, x);
    this.backend.add(y, y, l.bias);
  }

  /** the config's GELU, in place */
  private act(t: Tensor): void {
    if (this.config.hiddenAct === "gelu") this.backend.gelu(t, t);
    else this.backend.geluTanh(t, t);
  }

  /** tanh(dense(x[0])): the dense layer on the backend, tanh here on the one [hidden] vector. */
  private pool(x: Tensor): Float32Array {
    const be = this.backend;
    const l = this.pooler as Linear;
    const H = this.config.hiddenSize;
    const y = be.empty("f32", [1, H]);
    try {
      this.linear(y, l, be.view(x, 0, "f32", [1, H]));
      const out = be.read(y) as Float32Array;
      for (let i = 0; i < H; i++) out[i] = Math.tanh(out[i]);
      return out;
    } finally {
      y.free();
    }
  }
}

/** "bert." / "distilbert." when the checkpoint nests the encoder under it, else "". */
function findPrefix(weights: WeightSource, nested: string): string {
  const probe = "embeddings.word_embeddings.weight";
  if (weights.has(nested + probe)) return nested;
  if (weights.has(probe)) return "";
  throw new ModelFormatError(weights.label, `is missing (looked for "${nested}${probe}" and "${probe}"); is this a ${nested.slice(0, -1)} checkpoint?`, probe);
}
