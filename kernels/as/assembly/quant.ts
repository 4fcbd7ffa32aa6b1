// Conversions between f32 and the storage formats, following ggml's reference
// quantizers bit for bit (q8_0: d = amax/127, q = roundf(x/d); q4_0: d = max/-8,
// q = min(15, trunc(x/d + 8.5))), plus the x4 repacking used by the fast matmul.
// Quantizers return how many non-finite inputs they met so the caller can refuse them.
import { f16_to_f32, f32_to_f16 } from "./common";

export function quantize_f16(src: usize, dst: usize, n: i32): i32 {
  let bad = 0;
  for (let i = 0; i < n; i++) {
    const v = load<f32>(src + (<usize>i << 2));
    if (!isFinite(v)) bad++;
    store<u16>(dst + (<usize>i << 1), f32_to_f16(v));
  }
  return bad;
}

export function dequantize_f16(src: usize, dst: usize, n: i32): void {
  for (let i = 0; i < n; i++) store<f32>(dst + (<usize>i << 2), f16_to_f32(<u32>load<u16>(src + (<usize>i << 1))));
}

export function quantize_q8_0(src: usize, dst: usize, n: i32): i32 {
  let bad = 0;
  const nb = n >> 5;
  for (let b = 0; b < nb; b++) {
    const x = src + (<usize>b << 7);
    const o = dst + <usize>b * 34;
    let amax: f32 = 0;
    for (let j = 0; j < 32; j++) {
      const v = load<f32>(x + (<usize>j << 2));
      if (!isFinite(v)) bad++;
      amax = max(amax, abs(v));
    }
    const d: f32 = amax / 127.0;
    const id: f32 = d != 0 ? <f32>1.0 / d : 0;
    store<u16>(o, f32_to_f16(d));
    for (let j = 0; j < 32; j++) {
      const v = load<f32>(x + (<usize>j << 2)) * id;
      store<i8>(o + 2 + <usize>j, <i8>roundf(v));
    }
  }
  return bad;
}

export function dequantize_q8_0(src: usize, dst: usize, n: i32): void {
  const nb = n >> 5;
  for (let b = 0; b < nb; b++) {
    const p = src + <usize>b * 34;
    const d = f16_to_f32(<u32>load<u16>(p));
    const y = dst + (<usize>b << 7);
    for (let j = 0; j < 32; j++) store<f32>(y + (<usize>j << 2), d * <f32>load<i8>(p + 2 + <usize>j));
  }
}

export function quantize_q4_0(src: usize, dst: usize, n: i32): i32 {
  let bad = 0;
  const nb = n >> 5;
  for (let b = 0; b < nb; b++) {
    const x = src + (<usize>b << 7);
    const o = dst + <usize>b * 18;
    let amax: f32 = 0;
    let vmax: f32 = 0;
    for (let j = 0; j < 32; j++) {
      const v = load<f32>(x + (<usize>j << 2));
      if (!isFinite(v)) bad++;
      if (amax < abs(v)) {
        amax = abs(v);
        vmax = v;
      }
    }
    const d: f32 = vmax / -8.0;
    const id: f32 = d != 0 ? <f32>1.0 / d : 0;
    store<u16>(o, f32_to_f16(d));
    for (let j = 0; j < 16; j++) {
      const x0 = load<f32>(x + (<usize>j << 2)) * id;
      const x1 = load<f32>(x + (<usize>(j + 16) << 2)) * id;
      const q0 = min<i32>(15, <i32>trunc_i8(x0 + 8.5));
      const q1 = min<i32>(15, <i32>trunc_i8(x1 + 8.5));
      store<u8>(o + 2 + <usize>j, <u8>(q0 | (q1 << 4)));
    }
  }
  return bad;
}

export function dequantize_q4_0(src: usize, dst: usize, n: i32): void {
  const nb = n >> 5;
  for (let b = 0; b < nb; b++) {
    const p = src + <usize>b * 18;
    const d = f16_to_f32(<u32>load<u16>(p));
    const y = dst + (<usize>b << 7);
    for (let j = 0; j < 16; j++) {
      const q = <i32>load<u8>(p + 2 + <usize>j);
      store<f32>(y + (<usize>j << 2), d * <f32>((q & 15) - 8));
      store<f32>(y + (<usize>(j + 16) << 2), d * <f32>((q >> 4) - 8));
    }
  }
}

