/**
 * Hybrid sparse + dense search, exact for a weighted sum of the two scores:
 *
 *   score = wDense * (dense dot product) + wSparse * (sparse impact score * 10^-4)
 *
 * With both weights 1 this is the dot product of the concatenated [dense ‖ sparse] vectors
 * that DupMAE ranks by (the sparse part on the quantized weights). A weighted sum rather
 * than a normalized convex combination because it is a fixed function of each document, so
 * the top-k over the whole collection is well defined and checkable against brute force.
 *
 * How it stays exact (Fagin's threshold rule): take the top k' of each index, re-score the
 * union exactly on both sides, and rank it. A document in neither list scores at most
 * wDense * (k'-th dense score) + wSparse * (k'-th sparse score, or 0 when the sparse list
 * ran out); IEEE rounding is monotone, so that bound holds in floating point too. When the
 * k-th best of the union beats the bound strictly (a tie could go to an unseen lower id),
 * the answer is final; otherwise k' grows fourfold, up to every document.
 */
import { OutOfRangeError, ShapeError, type WasmSource } from "@edgespec/runtime";
import { DenseIndex, type DenseVector } from "./dense-index";
import { IndexFormatError } from "./errors";
import { readContainer, requireSection, writeContainer } from "./format";
import { checkK, SPARSE_SCORE_SCALE } from "./impacts";
import { SparseIndex } from "./sparse-index";
import { TopK } from "./topk";
import type { SearchResult, SparseVector } from "./types";

export interface HybridWeights {
  /** weight of the sparse impact score (scaled by 10^-4); default 1 */
  sparse?: number;
  /** weight of the dense dot product; default 1 */
  dense?: number;
}

export interface HybridQuery {
  sparse: SparseVector;
  dense: DenseVector;
}

export interface HybridSearchOptions {
  weights?: HybridWeights;
  /** first k' per side (default max(4k, 100)) */
  candidates?: number;
}

export interface HybridResult extends SearchResult {
  /** rounds of candidate widening it took */
  rounds: number;
}

/** The fused score; the brute force and the index both call this, so they agree exactly. */
export function fuseScore(dense: number, sparse: number, weights: HybridWeights = {}): number {
  return (weights.dense ?? 1) * dense + (weights.sparse ?? 1) * (sparse * SPARSE_SCORE_SCALE);
}

function checkWeights(w: HybridWeights): void {
  for (const [name, v] of Object.entries(w)) {
    if (v !== undefined && (typeof v !== "number" || !Number.isFinite(v) || v < 0))
      throw new OutOfRangeError(`hybrid weight ${name} must be finite and >= 0, got ${v}`);
  }
}

/** Exact top-k of the fused score over documents held by both indexes (see above). */
export function hybridSearch(sparse: SparseIndex, dense: DenseIndex, query: HybridQuery, k: number, opts: HybridSearchOptions = {}): HybridResult {
  checkK(k);
  const weights = opts.weights ?? {};
  checkWeights(weights);
  let kk = Math.max(k, opts.candidates ?? Math.max(4 * k, 100));
  if (!Number.isInteger(kk) || kk < 1) throw new OutOfRangeError(`candidates must be an integer >= 1, got ${opts.candidates}`);
  const total = dense.size;
  for (let rounds = 1; ; rounds++) {
    const s = sparse.search(query.sparse, kk);
    const d = dense.search(query.dense, kk);
    const union = Array.from(new Set([...d.ids, ...s.ids]));
    const ss = sparse.scoreDocs(query.sparse, union);
    const ds = dense.scoreDocs(query.dense, union);
    const top = new TopK(k);
    for (let i = 0; i < union.length; i++) {
      if (Number.isNaN(ss[i]) || Number.isNaN(ds[i])) {
        throw new ShapeError(`hybrid: document ${union[i]} is in the ${Number.isNaN(ss[i]) ? "dense" : "sparse"} index only; add every document to both`);
      }
      top.offer(fuseScore(ds[i], ss[i], weights), union[i]);
    }
    const res = top.result();
    // a dense list shorter than asked holds every document: nothing is unseen
    const everything = d.ids.length < kk || d.ids.length >= total;
    if (everything) return { ...res, rounds };
    const bound = fuseScore(d.scores[kk - 1], s.ids.length < kk ? 0 : s.scores[kk - 1], weights);
    if (res.ids.length === k && res.scores[k - 1] > bound) return { ...res, rounds };
    kk *= 4;
  }
}

/** A sparse and a dense index over the same documents. */
export class HybridIndex {
  private constructor(
    readonly sparse: SparseIndex,
    readonly dense: DenseIndex,
  ) {}

  static async create(opts: { vocab?: number; dim: number; wasm?: WasmSource }): Promise<HybridIndex> {
    return new HybridIndex(await SparseIndex.create(opts), await DenseIndex.create(opts));
  }

  get size(): number {
    return this.sparse.size;
  }

  add(docId: number, doc: HybridQuery): void {
    this.addBatch([doc], [docId]);
  }

  /** Add documents to both sides (all or none); ids as for SparseIndex.addBatch. */
  addBatch(docs: HybridQuery[], docIds?: ArrayLike<number>): Uint32Array {
    const ids = this.sparse.addBatch(
      docs.map((d) => d.sparse),
      docIds,
    );
    try {
      this.dense.addBatch(
        docs.map((d) => d.dense),
        ids,
      );
    } catch (e) {
      for (const id of ids) this.sparse.delete(id);
      throw e;
    }
    return ids;
  }

  delete(docId: number): boolean {
    const a = this.sparse.delete(docId);
    const b = this.dense.delete(docId);
    return a || b;
  }

  search(query: HybridQuery, k: number, opts: HybridSearchOptions = {}): HybridResult {
    return hybridSearch(this.sparse, this.dense, query, k, opts);
  }

  /** One file holding the two indexes' files as sections SPRS and DENS. */
  save(): Uint8Array {
    return writeContainer("HYBR", [
      { tag: "SPRS", bytes: this.sparse.save() },
      { tag: "DENS", bytes: this.dense.save() },
    ]);
  }

  static async load(bytes: Uint8Array, opts: { wasm?: WasmSource } = {}): Promise<HybridIndex> {
    const what = "hybrid index file";
    const sections = readContainer(bytes, "HYBR");
    const idx = new HybridIndex(
      await SparseIndex.load(requireSection(sections, "SPRS", undefined, what), opts),
      await DenseIndex.load(requireSection(sections, "DENS", undefined, what), opts),
    );
    if (idx.sparse.size !== idx.dense.size) throw new IndexFormatError("layout", `${what}: ${idx.sparse.size} sparse but ${idx.dense.size} dense documents`);
    return idx;
  }
}
