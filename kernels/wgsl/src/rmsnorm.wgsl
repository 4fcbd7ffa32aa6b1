// y = x / sqrt(mean(x^2) + eps) * w, a workgroup per row (in place is fine: each thread
// rewrites only what it read, after the reduction)
struct Params { n: u32, dim: u32, x_base: u32, y_base: u32, w_base: u32, has_w: u32, eps: f32 }

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) tid: u32) {
  let r = linear_group(wid, nwg);
  if (r >= p.n) { return; }
  let xb = p.x_base / 4u + r * p.dim;
  let yb = p.y_base / 4u + r * p.dim;
  var ss = 0.0;
  for (var k = tid; k < p.dim; k = k + 256u) {
    let v = x_f(xb + k);
    ss = ss + v * v;
  }
  let inv = 1.0 / sqrt(wg_reduce256(tid, ss, false) / f32(p.dim) + p.eps);
  for (var k = tid; k < p.dim; k = k + 256u) {
    var g = 1.0;
    if (p.has_w == 1u) { g = w_f(p.w_base / 4u + k); }
    y_set(yb + k, x_f(xb + k) * inv * g);
  }
}
