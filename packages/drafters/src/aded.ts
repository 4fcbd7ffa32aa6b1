/**
 * ADED (Liu et al. 2024, "Adaptive Draft-Verification for Efficient Large Language Model
 * Decoding", arXiv 2407.12021, AAAI 2025; the authors' code is github.com/liuxukun2000/Adaptix,
 * DraftRetriever/src/{lib.rs, mcts_sub.rs}).
 *
 * LLM representative: a tri-gram matrix (a, b) → the most likely next tokens c with weights,
 * pruned to the top `maxSuccessors` (the authors keep 12). It is updated online: after every
 * verify step, each tri-gram of the last `window` (16) tokens of the text gains `increment`
 * (0.04), capped at `maxWeight` (3.0), so recent patterns rise (lib.rs `search`). The
 * authors start from a corpus-built matrix; here it starts from the prompt's tri-grams, is
 * kept across generations (`hotStart`), and (extensions) also learns the top `logitTopK`
 * tokens of every verified row, the target's own predictions, in place of the corpus, and
 * answers contexts it has not seen from a bigram table b → c (`bigramBackoff`).
 *
 * Draft maker: Monte Carlo tree search from the state (a, b) = the last two tokens, each
 * child c of a state (a, b) moving to (b, c), with the prior P(c) = the normalised tri-gram
 * weight. Each iteration selects by PUCT (mcts_sub.rs `putc_score`, c1 = 32, c2 = 8),
 *     argmax_c  Q(c) + P(c) · √N(parent) / (1 + N(c)) · (c1 + ln((N(parent) + c2 + 1) / c2)),
 * expands one node (all its successors), rolls out to `depth` tokens sampling successors
 * by weight, and backs up the rollout's reward: the expected accepted length under the
 * tri-gram model, Σ_t Π_{i≤t} P(c_i) (the authors' reward is 1 + Σ weights). The draft tree
 * is the search tree's most visited nodes (as the authors keep the most visited sentences),
 * cut to the engine's budget; leftover budget extends the most visited leaves by their
 * tri-gram argmax (the authors append one argmax token to each draft). Rollouts use the
 * drafter's own seeded generator, so drafts are deterministic ("deterministic" mode).
 */
import { type DraftContext, type Drafter, type DraftTree, type Rng, seededRng, type VerifiedStep } from "@edgespec/decoding";
import { NgramTable, ngramKey } from "./ngram-table";
import { topKShares } from "./topk";
import { TreeBuilder } from "./tree-builder";
import { boolOption, intOption, numberOption, vocabOption } from "./validate";

export interface AdedOptions {
  /** The target's vocabulary size. */
  vocabSize: number;
  /** Successors kept per (a, b) context (the authors keep the top 12). Default 12. */
  maxSuccessors?: number;
  /** Most (a, b) contexts stored (and b contexts in the bigram backoff); the least recently updated is evicted. Default 32768. */
  maxContexts?: number;
  /** Weight a tri-gram of the recent window gains per update. Default 0.04. */
  increment?: number;
  /** Largest weight of one tri-gram. Default 3. */
  maxWeight?: number;
  /** Tokens at the end of the text whose tri-grams are reinforced after each step. Default 16. */
  window?: number;
  /** MCTS iterations per draft. Default 150. */
  iterations?: number;
  /** Tokens after the pending one a rollout reaches (the draft depth). Default 5. */
  depth?: number;
  /** PUCT constants: the authors' code uses 32 and 8 (MuZero's are 1.25 and 19652; they explore far less). Defaults 32 and 8. */
  c1?: number;
  c2?: number;
  /** Fall back to a bigram table b → c when (a, b) is unknown. Default true. */
  bigramBackoff?: boolean;
  /**
   * Also learn from the verified logits (an extension: the authors' matrix comes from a
   * corpus): every verified row, accepted or not, adds its top `logitTopK` tokens to the
   * tri-gram of its last two tokens, each with increment × its softmax share among those
   * k (one pass over the row, no exp over the vocabulary). 0 turns it off
   * (the text alone, as the authors' online update). Default 8.
   */
  logitTopK?: number;
  /** Keep the matrix across generations. Default true. */
  hotStart?: boolean;
  /** Seed of the rollout generator (re-seeded at every begin()). Default 0. */
  seed?: number;
}

const NAME = "aded";

