/**
 * Momentum decoding (Lan, Su, Liu, Huang, Mao 2022, "Momentum Decoding: Open-ended Text
 * Generation As Graph Exploration", arXiv 2212.02175).
 *
 * Every token is a node of a directed graph; the context (prompt + generated) is the walk
 * so far, each consecutive pair an edge. Degeneration is the walk going round a loop.
 * Each step looks at the k most likely next tokens and picks
 *
 *   x_t = argmax_{v ∈ top-k}  p(v | x_<t) − α · f(L_v)
 *
 *   L_v = 0  when v is a new node (never in the context): no resistance, f(0) = 0;
 *   L_v = the longest n ≤ maxLoop such that (last n−1 tokens, v) already occurred as an
 *         n-gram, i.e. the length of the loop the step would retrace; 1 when v is an old
 *         node but no such n ≥ 2 exists.
 *
 * f is the resistance function. The default is the authors' GPT2-XL table at publication
 * (f(1..5) = 1, 3, 4, 5, 5, α = 0.2, k = 5, loops measured up to 5 tokens;
 * gmftbyGMFTBY/MomentumDecoding models/utlis_ngram.py). Loops longer than the table are
 * forbidden (f = ∞), as in that code. α = 0 is greedy decoding. No look-ahead, no rollback:
 * one model step per token.
 */
import { DecodingOptionsError } from "./errors";
import { type CausalLM, requireSyncRead } from "./model";
import { logSoftmax } from "./sampling";

export interface MomentumOptions {
  /** most tokens to generate */
  maxTokens: number;
  /** candidate set size (top-k by probability); default 5 */
  k?: number;
  /** resistance scale α ≥ 0; default 0.2; 0 = greedy */
  alpha?: number;
  /** longest loop measured, in tokens (n-gram order); default 5 */
  maxLoop?: number;
  /**
   * f(L) for L = 1..maxLoop: the resistance against re-entering a loop of length L
   * (f(0) = 0 always). A table gives f(L) = table[L − 1], ∞ past its end. Default
   * [1, 3, 4, 5, 5].
   */
  resistance?: readonly number[] | ((loopLength: number) => number);
  /** token ids that end generation, besides the model's EOS ids (not included in tokens) */
  stopIds?: readonly number[];
  signal?: AbortSignal;
}

export type MomentumFinishReason = "eos" | "length" | "context" | "abort";

export interface MomentumResult {
  tokens: number[];
  /** log p(token | context) under the model, before the resistance */
  logprobs: number[];
  /** loop length L of each generated token (0 = new node) */
  loops: number[];
  /** generated tokens that returned to a node already in the graph (L ≥ 1) */
  revisits: number;
  /** steps where the resistance changed the pick away from the most likely token */
  resisted: number;
  finishReason: MomentumFinishReason;
}

export interface MomentumCandidate {
  token: number;
  prob: number;
  loop: number;
  resistance: number;
  score: number;
}

export const PAPER_RESISTANCE: readonly number[] = [1, 3, 4, 5, 5];

interface Plan {
  k: number;
  alpha: number;
  maxLoop: number;
  /** f(L) for L = 0..maxLoop */
  f: Float64Array;
}

function plan(opts: Omit<MomentumOptions, "maxTokens">, vocabSize: number): Plan {
  const k = opts.k ?? 5;
  const alpha = opts.alpha ?? 0.2;
  const maxLoop = opts.maxLoop ?? 5;
  if (!Number.isInteger(k) || k < 1) throw new DecodingOptionsError(`k must be an integer ≥ 1, got ${k}`);
  if (!(Number.isFinite(alpha) && alpha >= 0)) throw new DecodingOptionsError(`alpha must be a finite number ≥ 0, got ${alpha}`);
  if (!Number.isInteger(maxLoop) || maxLoop < 1 || maxLoop > 64) throw new DecodingOptionsError(`maxLoop must be an integer in [1, 64], got ${maxLoop}`);
  const r = opts.resistance ?? PAPER_RESISTANCE;
  const f = new Float64Array(maxLoop + 1);
  for (let L = 1; L <= maxLoop; L++) {
    const v = typeof r === "function" ? r(L) : L <= r.length ? r[L - 1] : Number.POSITIVE_INFINITY;
    if (typeof v !== "number" || Number.isNaN(v) || v < 0) throw new DecodingOptionsError(`resistance(${L}) must be a number ≥ 0 (or Infinity), got ${v}`);
    f[L] = v;
  }
  return { k: Math.min(k, vocabSize), alpha, maxLoop, f };
}

/** The context's n-grams (n = 1..maxLoop), kept up to date as tokens are appended. */
class LoopIndex {
  private readonly seen = new Set<number>();
  /** grams[n] holds every n-gram of the context as "a,b,c" */
  private readonly grams: Set<string>[] = [];
  private readonly ctx: number[] = [];

  constructor(private readonly maxLoop: number) {
    for (let n = 0; n <= maxLoop; n++) this.grams.push(new Set());
  }

