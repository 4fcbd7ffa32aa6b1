// Scaled dot-product attention of n_q queries over a KV cache.
//
// q, out: [n_q, n_heads, head_dim]. k, v: [n_kv, cap, head_dim], of which the first
// kv_len slots are filled; the queries are the last n_q of them (prefix = kv_len - n_q).
// Heads share KV heads in groups of n_heads / n_kv (GQA/MQA).
// mask_kind 0: every query sees all kv_len slots (encoders).
// mask_kind 1: causal, query i sees slots 0 .. prefix + i.
// mask_kind 2: tree, query i sees the prefix plus tree slot j where mask[i * n_q + j] != 0
//              (the runtime guarantees each node's ancestors and itself are set).
// Only heads [h0, h1) are computed: threads split the heads, each with its own scores.
//
// The heads of one KV group are computed together (up to GROUP_BATCH at a time), so each
// K row and V row is streamed from memory once per step for the whole group instead of once
// per head (SmolLM2-135M: 9 heads over 3 KV heads read the cache a third as often). K rows
// are dotted with two heads' queries per load, V rows are read in L1-sized blocks that every
// head of the batch accumulates from, two heads per load. Each head's own arithmetic stays
// in the order it has alone (the same dot4 sums, softmax and per-lane V sums over t), so the
// output is the same bits whatever the grouping, batch or thread split. A head alone in its
// batch (MHA, or a thread given one head of a group) takes the plain per-head path.
// scores is scratch for min(group, GROUP_BATCH) rows of round_up(kv_len, 4) floats, then
// 16 bytes per head of the batch (the runtime sizes it so).
import { exp4, f16_to_f32, f16x4, hmax, hsum, madd, scale_row } from "./common";

// The cache holds K and V as f32, or as f16 (half the memory and the bytes read per step);
// KV is the element type (f32 or u16 for f16 bits). Every product and sum is f32 either way,
// so the f16 cache changes only the rounding of what is stored.

/** Four cache values from p as f32x4. */
@inline
function kv4<KV>(p: usize): v128 {
  if (sizeof<KV>() == 4) return v128.load(p);
  return f16x4(i32x4.extend_low_i16x8_s(v128.load64_zero(p)));
}

/** One cache value at p as f32. */
@inline
function kv1<KV>(p: usize): f32 {
  if (sizeof<KV>() == 4) return load<f32>(p);
  return f16_to_f32(<u32>load<u16>(p));
}

/** Byte offset of element j of a cache row. */
@inline
function kvo<KV>(j: i32): usize {
  return <usize>j * sizeof<KV>();
}

@inline
function dot<KV>(a: usize, b: usize, d: i32): f32 {
  let acc = f32x4.splat(0);
  let k = 0;
  for (; k + 4 <= d; k += 4) acc = madd(v128.load(a + (<usize>k << 2)), kv4<KV>(b + kvo<KV>(k)), acc);
  let s = hsum(acc);
  for (; k < d; k++) s += load<f32>(a + (<usize>k << 2)) * kv1<KV>(b + kvo<KV>(k));
  return s;
}

/** Four f32x4 partial sums -> one f32x4 holding each one's total. */
@inline
function transpose_sum(s0: v128, s1: v128, s2: v128, s3: v128): v128 {
  const a = f32x4.add(i32x4.shuffle(s0, s1, 0, 4, 1, 5), i32x4.shuffle(s0, s1, 2, 6, 3, 7));
  const c = f32x4.add(i32x4.shuffle(s2, s3, 0, 4, 1, 5), i32x4.shuffle(s2, s3, 2, 6, 3, 7));
  return f32x4.add(i32x4.shuffle(a, c, 0, 1, 4, 5), i32x4.shuffle(a, c, 2, 3, 6, 7));
}

/**
 * q . k[t..t+3] for four consecutive cache rows at once: q is loaded once per four rows and
 * one transpose replaces four horizontal sums.
 */
