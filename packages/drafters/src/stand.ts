/**
 * STAND, STochastic Adaptive N-gram Drafting (Song et al. 2025, "Accelerated Test-Time
 * Scaling with Model-Free Speculative Sampling", arXiv 2506.04708, EMNLP 2025).
 *
 * Logit-based n-gram store: for every context of 1..maxContext tokens the store keeps the
 * target's next-token distribution, not just the token that followed: the top `topK` (10)
 * tokens with their probabilities. A new observation q of a context seen c times before is
 * merged as a running mean, p ← c/(c+1)·p + 1/(c+1)·q (tokens outside either top list count
 * as 0), then cut back to the top `topK`. Observations are the verified rows: row 0 gives
 * the distribution after the pending token, row i + 1 the one after tree node i (rows of
 * rejected nodes are real target distributions for those contexts too; `learnFromRejected`).
 * The prompt enters as one-hot observations.
 *
 * Drafting: a node's distribution comes from its longest stored context (maxContext tokens
 * down to minContext). When the target samples, a node's children are drawn from it
 * without replacement with Gumbel-Top-K (keys log p_i + G_i, G_i = −log(−log U_i), the
 * children are the largest keys in order): mode "without-replacement", childDist(node) the
 * normalised stored distribution. Greedy targets get the top tokens ("deterministic").
 *
 * Data-driven tree: the paper selects, offline, the 80 most often accepted nodes of a
 * 625-node candidate tree. Here the selection runs online: every candidate node (a path of
 * draw ranks) keeps how often it was drafted while its parent was accepted and how often it
 * was then accepted itself; its estimated acceptance is its parent's times
 * (accepted + α·prior) / (drafted + α), and the budget's best nodes form the tree (closed
 * under parents and earlier siblings). A fixed `shape` turns the adaptation off.
 */
import type { DraftContext, Drafter, DraftTree, Rng, VerifiedStep } from "@edgespec/decoding";
import { NgramTable, ngramKey } from "./ngram-table";
import { softmaxTopK } from "./topk";
import { TreeBuilder } from "./tree-builder";
import { buildTemplate, compileTemplate, DEFAULT_RANK_PRIOR, priorityOrder, rankPrior, type TemplatePath, type TreeTemplate } from "./tree-template";
import { boolOption, intOption, numberOption, priorOption, vocabOption } from "./validate";

export interface StandOptions {
  /** The target's vocabulary size. */
  vocabSize: number;
  /** Longest context looked up, in tokens (a 4-gram has 3). Default 3. */
  maxContext?: number;
  /** Shortest context looked up. Default 1. */
  minContext?: number;
  /** Tokens (with probabilities) kept per context: the paper keeps 10. Default 10. */
  topK?: number;
  /** Most contexts stored per context length; the least recently updated is evicted. Default 32768. */
  maxEntries?: number;
  /** Temperature applied to the verified logits before they are stored. Default 1. */
  temperature?: number;
  /** Store the rows of rejected nodes too. Default true. */
  learnFromRejected?: boolean;
  /** Store the prompt's n-grams (one-hot) in begin(). Default true. */
  seedFromPrompt?: boolean;
  /** Keep the store across generations (best-of-N trajectories share it). Default true. */
  hotStart?: boolean;
  /** A fixed tree shape (rank paths, each rank r > 0 with its sibling r − 1); default: learned online. */
  shape?: readonly TemplatePath[];
  /** Nodes of the candidate tree the learned shape is chosen from (the paper's 625). Default 625. */
  candidateNodes?: number;
  /** Deepest level of the candidate tree. Default 12. */
  maxDepth?: number;
  /** Acceptance prior per draw rank (before any data). Default DEFAULT_RANK_PRIOR. */
  rankPrior?: readonly number[];
  /** Pseudo-count of the prior in the acceptance estimates. Default 4. */
  priorWeight?: number;
}

const NAME = "stand";

