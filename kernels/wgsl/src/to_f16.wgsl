// dst (f16, at an even byte offset) = src (f32), round half to even: a thread per
// destination word, keeping a neighbouring half that lies outside the range
struct Params { words: u32, first: u32, dst_base: u32, src_base: u32, n: u32 }

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) tid: u32) {
  let i = linear_group(wid, nwg) * 256u + tid;
  if (i >= p.words) { return; }
  let wi = p.first + i;
  var out = dst_u(wi);
  let h0 = p.dst_base / 2u;
  for (var b = 0u; b < 2u; b = b + 1u) {
    let slot = wi * 2u + b;
    if (slot >= h0 && slot < h0 + p.n) { out = insertBits(out, f32_to_half(src_f(p.src_base / 4u + slot - h0)), b * 16u, 16u); }
  }
  dst_setu(wi, out);
}