/** C's roundf: half away from zero. (trunc(v + 0.5) is wrong for 0.49999997.) */
@inline
function roundf(v: f32): f32 {
  const t = trunc<f32>(v);
  return abs<f32>(v - t) >= 0.5 ? t + copysign<f32>(1, v) : t;
}

/** C's (int8_t) cast of a float in range: truncation toward zero, saturated. */
@inline
function trunc_i8(v: f32): i32 {
  return <i32>max<f32>(-128, min<f32>(127, trunc<f32>(v)));
}

/**
 * Row-major GGUF blocks -> x4: per group of 4 rows and per block, the 4 f16 scales
 * then the 4 rows' quant bytes. block_bytes is 34 (q8_0) or 18 (q4_0); rows % 4 == 0.
 */
export function pack_x4(src: usize, dst: usize, rows: i32, nb: i32, block_bytes: i32): void {
  const qb = <usize>(block_bytes - 2);
  const rs = <usize>nb * <usize>block_bytes;
  let o = dst;
  for (let g = 0; g < rows; g += 4) {
    const r0 = src + <usize>g * rs;
    for (let b = 0; b < nb; b++) {
      const off = <usize>b * <usize>block_bytes;
      for (let i = 0; i < 4; i++) store<u16>(o + (<usize>i << 1), load<u16>(r0 + <usize>i * rs + off));
      o += 8;
      for (let i = 0; i < 4; i++) {
        memory.copy(o, r0 + <usize>i * rs + off + 2, qb);
        o += qb;
      }
    }
  }
}

export function unpack_x4(src: usize, dst: usize, rows: i32, nb: i32, block_bytes: i32): void {
  const qb = <usize>(block_bytes - 2);
  const rs = <usize>nb * <usize>block_bytes;
  let p = src;
  for (let g = 0; g < rows; g += 4) {
    const r0 = dst + <usize>g * rs;
    for (let b = 0; b < nb; b++) {
      const off = <usize>b * <usize>block_bytes;
      for (let i = 0; i < 4; i++) store<u16>(r0 + <usize>i * rs + off, load<u16>(p + (<usize>i << 1)));
      p += 8;
      for (let i = 0; i < 4; i++) {
        memory.copy(r0 + <usize>i * rs + off + 2, p, qb);
        p += qb;
      }
    }
  }
}

/**
 * Embedding lookup: dst[i, :] = dequantized row ids[i] of src [rows, cols].
 * kind: 0 f32, 1 f16, 2 q8_0, 3 q4_0, 4 q8_0 x4, 5 q4_0 x4. ids are checked by the caller.
 */
export function get_rows(src: usize, kind: i32, cols: i32, ids: usize, n: i32, dst: usize): void {
  const nb = cols >> 5;
  for (let i = 0; i < n; i++) {
    const r = load<i32>(ids + (<usize>i << 2));
    const y = dst + <usize>i * (<usize>cols << 2);
    if (kind == 0) {
      memory.copy(y, src + <usize>r * (<usize>cols << 2), <usize>cols << 2);
    } else if (kind == 1) {
      dequantize_f16(src + <usize>r * (<usize>cols << 1), y, cols);
    } else if (kind == 2) {
      dequantize_q8_0(src + <usize>r * <usize>nb * 34, y, cols);
    } else if (kind == 3) {
      dequantize_q4_0(src + <usize>r * <usize>nb * 18, y, cols);
    } else {
      // x4: row r is lane r&3 of group r>>2
      const bb: usize = kind == 4 ? 34 : 18;
      const qb = bb - 2;
      const lane = <usize>(r & 3);
      const g = src + <usize>(r >> 2) * <usize>nb * (bb << 2);
      for (let b = 0; b < nb; b++) {
        const blk = g + <usize>b * (bb << 2);
        const d = f16_to_f32(<u32>load<u16>(blk + (lane << 1)));
        const q = blk + 8 + lane * qb;
        const yb = y + (<usize>b << 7);
        if (kind == 4) {
          for (let j = 0; j < 32; j++) store<f32>(yb + (<usize>j << 2), d * <f32>load<i8>(q + <usize>j));
        } else {
          for (let j = 0; j < 16; j++) {
            const v = <i32>load<u8>(q + <usize>j);
            store<f32>(yb + (<usize>j << 2), d * <f32>((v & 15) - 8));
            store<f32>(yb + (<usize>(j + 16) << 2), d * <f32>((v >> 4) - 8));
          }
        }
      }
    }
  }
}