export class AdedDrafter implements Drafter {
  readonly name = NAME;
  readonly vocabSize: number;
  readonly maxSuccessors: number;
  readonly maxContexts: number;
  readonly increment: number;
  readonly maxWeight: number;
  readonly window: number;
  readonly iterations: number;
  readonly depth: number;
  readonly c1: number;
  readonly c2: number;
  readonly bigramBackoff: boolean;
  readonly logitTopK: number;
  readonly hotStart: boolean;
  readonly seed: number;
  /** (a, b) → c */
  readonly trigrams: NgramTable;
  /** b → c */
  readonly bigrams: NgramTable;
  private rng: Rng;
  // MCTS node pool
  private readonly cap: number;
  private readonly nTok: Int32Array;
  private readonly nPrev: Int32Array;
  private readonly nParent: Int32Array;
  private readonly nFirst: Int32Array;
  private readonly nCount: Int32Array;
  private readonly nDepth: Int32Array;
  private readonly nVisits: Float64Array;
  private readonly nValue: Float64Array;
  private readonly nPrior: Float64Array;
  /** product of priors from the root */
  private readonly nReach: Float64Array;
  private readonly nExpanded: Uint8Array;
  // successor scratch
  private readonly sTok: Int32Array;
  private readonly sProb: Float64Array;
  private readonly lIdx: Int32Array;
  private readonly lProb: Float64Array;

  constructor(options: AdedOptions) {
    this.vocabSize = vocabOption(NAME, options);
    this.maxSuccessors = intOption(NAME, "maxSuccessors", options.maxSuccessors, 12, 1, 256);
    this.maxContexts = intOption(NAME, "maxContexts", options.maxContexts, 32768, 1, 1 << 24);
    this.increment = numberOption(NAME, "increment", options.increment, 0.04, 0, 1e6, true);
    this.maxWeight = numberOption(NAME, "maxWeight", options.maxWeight, 3, this.increment, 1e9);
    this.window = intOption(NAME, "window", options.window, 16, 3, 1 << 16);
    this.iterations = intOption(NAME, "iterations", options.iterations, 150, 1, 1 << 16);
    this.depth = intOption(NAME, "depth", options.depth, 5, 1, 256);
    this.c1 = numberOption(NAME, "c1", options.c1, 32, 0, 1e9);
    this.c2 = numberOption(NAME, "c2", options.c2, 8, 0, 1e12, true);
    this.bigramBackoff = boolOption(NAME, "bigramBackoff", options.bigramBackoff, true);
    this.logitTopK = intOption(NAME, "logitTopK", options.logitTopK, 8, 0, 64);
    this.hotStart = boolOption(NAME, "hotStart", options.hotStart, true);
    this.seed = intOption(NAME, "seed", options.seed, 0, 0, 0xffffffff);
    this.rng = seededRng(this.seed);
    this.trigrams = new NgramTable(this.maxSuccessors, this.maxContexts);
    this.bigrams = new NgramTable(this.maxSuccessors, this.maxContexts);
    this.cap = 1 + this.iterations * this.maxSuccessors;
    this.nTok = new Int32Array(this.cap);
    this.nPrev = new Int32Array(this.cap);
    this.nParent = new Int32Array(this.cap);
    this.nFirst = new Int32Array(this.cap);
    this.nCount = new Int32Array(this.cap);
    this.nDepth = new Int32Array(this.cap);
    this.nVisits = new Float64Array(this.cap);
    this.nValue = new Float64Array(this.cap);
    this.nPrior = new Float64Array(this.cap);
    this.nReach = new Float64Array(this.cap);
    this.nExpanded = new Uint8Array(this.cap);
    this.sTok = new Int32Array(this.maxSuccessors);
    this.sProb = new Float64Array(this.maxSuccessors);
    this.lIdx = new Int32Array(Math.max(1, this.logitTopK));
    this.lProb = new Float64Array(Math.max(1, this.logitTopK));
  }

  begin(promptIds: readonly number[]): void {
    if (!this.hotStart) {
      this.trigrams.clear();
      this.bigrams.clear();
    }
    this.rng = seededRng(this.seed);
    this.reinforce(promptIds);
  }

