// out[i, h] = softmax(scale * q[i, h] . K[kh, :kv_len]) V[kh, :kv_len], kh = h / (n_heads / n_kv),
// a workgroup per (query, head). K/V are [n_kv, cap, d] in f32 or f16. Masked positions:
// causal (t > prefix + i) or tree (aux byte [i, t - prefix] is 0 for t >= prefix).
// Scores and then weights go to the s scratch row of this (query, head).
struct Params {
  n_q: u32, n_heads: u32, d: u32, n_kv: u32, cap: u32, kv_len: u32, mask: u32, kv_f16: u32,
  q_base: u32, o_base: u32, k_base: u32, v_base: u32, s_base: u32, m_base: u32, scale: f32,
}

var<workgroup> red: array<f32, 64>;

fn kv(is_k: bool, idx: u32) -> f32 {
  if (p.kv_f16 == 1u) {
    if (is_k) { return k_h(p.k_base + 2u * idx); }
    return v_h(p.v_base + 2u * idx);
  }
  if (is_k) { return k_f(p.k_base / 4u + idx); }
  return v_f(p.v_base / 4u + idx);
}

fn reduce(tid: u32, v: f32, take_max: bool) -> f32 {
  red[tid] = v;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s = s >> 1u) {
    if (tid < s) {
      if (take_max) { red[tid] = max(red[tid], red[tid + s]); } else { red[tid] = red[tid] + red[tid + s]; }
    }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) tid: u32) {
  let g = linear_group(wid, nwg);
  if (g >= p.n_q * p.n_heads) { return; }
  let i = g / p.n_heads;
  let h = g % p.n_heads;
  let kh = h / (p.n_heads / p.n_kv);
  let prefix = p.kv_len - p.n_q;
  let qb = p.q_base / 4u + (i * p.n_heads + h) * p.d;
  let srow = p.s_base / 4u + g * p.kv_len;
  var m = NEG_BIG;
  for (var t = tid; t < p.kv_len; t = t + 64u) {
    var visible = true;
    if (p.mask == 1u && t > prefix + i) { visible = false; }
    if (p.mask == 2u && t >= prefix && aux_b(p.m_base + i * p.n_q + (t - prefix)) == 0u) { visible = false; }
    var sc = NEG_BIG;
    if (visible) {
      let kb = (kh * p.cap + t) * p.d;
      var acc = 0.0;
      for (var e = 0u; e < p.d; e = e + 1u) { acc = acc + x_f(qb + e) * kv(true, kb + e); }
      sc = acc * p.scale;
      m = max(m, sc);
    }
    s_set(srow + t, sc);
  }
  let mx = reduce(tid, m, true);
  var z = 0.0;
  for (var t = tid; t < p.kv_len; t = t + 64u) {
    let sc = s_f(srow + t);
    var w = 0.0;
    if (sc > NEG_BIG) { w = exp(sc - mx); }
    s_set(srow + t, w);
    z = z + w;
  }
  let total = reduce(tid, z, false);
  storageBarrier();
  let ob = p.o_base / 4u + (i * p.n_heads + h) * p.d;
  for (var e = tid; e < p.d; e = e + 64u) {
    var acc = 0.0;
    for (var t = 0u; t < p.kv_len; t = t + 1u) {
      let w = s_f(srow + t);
      if (w != 0.0) { acc = acc + w * kv(false, (kh * p.cap + t) * p.d + e); }
    }
    y_set(ob + e, acc / total);
  }
}