/** A node's drafting distribution: tokens and probabilities (normalised), best first. */
interface NodeDist {
  tokens: Int32Array;
  probs: Float64Array;
}

export class StandDrafter implements Drafter {
  readonly name = NAME;
  readonly vocabSize: number;
  readonly maxContext: number;
  readonly minContext: number;
  readonly topK: number;
  readonly maxEntries: number;
  readonly temperature: number;
  readonly learnFromRejected: boolean;
  readonly seedFromPrompt: boolean;
  readonly hotStart: boolean;
  readonly adaptive: boolean;
  readonly priorWeight: number;
  readonly template: TreeTemplate;
  /** tables[n]: contexts of n tokens */
  private readonly tables: NgramTable[] = [];
  private readonly prior: readonly number[];
  /** per template node: times drafted while its parent was accepted, times accepted */
  private readonly drafted: Float64Array;
  private readonly acceptedCount: Float64Array;
  private order: Int32Array;
  private orderStale = false;
  /** the last proposal: tree node → template node */
  private lastSlots: Int32Array = new Int32Array(0);
  // scratch
  private readonly oIdx: Int32Array;
  private readonly oProb: Float64Array;
  private readonly mTok: Int32Array;
  private readonly mW: Float64Array;

  constructor(options: StandOptions) {
    this.vocabSize = vocabOption(NAME, options);
    this.maxContext = intOption(NAME, "maxContext", options.maxContext, 3, 1, 16);
    this.minContext = intOption(NAME, "minContext", options.minContext, 1, 1, this.maxContext);
    this.topK = intOption(NAME, "topK", options.topK, 10, 1, 256);
    this.maxEntries = intOption(NAME, "maxEntries", options.maxEntries, 32768, 1, 1 << 24);
    this.temperature = numberOption(NAME, "temperature", options.temperature, 1, 0, 1e6, true);
    this.learnFromRejected = boolOption(NAME, "learnFromRejected", options.learnFromRejected, true);
    this.seedFromPrompt = boolOption(NAME, "seedFromPrompt", options.seedFromPrompt, true);
    this.hotStart = boolOption(NAME, "hotStart", options.hotStart, true);
    this.priorWeight = numberOption(NAME, "priorWeight", options.priorWeight, 4, 0, 1e9, true);
    this.prior = priorOption(NAME, "rankPrior", options.rankPrior, DEFAULT_RANK_PRIOR);
    if (options.shape !== undefined) {
      this.adaptive = false;
      this.template = compileTemplate(NAME, options.shape, this.topK, true);
    } else {
      this.adaptive = true;
      const size = intOption(NAME, "candidateNodes", options.candidateNodes, 625, 1, 1 << 16);
      const depth = intOption(NAME, "maxDepth", options.maxDepth, 12, 1, 256);
      this.template = compileTemplate(NAME, buildTemplate(size, this.prior, this.topK, depth), this.topK, true);
    }
    for (let n = 0; n <= this.maxContext; n++) this.tables.push(new NgramTable(this.topK, n >= this.minContext ? this.maxEntries : 1));
    this.drafted = new Float64Array(this.template.size);
    this.acceptedCount = new Float64Array(this.template.size);
    this.order = this.computeOrder();
    this.oIdx = new Int32Array(this.topK);
    this.oProb = new Float64Array(this.topK);
    this.mTok = new Int32Array(2 * this.topK);
    this.mW = new Float64Array(2 * this.topK);
  }

  begin(promptIds: readonly number[]): void {
    if (!this.hotStart) {
      for (const t of this.tables) t.clear();
      this.drafted.fill(0);
      this.acceptedCount.fill(0);
      this.orderStale = true;
    }
    if (!this.seedFromPrompt) return;
    const V = this.vocabSize;
    for (let i = 1; i < promptIds.length; i++) {
      const next = promptIds[i];
      if (!Number.isInteger(next) || next < 0 || next >= V) continue;
      this.oIdx[0] = next;
      this.oProb[0] = 1;
      this.store(promptIds, i, 1);
    }
  }