  propose(ctx: DraftContext): DraftTree {
    const budget = Math.max(0, Math.floor(ctx.budget));
    const tree = new TreeBuilder(this.vocabSize, budget);
    const L = ctx.tokens.length;
    if (budget === 0 || L === 0) return tree.build();
    const count = this.search(L >= 2 ? ctx.tokens[L - 2] : -1, ctx.tokens[L - 1]);
    // the most visited nodes; a parent has at least its child's visits and comes first on ties
    const ids: number[] = [];
    for (let i = 1; i < count; i++) if (this.nVisits[i] > 0) ids.push(i);
    ids.sort((a, b) => this.nVisits[b] - this.nVisits[a] || this.nDepth[a] - this.nDepth[b] || a - b);
    const node = new Int32Array(count).fill(-1);
    node[0] = -1;
    const chosen: number[] = [];
    const hasChild = new Uint8Array(count);
    for (const i of ids) {
      if (tree.full) break;
      const p = this.nParent[i];
      const parentNode = p === 0 ? -1 : node[p];
      if (p !== 0 && parentNode < 0) continue;
      const t = tree.add(parentNode, this.nTok[i]);
      if (t < 0) continue;
      node[i] = t;
      chosen.push(i);
      hasChild[p] = 1;
    }
    // leftover budget: the most visited leaves gain their tri-gram argmax
    for (const i of chosen) {
      if (tree.full) break;
      if (hasChild[i]) continue;
      const n = this.successors(this.nPrev[i], this.nTok[i]);
      if (n > 0) tree.add(node[i], this.sTok[0]);
    }
    return tree.build();
  }

  observe(step: VerifiedStep): void {
    const { context, tree, acceptedNodes } = step;
    // the text now: context, the accepted path and the bonus token; reinforce its last window
    const tail: number[] = [];
    for (const a of acceptedNodes) tail.push(tree.tokens[a]);
    tail.push(step.bonus);
    const fromContext = Math.max(0, Math.min(context.length, this.window - tail.length));
    const recent = [...context.slice(context.length - fromContext), ...tail].slice(-this.window);
    this.reinforce(recent);
    if (this.logitTopK > 0 && step.vocabSize === this.vocabSize) this.learnLogits(step);
  }

  /** Bytes held: both n-gram tables and the search scratch. */
  memoryBytes(): number {
    const pool = this.cap * (4 * 6 + 8 * 4 + 1);
    return this.trigrams.memoryBytes() + this.bigrams.memoryBytes() + pool + this.maxSuccessors * 12;
  }

  /** The most memoryBytes() can reach with these options. */
  memoryBound(): number {
    return 2 * NgramTable.boundBytes(this.maxSuccessors, this.maxContexts) + this.cap * (4 * 6 + 8 * 4 + 1) + this.maxSuccessors * 12;
  }

  /** The successors of (a, b), best first, with probabilities (normalised weights): for tests and inspection. */
  successorsOf(a: number, b: number): { token: number; p: number }[] {
    const n = this.successors(a, b);
    return Array.from({ length: n }, (_, i) => ({ token: this.sTok[i], p: this.sProb[i] }));
  }

  /** Adds `increment` to every tri-gram (and bigram) of `tokens`. */
  private reinforce(tokens: readonly number[]): void {
    const V = this.vocabSize;
    const ok = (t: number) => Number.isInteger(t) && t >= 0 && t < V;
    for (let i = 0; i + 1 < tokens.length; i++) {
      const b = tokens[i];
      const c = tokens[i + 1];
      if (!ok(b) || !ok(c)) continue;
      if (this.bigramBackoff) this.bigrams.addWeight(this.bigrams.slot(b), c, this.increment, this.maxWeight);
      if (i >= 1 && ok(tokens[i - 1])) this.trigrams.addWeight(this.trigrams.slot(ngramKey(tokens, i + 1, 2, V)), c, this.increment, this.maxWeight);
    }
  }

  /** (a, b) → the top logitTopK tokens of every verified row, weighted by their softmax share among the k. */
  private learnLogits(step: VerifiedStep): void {
    const V = this.vocabSize;
    const { context, tree, logits } = step;
    const rows = Math.min(tree.tokens.length + 1, Math.floor(logits.length / V));
    for (let r = 0; r < rows; r++) {
      let b: number;
      let a: number;
      if (r === 0) {
        b = context[context.length - 1];
        a = context.length >= 2 ? context[context.length - 2] : -1;
      } else {
        b = tree.tokens[r - 1];
        const p = tree.parents[r - 1];
        a = p >= 0 ? tree.tokens[p] : context[context.length - 1];
      }
      const n = topKShares(logits, r * V, V, this.logitTopK, this.lIdx, this.lProb);
      const key = a >= 0 ? ngramKey([a, b], 2, 2, V) : -1;
      for (let j = 0; j < n; j++) {
        const w = this.increment * this.lProb[j];
        if (this.bigramBackoff) this.bigrams.addWeight(this.bigrams.slot(b), this.lIdx[j], w, this.maxWeight);
        if (a >= 0) this.trigrams.addWeight(this.trigrams.slot(key), this.lIdx[j], w, this.maxWeight);
      }
    }
  }

