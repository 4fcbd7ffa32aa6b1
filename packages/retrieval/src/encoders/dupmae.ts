/**
 * DupMAE (RetroMAE v2: "Duplex Masked Auto-Encoder", Xiao & Liu, arXiv 2211.08769 / ACL 2023
 * 2305.02564) on a BertForMaskedLM checkpoint. The paper pre-trains two decodings of one
 * encoder: the [CLS] embedding reconstructs the input, and the ordinary tokens' embeddings,
 * projected onto the vocabulary by the MLM head and max-pooled, predict its bag of words. For
 * retrieval the two are "reduced and aggregated, then concatenated" into one representation,
 * so relevance is the inner product of concatenations, i.e. a sum of two inner products:
 *
 *   dense(x) = last_hidden_state[0]                 ([CLS]), or W [CLS] + b with a projection
 *   bow_j(x) = max_{i in ordinary} relu(logits[i, j])   then only the top k entries (k = 256)
 *   score(q, p) = dense(q) . dense(p) + bow(q) . bow(p)
 *
 * "Ordinary" positions: "non-special" (default) = every token that is not [CLS] / [SEP] / [PAD];
 * "after-cls" = every position after [CLS], [SEP] included, which is what the public
 * pre-training code (staoxiao/RetroMAE, modeling_duplex.py: logits[:, 1:] under the attention
 * mask) pools. Inputs are truncated like SPLADE's ([CLS] text [SEP], at most maxLength ids).
 *
 * This runs the encoder twice per text (once for the hidden states, once for the MLM logits):
 * BertModel has no call that returns both.
 */
import type { BertModel } from "@edgespec/models";
import { type BatchOptions, encodeBatch } from "./batch";
import { reluMaxPool, sparseDot, sparseTerms, sparsify } from "./sparse";
import { maxLengthFor, truncateWithSpecials } from "./truncate";
import type { EncoderTokenizer, PackedSparseVector, SparseTerm } from "./types";

/** y = W x + b with W [outFeatures, inFeatures] row-major (torch.nn.Linear). */
export interface DenseProjection {
  weight: Float32Array;
  bias: Float32Array | null;
  inFeatures: number;
  outFeatures: number;
}

export type DupMaePositions = "non-special" | "after-cls";

export interface DupMaeOptions {
  /** entries kept in the bag-of-words vector; default 256 */
  topK?: number;
  /** default "non-special" */
  positions?: DupMaePositions;
  projection?: DenseProjection;
  /** ids that are not ordinary tokens; default: [CLS] and [SEP] as the tokenizer adds them, and the config's pad id */
  specialIds?: Iterable<number>;
  /** most ids per text; default and cap: max_position_embeddings */
  maxLength?: number;
}

export interface DupMaeVector {
  dense: Float32Array;
  sparse: PackedSparseVector;
}

/** dense(q) . dense(p) + bow(q) . bow(p) */
export function dupmaeScore(q: DupMaeVector, p: DupMaeVector): number {
  if (q.dense.length !== p.dense.length) throw new RangeError(`dense vectors differ in length (${q.dense.length} and ${p.dense.length})`);
  let s = 0;
  for (let i = 0; i < q.dense.length; i++) s += q.dense[i] * p.dense[i];
  return s + sparseDot(q.sparse, p.sparse);
}

export class DupMaeEncoder {
  readonly topK: number;
  readonly positions: DupMaePositions;
  readonly maxLength: number;
  readonly specialIds: ReadonlySet<number>;

  constructor(
    readonly model: BertModel,
    readonly tokenizer: EncoderTokenizer,
    readonly options: DupMaeOptions = {},
  ) {
    if (!model.mlm) throw new RangeError("DupMAE needs the masked-LM head (cls.predictions.*) for its bag-of-words vector; this checkpoint has none");
    const p = options.projection;
    if (p && (p.inFeatures !== model.config.hiddenSize || p.weight.length !== p.inFeatures * p.outFeatures || (p.bias && p.bias.length !== p.outFeatures))) {
      throw new RangeError(`the projection [${p.outFeatures}, ${p.inFeatures}] does not fit the hidden size ${model.config.hiddenSize}`);
    }
    this.topK = options.topK ?? 256;
    this.positions = options.positions ?? "non-special";
    this.maxLength = maxLengthFor(model.config.maxPositions, options.maxLength);
    const specials = new Set(options.specialIds ?? tokenizer.encodeWithSpecialTokens(""));
    if (!options.specialIds && model.config.padTokenId !== null) specials.add(model.config.padTokenId);
    this.specialIds = specials;
  }

  inputIds(text: string): number[] {
    return truncateWithSpecials(this.tokenizer.encodeWithSpecialTokens(text), this.maxLength);
  }

  /** The rows whose MLM logits make the bag of words. */
  ordinaryPositions(ids: readonly number[]): number[] {
    const out: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      const ordinary = this.positions === "after-cls" ? i > 0 : !this.specialIds.has(ids[i]);
      if (ordinary) out.push(i);
    }
    return out;
  }

  /** The [CLS] hidden state, projected when the checkpoint has a projection. */
  denseOfIds(ids: readonly number[]): Float32Array {
    return this.project(this.model.encode(ids).lastHiddenState);
  }

  /** max over the ordinary positions of relu(MLM logits), before the top-k cut: [vocab]. */
  bagOfWordsOfIds(ids: readonly number[]): Float32Array {
    const rows = this.ordinaryPositions(ids);
    if (rows.length === 0) return new Float32Array(this.model.config.vocabSize);
    return this.bagOfWords(this.model.mlmLogits(ids, rows), rows.length);
  }

  /** Both parts from one forward of the encoder. */
  encodeIds(ids: readonly number[]): DupMaeVector {
    if (ids.length > this.maxLength) throw new RangeError(`${ids.length} ids, more than maxLength ${this.maxLength}`);
    const rows = this.ordinaryPositions(ids);
    const { hidden, logits } = this.model.encodeWithMlm(ids, rows);
    const bow = rows.length === 0 ? new Float32Array(this.model.config.vocabSize) : this.bagOfWords(logits, rows.length);
    return { dense: this.project(hidden.lastHiddenState), sparse: sparsify(bow, { topK: this.topK }) };
  }

  private project(lastHiddenState: Float32Array): Float32Array {
    const H = this.model.config.hiddenSize;
    const cls = lastHiddenState.slice(0, H);
    const p = this.options.projection;
    if (!p) return cls;
    const out = new Float32Array(p.outFeatures);
    for (let o = 0; o < p.outFeatures; o++) {
      let s = p.bias ? p.bias[o] : 0;
      const row = o * H;
      for (let i = 0; i < H; i++) s += p.weight[row + i] * cls[i];
      out[o] = s;
    }
    return out;
  }

  /** The logits come back in the order of the positions asked for: pool all their rows. */
  private bagOfWords(logits: Float32Array, rows: number): Float32Array {
    return reluMaxPool(
      logits,
      this.model.config.vocabSize,
      Array.from({ length: rows }, (_, r) => r),
    );
  }

  encode(text: string): DupMaeVector {
    return this.encodeIds(this.inputIds(text));
  }

  encodeMany(texts: readonly string[], opts?: BatchOptions): Promise<DupMaeVector[]> {
    return encodeBatch(texts, (t) => this.encode(t), opts);
  }

  terms(v: PackedSparseVector): SparseTerm[] {
    return sparseTerms(v, (id) => this.tokenizer.token(id));
  }
}