@inline
function dot4<KV>(q: usize, k0: usize, hs: usize, d: i32, d4: i32): v128 {
  const k1 = k0 + hs;
  const k2 = k1 + hs;
  const k3 = k2 + hs;
  let a0 = f32x4.splat(0);
  let a1 = a0;
  let a2 = a0;
  let a3 = a0;
  for (let j = 0; j < d4; j += 4) {
    const qv = v128.load(q + (<usize>j << 2));
    const o = kvo<KV>(j);
    a0 = madd(qv, kv4<KV>(k0 + o), a0);
    a1 = madd(qv, kv4<KV>(k1 + o), a1);
    a2 = madd(qv, kv4<KV>(k2 + o), a2);
    a3 = madd(qv, kv4<KV>(k3 + o), a3);
  }
  let s = transpose_sum(a0, a1, a2, a3);
  for (let j = d4; j < d; j++) {
    const qj = load<f32>(q + (<usize>j << 2));
    const o = kvo<KV>(j);
    s = f32x4.add(s, f32x4.mul(f32x4.splat(qj), f32x4(kv1<KV>(k0 + o), kv1<KV>(k1 + o), kv1<KV>(k2 + o), kv1<KV>(k3 + o))));
  }
  return s;
}

/**
 * The query block's scores for four cache rows k0.. (t0 .. t0+3) times scale, tree-masked
 * where masked (keep: the lanes the query sees), stored at sp; the running max at mp grows.
 */
@inline
function score4(s4: v128, sc: v128, masked: bool, keep: v128, sp: usize, mp: usize): void {
  let s = f32x4.mul(s4, sc);
  if (masked) s = v128.bitselect(s, f32x4.splat(-Infinity), keep);
  v128.store(sp, s);
  v128.store(mp, f32x4.max(v128.load(mp), s));
}

/**
 * dot4 for two heads' queries qa, qb over the same four cache rows: each row is loaded (and
 * for f16 widened) once for both, and each head's sums are formed exactly as dot4 forms them.
 */
@inline
function score4x2<KV>(
  qa: usize,
  qb: usize,
  k0: usize,
  hs: usize,
  d: i32,
  d4: i32,
  sc: v128,
  masked: bool,
  keep: v128,
  sa: usize,
  sb: usize,
  ma: usize,
  mb: usize,
): void {
  const k1 = k0 + hs;
  const k2 = k1 + hs;
  const k3 = k2 + hs;
  let a0 = f32x4.splat(0);
  let a1 = a0;
  let a2 = a0;
  let a3 = a0;
  let b0 = a0;
  let b1 = a0;
  let b2 = a0;
  let b3 = a0;
  for (let j = 0; j < d4; j += 4) {
    const qva = v128.load(qa + (<usize>j << 2));
    const qvb = v128.load(qb + (<usize>j << 2));
    const o = kvo<KV>(j);
    const r0 = kv4<KV>(k0 + o);
    a0 = madd(qva, r0, a0);
    b0 = madd(qvb, r0, b0);
    const r1 = kv4<KV>(k1 + o);
    a1 = madd(qva, r1, a1);
    b1 = madd(qvb, r1, b1);
    const r2 = kv4<KV>(k2 + o);
    a2 = madd(qva, r2, a2);
    b2 = madd(qvb, r2, b2);
    const r3 = kv4<KV>(k3 + o);
    a3 = madd(qva, r3, a3);
    b3 = madd(qvb, r3, b3);
  }
  let x = transpose_sum(a0, a1, a2, a3);
  let y = transpose_sum(b0, b1, b2, b3);
  for (let j = d4; j < d; j++) {
    const o = kvo<KV>(j);
    const kj = f32x4(kv1<KV>(k0 + o), kv1<KV>(k1 + o), kv1<KV>(k2 + o), kv1<KV>(k3 + o));
    x = f32x4.add(x, f32x4.mul(f32x4.splat(load<f32>(qa + (<usize>j << 2))), kj));
    y = f32x4.add(y, f32x4.mul(f32x4.splat(load<f32>(qb + (<usize>j << 2))), kj));
  }
  score4(x, sc, masked, keep, sa, ma);
  score4(y, sc, masked, keep, sb, mb);
}

