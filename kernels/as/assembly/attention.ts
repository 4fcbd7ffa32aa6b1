// Scaled dot-product attention of n_q queries over a KV cache.
//
// q, out: [n_q, n_heads, head_dim]. k, v: [n_kv, cap, head_dim], of which the first
// kv_len slots are filled; the queries are the last n_q of them (prefix = kv_len - n_q).
// Heads share KV heads in groups of n_heads / n_kv (GQA/MQA).
// mask_kind 0: every query sees all kv_len slots (encoders).
// mask_kind 1: causal, query i sees slots 0 .. prefix + i.
// mask_kind 2: tree, query i sees the prefix plus tree slot j where mask[i * n_q + j] != 0
//              (the runtime guarantees each node's ancestors and itself are set).
// scores is scratch for kv_len floats.
import { exp4, hsum, madd } from "./common";

@inline
function dot(a: usize, b: usize, d: i32): f32 {
  let acc = f32x4.splat(0);
  let k = 0;
  for (; k + 4 <= d; k += 4) acc = madd(v128.load(a + (<usize>k << 2)), v128.load(b + (<usize>k << 2)), acc);
  let s = hsum(acc);
  for (; k < d; k++) s += load<f32>(a + (<usize>k << 2)) * load<f32>(b + (<usize>k << 2));
  return s;
}

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
): void {
  const group = n_heads / n_kv;
  const prefix = kv_len - n_q;
  const hs = <usize>head_dim << 2;
  const d4 = head_dim & ~3;
  for (let i = 0; i < n_q; i++) {
    // visible slots are [0, limit) minus tree-masked ones
    const limit = mask_kind == 1 ? prefix + i + 1 : kv_len;
    for (let h = 0; h < n_heads; h++) {
      const kh = (h / group) as usize;
      const qi = q + (<usize>(i * n_heads + h)) * hs;
      const kb = k + kh * <usize>cap * hs;
      const vb = v + kh * <usize>cap * hs;
      let m: f32 = -Infinity;
      for (let t = 0; t < limit; t++) {
        let s: f32 = -Infinity;
        if (mask_kind != 2 || t < prefix || load<u8>(mask + <usize>(i * n_q + (t - prefix))) != 0) {
          s = dot(qi, kb + <usize>t * hs, head_dim) * scale;
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
      for (let d = 0; d < d4; d += 4) v128.store(oi + (<usize>d << 2), f32x4.splat(0));
      for (let d = d4; d < head_dim; d++) store<f32>(oi + (<usize>d << 2), 0);
      for (let t = 0; t < limit; t++) {
        const p = load<f32>(scores + (<usize>t << 2));
        if (p == 0) continue;
        const vt = vb + <usize>t * hs;
        const pv = f32x4.splat(p);
        for (let d = 0; d < d4; d += 4) {
          const o = <usize>d << 2;
          v128.store(oi + o, madd(pv, v128.load(vt + o), v128.load(oi + o)));
        }
        for (let d = d4; d < head_dim; d++) {
          const o = <usize>d << 2;
          store<f32>(oi + o, load<f32>(oi + o) + p * load<f32>(vt + o));
        }
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