  propose(ctx: DraftContext): DraftTree {
    const budget = Math.max(0, Math.floor(ctx.budget));
    const tree = new TreeBuilder(this.vocabSize, budget);
    const L = ctx.tokens.length;
    const slots: number[] = [];
    const dists: (NodeDist | null)[] = [];
    if (budget > 0 && L > 0) {
      if (this.orderStale) {
        this.order = this.computeOrder();
        this.orderStale = false;
      }
      const t = this.template;
      const sampling = ctx.sampling;
      const nodeOf = new Int32Array(t.size).fill(-1);
      // draws per tree node (index + 1; 0 is the pending token), made when first needed
      const draws: (Int32Array | null | undefined)[] = [];
      const suffix = new Int32Array(this.maxContext);
      const drawsFor = (node: number, wanted: number): Int32Array | null => {
        let d = draws[node + 1];
        if (d !== undefined) return d;
        const n = this.contextOf(ctx.tokens, tree, node, suffix);
        const dist = this.lookup(suffix, n);
        dists[node + 1] = dist;
        d = dist ? (sampling ? gumbelTopK(dist, wanted, ctx.rng) : dist.tokens.subarray(0, Math.min(wanted, dist.tokens.length))) : null;
        draws[node + 1] = d;
        return d;
      };
      for (let o = 0; o < this.order.length && !tree.full; o++) {
        const i = this.order[o];
        const p = t.parent[i];
        const parentNode = p >= 0 ? nodeOf[p] : -1;
        if (p >= 0 && parentNode < 0) continue;
        const d = drawsFor(parentNode, p >= 0 ? t.childCount[p] : t.rootChildren);
        if (!d || t.rank[i] >= d.length) continue;
        const added = tree.add(parentNode, d[t.rank[i]]);
        if (added < 0) continue;
        nodeOf[i] = added;
        slots[added] = i;
      }
      if (sampling && tree.size > 0) {
        this.lastSlots = Int32Array.from(slots);
        const cache = new Map<number, Float32Array>();
        const V = this.vocabSize;
        const childDist = (node: number): Float32Array => {
          let q = cache.get(node);
          if (q) return q;
          q = new Float32Array(V);
          const dist = dists[node + 1];
          if (dist) for (let j = 0; j < dist.tokens.length; j++) q[dist.tokens[j]] = dist.probs[j];
          else q.fill(1 / V); // no children were drawn below this node
          cache.set(node, q);
          return q;
        };
        return tree.build("without-replacement", childDist);
      }
    }
    this.lastSlots = Int32Array.from(slots);
    return tree.build();
  }

  observe(step: VerifiedStep): void {
    const V = this.vocabSize;
    const { context, tree, logits, acceptedNodes } = step;
    if (step.vocabSize !== V || context.length === 0) return;
    this.learnShape(step);
    const rows = Math.min(tree.tokens.length + 1, Math.floor(logits.length / V));
    const learn = new Uint8Array(rows);
    learn[0] = 1;
    for (const a of acceptedNodes) if (a + 1 < rows) learn[a + 1] = 1;
    if (this.learnFromRejected) learn.fill(1);
    const suffix = new Int32Array(this.maxContext + 1);
    for (let r = 0; r < rows; r++) {
      if (!learn[r]) continue;
      const n = softmaxTopK(logits, r * V, V, this.topK, this.temperature, this.oIdx, this.oProb);
      if (n === 0) continue;
      // the row's context: the verified text up to node r - 1
      let len = 0;
      for (let node = r - 1; node >= 0 && len < this.maxContext; node = tree.parents[node]) suffix[this.maxContext - 1 - len++] = tree.tokens[node];
      for (let i = context.length - 1; i >= 0 && len < this.maxContext; i--) suffix[this.maxContext - 1 - len++] = context[i];
      this.storeSuffix(suffix.subarray(this.maxContext - len, this.maxContext), n);
    }
  }

