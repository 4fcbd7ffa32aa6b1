/**
 * exact-extract (Castel, Ram, Efrat, Levy 2022, "How Optimal is Greedy Decoding for
 * Extractive Question Answering?", arXiv 2108.05857): the most probable answer that is a
 * span of the passage, found exactly rather than greedily.
 *
 * The answer is passage[i..j) (token span, j > i) and its score is
 *
 *   log P(passage[i], …, passage[j−1], END | prompt)
 *     = Σ_{l=i}^{j−1} log P(passage[l] | prompt, passage[i..l))  +  log P(END | prompt, passage[i..j))
 *
 * where END is any of `endIds` (P(END) = Σ_e P(e)). Every span starting at i shares its
 * prefix, so one teacher-forced pass over passage[i..i+maxSpanTokens) with every row's
 * logits scores all of them: the prompt is prefilled once, then for each start i the suffix
 * is prefilled (allLogits) after it and rolled back. n passes of ≤ maxSpanTokens tokens for
 * all O(n · maxSpanTokens) spans.
 */
import type { Tokenizer } from "@edgespec/models";
import { DecodingOptionsError } from "./errors";
import { type CausalLM, requireSyncRead } from "./model";
import { encodePrompt } from "./prompt";

export interface ExactExtractOptions {
  /** longest span considered, in tokens; default the whole passage */
  maxSpanTokens?: number;
  /** tokens that end the answer; default the model's EOS ids */
  endIds?: readonly number[];
  /** checked before each start position; an aborted signal throws its reason */
  signal?: AbortSignal;
  /** called after each start position: done of total starts */
  onProgress?: (done: number, total: number) => void;
  /** called with every span's score (for n-best lists or calibration); end is exclusive */
  onSpan?: (start: number, end: number, logprob: number) => void;
}

export interface ExtractedSpan {
  /** first passage token of the answer */
  start: number;
  /** one past the last passage token (exclusive) */
  end: number;
  tokens: number[];
  /** log P(span, END | prompt) */
  logprob: number;
}

/** Row r of `rows` as log-probabilities: only the entries asked for, from one log-sum-exp. */
function rowLse(rows: Float32Array, r: number, vocab: number): number {
  const off = r * vocab;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < vocab; i++) if (rows[off + i] > max) max = rows[off + i];
  if (max === Number.NEGATIVE_INFINITY) return max;
  let sum = 0;
  for (let i = 0; i < vocab; i++) sum += Math.exp(rows[off + i] - max);
  return max + Math.log(sum);
}

/** log Σ_e P(e) over the end ids, in row r. */
function endLogprob(rows: Float32Array, r: number, vocab: number, lse: number, endIds: readonly number[]): number {
  let max = Number.NEGATIVE_INFINITY;
  for (const e of endIds) max = Math.max(max, rows[r * vocab + e]);
  if (max === Number.NEGATIVE_INFINITY) return max;
  let sum = 0;
  for (const e of endIds) sum += Math.exp(rows[r * vocab + e] - max);
  return max + Math.log(sum) - lse;
}

/**
 * The most probable span of `passageIds` as the answer after `promptIds`. Ties go to the
 * earlier start, then the shorter span. Resets the model; it is left holding the prompt.
 */
export function exactExtract(model: CausalLM, promptIds: readonly number[], passageIds: readonly number[], opts: ExactExtractOptions = {}): ExtractedSpan {
  requireSyncRead(model, "exactExtract");
  const vocab = model.config.vocabSize;
  const n = passageIds.length;
  if (n === 0) throw new DecodingOptionsError("the passage is empty: there is no span to extract");
  if (promptIds.length === 0) throw new DecodingOptionsError("exactExtract needs a non-empty prompt (at least BOS)");
  const maxSpan = opts.maxSpanTokens ?? n;
  if (!Number.isInteger(maxSpan) || maxSpan < 1) throw new DecodingOptionsError(`maxSpanTokens must be an integer ≥ 1, got ${maxSpan}`);
  const endIds = [...new Set(opts.endIds ?? model.config.eosTokenIds)];
  if (endIds.length === 0) throw new DecodingOptionsError("endIds is empty: no token can end the answer");
  for (const id of [...promptIds, ...passageIds, ...endIds])
    if (!Number.isInteger(id) || id < 0 || id >= vocab) throw new DecodingOptionsError(`token id ${id} is outside the vocabulary [0, ${vocab})`);
  const longest = Math.min(maxSpan, n);
  if (promptIds.length + longest > model.contextLength)
    throw new DecodingOptionsError(`prompt (${promptIds.length}) + longest span (${longest}) tokens exceed the context of ${model.contextLength}`);

  model.reset();
  const first = model.prefill(promptIds).logits;
  // the first answer token's distribution is the same for every start
  const firstLse = rowLse(first, 0, vocab);
  let best: ExtractedSpan | null = null;
  for (let i = 0; i < n; i++) {
    opts.signal?.throwIfAborted();
    const m = Math.min(maxSpan, n - i);
    const out = model.prefill(passageIds.slice(i, i + m), { allLogits: true });
    if (out.rows !== m) throw new Error(`internal: prefill of ${m} tokens with allLogits returned ${out.rows} rows`);
    // row r predicts the token after passage[i..i+r]
    let acc = first[passageIds[i]] - firstLse;
    for (let r = 0; r < m; r++) {
      const lse = rowLse(out.logits, r, vocab);
      const score = acc + endLogprob(out.logits, r, vocab, lse, endIds);
      opts.onSpan?.(i, i + r + 1, score);
      if (best === null || score > best.logprob) best = { start: i, end: i + r + 1, tokens: [], logprob: score };
      if (r + 1 < m) acc += out.logits[r * vocab + passageIds[i + r + 1]] - lse;
    }
    model.rollback(m);
    opts.onProgress?.(i + 1, n);
  }
  const b = best as ExtractedSpan;
  b.tokens = passageIds.slice(b.start, b.end);
  return b;
}

/**
 * exactExtract on text: the prompt is encoded as generate() does (BOS when the tokenizer
 * asks for it), the passage is tokenized once on its own, so spans are spans of those tokens
 * (a word the passage tokenization splits cannot be cut in half). `text` is the span's
 * tokens decoded. END defaults to the model's and the tokenizer's EOS ids.
 */
export function exactExtractText(
  model: CausalLM,
  tokenizer: Tokenizer,
  prompt: string,
  passage: string,
  opts: ExactExtractOptions = {},
): ExtractedSpan & { text: string; passageIds: number[] } {
  const passageIds = tokenizer.encode(passage);
  const endIds = opts.endIds ?? [...new Set([...model.config.eosTokenIds, ...tokenizer.eosIds])];
  const span = exactExtract(model, encodePrompt(tokenizer, prompt), passageIds, { ...opts, endIds });
  return { ...span, text: tokenizer.decode(span.tokens), passageIds };
}
