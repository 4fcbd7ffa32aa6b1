/**
 * Top-k of one logits row inside a [rows, vocab] buffer, without copying the row: one pass
 * with a small sorted buffer (k is small next to the vocabulary). NaN and -Infinity never
 * enter; equal values keep the lower index first, so results are deterministic.
 */

/**
 * Writes the indices of the k largest values of `row[offset .. offset + n)` into `outIdx`
 * (best first, indices relative to the row) and their values into `outVal`. Returns how
 * many were found (fewer than k when the row has fewer finite entries).
 */
export function topKRow(row: ArrayLike<number>, offset: number, n: number, k: number, outIdx: Int32Array, outVal: Float64Array): number {
  let count = 0;
  for (let i = 0; i < n; i++) {
    const v = row[offset + i];
    if (!(v > Number.NEGATIVE_INFINITY)) continue; // NaN and -Infinity
    if (count === k && v <= outVal[k - 1]) continue;
    if (count < k) count++;
    // the last slot is free (new, or the worst one, dropped): shift worse entries down
    let j = count - 1;
    while (j > 0 && outVal[j - 1] < v) {
      outVal[j] = outVal[j - 1];
      outIdx[j] = outIdx[j - 1];
      j--;
    }
    outVal[j] = v;
    outIdx[j] = i;
  }
  return count;
}

/**
 * The k most probable tokens of softmax(row / temperature) and their probabilities (under
 * the full softmax, so they sum to at most 1). Returns how many were found.
 */
export function softmaxTopK(
  row: ArrayLike<number>,
  offset: number,
  n: number,
  k: number,
  temperature: number,
  outIdx: Int32Array,
  outProb: Float64Array,
): number {
  const count = topKRow(row, offset, n, k, outIdx, outProb);
  if (count === 0) return 0;
  const inv = 1 / temperature;
  const max = outProb[0] * inv;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    // terms below e^-40 (relative to the largest) change no float64 sum of a vocabulary: skip their exp
    const d = row[offset + i] * inv - max;
    if (d > -40) sum += Math.exp(d);
  }
  if (!(sum > 0) || !Number.isFinite(sum)) {
    // +Infinity logits: the row is degenerate; keep its argmax only
    outProb[0] = 1;
    return 1;
  }
  for (let j = 0; j < count; j++) outProb[j] = Math.exp(outProb[j] * inv - max) / sum;
  return count;
}

/**
 * The k largest entries of a row with their softmax probabilities among those k only (one
 * pass, no exp over the vocabulary): a cheap weight for "how strongly the target ranks
 * these candidates". Returns how many were found.
 */
export function topKShares(row: ArrayLike<number>, offset: number, n: number, k: number, outIdx: Int32Array, outProb: Float64Array): number {
  const count = topKRow(row, offset, n, k, outIdx, outProb);
  if (count === 0) return 0;
  const max = outProb[0];
  if (!Number.isFinite(max)) {
    outProb[0] = 1;
    return 1;
  }
  let sum = 0;
  for (let j = 0; j < count; j++) sum += outProb[j] = Math.exp(outProb[j] - max);
  for (let j = 0; j < count; j++) outProb[j] /= sum;
  return count;
}