  /** Bytes held by the n-gram store and the shape statistics. */
  memoryBytes(): number {
    let b = 0;
    for (const t of this.tables) b += t.memoryBytes();
    return b + this.template.size * (4 * 6 + 8 * 2 + 4);
  }

  /** The most memoryBytes() can reach with these options. */
  memoryBound(): number {
    let b = 0;
    for (let n = 0; n <= this.maxContext; n++) b += NgramTable.boundBytes(this.topK, n >= this.minContext ? this.maxEntries : 1);
    return b + this.template.size * (4 * 6 + 8 * 2 + 4);
  }

  /** Contexts stored per length (index = tokens of context). */
  storedContexts(): number[] {
    return this.tables.map((t) => t.size);
  }

  /** The stored distribution after `context` (its longest stored suffix), best first: for tests and inspection. */
  distribution(context: readonly number[]): { token: number; p: number }[] {
    const n = Math.min(this.maxContext, context.length);
    const d = this.lookup(Int32Array.from(context.slice(context.length - n)), n);
    return d ? Array.from(d.tokens, (t, j) => ({ token: t, p: d.probs[j] })) : [];
  }

  /** The template nodes (rank paths) the current shape uses first, best first. */
  shapePaths(count: number): number[][] {
    if (this.orderStale) {
      this.order = this.computeOrder();
      this.orderStale = false;
    }
    const t = this.template;
    const out: number[][] = [];
    for (let o = 0; o < Math.min(count, this.order.length); o++) {
      const path: number[] = [];
      for (let i = this.order[o]; i >= 0; i = t.parent[i]) path.unshift(t.rank[i]);
      out.push(path);
    }
    return out;
  }

  /** The last maxContext tokens of ctx.tokens + the path to `node`, right-aligned in `out`; returns their count. */
  private contextOf(tokens: readonly number[], tree: TreeBuilder, node: number, out: Int32Array): number {
    const m = this.maxContext;
    let len = 0;
    for (let i = node; i >= 0 && len < m; i = tree.parents[i]) out[m - 1 - len++] = tree.tokens[i];
    for (let i = tokens.length - 1; i >= 0 && len < m; i--) out[m - 1 - len++] = tokens[i];
    // move to the front
    if (len < m) out.copyWithin(0, m - len, m);
    return len;
  }

  /** The distribution of the longest stored suffix of ctx[0 .. n), normalised, or null. */
  private lookup(ctx: Int32Array, n: number): NodeDist | null {
    for (let k = Math.min(n, this.maxContext); k >= this.minContext; k--) {
      const table = this.tables[k];
      const slot = table.find(ngramKey(ctx, n, k, this.vocabSize));
      if (slot < 0 || table.lens[slot] === 0) continue;
      const len = table.lens[slot];
      const base = slot * table.slotSize;
      let sum = 0;
      for (let j = 0; j < len; j++) sum += table.weights[base + j];
      if (!(sum > 0)) continue;
      const tokens = new Int32Array(len);
      const probs = new Float64Array(len);
      for (let j = 0; j < len; j++) {
        tokens[j] = table.tokens[base + j];
        probs[j] = table.weights[base + j] / sum;
      }
      return { tokens, probs };
    }
    return null;
  }

  /** Stores the observation in oIdx/oProb[0 .. n) for the context tokens[0 .. end). */
  private store(tokens: ArrayLike<number>, end: number, n: number): void {
    for (let k = this.minContext; k <= Math.min(this.maxContext, end); k++) this.merge(this.tables[k], ngramKey(tokens, end, k, this.vocabSize), n);
  }

  private storeSuffix(suffix: Int32Array, n: number): void {
    this.store(suffix, suffix.length, n);
  }