/**
 * out[0..32) (+)= sum_{t in [t0, t1)} p[t] * v[t, 0..32): eight accumulators stay in
 * registers across t; they start from zero on the first block (first) and from what the
 * previous block stored otherwise, so a head's sums run over t in one order however the rows
 * are blocked.
 */
@inline
function weighted_sum32<KV>(out: usize, scores: usize, v: usize, hk: usize, t0: i32, t1: i32, first: bool): void {
  let o0 = f32x4.splat(0), o1 = o0, o2 = o0, o3 = o0, o4 = o0, o5 = o0, o6 = o0, o7 = o0;
  if (!first) {
    o0 = v128.load(out);
    o1 = v128.load(out, 16);
    o2 = v128.load(out, 32);
    o3 = v128.load(out, 48);
    o4 = v128.load(out, 64);
    o5 = v128.load(out, 80);
    o6 = v128.load(out, 96);
    o7 = v128.load(out, 112);
  }
  for (let t = t0; t < t1; t++) {
    const p = load<f32>(scores + (<usize>t << 2));
    if (p == 0) continue;
    const pv = f32x4.splat(p);
    const vt = v + <usize>t * hk;
    o0 = madd(pv, kv4<KV>(vt), o0);
    o1 = madd(pv, kv4<KV>(vt + kvo<KV>(4)), o1);
    o2 = madd(pv, kv4<KV>(vt + kvo<KV>(8)), o2);
    o3 = madd(pv, kv4<KV>(vt + kvo<KV>(12)), o3);
    o4 = madd(pv, kv4<KV>(vt + kvo<KV>(16)), o4);
    o5 = madd(pv, kv4<KV>(vt + kvo<KV>(20)), o5);
    o6 = madd(pv, kv4<KV>(vt + kvo<KV>(24)), o6);
    o7 = madd(pv, kv4<KV>(vt + kvo<KV>(28)), o7);
  }
  v128.store(out, o0);
  v128.store(out, o1, 16);
  v128.store(out, o2, 32);
  v128.store(out, o3, 48);
  v128.store(out, o4, 64);
  v128.store(out, o5, 80);
  v128.store(out, o6, 96);
  v128.store(out, o7, 112);
}

/**
 * weighted_sum32's sums for two heads (scores sa, sb; outputs outa, outb) over 16 lanes: each
 * V row is loaded (and for f16 widened) once for both, and each head still skips its zero
 * probabilities, so every lane's sum is the same as alone.
 */
@inline
function weighted_sum16x2<KV>(outa: usize, outb: usize, sa: usize, sb: usize, v: usize, hk: usize, t0: i32, t1: i32, first: bool): void {
  let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
  if (!first) {
    a0 = v128.load(outa);
    a1 = v128.load(outa, 16);
    a2 = v128.load(outa, 32);
    a3 = v128.load(outa, 48);
    b0 = v128.load(outb);
    b1 = v128.load(outb, 16);
    b2 = v128.load(outb, 32);
    b3 = v128.load(outb, 48);
  }
  for (let t = t0; t < t1; t++) {
    const pa = load<f32>(sa + (<usize>t << 2));
    const pb = load<f32>(sb + (<usize>t << 2));
    if (pa == 0 && pb == 0) continue;
    const vt = v + <usize>t * hk;
    const r0 = kv4<KV>(vt);
    const r1 = kv4<KV>(vt + kvo<KV>(4));
    const r2 = kv4<KV>(vt + kvo<KV>(8));
    const r3 = kv4<KV>(vt + kvo<KV>(12));
    if (pa != 0) {
      const pv = f32x4.splat(pa);
      a0 = madd(pv, r0, a0);
      a1 = madd(pv, r1, a1);
      a2 = madd(pv, r2, a2);
      a3 = madd(pv, r3, a3);
    }
    if (pb != 0) {
      const pv = f32x4.splat(pb);
      b0 = madd(pv, r0, b0);
      b1 = madd(pv, r1, b1);
      b2 = madd(pv, r2, b2);
      b3 = madd(pv, r3, b3);
    }
  }
  v128.store(outa, a0);
  v128.store(outa, a1, 16);
  v128.store(outa, a2, 32);
  v128.store(outa, a3, 48);
  v128.store(outb, b0);
  v128.store(outb, b1, 16);
  v128.store(outb, b2, 32);
  v128.store(outb, b3, 48);
}

