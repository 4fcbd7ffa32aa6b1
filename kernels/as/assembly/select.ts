// Greedy and top-k selection over rows of logits. NaN never wins; ties go to the
// lower index, so results are the same on every host.

/** out[r] = index of the largest non-NaN value of row r, or -1 if the row is all NaN. */
export function argmax(x: usize, n: i32, dim: i32, out: usize): void {
  const d4 = dim & ~3;
  for (let r = 0; r < n; r++) {
    const xr = x + <usize>r * (<usize>dim << 2);
    // pass 1: max value, NaN lanes replaced by -Inf
    let mv = f32x4.splat(-Infinity);
    for (let k = 0; k < d4; k += 4) {
      const v = v128.load(xr + (<usize>k << 2));
      mv = f32x4.pmax(mv, v128.bitselect(v, f32x4.splat(-Infinity), f32x4.eq(v, v)));
    }
    let m = max(max(f32x4.extract_lane(mv, 0), f32x4.extract_lane(mv, 1)), max(f32x4.extract_lane(mv, 2), f32x4.extract_lane(mv, 3)));
    for (let k = d4; k < dim; k++) {
      const v = load<f32>(xr + (<usize>k << 2));
      if (v > m) m = v;
    }
    // pass 2: first index holding it
    let idx = -1;
    for (let k = 0; k < dim; k++) {
      if (load<f32>(xr + (<usize>k << 2)) == m) {
        idx = k;
        break;
      }
    }
    store<i32>(out + (<usize>r << 2), idx);
  }
}

@inline
function better(va: f32, ia: i32, vb: f32, ib: i32): bool {
  return va > vb || (va == vb && ia < ib);
}

/**
 * The k best (value desc, index asc) non-NaN entries of each row, sorted.
 * Rows with fewer than k non-NaN values pad with index -1 and value -Inf.
 * Returns nothing; out_idx/out_val are [n, k]. A size-k min-heap keeps the work O(dim).
 */
export function topk(x: usize, n: i32, dim: i32, k: i32, out_idx: usize, out_val: usize): void {
  for (let r = 0; r < n; r++) {
    const xr = x + <usize>r * (<usize>dim << 2);
    const hi = out_idx + <usize>r * (<usize>k << 2);
    const hv = out_val + <usize>r * (<usize>k << 2);
    let size = 0;
    let j = 0;
    while (j < dim) {
      // Once the heap is full, skip 4 values at a time while none beats its minimum.
      // (An equal value never beats it: the minimum has a lower index.)
      if (size == k && j + 4 <= dim) {
        if (!v128.any_true(f32x4.gt(v128.load(xr + (<usize>j << 2)), f32x4.splat(load<f32>(hv))))) {
          j += 4;
          continue;
        }
      }
      const v = load<f32>(xr + (<usize>j << 2));
      if (v == v) {
        if (size < k) {
          // sift up from the new leaf
          let c = size++;
          while (c > 0) {
            const p = (c - 1) >> 1;
            const pv = load<f32>(hv + (<usize>p << 2));
            const pi = load<i32>(hi + (<usize>p << 2));
            if (!better(pv, pi, v, j)) break; // parent already worse than v
            store<f32>(hv + (<usize>c << 2), pv);
            store<i32>(hi + (<usize>c << 2), pi);
            c = p;
          }
          store<f32>(hv + (<usize>c << 2), v);
          store<i32>(hi + (<usize>c << 2), j);
        } else if (better(v, j, load<f32>(hv), load<i32>(hi))) {
          sift_down(hv, hi, size, v, j);
        }
      }
      j++;
    }
    // heap-sort: repeatedly move the worst to the end -> best first
    for (let end = size - 1; end > 0; end--) {
      const wv = load<f32>(hv);
      const wi = load<i32>(hi);
      const lv = load<f32>(hv + (<usize>end << 2));
      const li = load<i32>(hi + (<usize>end << 2));
      store<f32>(hv + (<usize>end << 2), wv);
      store<i32>(hi + (<usize>end << 2), wi);
      sift_down(hv, hi, end, lv, li);
    }
    for (let j = size; j < k; j++) {
      store<f32>(hv + (<usize>j << 2), -Infinity);
      store<i32>(hi + (<usize>j << 2), -1);
    }
  }
}

/** Place (v, i) at the root of a min-heap (worst on top) of the given size and sift it down. */
@inline
function sift_down(hv: usize, hi: usize, size: i32, v: f32, i: i32): void {
  let c = 0;
  while (true) {
    const l = 2 * c + 1;
    if (l >= size) break;
    let w = l;
    let wv = load<f32>(hv + (<usize>l << 2));
    let wi = load<i32>(hi + (<usize>l << 2));
    const rr = l + 1;
    if (rr < size) {
      const rv = load<f32>(hv + (<usize>rr << 2));
      const ri = load<i32>(hi + (<usize>rr << 2));
      if (better(wv, wi, rv, ri)) {
        w = rr;
        wv = rv;
        wi = ri;
      }
    }
    if (!better(v, i, wv, wi)) break; // v is worse than (or equal to) the worse child: stop
    store<f32>(hv + (<usize>c << 2), wv);
    store<i32>(hi + (<usize>c << 2), wi);
    c = w;
  }
  store<f32>(hv + (<usize>c << 2), v);
  store<i32>(hi + (<usize>c << 2), i);
}
