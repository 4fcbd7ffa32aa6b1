/**
 * Recursive Speculative Decoding trees (Jeon et al. 2024, "Recursive Speculative Decoding:
 * Accelerating LLM Inference via Sampling Without Replacement").
 *
 * The draft model's tokens at a node are drawn *without replacement*, so siblings are
 * always distinct and the tree covers more of the distribution than i.i.d. draws. Two
 * constructions:
 *
 *  - "gumbel-top-k" (RSD-C, constant branching): every node at depth d gets branching[d]
 *    children, drawn without replacement from the draft distribution at that node (the
 *    Gumbel-Top-k trick: the top k of log q + Gumbel noise; drawn here one at a time from
 *    the renormalised rest, which is the same distribution).
 *  - "stochastic-beam" (RSD-S): Kool et al.'s Stochastic Beam Search over draft sequences.
 *    Each beam's extensions get the perturbed score log q(sequence) + Gumbel, conditioned
 *    (truncated) on the parent's perturbed score; the best beamWidth over all beams survive.
 *    Unlikely sequences are cut early, so the tree spends its budget where the draft model
 *    puts its mass. Every surviving node is kept in the tree.
 *
 * Both are verified with the RSD rule (mode "without-replacement"): children are tried in
 * order; child x_i is accepted with min(1, p(x_i) / q_i(x_i)), q_i = q without the earlier
 * siblings, renormalised, and otherwise p becomes norm(max(p − q_i, 0)). For RSD-S the
 * siblings under a parent are listed in descending perturbed score, which is their
 * without-replacement draw order; how many of them survive depends only on scores, never
 * on which token the next one is, so the same rule stays exact.
 *
 * When the target is greedy, both become deterministic: the top-k tokens per node (RSD-C)
 * or plain beam search by draft log-probability (RSD-S).
 */
import { DecodingOptionsError, type DraftContext, type DraftTree, type Rng } from "@edgespec/decoding";
import { checkInt, DraftModelBase, type DraftModelOptions, drawWithoutReplacement, topK } from "./draft-model";

export type RsdMethod = "gumbel-top-k" | "stochastic-beam";

export interface RsdOptions extends DraftModelOptions {
  /** default "gumbel-top-k" */
  method?: RsdMethod;
  /** gumbel-top-k: children per node at each depth (default [2, 2, 1, 1, 1, 1, 1, 1]); its length is the depth */
  branching?: readonly number[];
  /** stochastic-beam: sequences kept per level (default 4) */
  beamWidth?: number;
  /** stochastic-beam: levels (default 6) */
  maxDepth?: number;
}

const EMPTY: DraftTree = { tokens: [], parents: [], mode: "deterministic" };

export class RsdDrafter extends DraftModelBase {
  readonly method: RsdMethod;
  readonly branching: readonly number[];
  readonly beamWidth: number;
  readonly maxDepth: number;

  constructor(opts: RsdOptions) {
    const method = opts.method ?? "gumbel-top-k";
    super(opts, method === "stochastic-beam" ? "rsd-s" : "rsd-c");
    if (method !== "gumbel-top-k" && method !== "stochastic-beam")
      throw new DecodingOptionsError(`${this.name}: method must be "gumbel-top-k" or "stochastic-beam", got ${JSON.stringify(opts.method)}`);
    this.method = method;
    const branching = opts.branching ?? [2, 2, 1, 1, 1, 1, 1, 1];
    if (!Array.isArray(branching) || branching.length === 0 || branching.length > 1024)
      throw new DecodingOptionsError(`${this.name}: branching must be a non-empty array of children per depth`);
    for (const b of branching) checkInt(this.name, "every branching factor", b, 1);
    this.branching = [...branching];
    this.beamWidth = checkInt(this.name, "beamWidth", opts.beamWidth, 4);
    this.maxDepth = checkInt(this.name, "maxDepth", opts.maxDepth, 6);
  }

  propose(ctx: DraftContext): DraftTree {
    const depth = this.method === "gumbel-top-k" ? this.branching.length : this.maxDepth;
    const r = this.runner;
    if (ctx.budget <= 0 || r.isFreed || !r.fits(ctx.tokens.length, depth)) return EMPTY;
    const rootLogits = r.sync(ctx.tokens);
    return this.method === "gumbel-top-k" ? this.constantBranching(ctx, rootLogits) : this.stochasticBeam(ctx, rootLogits);
  }