/** One head's lanes [d0, head_dim) of the V sums over rows [t0, t1): 4 lanes, then 1 at a time. */
@inline
function v_rest<KV>(oi: usize, sg: usize, vb: usize, hk: usize, t0: i32, t1: i32, first: bool, d0: i32, d4: i32, head_dim: i32): void {
  for (let d = d0; d < d4; d += 4) {
    const o = <usize>d << 2;
    let acc4 = first ? f32x4.splat(0) : v128.load(oi + o);
    for (let t = t0; t < t1; t++) {
      const p = load<f32>(sg + (<usize>t << 2));
      if (p == 0) continue;
      acc4 = madd(f32x4.splat(p), kv4<KV>(vb + <usize>t * hk + kvo<KV>(d)), acc4);
    }
    v128.store(oi + o, acc4);
  }
  for (let d = d4; d < head_dim; d++) {
    const o = <usize>d << 2;
    let s: f32 = first ? 0 : load<f32>(oi + o);
    for (let t = t0; t < t1; t++) {
      const p = load<f32>(sg + (<usize>t << 2));
      if (p == 0) continue;
      s += p * kv1<KV>(vb + <usize>t * hk + kvo<KV>(d));
    }
    store<f32>(oi + o, s);
  }
}

/**
 * Most heads of one KV group computed together, which bounds the scratch: larger groups
 * (MQA) go in batches of this many, each streaming the cache once. The runtime's
 * ATTENTION_GROUP_BATCH (packages/runtime/src/wasm/backend.ts) must match.
 */
const GROUP_BATCH = 8;

/** Bytes of V rows a batch works through before moving on, so they are read while in L1. */
const V_BLOCK_BYTES = 16384;

/**
 * Query i over heads [a, a + n) of KV head kh: each K row and V row is read from memory once
 * for all n heads, and every head's arithmetic runs in the order it would alone.
 */
/**
 * One head's scores from row t0 (the rows the four-row loop left) to limit, then its softmax
 * numerators in place: exp(s - m) with m the running max m_in folded with those rows; masked
 * slots are -Inf and give exactly 0. Returns the sum of the numerators.
 */
@inline
function softmax_tail<KV>(
  qi: usize,
  kb: usize,
  hk: usize,
  sg: usize,
  t0: i32,
  limit: i32,
  m_in: f32,
  mask_kind: i32,
  mask: usize,
  i: i32,
  n_q: i32,
  prefix: i32,
  head_dim: i32,
  scale: f32,
): f32 {
  let m = m_in;
  for (let t = t0; t < limit; t++) {
    let s: f32 = -Infinity;
    if (mask_kind != 2 || t < prefix || load<u8>(mask + <usize>(i * n_q + (t - prefix))) != 0) {
      s = dot<KV>(qi, kb + <usize>t * hk, head_dim) * scale;
    }
    store<f32>(sg + (<usize>t << 2), s);
    m = max(m, s);
  }
  const ms = f32x4.splat(m);
  let acc = f32x4.splat(0);
  let t = 0;
  for (; t + 4 <= limit; t += 4) {
    const o = <usize>t << 2;
    const e = exp4(f32x4.sub(v128.load(sg + o), ms));
    v128.store(sg + o, e);
    acc = f32x4.add(acc, e);
  }
  let sum = hsum(acc);
  for (; t < limit; t++) {
    const o = <usize>t << 2;
    const e = f32x4.extract_lane(exp4(f32x4.splat(load<f32>(sg + o) - m)), 0);
    store<f32>(sg + o, e);
    sum += e;
  }
  return sum;
}

