/**
 * A bounded n-gram store: context key → one slot of at most `slotSize` (token, weight)
 * pairs, in flat typed arrays. At most `maxEntries` contexts are kept; when the table is
 * full the least recently updated context is evicted and its slot reused, so memory is
 * bounded by construction (the arrays grow by doubling up to maxEntries slots).
 */

/** Map and key bookkeeping per stored context, estimated (V8: hash entry + boxed key). */
const ENTRY_OVERHEAD_BYTES = 64;

export type NgramKey = number | string;

/**
 * The key of tokens[end - n .. end): a number while vocab^n stays an exact double, else a
 * string. Keys of different n may collide; keep one table per n.
 */
export function ngramKey(tokens: ArrayLike<number>, end: number, n: number, vocab: number): NgramKey {
  if (vocab ** n <= Number.MAX_SAFE_INTEGER) {
    let k = 0;
    for (let i = end - n; i < end; i++) k = k * vocab + tokens[i];
    return k;
  }
  let s = "";
  for (let i = end - n; i < end; i++) s += (i > end - n ? "," : "") + tokens[i];
  return s;
}

export class NgramTable {
  /** successors per context */
  readonly slotSize: number;
  readonly maxEntries: number;
  /** successor tokens, slotSize per slot */
  tokens: Int32Array;
  /** successor weights (probabilities, counts), slotSize per slot */
  weights: Float32Array;
  /** successors in use per slot */
  lens: Int32Array;
  /** observations merged into each slot */
  counts: Float32Array;
  private readonly map = new Map<NgramKey, number>();
  private capacity: number;

  constructor(slotSize: number, maxEntries: number) {
    this.slotSize = slotSize;
    this.maxEntries = maxEntries;
    this.capacity = Math.min(maxEntries, 256);
    this.tokens = new Int32Array(this.capacity * slotSize);
    this.weights = new Float32Array(this.capacity * slotSize);
    this.lens = new Int32Array(this.capacity);
    this.counts = new Float32Array(this.capacity);
  }

  get size(): number {
    return this.map.size;
  }

  /** The slot of `key`, or -1. */
  find(key: NgramKey): number {
    return this.map.get(key) ?? -1;
  }

  /** The slot of `key`, created empty (evicting the least recently updated context when full); marks it most recently updated. */
  slot(key: NgramKey): number {
    const found = this.map.get(key);
    if (found !== undefined) {
      this.map.delete(key);
      this.map.set(key, found);
      return found;
    }
    let s: number;
    if (this.map.size < this.capacity) s = this.map.size;
    else if (this.capacity < this.maxEntries) {
      this.grow();
      s = this.map.size;
    } else {
      const oldest = this.map.keys().next().value as NgramKey;
      s = this.map.get(oldest)!;
      this.map.delete(oldest);
    }
    this.map.set(key, s);
    this.lens[s] = 0;
    this.counts[s] = 0;
    return s;
  }

  clear(): void {
    this.map.clear();
  }

  /** Bytes held: the typed arrays plus an estimate of the key map. */
  memoryBytes(): number {
    return this.tokens.byteLength + this.weights.byteLength + this.lens.byteLength + this.counts.byteLength + this.capacity * ENTRY_OVERHEAD_BYTES;
  }

  /** The most this table can ever hold, in memoryBytes() terms. */
  static boundBytes(slotSize: number, maxEntries: number): number {
    return maxEntries * (slotSize * 8 + 8 + ENTRY_OVERHEAD_BYTES);
  }

  /**
   * Adds `delta` to `token`'s weight in `slot` (capped at `cap`); a new token takes a free
   * place, or replaces the lightest successor when the slot is full (the newest evidence
   * always enters).
   */
  addWeight(slot: number, token: number, delta: number, cap: number): void {
    const base = slot * this.slotSize;
    const len = this.lens[slot];
    let min = 0;
    for (let j = 0; j < len; j++) {
      if (this.tokens[base + j] === token) {
        this.weights[base + j] = Math.min(cap, this.weights[base + j] + delta);
        return;
      }
      if (this.weights[base + j] < this.weights[base + min]) min = j;
    }
    const j = len < this.slotSize ? len : min;
    if (len < this.slotSize) this.lens[slot] = len + 1;
    this.tokens[base + j] = token;
    this.weights[base + j] = Math.min(cap, delta);
  }

  private grow(): void {
    const cap = Math.min(this.maxEntries, this.capacity * 2);
    const t = new Int32Array(cap * this.slotSize);
    t.set(this.tokens);
    const w = new Float32Array(cap * this.slotSize);
    w.set(this.weights);
    const l = new Int32Array(cap);
    l.set(this.lens);
    const c = new Float32Array(cap);
    c.set(this.counts);
    this.tokens = t;
    this.weights = w;
    this.lens = l;
    this.counts = c;
    this.capacity = cap;
  }
}