  /** RSD-C: level by level, branching[d] children per node of depth d, until the budget is spent. */
  private constantBranching(ctx: DraftContext, rootLogits: Float32Array): DraftTree {
    const r = this.runner;
    const tokens: number[] = [];
    const parents: number[] = [];
    const dists = new Map<number, Float32Array>();
    let level = [-1];
    for (let d = 0; d < this.branching.length && level.length > 0 && tokens.length < ctx.budget; d++) {
      const rows = d === 0 ? [rootLogits] : r.evalNodes(tokens, parents, level);
      const next: number[] = [];
      for (let i = 0; i < level.length && tokens.length < ctx.budget; i++) {
        const k = Math.min(this.branching[d], ctx.budget - tokens.length);
        let kids: number[];
        if (ctx.sampling) {
          const q = r.probs(rows[i]);
          kids = drawWithoutReplacement(q, k, ctx.rng);
          if (kids.length) dists.set(level[i], q);
        } else kids = topK(rows[i], k);
        for (const j of kids) {
          next.push(tokens.length);
          tokens.push(r.tokenOf(j));
          parents.push(level[i]);
        }
      }
      level = next;
    }
    return ctx.sampling ? { tokens, parents, mode: "without-replacement", childDist: this.childDistOf(dists) } : { tokens, parents, mode: "deterministic" };
  }

  /**
   * RSD-S: Stochastic Beam Search (Kool et al. 2019). A beam carries its sequence's draft
   * log-probability φ and perturbed score G. Its extensions y get G'_y = φ + log q(y) + Gumbel,
   * shifted so that their maximum equals the parent's G (a Gumbel truncated at G); the
   * beamWidth best of all beams' extensions survive. Greedy: beam search on φ.
   */
  private stochasticBeam(ctx: DraftContext, rootLogits: Float32Array): DraftTree {
    const r = this.runner;
    const W = this.beamWidth;
    const tokens: number[] = [];
    const parents: number[] = [];
    const dists = new Map<number, Float32Array>();
    interface Beam {
      node: number;
      phi: number;
      g: number;
    }
    interface Cand extends Beam {
      parent: number;
      j: number;
    }
    let beams: Beam[] = [{ node: -1, phi: 0, g: 0 }];
    for (let d = 0; d < this.maxDepth && beams.length > 0 && tokens.length < ctx.budget; d++) {
      const rows =
        d === 0
          ? [rootLogits]
          : r.evalNodes(
              tokens,
              parents,
              beams.map((b) => b.node),
            );
      const cands: Cand[] = [];
      beams.forEach((b, i) => {
        const q = r.probs(rows[i]);
        if (ctx.sampling) {
          dists.set(b.node, q);
          for (const c of perturbedChildren(q, b.phi, b.g, W, ctx.rng)) cands.push({ parent: b.node, ...c });
        } else {
          for (const j of topK(q, W)) {
            const phi = b.phi + Math.log(q[j]);
            cands.push({ parent: b.node, j, node: -1, phi, g: phi });
          }
        }
      });
      // best first; within one parent this is the draw order of its children
      cands.sort((a, b) => b.g - a.g);
      const keep = cands.slice(0, Math.min(W, ctx.budget - tokens.length));
      for (const c of keep) {
        c.node = tokens.length;
        tokens.push(r.tokenOf(c.j));
        parents.push(c.parent);
      }
      beams = keep;
    }
    // distributions only of nodes that got children
    const used = new Set(parents);
    for (const n of [...dists.keys()]) if (!used.has(n)) dists.delete(n);
    return ctx.sampling ? { tokens, parents, mode: "without-replacement", childDist: this.childDistOf(dists) } : { tokens, parents, mode: "deterministic" };
  }
}

/** A standard Gumbel draw. */
function gumbel(rng: Rng): number {
  let u = rng();
  if (u <= 0) u = 2 ** -53;
  return -Math.log(-Math.log(u));
}

/**
 * The top `k` extensions of one beam under Stochastic Beam Search: G'_y = φ + log q(y) +
 * Gumbel for every y with q(y) > 0, then each kept G'_y is moved to the Gumbel truncated at
 * the parent's score T (Kool et al., eq. 23, in its numerically stable form):
 * G̃ = −log(e^{−T} − e^{−Z} + e^{−G'}), Z = max_y G'_y.
 */
export function perturbedChildren(q: Float32Array, phi: number, T: number, k: number, rng: Rng): { j: number; node: number; phi: number; g: number }[] {
  const g = new Float64Array(q.length).fill(Number.NEGATIVE_INFINITY);
  let Z = Number.NEGATIVE_INFINITY;
  for (let y = 0; y < q.length; y++) {
    if (!(q[y] > 0)) continue;
    g[y] = phi + Math.log(q[y]) + gumbel(rng);
    if (g[y] > Z) Z = g[y];
  }
  return topK(g, k).map((j) => {
    const v = T - g[j] + Math.log1p(-Math.exp(g[j] - Z));
    const gt = T - Math.max(0, v) - Math.log1p(Math.exp(-Math.abs(v)));
    return { j, node: -1, phi: phi + Math.log(q[j]), g: gt };
  });
}