  push(token: number): void {
    this.ctx.push(token);
    this.seen.add(token);
    const len = this.ctx.length;
    for (let n = 2; n <= this.maxLoop && n <= len; n++) this.grams[n].add(this.ctx.slice(len - n).join(","));
  }

  /** L for appending v (see the file comment). */
  loop(v: number): number {
    if (!this.seen.has(v)) return 0;
    const len = this.ctx.length;
    for (let n = Math.min(this.maxLoop, len + 1); n >= 2; n--) {
      const key = `${this.ctx.slice(len - (n - 1)).join(",")},${v}`;
      if (this.grams[n].has(key)) return n;
    }
    return 1;
  }
}

/**
 * Top-k token ids by logit, most likely first, lower id first on ties. Tokens with
 * probability 0 (−∞ logits) are never candidates: as new nodes they would score 0 and could
 * beat every resisted candidate.
 */
function topK(logits: Float32Array, k: number): number[] {
  const best: number[] = [];
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i];
    if (v === Number.NEGATIVE_INFINITY) continue;
    if (best.length === k && !(v > logits[best[k - 1]])) continue;
    let j = best.length < k ? best.length : k - 1;
    best[j] = i;
    // insertion: strictly greater moves up, so an equal logit stays behind the lower id
    while (j > 0 && logits[best[j - 1]] < v) {
      best[j] = best[j - 1];
      best[j - 1] = i;
      j--;
    }
  }
  return best;
}

function scoreCandidates(logits: Float32Array, lp: Float64Array, index: LoopIndex, p: Plan): MomentumCandidate[] {
  return topK(logits, p.k).map((token) => {
    const prob = Math.exp(lp[token]);
    const loop = index.loop(token);
    const resistance = p.f[loop];
    // α = 0 must be exactly greedy even where f = ∞ (0 · ∞ is NaN)
    const score = p.alpha === 0 ? prob : prob - p.alpha * resistance;
    return { token, prob, loop, resistance, score };
  });
}

/** Highest score; ties (including every candidate at −∞) go to the more likely candidate. */
function pick(cands: readonly MomentumCandidate[]): MomentumCandidate {
  let best = cands[0];
  for (const c of cands) if (c.score > best.score) best = c;
  return best;
}

/**
 * One step's candidates with their loop lengths and scores, for the context given (prompt
 * + generated so far). For inspection and tests; momentumDecode keeps its index incrementally.
 */
export function momentumCandidates(logits: Float32Array, context: readonly number[], opts: Omit<MomentumOptions, "maxTokens"> = {}): MomentumCandidate[] {
  const p = plan(opts, logits.length);
  const index = new LoopIndex(p.maxLoop);
  for (const t of context) index.push(t);
  return scoreCandidates(logits, logSoftmax(logits), index, p);
}

/** Resets the model, prefills promptIds and decodes with momentum decoding. */
export function momentumDecode(model: CausalLM, promptIds: readonly number[], opts: MomentumOptions): MomentumResult {
  requireSyncRead(model, "momentumDecode");
  const vocab = model.config.vocabSize;
  const { maxTokens } = opts;
  if (!Number.isInteger(maxTokens) || maxTokens < 0) throw new DecodingOptionsError(`maxTokens must be a non-negative integer, got ${maxTokens}`);
  const p = plan(opts, vocab);
  if (promptIds.length === 0) throw new DecodingOptionsError("momentumDecode needs a non-empty prompt");
  for (const id of [...promptIds, ...(opts.stopIds ?? [])])
    if (!Number.isInteger(id) || id < 0 || id >= vocab) throw new DecodingOptionsError(`token id ${id} is outside the vocabulary [0, ${vocab})`);
  if (promptIds.length >= model.contextLength)
    throw new DecodingOptionsError(`the prompt has ${promptIds.length} tokens; the context holds ${model.contextLength}, leaving no room to generate`);
  const endIds = new Set([...model.config.eosTokenIds, ...(opts.stopIds ?? [])]);

  const res: MomentumResult = { tokens: [], logprobs: [], loops: [], revisits: 0, resisted: 0, finishReason: "length" };
  if (maxTokens === 0) return res;
  // the prompt's tokens are nodes of the graph too (as in the authors' code)
  const index = new LoopIndex(p.maxLoop);
  for (const t of promptIds) index.push(t);
  model.reset();
  let logits = model.prefill(promptIds).logits;
  for (let i = 0; i < maxTokens; i++) {
    if (opts.signal?.aborted) {
      res.finishReason = "abort";
      break;
    }
    const lp = logSoftmax(logits);
    const cands = scoreCandidates(logits, lp, index, p);
    const c = pick(cands);
    if (endIds.has(c.token)) {
      res.finishReason = "eos";
      break;
    }
    res.tokens.push(c.token);
    res.logprobs.push(lp[c.token]);
    res.loops.push(c.loop);
    if (c.loop > 0) res.revisits++;
    if (c !== cands[0]) res.resisted++;
    index.push(c.token);
    if (i + 1 >= maxTokens) break;
    if (model.length >= model.contextLength) {
      res.finishReason = "context";
      break;
    }
    logits = model.step(c.token);
  }
  return res;
}
