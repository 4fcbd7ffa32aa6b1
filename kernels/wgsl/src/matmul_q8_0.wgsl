// y[t, row0 + r] = sum_k w[r, k] * x[t, k] over q8_0 weights (34-byte blocks: f16 scale,
// 32 int8). A thread takes a quarter block (8 weights) at a time.
struct Params { rows: u32, cols: u32, n: u32, w_base: u32, x_base: u32, y_base: u32, y_ld: u32, row0: u32 }

var<workgroup> red: array<f32, 512>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) tid: u32) {
  let r = linear_group(wid, nwg);
  if (r >= p.rows) { return; }
  let blocks = p.cols / 32u;
  let rb = p.w_base + r * blocks * 34u;
  let xw = p.x_base / 4u;
  for (var t0 = 0u; t0 < p.n; t0 = t0 + 8u) {
    let nt = min(8u, p.n - t0);
    // an explicit initializer: a bare declaration in a loop body was not re-zeroed on SwiftShader
    var acc = array<f32, 8>(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for (var u = tid; u < blocks * 4u; u = u + 64u) {
      let b = u / 4u;
      let j = u % 4u;
      let bb = rb + b * 34u;
      let d = w_h(bb);
      let q0 = w_w2(bb + 2u + 8u * j);
      let q1 = w_w2(bb + 6u + 8u * j);
      let k = b * 32u + 8u * j;
      for (var t = 0u; t < 8u; t = t + 1u) {
        if (t < nt) {
          let xi = xw + (t0 + t) * p.cols + k;
          var s = sign_ext8(q0) * x_f(xi) + sign_ext8(q0 >> 8u) * x_f(xi + 1u) + sign_ext8(q0 >> 16u) * x_f(xi + 2u) + sign_ext8(q0 >> 24u) * x_f(xi + 3u);
          s = s + sign_ext8(q1) * x_f(xi + 4u) + sign_ext8(q1 >> 8u) * x_f(xi + 5u) + sign_ext8(q1 >> 16u) * x_f(xi + 6u) + sign_ext8(q1 >> 24u) * x_f(xi + 7u);
          acc[t] = acc[t] + d * s;
        }
      }
    }
MATMUL_REDUCE
  }
}