function attention_group<KV>(
  q: usize,
  k: usize,
  v: usize,
  out: usize,
  scores: usize,
  st: usize,
  mrow: usize,
  i: i32,
  a: i32,
  n: i32,
  kh: i32,
  n_q: i32,
  n_heads: i32,
  head_dim: i32,
  prefix: i32,
  limit: i32,
  cap: i32,
  mask_kind: i32,
  mask: usize,
  scale: f32,
): void {
  const hs = <usize>head_dim << 2; // q and out rows (f32)
  const hk = <usize>head_dim * sizeof<KV>(); // cache rows
  const d4 = head_dim & ~3;
  const q0 = q + (<usize>(i * n_heads + a)) * hs; // head a + g's query is q0 + g * hs
  const o0 = out + (<usize>(i * n_heads + a)) * hs;
  const kb = k + <usize>kh * <usize>cap * hk;
  const vb = v + <usize>kh * <usize>cap * hk;
  const sc = f32x4.splat(scale);
  const ninf = f32x4.splat(-Infinity);
  for (let g = 0; g < n; g++) v128.store(mrow + (<usize>g << 4), ninf);
  // scores, four cache rows at a time: the rows are loaded once for two heads and stay in L1
  // for the rest of the batch
  let modd = ninf;
  let t0 = 0;
  for (; t0 + 4 <= limit; t0 += 4) {
    const kt = kb + <usize>t0 * hk;
    const masked = mask_kind == 2 && t0 + 3 >= prefix;
    let keep = ninf;
    if (masked) {
      // tree slots the node does not see score -Inf
      const row = mask + <usize>(i * n_q - prefix);
      keep = i32x4(
        t0 < prefix || load<u8>(row + <usize>t0) != 0 ? -1 : 0,
        t0 + 1 < prefix || load<u8>(row + <usize>(t0 + 1)) != 0 ? -1 : 0,
        t0 + 2 < prefix || load<u8>(row + <usize>(t0 + 2)) != 0 ? -1 : 0,
        t0 + 3 < prefix || load<u8>(row + <usize>(t0 + 3)) != 0 ? -1 : 0,
      );
    }
    const so = <usize>t0 << 2;
    let g = 0;
    for (; g + 2 <= n; g += 2) {
      const ug = <usize>g;
      score4x2<KV>(
        q0 + ug * hs,
        q0 + (ug + 1) * hs,
        kt,
        hk,
        head_dim,
        d4,
        sc,
        masked,
        keep,
        scores + ug * st + so,
        scores + (ug + 1) * st + so,
        mrow + (ug << 4),
        mrow + ((ug + 1) << 4),
      );
    }
    if (g < n) {
      // an odd head keeps its running max in a register
      let s4 = f32x4.mul(dot4<KV>(q0 + <usize>g * hs, kt, hk, head_dim, d4), sc);
      if (masked) s4 = v128.bitselect(s4, ninf, keep);
      v128.store(scores + <usize>g * st + so, s4);
      modd = f32x4.max(modd, s4);
    }
  }
  if (n & 1) v128.store(mrow + (<usize>(n - 1) << 4), modd);
  // the last rows, then each head's softmax: exp(s - m); masked slots are -Inf and give
  // exactly 0. The row's sum replaces its running max in mrow.
  for (let g = 0; g < n; g++) {
    const qi = q0 + <usize>g * hs;
    const sg = scores + <usize>g * st;
    const sum = softmax_tail<KV>(qi, kb, hk, sg, t0, limit, hmax(v128.load(mrow + (<usize>g << 4))), mask_kind, mask, i, n_q, prefix, head_dim, scale);
    store<f32>(mrow + (<usize>g << 4), sum);
  }
  // out = sum_t p[t] v[t], a block of V rows at a time, every head of the batch over the block
  // while it is in L1; heads in pairs share each V row (16 lanes at a time), an odd one takes
  // 32 lanes at a time, with the accumulators in registers
  const tb = max(<i32>(<usize>V_BLOCK_BYTES / hk), 4);
  let t1 = 0;
  do {
    const ta = t1;
    t1 = min(limit, ta + tb);
    const first = ta == 0;
    for (let g = 0; g < n; g++) {
      const sg = scores + <usize>g * st;
      const oi = o0 + <usize>g * hs;
      let d0 = 0;
      if (g + 1 < n) {
        // two heads, 16 lanes at a time, sharing each V row; lanes past a multiple of 16 are
        // summed per head below
        const sh = sg + st;
        const oh = oi + hs;
        for (; d0 + 16 <= d4; d0 += 16) {
          const o = <usize>d0 << 2;
          weighted_sum16x2<KV>(oi + o, oh + o, sg, sh, vb + kvo<KV>(d0), hk, ta, t1, first);
        }
        v_rest<KV>(oi, sg, vb, hk, ta, t1, first, d0, d4, head_dim);
        v_rest<KV>(oh, sh, vb, hk, ta, t1, first, d0, d4, head_dim);
        g++;
        continue;
      }
      for (; d0 + 32 <= d4; d0 += 32) weighted_sum32<KV>(oi + (<usize>d0 << 2), sg, vb + kvo<KV>(d0), hk, ta, t1, first);
      v_rest<KV>(oi, sg, vb, hk, ta, t1, first, d0, d4, head_dim);
    }
  } while (t1 < limit);
  for (let g = 0; g < n; g++) {
    const oi = o0 + <usize>g * hs;
    scale_row(oi, oi, head_dim, <f32>1.0 / load<f32>(mrow + (<usize>g << 4)));
  }
}

