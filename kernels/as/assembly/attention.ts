// Scaled dot-product attention of n_q queries over a KV cache.
//
// q, out: [n_q, n_heads, head_dim]. k, v: [n_kv, cap, head_dim], of which the first
// kv_len slots are filled; the queries are the last n_q of them (prefix = kv_len - n_q).
// Heads share KV heads in groups of n_heads / n_kv (GQA/MQA).
// mask_kind 0: every query sees all kv_len slots (encoders).
// mask_kind 1: causal, query i sees slots 0 .. prefix + i.
// mask_kind 2: tree, query i sees the prefix plus tree slot j where mask[i * n_q + j] != 0
//              (the runtime guarantees each node's ancestors and itself are set).
// scores is scratch for kv_len floats. Only heads [h0, h1) are computed: threads split the
// heads, each with its own scores.
import { exp4, f16_to_f32, f16x4, hmax, hsum, madd } from "./common";

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

/** out[0..32) = sum_t p[t] * v[t, 0..32): eight accumulators stay in registers across t. */
@inline
function weighted_sum32<KV>(out: usize, scores: usize, v: usize, hk: usize, limit: i32): void {
  let o0 = f32x4.splat(0), o1 = o0, o2 = o0, o3 = o0, o4 = o0, o5 = o0, o6 = o0, o7 = o0;
  for (let t = 0; t < limit; t++) {
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
  const hs = <usize>head_dim << 2; // q and out rows (f32)
  const hk = <usize>head_dim * sizeof<KV>(); // cache rows
  const d4 = head_dim & ~3;
  for (let i = 0; i < n_q; i++) {
    // visible slots are [0, limit) minus tree-masked ones
    const limit = mask_kind == 1 ? prefix + i + 1 : kv_len;
    for (let h = h0; h < h1; h++) {
      const kh = (h / group) as usize;
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
      let m: f32 = hmax(m4);
      for (let t = t0; t < limit; t++) {
        let s: f32 = -Infinity;
        if (mask_kind != 2 || t < prefix || load<u8>(mask + <usize>(i * n_q + (t - prefix))) != 0) {
          s = dot<KV>(qi, kb + <usize>t * hk, head_dim) * scale;
        }
        store<f32>(scores + (<usize>t << 2), s);
        m = max(m, s);
      }
      // exp(s - m); masked slots are -Inf and give exactly 0
      const ms = f32x4.splat(m);
      let acc = f32x4.splat(0);
      let t = 0;
      for (; t + 4 <= limit; t += 4) {
        const o = <usize>t << 2;
        const e = exp4(f32x4.sub(v128.load(scores + o), ms));
        v128.store(scores + o, e);
        acc = f32x4.add(acc, e);
      }
      let sum = hsum(acc);
      for (; t < limit; t++) {
        const o = <usize>t << 2;
        const e = f32x4.extract_lane(exp4(f32x4.splat(load<f32>(scores + o) - m)), 0);
        store<f32>(scores + o, e);
        sum += e;
      }
      const oi = out + (<usize>(i * n_heads + h)) * hs;
      // out = sum_t p[t] v[t], 32 lanes at a time with the accumulators in registers
      let d0 = 0;
      for (; d0 + 32 <= d4; d0 += 32) weighted_sum32<KV>(oi + (<usize>d0 << 2), scores, vb + kvo<KV>(d0), hk, limit);
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
      const inv = f32x4.splat(<f32>1.0 / sum);
      for (let d = 0; d < d4; d += 4) {
        const o = <usize>d << 2;
        v128.store(oi + o, f32x4.mul(v128.load(oi + o), inv));
      }
      const is: f32 = <f32>1.0 / sum;
      for (let d = d4; d < head_dim; d++) {
        const o = <usize>d << 2;
        store<f32>(oi + o, load<f32>(oi + o) * is);
      }
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
