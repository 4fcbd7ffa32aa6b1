// y = a op b, elementwise; b repeats over a's leading dims (b_len divides n)
struct Params { op: u32, n: u32, a_base: u32, b_base: u32, y_base: u32, b_len: u32, s: f32 }

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) tid: u32) {
  let i = linear_group(wid, nwg) * 256u + tid;
  if (i >= p.n) { return; }
  let a = a_f(p.a_base / 4u + i);
  var r = a;
  switch p.op {
    case 0u: { r = a + b_f(p.b_base / 4u + i % p.b_len); }
    case 1u: { r = a * b_f(p.b_base / 4u + i % p.b_len); }
    case 2u: { r = a * p.s; }
    case 3u: { r = silu_f(a); }
    case 4u: { r = gelu_f(a); }
    case 5u: { r = gelu_tanh_f(a); }
    case 6u: { r = silu_f(a) * b_f(p.b_base / 4u + i); }
    default: {}
  }
  y_set(p.y_base / 4u + i, r);
}
