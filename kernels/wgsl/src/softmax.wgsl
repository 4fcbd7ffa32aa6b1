// softmax per row; a row holding NaN, or whose max is not finite (+inf, or nothing but
// -inf), becomes all NaN, as the reference does; -inf entries get 0
struct Params { n: u32, dim: u32, x_base: u32, y_base: u32 }

var<workgroup> red: array<f32, 256>;
var<workgroup> bad: array<u32, 256>;

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
  // bit 0: NaN or +inf seen; bit 1: a finite value seen
  var nan = 0u;
  for (var k = tid; k < p.dim; k = k + 256u) {
    let v = x_f(xb + k);
    let bits = bitcast<u32>(v);
    if (is_nan_bits(v) || bits == 0x7f800000u) { nan = nan | 1u; } else if (bits != 0xff800000u) { m = max(m, v); nan = nan | 2u; }
  }
  red[tid] = m;
  bad[tid] = nan;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s = s >> 1u) {
    if (tid < s) {
      red[tid] = max(red[tid], red[tid + s]);
      bad[tid] = bad[tid] | bad[tid + s];
    }
    workgroupBarrier();
  }
  let mx = red[0];
  let broken = bad[0] != 2u;
  workgroupBarrier();
  var z = 0.0;
  for (var k = tid; k < p.dim; k = k + 256u) { z = z + weight(x_f(xb + k), mx); }
  red[tid] = z;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s = s >> 1u) {
    if (tid < s) { red[tid] = red[tid] + red[tid + s]; }
    workgroupBarrier();
  }
  let total = red[0];
  for (var k = tid; k < p.dim; k = k + 256u) {
    if (broken) { y_setu(yb + k, 0x7fc00000u); } else { y_set(yb + k, weight(x_f(xb + k), mx) / total); }
  }
}
