// Rotary position embedding, in place on x [n_tok, n_heads, head_dim].
// Angles follow Hugging Face: theta = f32(pos * inv_freq[i]), cos/sin of that f32 value,
// times attn_factor (YaRN's mscale, 1 otherwise). Frequency scaling (linear, llama3, ...)
// lives in inv_freq, which the runtime computes, so new schemes need no kernel change.
// mode 0 = rotate-half (NeoX, HF Llama): pairs (i, i + rot/2).
// mode 1 = interleaved (GPT-J, llama.cpp's GGUF llama): pairs (2i, 2i + 1).
// Only the first rot_dim lanes of each head rotate (partial rotary).

export function rope(
  x: usize,
  n_tok: i32,
  n_heads: i32,
  head_dim: i32,
  pos: usize,
  inv_freq: usize,
  rot_dim: i32,
  mode: i32,
  attn_factor: f32,
): void {
  const half = rot_dim >> 1;
  const hs = <usize>head_dim << 2;
  for (let t = 0; t < n_tok; t++) {
    const p = <f32>load<i32>(pos + (<usize>t << 2));
    const xt = x + <usize>t * <usize>n_heads * hs;
    for (let i = 0; i < half; i++) {
      const theta: f32 = p * load<f32>(inv_freq + (<usize>i << 2));
      const c: f32 = <f32>Math.cos(<f64>theta) * attn_factor;
      const s: f32 = <f32>Math.sin(<f64>theta) * attn_factor;
      const o0: usize = mode == 0 ? <usize>i << 2 : <usize>(i << 1) << 2;
      const o1: usize = mode == 0 ? <usize>(i + half) << 2 : o0 + 4;
      for (let h = 0; h < n_heads; h++) {
        const xh = xt + <usize>h * hs;
        const x0 = load<f32>(xh + o0);
        const x1 = load<f32>(xh + o1);
        store<f32>(xh + o0, x0 * c - x1 * s);
        store<f32>(xh + o1, x1 * c + x0 * s);
      }
    }
  }
}