  /** p ← c/(c+1)·p + 1/(c+1)·q, cut to the top topK (kept sorted best first). */
  private merge(table: NgramTable, key: number | string, n: number): void {
    const slot = table.slot(key);
    const c = table.counts[slot];
    const keep = c / (c + 1);
    const add = 1 / (c + 1);
    const base = slot * table.slotSize;
    const len = table.lens[slot];
    let m = 0;
    for (let j = 0; j < len; j++) {
      this.mTok[m] = table.tokens[base + j];
      this.mW[m++] = keep * table.weights[base + j];
    }
    for (let j = 0; j < n; j++) {
      const t = this.oIdx[j];
      let found = -1;
      for (let x = 0; x < len; x++)
        if (this.mTok[x] === t) {
          found = x;
          break;
        }
      if (found >= 0) this.mW[found] += add * this.oProb[j];
      else {
        this.mTok[m] = t;
        this.mW[m++] = add * this.oProb[j];
      }
    }
    // insertion sort by weight (ties: lower token id), keep the top topK
    for (let j = 1; j < m; j++) {
      const t = this.mTok[j];
      const w = this.mW[j];
      let x = j;
      while (x > 0 && (this.mW[x - 1] < w || (this.mW[x - 1] === w && this.mTok[x - 1] > t))) {
        this.mTok[x] = this.mTok[x - 1];
        this.mW[x] = this.mW[x - 1];
        x--;
      }
      this.mTok[x] = t;
      this.mW[x] = w;
    }
    const out = Math.min(m, table.slotSize);
    for (let j = 0; j < out; j++) {
      table.tokens[base + j] = this.mTok[j];
      table.weights[base + j] = this.mW[j];
    }
    table.lens[slot] = out;
    table.counts[slot] = c + 1;
  }

  /** Acceptance statistics of the last proposal's template nodes. */
  private learnShape(step: VerifiedStep): void {
    if (!this.adaptive) return;
    const slots = this.lastSlots;
    const { tree, acceptedNodes } = step;
    if (slots.length !== tree.tokens.length) return; // not our last proposal
    const accepted = new Uint8Array(tree.tokens.length);
    for (const a of acceptedNodes) accepted[a] = 1;
    for (let i = 0; i < tree.tokens.length; i++) {
      const p = tree.parents[i];
      if (p >= 0 && !accepted[p]) continue; // never tested: its parent was rejected
      this.drafted[slots[i]]++;
      if (accepted[i]) this.acceptedCount[slots[i]]++;
    }
    this.orderStale = true;
  }

  private computeOrder(): Int32Array {
    const t = this.template;
    const est = new Float64Array(t.size);
    const a = this.priorWeight;
    for (let i = 0; i < t.size; i++) {
      const parent = t.parent[i] >= 0 ? est[t.parent[i]] : 1;
      est[i] = (parent * (this.acceptedCount[i] + a * rankPrior(this.prior, t.rank[i]))) / (this.drafted[i] + a);
    }
    return priorityOrder(t, est, true);
  }
}

/** `wanted` draws without replacement from `dist` (Gumbel-Top-K): the largest log p + Gumbel keys, in order. */
export function gumbelTopK(dist: NodeDist, wanted: number, rng: Rng): Int32Array {
  const n = dist.tokens.length;
  const keys = new Float64Array(n);
  const idx: number[] = [];
  for (let j = 0; j < n; j++) {
    if (!(dist.probs[j] > 0)) continue;
    const u = Math.min(Math.max(rng(), 2 ** -40), 1 - 2 ** -40);
    keys[j] = Math.log(dist.probs[j]) - Math.log(-Math.log(u));
    idx.push(j);
  }
  idx.sort((x, y) => keys[y] - keys[x] || x - y);
  const out = new Int32Array(Math.min(wanted, idx.length));
  for (let j = 0; j < out.length; j++) out[j] = dist.tokens[idx[j]];
  return out;
}
