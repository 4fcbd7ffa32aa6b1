/**
 * The k best (score, index) pairs of a row, best first; ties go to the lower index so
 * searches are deterministic. One pass with a small sorted buffer: O(n) while k is small
 * next to the vocabulary, which is how beams use it.
 */
export function topIndices(scores: ArrayLike<number>, k: number): number[] {
  const idx: number[] = [];
  const val: number[] = [];
  for (let i = 0; i < scores.length; i++) {
    const v = scores[i];
    if (Number.isNaN(v) || v === Number.NEGATIVE_INFINITY) continue;
    if (idx.length === k && v <= val[k - 1]) continue;
    if (idx.length < k) {
      idx.push(i);
      val.push(v);
    }
    // the last slot is free (new or the worst, dropped); shift worse entries down into it.
    // Equal values keep the earlier (lower) index first.
    let j = idx.length - 1;
    while (j > 0 && val[j - 1] < v) {
      val[j] = val[j - 1];
      idx[j] = idx[j - 1];
      j--;
    }
    val[j] = v;
    idx[j] = i;
  }
  return idx;
}
