/**
 * Tokens in the order of sampling without replacement from softmax(logp): each token gets the
 * key logp + Gumbel noise and they come out by decreasing key (the Gumbel-top-k trick). A
 * binary heap hands them out lazily, so n draws cost O(V + n log V) and the next token after
 * an accepted one (the second draw AWRS needs) is just the next in line.
 */
import type { Rng } from "../rng";

export class GumbelOrder {
  private readonly keys: Float64Array;
  private readonly heap: Int32Array;
  private size = 0;

  /** `include(i)` false, or logp[i] = -Infinity: token i never comes out. */
  constructor(logp: Float64Array, include: (i: number) => boolean, rng: Rng) {
    const n = logp.length;
    this.keys = new Float64Array(n);
    this.heap = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      if (!include(i) || logp[i] === Number.NEGATIVE_INFINITY) continue;
      // u in (0, 1): a 0 from the generator would give an infinite key
      const u = rng() || 2 ** -33;
      this.keys[i] = logp[i] - Math.log(-Math.log(u));
      this.heap[this.size++] = i;
    }
    for (let i = (this.size >> 1) - 1; i >= 0; i--) this.down(i);
  }

  /** The next token, or -1 when none is left. */
  next(): number {
    if (this.size === 0) return -1;
    const top = this.heap[0];
    this.heap[0] = this.heap[--this.size];
    this.down(0);
    return top;
  }

  /** The token next() would give, without taking it; -1 when none is left. */
  peek(): number {
    return this.size === 0 ? -1 : this.heap[0];
  }

  private down(i: number): void {
    const { heap, keys } = this;
    const item = heap[i];
    for (;;) {
      let child = 2 * i + 1;
      if (child >= this.size) break;
      if (child + 1 < this.size && keys[heap[child + 1]] > keys[heap[child]]) child++;
      if (keys[heap[child]] <= keys[item]) break;
      heap[i] = heap[child];
      i = child;
    }
    heap[i] = item;
  }
}