/**
 * Query i over head h alone (no other head of its batch): the cache read once for it, the
 * running max in registers.
 */
function attention_head<KV>(
  q: usize,
  k: usize,
  v: usize,
  out: usize,
  scores: usize,
  i: i32,
  h: i32,
  kh: usize,
  n_q: i32,
  n_heads: i32,
  head_dim: i32,
  prefix: i32,
  limit: i32,
  cap: i32,
  mask_kind: i32,
  mask: usize,
  scale: f32,
): void {
  const hs = <usize>head_dim << 2; // q and out rows (f32)
  const hk = <usize>head_dim * sizeof<KV>(); // cache rows
  const d4 = head_dim & ~3;
  const qi = q + (<usize>(i * n_heads + h)) * hs;
  const kb = k + kh * <usize>cap * hk;
  const vb = v + kh * <usize>cap * hk;
  const sc = f32x4.splat(scale);
  const ninf = f32x4.splat(-Infinity);
  let m4 = ninf;
  let t0 = 0;
  for (; t0 + 4 <= limit; t0 += 4) {
    let s4 = f32x4.mul(dot4<KV>(qi, kb + <usize>t0 * hk, hk, head_dim, d4), sc);
    if (mask_kind == 2 && t0 + 3 >= prefix) {
      // tree slots the node does not see score -Inf
      const row = mask + <usize>(i * n_q - prefix);
      const keep = i32x4(
        t0 < prefix || load<u8>(row + <usize>t0) != 0 ? -1 : 0,
        t0 + 1 < prefix || load<u8>(row + <usize>(t0 + 1)) != 0 ? -1 : 0,
        t0 + 2 < prefix || load<u8>(row + <usize>(t0 + 2)) != 0 ? -1 : 0,
        t0 + 3 < prefix || load<u8>(row + <usize>(t0 + 3)) != 0 ? -1 : 0,
      );
      s4 = v128.bitselect(s4, ninf, keep);
    }
    v128.store(scores + (<usize>t0 << 2), s4);
    m4 = f32x4.max(m4, s4);
  }
  const sum = softmax_tail<KV>(qi, kb, hk, scores, t0, limit, hmax(m4), mask_kind, mask, i, n_q, prefix, head_dim, scale);
  const oi = out + (<usize>(i * n_heads + h)) * hs;
  // out = sum_t p[t] v[t], 32 lanes at a time with the accumulators in registers
  let d0 = 0;
  for (; d0 + 32 <= d4; d0 += 32) weighted_sum32<KV>(oi + (<usize>d0 << 2), scores, vb + kvo<KV>(d0), hk, 0, limit, true);
  for (let d = d0; d < d4; d += 4) {
    const o = <usize>d << 2;
    let acc4 = f32x4.splat(0);
    for (let t = 0; t < limit; t++) {
      const p = load<f32>(scores + (<usize>t << 2));
      if (p == 0) continue;
      acc4 = madd(f32x4.splat(p), kv4<KV>(vb + <usize>t * hk + kvo<KV>(d)), acc4);
    }
    v128.store(oi + o, acc4);
  }
  for (let d = d4; d < head_dim; d++) {
    const o = <usize>d << 2;
    let a: f32 = 0;
    for (let t = 0; t < limit; t++) {
      const p = load<f32>(scores + (<usize>t << 2));
      if (p == 0) continue;
      a += p * kv1<KV>(vb + <usize>t * hk + kvo<KV>(d));
    }
    store<f32>(oi + o, a);
  }
  scale_row(oi, oi, head_dim, <f32>1.0 / sum);
}

