/**
 * DySpec (Xiong et al. 2024, "DySpec: Faster Speculative Decoding with Dynamic Token Tree
 * Structure"): the draft tree is grown greedily, one node at a time, where the draft model
 * expects acceptance to be most likely, until the budget is spent.
 *
 * The paper's premise is that the draft probability tracks the acceptance rate, so the
 * chance that a node is reached and accepted is estimated by the product of draft
 * probabilities along its path. A max-heap holds candidate expansions keyed by that value;
 * each pop adds one node and pushes (a) its first child and (b) its parent's next child.
 *
 *  - greedy target ("deterministic"): a parent's children are its draft top-k in order; the
 *    k-th child's key is value(parent) × q(t_k | parent), the cumulative draft probability
 *    of its path.
 *  - sampling target ("without-replacement", the paper's sampling-compatible variant):
 *    children are drawn one at a time from the draft distribution without replacement
 *    (each from the rest, renormalised). The k-th child slot's key is the estimated chance
 *    the verifier reaches it, value(parent) × (1 − q(t_1) − … − q(t_{k−1})): the parent's
 *    value moves to its next sibling slot with the mass not yet drafted. The key is fixed
 *    before the token is drawn, so whether a sibling exists never depends on which token it
 *    is, and the RSD rule verifies the tree exactly. A drawn node's value is
 *    value(parent) × q(t), as in the greedy case.
 *
 * A node's draft distribution is computed only when its first child is about to be
 * expanded (its key value(node) bounds every descendant's), several such nodes per draft
 * forward (`evalBatch`), with the draft model's verify over the nodes and their ancestors.
 */
import { DecodingOptionsError, type DraftContext, type DraftTree } from "@edgespec/decoding";
import { MinHeap } from "@edgespec/models";
import { checkInt, DraftModelBase, type DraftModelOptions, drawFrom, topK } from "./draft-model";

export interface DySpecOptions extends DraftModelOptions {
  /** deepest node (default 8) */
  maxDepth?: number;
  /** stop growing once the best candidate's value is below this (default 0: grow to the budget) */
  minValue?: number;
  /** most nodes whose draft distribution one draft forward computes (default 4) */
  evalBatch?: number;
}

interface NodeState {
  /** estimated chance it is reached and accepted */
  value: number;
  depth: number;
  /** draft distribution at the node (draft-head rows), once evaluated */
  q: Float32Array | null;
  /** greedy: children order (top-k indices), filled lazily */
  order: number[];
  /** children drawn or listed so far (draft-head rows) */
  taken: Set<number>;
  /** probability mass of the children so far */
  mass: number;
}

interface Entry {
  key: number;
  seq: number;
  node: number;
  /** "eval": the node's distribution is needed (its first child is next); "child": its next child */
  kind: "eval" | "child";
  /** greedy: the head row this child is */
  j: number;
}

export class DySpecDrafter extends DraftModelBase {
  readonly maxDepth: number;
  readonly minValue: number;
  readonly evalBatch: number;

  constructor(opts: DySpecOptions) {
    super(opts, "dyspec");
    this.maxDepth = checkInt(this.name, "maxDepth", opts.maxDepth, 8);
    this.evalBatch = checkInt(this.name, "evalBatch", opts.evalBatch, 4);
    const minValue = opts.minValue ?? 0;
    if (!(minValue >= 0 && minValue < 1)) throw new DecodingOptionsError(`${this.name}: minValue must be in [0, 1), got ${opts.minValue}`);
    this.minValue = minValue;
  }

  propose(ctx: DraftContext): DraftTree {
    const r = this.runner;
    const empty: DraftTree = { tokens: [], parents: [], mode: "deterministic" };
    if (ctx.budget <= 0 || r.isFreed || !r.fits(ctx.tokens.length, this.maxDepth)) return empty;
    const sampling = ctx.sampling;
    const tokens: number[] = [];
    const parents: number[] = [];
    const states = new Map<number, NodeState>();
    const heap = new MinHeap<Entry>((a, b) => a.key > b.key || (a.key === b.key && a.seq < b.seq));
    let seq = 0;
    const state = (value: number, depth: number): NodeState => ({ value, depth, q: null, order: [], taken: new Set(), mass: 0 });

    /** push the next child candidate of an evaluated node */
    const pushChild = (node: number) => {
      const s = states.get(node) as NodeState;
      const q = s.q as Float32Array;
      if (sampling) {
        // the chance the verifier gets this far: the parent accepted, the earlier siblings not
        const rest = 1 - s.mass;
        if (rest > 1e-9 && s.taken.size < q.length) heap.push({ key: s.value * rest, seq: seq++, node, kind: "child", j: -1 });
        return;
      }
      const k = s.taken.size;
      if (s.order.length <= k) s.order = topK(q, Math.min(q.length, Math.max(8, 2 * s.order.length)));
      const j = s.order[k];
      if (j !== undefined && q[j] > 0) heap.push({ key: s.value * q[j], seq: seq++, node, kind: "child", j });
    };
    /** compute the distributions of some nodes waiting for one (the popped one first) */
    const evaluate = (first: Entry) => {
      const batch = [first.node];
      if (this.evalBatch > 1) {
        const waiting = heap.values().filter((e) => e.kind === "eval" && e.node !== first.node && !(states.get(e.node) as NodeState).q);
        waiting.sort((a, b) => b.key - a.key || a.seq - b.seq);
        for (const e of waiting.slice(0, this.evalBatch - 1)) batch.push(e.node);
      }
      const rows = r.evalNodes(tokens, parents, batch);
      batch.forEach((n, i) => {
        (states.get(n) as NodeState).q = r.probs(rows[i]);
      });
    };

    states.set(-1, state(1, 0));
    (states.get(-1) as NodeState).q = r.probs(r.sync(ctx.tokens));
    pushChild(-1);
    while (tokens.length < ctx.budget && heap.size > 0) {
      const e = heap.pop() as Entry;
      if (e.key < this.minValue) break;
      const s = states.get(e.node) as NodeState;
      if (e.kind === "eval") {
        if (!s.q) evaluate(e);
        pushChild(e.node);
        continue;
      }
      const q = s.q as Float32Array;
      let j = e.j;
      if (sampling) {
        j = drawFrom(q, ctx.rng, s.taken);
        if (j < 0) continue;
      }
      s.taken.add(j);
      s.mass += q[j];
      const node = tokens.length;
      tokens.push(r.tokenOf(j));
      parents.push(e.node);
      const child = state(s.value * q[j], s.depth + 1);
      states.set(node, child);
      if (child.depth < this.maxDepth && child.value > 0) heap.push({ key: child.value, seq: seq++, node, kind: "eval", j: -1 });
      pushChild(e.node);
    }
    if (!sampling) return { tokens, parents, mode: "deterministic" };
    const dists = new Map<number, Float32Array>();
    for (const p of new Set(parents)) dists.set(p, (states.get(p) as NodeState).q as Float32Array);
    return { tokens, parents, mode: "without-replacement", childDist: this.childDistOf(dists) };
  }
}
