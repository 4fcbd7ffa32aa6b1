fn element(e: u32) -> f32 {
  let bb = p.src_base + (e / 32u) * 18u;
  let j = e % 32u;
  let q = (src_b(bb + 2u + j % 16u) >> select(0u, 4u, j >= 16u)) & 0xfu;
  return src_h(bb) * (f32(q) - 8.0);
}
DEQUANT
