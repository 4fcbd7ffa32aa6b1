fn element(e: u32) -> f32 {
  let bb = p.src_base + (e / 32u) * 34u;
  return src_h(bb) * sign_ext8(src_b(bb + 2u + e % 32u));
}
DEQUANT
