/**
 * Token Recycling (Luo et al. 2024, "Turning Trash into Treasure: Accelerating Inference
 * of Large Language Models with Token Recycling", arXiv 2408.08696).
 *
 * An adjacency matrix M ∈ V^{|V|×k} holds, for every token, the top-k candidate tokens the
 * target produced the last time that token was verified (k = 8; 32000 × 8 ids in a
 * Uint16Array are 512 KB, in an Int32Array 1 MB, under the paper's 2 MB).
 *
 *  - draft: a BFS over a static tree template from the pending token: the template node
 *    [.., j] holds M[token of its parent][j] (the paper's "2.2.2" tree, 80 nodes); the
 *    template is cut to the engine's budget by a rank prior, nodes whose slot is empty are
 *    skipped with their subtrees.
 *  - update: after verification, every verified row refreshes its token's row,
 *    M[x̃_i] = argtopk(p̃_{i+1}) (paper §3.3) — the pending token from row 0, tree node i
 *    from row i + 1. Rows on the accepted path are written last, so when a token occurs
 *    twice its verified context wins (the paper found last-occurrence updates best, §5.2).
 *    An accepted transition a → b whose b is missing from M[a] (sampling) replaces M[a]'s
 *    last candidate.
 *  - hot start (§3.1): the matrix is kept across generations; with seedFromPrompt, begin()
 *    also fills empty slots from the prompt's bigrams (an extension: the paper starts from
 *    zeros).
 */
import type { DraftContext, Drafter, DraftTree, VerifiedStep } from "@edgespec/decoding";
import { topKRow } from "./topk";
import { TreeBuilder } from "./tree-builder";
import { compileTemplate, DEFAULT_RANK_PRIOR, priorityOrder, priorScores, type TemplatePath, TOKEN_RECYCLING_TREE, type TreeTemplate } from "./tree-template";
import { boolOption, intOption, priorOption, vocabOption } from "./validate";

export interface TokenRecyclingOptions {
  /** The target's vocabulary size. */
  vocabSize: number;
  /** Candidates kept per token (the paper's k). Default 8. */
  k?: number;
  /** The static tree: rank paths (see tree-template.ts). Default: the paper's 80-node "2.2.2" tree (its ranks below k). */
  template?: readonly TemplatePath[];
  /**
   * Acceptance prior per candidate rank, used to cut the template to the budget (a node's
   * priority is the product along its path). Default DEFAULT_RANK_PRIOR.
   */
  rankPrior?: readonly number[];
  /** Keep the matrix across generations (the paper's hot start). Default true. */
  hotStart?: boolean;
  /** Fill empty matrix slots from the prompt's bigrams in begin(). Default true. */
  seedFromPrompt?: boolean;
}

const NAME = "token-recycling";
const EMPTY16 = 0xffff;

export class TokenRecyclingDrafter implements Drafter {
  readonly name = NAME;
  readonly vocabSize: number;
  readonly k: number;
  readonly hotStart: boolean;
  readonly seedFromPrompt: boolean;
  readonly template: TreeTemplate;
  /** template indices best first: any prefix is a subtree */
  private readonly order: Int32Array;
  /** M, row-major [vocab, k]; `empty` marks a free slot */
  private readonly adj: Uint16Array | Int32Array;
  private readonly empty: number;
  private readonly topIdx: Int32Array;
  private readonly topVal: Float64Array;

  constructor(options: TokenRecyclingOptions) {
    this.vocabSize = vocabOption(NAME, options);
    this.k = intOption(NAME, "k", options.k, 8, 1, 64);
    this.hotStart = boolOption(NAME, "hotStart", options.hotStart, true);
    this.seedFromPrompt = boolOption(NAME, "seedFromPrompt", options.seedFromPrompt, true);
    const prior = priorOption(NAME, "rankPrior", options.rankPrior, DEFAULT_RANK_PRIOR);
    // the paper's tree uses ranks 0..7; with a smaller k its nodes past rank k - 1 drop out
    const paths = options.template ?? TOKEN_RECYCLING_TREE.filter((p) => p.every((r) => r < this.k));
    this.template = compileTemplate(NAME, paths, this.k);
    this.order = priorityOrder(this.template, priorScores(this.template, prior), false);
    const cells = this.vocabSize * this.k;
    if (this.vocabSize < EMPTY16) {
      this.adj = new Uint16Array(cells).fill(EMPTY16);
      this.empty = EMPTY16;
    } else {
      this.adj = new Int32Array(cells).fill(-1);
      this.empty = -1;
    }
    this.topIdx = new Int32Array(this.k);
    this.topVal = new Float64Array(this.k);
  }

