// softmax per row; a row holding NaN, or whose max is not finite (+inf, or nothing but
// -inf), becomes all NaN, as the reference does; -inf entries get 0
struct Params { n: u32, dim: u32, x_base: u32, y_base: u32 }

fn weight(v: f32, mx: f32) -> f32 {
  if (bitcast<u32>(v) == 0xff800000u) { return 0.0; }
  return exp(v - mx);
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) tid: u32) {
  let r = linear_group(wid, nwg);
  if (r >= p.n) { return; }
  let xb = p.x_base / 4u + r * p.dim;
  let yb = p.y_base / 4u + r * p.dim;
  var m = NEG_BIG;
  var nan = 0.0;
  var seen = 0.0;
  for (var k = tid; k < p.dim; k = k + 256u) {
    let v = x_f(xb + k);
    let bits = bitcast<u32>(v);
    if (is_nan_bits(v) || bits == 0x7f800000u) { nan = 1.0; } else if (bits != 0xff800000u) { m = max(m, v); seen = 1.0; }
  }
  let mx = wg_reduce256(tid, m, true);
  // both reductions before combining: || short-circuits, and a barrier must be reached by all
  let any_nan = wg_reduce256(tid, nan, true);
  let any_seen = wg_reduce256(tid, seen, true);
  let broken = any_nan > 0.0 || any_seen == 0.0;
  var z = 0.0;
  for (var k = tid; k < p.dim; k = k + 256u) { z = z + weight(x_f(xb + k), mx); }
  let total = wg_reduce256(tid, z, false);
  for (var k = tid; k < p.dim; k = k + 256u) {
    if (broken) { y_setu(yb + k, 0x7fc00000u); } else { y_set(yb + k, weight(x_f(xb + k), mx) / total); }
  }
}
