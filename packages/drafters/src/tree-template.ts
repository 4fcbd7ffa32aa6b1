/**
 * Static tree templates: a tree of child ranks ("the j-th candidate of my parent") that a
 * drafter fills with tokens. A template node is written as its path from the root, e.g.
 * [0, 1] = the second candidate after the first candidate of the root (the pending token).
 *
 * A template is cut to the engine's node budget by priority: every node gets a score no
 * larger than its parent's (and, for sampled drafts, its previous sibling's), and the
 * `budget` best nodes form a subtree listed parents first.
 */
import { DecodingOptionsError } from "@edgespec/decoding";
import { MinHeap } from "@edgespec/models";

export type TemplatePath = readonly number[];

/**
 * Token Recycling's static tree, version "2.2.2" (Luo et al. 2024, appendix; the
 * authors' model/recycling/tree_template_.py): 80 nodes in 6 levels, earlier candidates
 * with more children and deeper subtrees.
 */
// biome-ignore format: one template level per line
export const TOKEN_RECYCLING_TREE: readonly TemplatePath[] = [
  [0], [1], [2], [3], [4], [5], [6], [7],
  [0, 0], [0, 1], [0, 2], [0, 3], [0, 4], [0, 5], [0, 6], [0, 7], [1, 0], [1, 1], [1, 2], [1, 3], [2, 0], [2, 1], [2, 2], [3, 0], [3, 1], [4, 0], [5, 0], [6, 0], [7, 0],
  [0, 0, 0], [0, 0, 1], [0, 0, 2], [0, 0, 3], [0, 0, 4], [0, 0, 5], [0, 0, 6], [0, 0, 7], [0, 1, 0], [0, 1, 1], [0, 1, 2], [0, 2, 0], [0, 2, 1], [0, 3, 0], [0, 4, 0],
  [0, 5, 0], [0, 6, 0], [0, 7, 0], [1, 0, 0], [1, 0, 1], [1, 1, 0], [2, 0, 0], [3, 0, 0], [4, 0, 0], [5, 0, 0],
  [0, 0, 0, 0], [0, 0, 0, 1], [0, 0, 0, 2], [0, 0, 0, 3], [0, 0, 0, 4], [0, 0, 1, 0], [0, 0, 1, 1], [0, 0, 2, 0], [0, 0, 3, 0], [0, 0, 4, 0], [0, 1, 0, 0], [0, 2, 0, 0],
  [1, 0, 0, 0], [2, 0, 0, 0], [3, 0, 0, 0],
  [0, 0, 0, 0, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 2], [0, 0, 0, 1, 0], [0, 0, 0, 2, 0], [0, 0, 1, 0, 0], [0, 1, 0, 0, 0], [1, 0, 0, 0, 0],
  [0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 1], [0, 0, 0, 1, 0, 0],
];

/**
 * How likely the candidate of each rank is to be the target's next token, given that its
 * parent was: the default prior that orders template nodes for truncation (rank 0, the
 * argmax candidate, dominates; later ranks fall off quickly). Ranks past the end use the
 * last value.
 */
export const DEFAULT_RANK_PRIOR: readonly number[] = [0.6, 0.12, 0.06, 0.04, 0.03, 0.02, 0.015, 0.01, 0.008, 0.006];

export function rankPrior(prior: readonly number[], rank: number): number {
  return prior[Math.min(rank, prior.length - 1)];
}

/** A template in canonical order: by depth, then parent, then rank (parents and previous siblings first). */
export interface TreeTemplate {
  readonly size: number;
  /** template index of the parent; -1 for children of the root */
  readonly parent: Int32Array;
  readonly rank: Int32Array;
  /** 1 for children of the root */
  readonly depth: Int32Array;
  /** template index of the sibling with rank - 1, or -1 */
  readonly prevSibling: Int32Array;
  /** children per node (the root's count is rootChildren) */
  readonly childCount: Int32Array;
  readonly rootChildren: number;
  readonly maxDepth: number;
}

/**
 * Checks and compiles template paths: every path non-empty, ranks integers in [0,
 * maxRank), no path twice, every path's parent (the path without its last rank) present.
 * With `rankClosed`, a rank r > 0 also needs rank r - 1 under the same parent (sampled
 * drafts are the first draws of their parent).
 */
