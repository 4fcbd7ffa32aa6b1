// dst bytes [dst_base, dst_base + len) = src bytes [src_base, ...): a thread per destination
// word, keeping the bytes of partly covered words that lie outside the range
struct Params { words: u32, first: u32, dst_base: u32, src_base: u32, len: u32 }

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) tid: u32) {
  let i = linear_group(wid, nwg) * 256u + tid;
  if (i >= p.words) { return; }
  let wi = p.first + i;
  let lo = wi * 4u;
  if (lo >= p.dst_base && lo + 4u <= p.dst_base + p.len && ((p.src_base - p.dst_base) & 3u) == 0u) {
    dst_setu(wi, src_u((p.src_base + lo - p.dst_base) / 4u));
    return;
  }
  var out = dst_u(wi);
  for (var b = 0u; b < 4u; b = b + 1u) {
    let at = lo + b;
    if (at >= p.dst_base && at < p.dst_base + p.len) { out = insertBits(out, src_b(p.src_base + at - p.dst_base), b * 8u, 8u); }
  }
  dst_setu(wi, out);
}
