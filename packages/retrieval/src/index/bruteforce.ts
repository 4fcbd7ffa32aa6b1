/**
 * Brute-force scorers, the reference the indexes are tested and benchmarked against: every
 * live document is scored, with the same impacts, arithmetic and tie rule as the indexes.
 * Documents are held flat (one array of terms, one of impacts) so that a million of them fit.
 */
import { OutOfRangeError } from "@edgespec/runtime";
import { denseDot } from "./dense-index";
import { DuplicateDocumentError } from "./errors";
import { ImpactEncoder } from "./impacts";
import { TopK } from "./topk";
import type { SearchResult, SparseVector } from "./types";

class Grow<T extends Uint16Array | Uint32Array | Float32Array> {
  arr: T;
  len = 0;

  constructor(private readonly make: (n: number) => T) {
    this.arr = make(1024);
  }

  reserve(extra: number): void {
    if (this.len + extra <= this.arr.length) return;
    const next = this.make(Math.max(this.len + extra, this.arr.length * 2));
    next.set(this.arr.subarray(0, this.len) as never);
    this.arr = next;
  }
}

export class BruteForceSparse {
  private readonly enc: ImpactEncoder;
  private readonly terms: Grow<Uint16Array | Uint32Array>;
  private readonly imps = new Grow((n) => new Uint16Array(n));
  private readonly start = new Grow((n) => new Uint32Array(n));
  private readonly ids = new Grow((n) => new Uint32Array(n));
  private readonly dead = new Set<number>();
  private readonly rows = new Map<number, number>();

  constructor(readonly vocab: number) {
    this.enc = new ImpactEncoder(vocab);
    this.terms = vocab <= 65536 ? new Grow((n) => new Uint16Array(n)) : new Grow((n) => new Uint32Array(n));
    this.start.reserve(1);
    this.start.arr[0] = 0;
    this.start.len = 1;
  }

  get size(): number {
    return this.rows.size;
  }

  add(docId: number, vec: SparseVector): void {
    if (this.rows.has(docId)) throw new DuplicateDocumentError(docId);
    const n = this.enc.check(vec, `document ${docId}`);
    this.terms.reserve(n);
    this.imps.reserve(n);
    const at = this.terms.len;
    const scratchT = new Uint32Array(n);
    const scratchI = new Uint16Array(n);
    const m = this.enc.encode(vec, scratchT, scratchI, 0);
    this.terms.arr.set(scratchT.subarray(0, m), at);
    this.imps.arr.set(scratchI.subarray(0, m), at);
    this.terms.len += m;
    this.imps.len += m;
    this.rows.set(docId, this.ids.len);
    this.ids.reserve(1);
    this.ids.arr[this.ids.len++] = docId;
    this.start.reserve(1);
    this.start.arr[this.start.len++] = this.terms.len;
  }

  delete(docId: number): boolean {
    const r = this.rows.get(docId);
    if (r === undefined) return false;
    this.rows.delete(docId);
    this.dead.add(r);
    return true;
  }

  /** Integer impact scores of every row (0 for deleted rows). */
  private scoreAll(query: SparseVector): Float64Array {
    const q = this.enc.impacts(query, "query");
    const qw = new Uint32Array(this.vocab);
    for (let i = 0; i < q.terms.length; i++) qw[q.terms[i]] = q.impacts[i];
    const terms = this.terms.arr;
    const imps = this.imps.arr;
    const start = this.start.arr;
    const n = this.ids.len;
    const out = new Float64Array(n);
    for (let r = 0; r < n; r++) {
      let s = 0;
      for (let j = start[r], e = start[r + 1]; j < e; j++) s += qw[terms[j]] * imps[j];
      out[r] = s;
    }
    for (const r of this.dead) out[r] = 0;
    return out;
  }

  search(query: SparseVector, k: number): SearchResult {
    if (!Number.isInteger(k) || k < 1) throw new OutOfRangeError(`k must be an integer >= 1, got ${k}`);
    const scores = this.scoreAll(query);
    const top = new TopK(k);
    const ids = this.ids.arr;
    for (let r = 0; r < scores.length; r++) if (scores[r] > 0 && scores[r] >= top.threshold) top.offer(scores[r], ids[r]);
    return top.result();
  }

  /** The score of one document (undefined when absent). */
  score(query: SparseVector, docId: number): number | undefined {
    const r = this.rows.get(docId);
    return r === undefined ? undefined : this.scoreAll(query)[r];
  }

  /** Scores of all live documents by id. */
  scoresById(query: SparseVector): Map<number, number> {
    const s = this.scoreAll(query);
    const out = new Map<number, number>();
    for (const [id, r] of this.rows) out.set(id, s[r]);
    return out;
  }
}

export class BruteForceDense {
  private readonly rows = new Map<number, Float32Array>();

  constructor(readonly dim: number) {}

  add(docId: number, vec: ArrayLike<number>): void {
    if (this.rows.has(docId)) throw new DuplicateDocumentError(docId);
    this.rows.set(docId, Float32Array.from(vec));
  }

  delete(docId: number): boolean {
    return this.rows.delete(docId);
  }

  scoresById(query: ArrayLike<number>): Map<number, number> {
    const q = Float32Array.from(query);
    const out = new Map<number, number>();
    for (const [id, v] of this.rows) out.set(id, denseDot(q, v));
    return out;
  }

  search(query: ArrayLike<number>, k: number): SearchResult {
    const top = new TopK(k);
    for (const [id, s] of this.scoresById(query)) top.offer(s, id);
    return top.result();
  }
}
