/**
 * Top-k in TypeScript with the indexes' order (score descending, lower id first), for the
 * brute-force scorers and hybrid fusion.
 */
import type { SearchResult } from "./types";

export class TopK {
  private readonly s: Float64Array;
  private readonly d: Float64Array;
  private n = 0;

  constructor(readonly k: number) {
    this.s = new Float64Array(k);
    this.d = new Float64Array(k);
  }

  /** a ranks below b */
  private static worse(sa: number, ia: number, sb: number, ib: number): boolean {
    return sa < sb || (sa === sb && ia > ib);
  }

  /** The lowest score still able to enter (ties then go by id); -Infinity while not full. */
  get threshold(): number {
    return this.n < this.k ? Number.NEGATIVE_INFINITY : this.s[0];
  }

  offer(score: number, id: number): void {
    const { s, d } = this;
    if (this.n < this.k) {
      let i = this.n++;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!TopK.worse(score, id, s[p], d[p])) break;
        s[i] = s[p];
        d[i] = d[p];
        i = p;
      }
      s[i] = score;
      d[i] = id;
      return;
    }
    if (!TopK.worse(s[0], d[0], score, id)) return;
    this.siftDown(score, id, this.n);
  }

  private siftDown(score: number, id: number, n: number): void {
    const { s, d } = this;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const c = l + 1 < n && TopK.worse(s[l + 1], d[l + 1], s[l], d[l]) ? l + 1 : l;
      if (!TopK.worse(s[c], d[c], score, id)) break;
      s[i] = s[c];
      d[i] = d[c];
      i = c;
    }
    s[i] = score;
    d[i] = id;
  }

  /** The entries, best first (empties the collector). */
  result(): SearchResult {
    const n = this.n;
    const ids = new Uint32Array(n);
    const scores = new Float64Array(n);
    for (let m = n - 1; m >= 0; m--) {
      ids[m] = this.d[0];
      scores[m] = this.s[0];
      if (m > 0) this.siftDown(this.s[m], this.d[m], m);
    }
    this.n = 0;
    return { ids, scores };
  }
}
