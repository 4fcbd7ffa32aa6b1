// y[t, row0 + r] = sum_k w[r, k] * x[t, k]: a workgroup per weight row, 8 tokens per pass
struct Params { rows: u32, cols: u32, n: u32, w_base: u32, x_base: u32, y_base: u32, y_ld: u32, row0: u32 }

var<workgroup> red: array<f32, 512>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) tid: u32) {
  let r = linear_group(wid, nwg);
  if (r >= p.rows) { return; }
  let wb = p.w_base / 4u + r * p.cols;
  let xw = p.x_base / 4u;
  for (var t0 = 0u; t0 < p.n; t0 = t0 + 8u) {
    let nt = min(8u, p.n - t0);
    // an explicit initializer: a bare declaration in a loop body was not re-zeroed on SwiftShader
    var acc = array<f32, 8>(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for (var k = tid; k < p.cols; k = k + 64u) {
      let wv = w_f(wb + k);
      for (var t = 0u; t < 8u; t = t + 1u) {
        if (t < nt) { acc[t] = acc[t] + wv * x_f(xw + (t0 + t) * p.cols + k); }
      }
    }
MATMUL_REDUCE
  }
}
