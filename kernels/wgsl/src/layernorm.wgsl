// y = (x - mean) / sqrt(var + eps) * w + b, a workgroup per row
struct Params { n: u32, dim: u32, x_base: u32, y_base: u32, w_base: u32, b_base: u32, has_w: u32, has_b: u32, eps: f32 }

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) tid: u32) {
  let r = linear_group(wid, nwg);
  if (r >= p.n) { return; }
  let xb = p.x_base / 4u + r * p.dim;
  let yb = p.y_base / 4u + r * p.dim;
  var s1 = 0.0;
  for (var k = tid; k < p.dim; k = k + 256u) { s1 = s1 + x_f(xb + k); }
  let mean = wg_reduce256(tid, s1, false) / f32(p.dim);
  var s2 = 0.0;
  for (var k = tid; k < p.dim; k = k + 256u) {
    let d = x_f(xb + k) - mean;
    s2 = s2 + d * d;
  }
  let inv = 1.0 / sqrt(wg_reduce256(tid, s2, false) / f32(p.dim) + p.eps);
  for (var k = tid; k < p.dim; k = k + 256u) {
    var g = 1.0;
    var o = 0.0;
    if (p.has_w == 1u) { g = w_f(p.w_base / 4u + k); }
    if (p.has_b == 1u) { o = b_f(p.b_base / 4u + k); }
    y_set(yb + k, (x_f(xb + k) - mean) * inv * g + o);
  }
}
