// Rotary position embedding, in place on x [n_tok, n_heads, head_dim].
// Angles follow Hugging Face: theta = f32(pos * inv_freq[i]), cos/sin of that f32 value,
// times attn_factor (YaRN's mscale, 1 otherwise). Frequency scaling (linear, llama3, ...)
// lives in inv_freq, which the runtime computes, so new schemes need no kernel change.
// mode 0 = rotate-half (NeoX, HF Llama): pairs (i, i + rot/2).
// mode 1 = interleaved (GPT-J, llama.cpp's GGUF llama): pairs (2i, 2i + 1).
// Only the first rot_dim lanes of each head rotate (partial rotary).

/**
 * The angles' cos and sin for every (token, frequency), times attn_factor: f32 pairs at
 * table + ((t * half + i) << 3). A decode step computes them once and every layer's q and k
 * reuse them (the trigonometry was ~3% of a SmolLM2-135M step when each call redid it).
 */
export function rope_table(pos: usize, n_tok: i32, inv_freq: usize, half: i32, attn_factor: f32, table: usize): void {
  for (let t = 0; t < n_tok; t++) {
    const p = <f32>load<i32>(pos + (<usize>t << 2));
    const row = table + ((<usize>t * <usize>half) << 3);
    for (let i = 0; i < half; i++) {
      const theta: f32 = p * load<f32>(inv_freq + (<usize>i << 2));
      store<f32>(row + (<usize>i << 3), <f32>Math.cos(<f64>theta) * attn_factor);
      store<f32>(row + (<usize>i << 3), <f32>Math.sin(<f64>theta) * attn_factor, 4);
    }
  }
}

/** Rotates x in place with the angles of rope_table (rot_dim / 2 pairs per token). */
export function rope(x: usize, n_tok: i32, n_heads: i32, head_dim: i32, table: usize, rot_dim: i32, mode: i32): void {
  const half = rot_dim >> 1;
  const hs = <usize>head_dim << 2;
  for (let t = 0; t < n_tok; t++) {
    const xt = x + <usize>t * <usize>n_heads * hs;
    const row = table + ((<usize>t * <usize>half) << 3);
    for (let i = 0; i < half; i++) {
      const c = load<f32>(row + (<usize>i << 3));
      const s = load<f32>(row + (<usize>i << 3), 4);
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
