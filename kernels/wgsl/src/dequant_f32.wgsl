fn element(e: u32) -> f32 {
  return src_f(p.src_base / 4u + e);
}
DEQUANT
