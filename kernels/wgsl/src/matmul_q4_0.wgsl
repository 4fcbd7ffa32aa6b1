// y[t, row0 + r] = sum_k w[r, k] * x[t, k] over q4_0 weights (18-byte blocks: f16 scale,
// 16 bytes whose low nibbles are weights 0-15 and high nibbles 16-31, each minus 8).
// A thread takes 4 quant bytes (8 weights) at a time.
struct Params { rows: u32, cols: u32, n: u32, w_base: u32, x_base: u32, y_base: u32, y_ld: u32, row0: u32 }

var<workgroup> red: array<f32, 512>;

fn nib(q: u32, shift: u32) -> f32 {
  return f32((q >> shift) & 0xfu) - 8.0;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) tid: u32) {
  let r = linear_group(wid, nwg);
  if (r >= p.rows) { return; }
  let blocks = p.cols / 32u;
  let rb = p.w_base + r * blocks * 18u;
  let xw = p.x_base / 4u;
  for (var t0 = 0u; t0 < p.n; t0 = t0 + 8u) {
    let nt = min(8u, p.n - t0);
    // an explicit initializer: a bare declaration in a loop body was not re-zeroed on SwiftShader
    var acc = array<f32, 8>(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for (var u = tid; u < blocks * 4u; u = u + 64u) {
      let b = u / 4u;
      let j = u % 4u;
      let bb = rb + b * 18u;
      let d = w_h(bb);
      let q = w_w2(bb + 2u + 4u * j);
      let k = b * 32u + 4u * j;
      for (var t = 0u; t < 8u; t = t + 1u) {
        if (t < nt) {
          let xi = xw + (t0 + t) * p.cols + k;
          var s = nib(q, 0u) * x_f(xi) + nib(q, 8u) * x_f(xi + 1u) + nib(q, 16u) * x_f(xi + 2u) + nib(q, 24u) * x_f(xi + 3u);
          s = s + nib(q, 4u) * x_f(xi + 16u) + nib(q, 12u) * x_f(xi + 17u) + nib(q, 20u) * x_f(xi + 18u) + nib(q, 28u) * x_f(xi + 19u);
          acc[t] = acc[t] + d * s;
        }
      }
    }
MATMUL_REDUCE
  }
}