  begin(promptIds: readonly number[]): void {
    if (!this.hotStart) this.adj.fill(this.empty);
    if (!this.seedFromPrompt) return;
    for (let i = 0; i + 1 < promptIds.length; i++) {
      const a = promptIds[i];
      const b = promptIds[i + 1];
      if (!this.inVocab(a) || !this.inVocab(b)) continue;
      const base = a * this.k;
      for (let j = 0; j < this.k; j++) {
        const c = this.adj[base + j];
        if (c === b) break;
        if (c === this.empty) {
          this.adj[base + j] = b;
          break;
        }
      }
    }
  }

  propose(ctx: DraftContext): DraftTree {
    const budget = Math.max(0, Math.floor(ctx.budget));
    const tree = new TreeBuilder(this.vocabSize, budget);
    const root = ctx.tokens[ctx.tokens.length - 1];
    if (budget === 0 || !this.inVocab(root)) return tree.build();
    const t = this.template;
    const node = new Int32Array(t.size).fill(-1); // template index → tree node
    for (let o = 0; o < this.order.length && !tree.full; o++) {
      const i = this.order[o];
      const p = t.parent[i];
      let parentNode = -1;
      let parentToken = root;
      if (p >= 0) {
        parentNode = node[p];
        if (parentNode < 0) continue; // parent skipped: so is its subtree
        parentToken = tree.tokens[parentNode];
      }
      const cand = this.adj[parentToken * this.k + t.rank[i]];
      if (cand === this.empty) continue;
      node[i] = tree.add(parentNode, cand);
    }
    return tree.build();
  }

  observe(step: VerifiedStep): void {
    const V = this.vocabSize;
    const { context, tree, logits, acceptedNodes } = step;
    if (context.length === 0 || step.vocabSize !== V) return;
    const rows = Math.min(tree.tokens.length + 1, Math.floor(logits.length / V));
    const onPath = new Uint8Array(rows);
    onPath[0] = 1;
    for (const a of acceptedNodes) if (a + 1 < rows) onPath[a + 1] = 1;
    const tokenBefore = (row: number) => (row === 0 ? context[context.length - 1] : tree.tokens[row - 1]);
    // rejected rows first, then the accepted path (root first): the verified context wins
    for (let r = 1; r < rows; r++) if (!onPath[r]) this.refresh(tokenBefore(r), logits, r * V);
    this.refresh(tokenBefore(0), logits, 0);
    for (const a of acceptedNodes) if (a + 1 < rows) this.refresh(tokenBefore(a + 1), logits, (a + 1) * V);
    // the accepted text itself: a → b must be a candidate of a
    let prev = context[context.length - 1];
    for (const a of acceptedNodes) {
      const tok = tree.tokens[a];
      this.ensure(prev, tok);
      prev = tok;
    }
    this.ensure(prev, step.bonus);
  }

  /** Bytes held by the matrix and the drafter's scratch. */
  memoryBytes(): number {
    return this.adj.byteLength + this.order.byteLength + this.topIdx.byteLength + this.topVal.byteLength + this.template.size * 24;
  }

  /** M[token] (candidates best first, free slots left out): for tests and inspection. */
  candidates(token: number): number[] {
    const out: number[] = [];
    if (!this.inVocab(token)) return out;
    for (let j = 0; j < this.k; j++) {
      const c = this.adj[token * this.k + j];
      if (c !== this.empty) out.push(c);
    }
    return out;
  }

  private refresh(token: number, logits: Float32Array, offset: number): void {
    if (!this.inVocab(token)) return;
    const n = topKRow(logits, offset, this.vocabSize, this.k, this.topIdx, this.topVal);
    const base = token * this.k;
    for (let j = 0; j < this.k; j++) this.adj[base + j] = j < n ? this.topIdx[j] : this.empty;
  }

  private ensure(a: number, b: number): void {
    if (!this.inVocab(a) || !this.inVocab(b)) return;
    const base = a * this.k;
    for (let j = 0; j < this.k; j++) {
      const c = this.adj[base + j];
      if (c === b) return;
      if (c === this.empty) {
        this.adj[base + j] = b;
        return;
      }
    }
    this.adj[base + this.k - 1] = b;
  }

  private inVocab(t: number): boolean {
    return Number.isInteger(t) && t >= 0 && t < this.vocabSize;
  }
}