  /** Fills sTok/sProb with the successors of (a, b) (a = -1: unknown), best first; returns how many. */
  private successors(a: number, b: number): number {
    let slot = a >= 0 ? this.trigrams.find(ngramKey([a, b], 2, 2, this.vocabSize)) : -1;
    let table = this.trigrams;
    if ((slot < 0 || table.lens[slot] === 0) && this.bigramBackoff) {
      table = this.bigrams;
      slot = table.find(b);
    }
    if (slot < 0) return 0;
    const n = table.lens[slot];
    const base = slot * table.slotSize;
    let sum = 0;
    for (let j = 0; j < n; j++) {
      // insertion sort, best first (ties: lower token id)
      const t = table.tokens[base + j];
      const w = table.weights[base + j];
      sum += w;
      let k = j;
      while (k > 0 && (this.sProb[k - 1] < w || (this.sProb[k - 1] === w && this.sTok[k - 1] > t))) {
        this.sProb[k] = this.sProb[k - 1];
        this.sTok[k] = this.sTok[k - 1];
        k--;
      }
      this.sProb[k] = w;
      this.sTok[k] = t;
    }
    if (!(sum > 0)) return 0;
    for (let j = 0; j < n; j++) this.sProb[j] /= sum;
    return n;
  }

  /** Runs the search from state (a, b); returns the number of pool nodes (node 0 is the root). */
  private search(a: number, b: number): number {
    let count = 1;
    this.nTok[0] = b;
    this.nPrev[0] = a;
    this.nParent[0] = -1;
    this.nDepth[0] = 0;
    this.nVisits[0] = 0;
    this.nValue[0] = 0;
    this.nReach[0] = 1;
    this.nPrior[0] = 1;
    this.nExpanded[0] = 0;
    this.nCount[0] = 0;
    const expand = (i: number) => {
      this.nExpanded[i] = 1;
      const n = this.successors(this.nPrev[i], this.nTok[i]);
      const room = Math.min(n, this.cap - count);
      this.nFirst[i] = count;
      this.nCount[i] = room;
      for (let j = 0; j < room; j++) {
        const c = count++;
        this.nTok[c] = this.sTok[j];
        this.nPrev[c] = this.nTok[i];
        this.nParent[c] = i;
        this.nDepth[c] = this.nDepth[i] + 1;
        this.nVisits[c] = 0;
        this.nValue[c] = 0;
        this.nPrior[c] = this.sProb[j];
        this.nReach[c] = this.nReach[i] * this.sProb[j];
        this.nExpanded[c] = 0;
        this.nCount[c] = 0;
      }
    };
    for (let it = 0; it < this.iterations; it++) {
      let i = 0;
      // selection
      while (this.nExpanded[i] && this.nCount[i] > 0 && this.nDepth[i] < this.depth) i = this.select(i);
      // expansion: all successors at once; step into the most probable one
      if (!this.nExpanded[i] && this.nDepth[i] < this.depth) {
        expand(i);
        if (this.nCount[i] > 0) i = this.nFirst[i];
      }
      // reward: the path's expected accepted length, Σ_t Π_{j≤t} P(c_j), completed by a rollout
      let reward = 0;
      for (let j = i; j > 0; j = this.nParent[j]) reward += this.nReach[j];
      let reach = this.nReach[i];
      let prev = this.nPrev[i];
      let tok = this.nTok[i];
      for (let d = this.nDepth[i]; d < this.depth; d++) {
        const n = this.successors(prev, tok);
        if (n === 0) break;
        let u = this.rng();
        let pick = n - 1;
        for (let j = 0; j < n; j++) {
          u -= this.sProb[j];
          if (u < 0) {
            pick = j;
            break;
          }
        }
        reach *= this.sProb[pick];
        reward += reach;
        prev = tok;
        tok = this.sTok[pick];
      }
      // backup
      for (let j = i; j >= 0; j = this.nParent[j]) {
        this.nVisits[j] += 1;
        this.nValue[j] += reward;
      }
    }
    return count;
  }

  private select(i: number): number {
    const N = this.nVisits[i];
    const explore = (this.c1 + Math.log((N + this.c2 + 1) / this.c2)) * Math.sqrt(N);
    let best = this.nFirst[i];
    let bestScore = Number.NEGATIVE_INFINITY;
    for (let c = this.nFirst[i]; c < this.nFirst[i] + this.nCount[i]; c++) {
      const n = this.nVisits[c];
      const q = n > 0 ? this.nValue[c] / n : 0;
      const score = q + (explore * this.nPrior[c]) / (1 + n);
      if (score > bestScore) {
        bestScore = score;
        best = c;
      }
    }
    return best;
  }
}
