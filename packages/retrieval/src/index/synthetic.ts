/**
 * Seeded synthetic sparse collections with the shape of learned sparse (SPLADE-like) data,
 * for tests and benchmarks: term ids Zipfian over the vocabulary (rank -> id shuffled, so
 * frequent terms are not the low ids), about 120 distinct terms per document, positive
 * log-normal weights scaled down for frequent terms (SPLADE gives stopword-like tokens small
 * weights). Queries are drawn the same way with 5-20 terms.
 * `levels` replaces the weights by a few small values, so that many scores tie.
 */
import { splitmix32 } from "@edgespec/runtime";
import type { SparseVector } from "./types";

export interface SyntheticOptions {
  seed: number;
  vocab?: number;
  /** Zipf exponent of term ranks (default 1.05) */
  exponent?: number;
  /** distinct terms per document, drawn uniformly from [min, max] (default [90, 150]) */
  docTerms?: [number, number];
  /** distinct terms per query (default [5, 20]) */
  queryTerms?: [number, number];
  /** log-normal sigma of weights (default 0.6) */
  sigma?: number;
  /** weights from {0.01, ..., levels / 100} instead: many exact ties */
  levels?: number;
}

export class SyntheticSparse {
  readonly vocab: number;
  private readonly rand: () => number;
  private readonly prob: Float64Array;
  private readonly alias: Uint32Array;
  private readonly rankToId: Uint32Array;
  private readonly idScale: Float64Array;
  private readonly stamp: Uint32Array;
  private gen = 0;

  constructor(private readonly opts: SyntheticOptions) {
    const vocab = opts.vocab ?? 30522;
    this.vocab = vocab;
    this.rand = splitmix32(opts.seed);
    const s = opts.exponent ?? 1.05;
    const w = Float64Array.from({ length: vocab }, (_, r) => (r + 1) ** -s);
    [this.prob, this.alias] = aliasTable(w);
    this.rankToId = Uint32Array.from({ length: vocab }, (_, i) => i);
    for (let i = vocab - 1; i > 0; i--) {
      const j = Math.floor(this.rand() * (i + 1));
      [this.rankToId[i], this.rankToId[j]] = [this.rankToId[j], this.rankToId[i]];
    }
    // frequent ranks get 0.3x, the rarest 1x: an IDF-like scale
    this.idScale = new Float64Array(vocab);
    for (let r = 0; r < vocab; r++) this.idScale[this.rankToId[r]] = 0.3 + (0.7 * Math.log(r + 1)) / Math.log(vocab);
    this.stamp = new Uint32Array(vocab);
  }

  private gauss(): number {
    const u = 1 - this.rand();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.rand());
  }

  private term(): number {
    const i = Math.floor(this.rand() * this.vocab);
    return this.rankToId[this.rand() < this.prob[i] ? i : this.alias[i]];
  }

  private vector([lo, hi]: [number, number]): SparseVector {
    const n = Math.min(this.vocab, lo + Math.floor(this.rand() * (hi - lo + 1)));
    const ids = new Int32Array(n);
    const weights = new Float32Array(n);
    const g = ++this.gen;
    const sigma = this.opts.sigma ?? 0.6;
    for (let i = 0; i < n; i++) {
      let t = this.term();
      while (this.stamp[t] === g) t = this.term();
      this.stamp[t] = g;
      ids[i] = t;
      const levels = this.opts.levels;
      weights[i] = levels ? (1 + Math.floor(this.rand() * levels)) / 100 : Math.exp(sigma * this.gauss()) * this.idScale[t];
    }
    return { ids, weights };
  }

  doc(): SparseVector {
    return this.vector(this.opts.docTerms ?? [90, 150]);
  }

  query(): SparseVector {
    return this.vector(this.opts.queryTerms ?? [5, 20]);
  }
}

/** Vose's alias method: O(1) draws from a discrete distribution. */
function aliasTable(w: Float64Array): [Float64Array, Uint32Array] {
  const n = w.length;
  const sum = w.reduce((a, b) => a + b, 0);
  const p = Float64Array.from(w, (x) => (x * n) / sum);
  const alias = new Uint32Array(n);
  const small: number[] = [];
  const large: number[] = [];
  for (let i = 0; i < n; i++) (p[i] < 1 ? small : large).push(i);
  while (small.length && large.length) {
    const s = small.pop()!;
    const l = large.pop()!;
    alias[s] = l;
    p[l] = p[l] + p[s] - 1;
    (p[l] < 1 ? small : large).push(l);
  }
  for (const i of [...small, ...large]) p[i] = 1;
  return [p, alias];
}