export function compileTemplate(drafter: string, paths: readonly TemplatePath[], maxRank: number, rankClosed = false): TreeTemplate {
  if (!Array.isArray(paths)) throw new DecodingOptionsError(`${drafter}: the tree template must be an array of rank paths`);
  const byKey = new Map<string, number>();
  for (let i = 0; i < paths.length; i++) {
    const p = paths[i];
    if (!Array.isArray(p) || p.length === 0) throw new DecodingOptionsError(`${drafter}: template path ${i} must be a non-empty array of ranks`);
    for (const r of p)
      if (!Number.isInteger(r) || r < 0 || r >= maxRank)
        throw new DecodingOptionsError(`${drafter}: template path ${i} [${p.join(",")}] has rank ${r} outside [0, ${maxRank})`);
    const key = p.join(",");
    if (byKey.has(key)) throw new DecodingOptionsError(`${drafter}: template path [${key}] is listed twice`);
    byKey.set(key, i);
  }
  for (let i = 0; i < paths.length; i++) {
    const p = paths[i];
    if (p.length > 1 && !byKey.has(p.slice(0, -1).join(",")))
      throw new DecodingOptionsError(`${drafter}: template path [${p.join(",")}] has no parent [${p.slice(0, -1).join(",")}] in the template`);
    const last = p[p.length - 1];
    if (rankClosed && last > 0 && !byKey.has([...p.slice(0, -1), last - 1].join(",")))
      throw new DecodingOptionsError(
        `${drafter}: template path [${p.join(",")}] needs its previous sibling [${[...p.slice(0, -1), last - 1].join(",")}] (sampled drafts are drawn in order)`,
      );
  }
  // canonical order: breadth first, children by rank
  const children = new Map<string, TemplatePath[]>();
  for (const p of paths) {
    const key = p.slice(0, -1).join(",");
    let list = children.get(key);
    if (!list) children.set(key, (list = []));
    list.push(p);
  }
  for (const list of children.values()) list.sort((a, b) => a[a.length - 1] - b[b.length - 1]);
  const order: TemplatePath[] = [];
  const queue: string[] = [""];
  for (let q = 0; q < queue.length; q++) {
    for (const c of children.get(queue[q]) ?? []) {
      order.push(c);
      queue.push(c.join(","));
    }
  }
  const n = order.length;
  const index = new Map<string, number>(order.map((p, i) => [p.join(","), i]));
  const parent = new Int32Array(n);
  const rank = new Int32Array(n);
  const depth = new Int32Array(n);
  const prevSibling = new Int32Array(n);
  const childCount = new Int32Array(n);
  let rootChildren = 0;
  let maxDepth = 0;
  for (let i = 0; i < n; i++) {
    const p = order[i];
    const r = p[p.length - 1];
    parent[i] = p.length > 1 ? index.get(p.slice(0, -1).join(","))! : -1;
    rank[i] = r;
    depth[i] = p.length;
    maxDepth = Math.max(maxDepth, p.length);
    prevSibling[i] = r > 0 ? (index.get([...p.slice(0, -1), r - 1].join(",")) ?? -1) : -1;
    if (parent[i] >= 0) childCount[parent[i]]++;
    else rootChildren++;
  }
  return { size: n, parent, rank, depth, prevSibling, childCount, rootChildren, maxDepth };
}

/**
 * A template of `size` nodes grown best first by the product of rank priors along each
 * path (at most `maxChildren` children per node, `maxDepth` levels): a node's first child
 * and its next sibling become candidates once it is taken, so the result is closed under
 * parents and previous siblings. Used for STAND's candidate tree.
 */
export function buildTemplate(size: number, prior: readonly number[], maxChildren: number, maxDepth: number): TemplatePath[] {
  interface Cand {
    path: number[];
    score: number;
    seq: number;
  }
  const out: TemplatePath[] = [];
  let seq = 0;
  const heap = new MinHeap<Cand>(
    (a, b) => a.score > b.score || (a.score === b.score && (a.path.length < b.path.length || (a.path.length === b.path.length && a.seq < b.seq))),
  );
  const push = (c: Cand) => heap.push(c);
  const pop = () => heap.pop() as Cand;
  push({ path: [0], score: rankPrior(prior, 0), seq: seq++ });
  while (out.length < size && heap.size > 0) {
    const c = pop();
    out.push(c.path);
    const parentScore = c.score / rankPrior(prior, c.path[c.path.length - 1]);
    const r = c.path[c.path.length - 1];
    if (r + 1 < maxChildren) push({ path: [...c.path.slice(0, -1), r + 1], score: parentScore * rankPrior(prior, r + 1), seq: seq++ });
    if (c.path.length < maxDepth) push({ path: [...c.path, 0], score: c.score * rankPrior(prior, 0), seq: seq++ });
  }
  return out;
}

/**
 * Template indices best first by `score`, each node's effective score capped by its
 * parent's (and its previous sibling's when `siblingClosed`), ties in template order: any
 * prefix of the result is a subtree listed parents first (and previous siblings first).
 */
export function priorityOrder(t: TreeTemplate, score: ArrayLike<number>, siblingClosed: boolean): Int32Array {
  const eff = new Float64Array(t.size);
  for (let i = 0; i < t.size; i++) {
    let e = score[i];
    if (t.parent[i] >= 0) e = Math.min(e, eff[t.parent[i]]);
    if (siblingClosed && t.prevSibling[i] >= 0) e = Math.min(e, eff[t.prevSibling[i]]);
    eff[i] = e;
  }
  const idx = Array.from({ length: t.size }, (_, i) => i);
  idx.sort((a, b) => eff[b] - eff[a] || a - b);
  return Int32Array.from(idx);
}

/** Prior-product scores of a template's nodes (parents before children in canonical order). */
export function priorScores(t: TreeTemplate, prior: readonly number[]): Float64Array {
  const s = new Float64Array(t.size);
  for (let i = 0; i < t.size; i++) s[i] = (t.parent[i] >= 0 ? s[t.parent[i]] : 1) * rankPrior(prior, t.rank[i]);
  return s;
}
