fn element(e: u32) -> f32 {
  return src_h(p.src_base + 2u * e);
}
DEQUANT
