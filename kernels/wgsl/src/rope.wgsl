// rotary embedding in place over x [n_tok, n_heads, head_dim]; aux holds (cos, sin) per
// (token, pair), computed on the host with the reference's rounding (GPU sin/cos lose
// accuracy at large angles)
struct Params { n_tok: u32, n_heads: u32, head_dim: u32, half: u32, neox: u32, x_base: u32, tab_base: u32 }

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) tid: u32) {
  let i = linear_group(wid, nwg) * 256u + tid;
  if (i >= p.n_tok * p.n_heads * p.half) { return; }
  let t = i / (p.n_heads * p.half);
  let h = (i / p.half) % p.n_heads;
  let j = i % p.half;
  let c = aux_f(p.tab_base / 4u + 2u * (t * p.half + j));
  let s = aux_f(p.tab_base / 4u + 2u * (t * p.half + j) + 1u);
  var i0 = 2u * j;
  var i1 = 2u * j + 1u;
  if (p.neox == 1u) {
    i0 = j;
    i1 = j + p.half;
  }
  let base = p.x_base / 4u + (t * p.n_heads + h) * p.head_dim;
  let x0 = x_f(base + i0);
  let x1 = x_f(base + i1);
  x_set(base + i0, x0 * c - x1 * s);
  x_set(base + i1, x1 * c + x0 * s);
}