@inline
function attention_kv<KV>(
  q: usize,
  k: usize,
  v: usize,
  out: usize,
  scores: usize,
  n_q: i32,
  n_heads: i32,
  n_kv: i32,
  head_dim: i32,
  kv_len: i32,
  cap: i32,
  mask_kind: i32,
  mask: usize,
  scale: f32,
  h0: i32,
  h1: i32,
): void {
  const group = n_heads / n_kv;
  const prefix = kv_len - n_q;
  const st = <usize>((kv_len + 3) & ~3) << 2; // bytes per scores row
  const mrow = scores + <usize>min(group, GROUP_BATCH) * st; // per head: running max, then sum
  for (let i = 0; i < n_q; i++) {
    // visible slots are [0, limit) minus tree-masked ones
    const limit = mask_kind == 1 ? prefix + i + 1 : kv_len;
    // heads [h0, h1) in batches that share a KV head
    for (let a = h0; a < h1; ) {
      const kh = a / group;
      const b = min(min(h1, (kh + 1) * group), a + GROUP_BATCH);
      if (b - a == 1) attention_head<KV>(q, k, v, out, scores, i, a, <usize>kh, n_q, n_heads, head_dim, prefix, limit, cap, mask_kind, mask, scale);
      else attention_group<KV>(q, k, v, out, scores, st, mrow, i, a, b - a, kh, n_q, n_heads, head_dim, prefix, limit, cap, mask_kind, mask, scale);
      a = b;
    }
  }
}

/** Attention over an f32 KV cache (see the top of this file for the layout and masks). */
export function attention(
  q: usize,
  k: usize,
  v: usize,
  out: usize,
  scores: usize,
  n_q: i32,
  n_heads: i32,
  n_kv: i32,
  head_dim: i32,
  kv_len: i32,
  cap: i32,
  mask_kind: i32,
  mask: usize,
  scale: f32,
  h0: i32,
  h1: i32,
): void {
  attention_kv<f32>(q, k, v, out, scores, n_q, n_heads, n_kv, head_dim, kv_len, cap, mask_kind, mask, scale, h0, h1);
}

/** The same over an f16 KV cache. */
export function attention_f16(
  q: usize,
  k: usize,
  v: usize,
  out: usize,
  scores: usize,
  n_q: i32,
  n_heads: i32,
  n_kv: i32,
  head_dim: i32,
  kv_len: i32,
  cap: i32,
  mask_kind: i32,
  mask: usize,
  scale: f32,
  h0: i32,
  h1: i32,
): void {
  attention_kv<u16>(q, k, v, out, scores, n_q, n_heads, n_kv, head_dim, kv_len, cap, mask_kind, mask, scale, h0, h1);
}
