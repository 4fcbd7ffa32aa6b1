/**
 * ggml's reference quantizers (quantize_row_q8_0_ref, quantize_row_q4_0_ref) and
 * dequantizers, with every float32 step rounded as in C.
 */
import { f16ToF32, f32ToF16 } from "../half";
import { fr, roundHalfAway } from "./math";

export function quantizeQ8_0(src: Float32Array, dst: Uint8Array): number {
  let bad = 0;
  const dv = new DataView(dst.buffer, dst.byteOffset, dst.byteLength);
  for (let b = 0; b < src.length / 32; b++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) {
      const v = src[b * 32 + j];
      if (!Number.isFinite(v)) bad++;
      const a = Math.abs(v);
      if (a > amax) amax = a;
    }
    const d = fr(amax / 127);
    const id = d !== 0 ? fr(1 / d) : 0;
    dv.setUint16(b * 34, f32ToF16(d), true);
    for (let j = 0; j < 32; j++) {
      const q = roundHalfAway(fr(src[b * 32 + j] * id));
      dv.setInt8(b * 34 + 2 + j, Number.isNaN(q) ? 0 : Math.max(-128, Math.min(127, q)));
    }
  }
  return bad;
}

export function dequantizeQ8_0(src: Uint8Array, dst: Float32Array): void {
  const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  for (let b = 0; b < dst.length / 32; b++) {
    const d = f16ToF32(dv.getUint16(b * 34, true));
    for (let j = 0; j < 32; j++) dst[b * 32 + j] = d * dv.getInt8(b * 34 + 2 + j);
  }
}

export function quantizeQ4_0(src: Float32Array, dst: Uint8Array): number {
  let bad = 0;
  const dv = new DataView(dst.buffer, dst.byteOffset, dst.byteLength);
  for (let b = 0; b < src.length / 32; b++) {
    let amax = 0;
    let max = 0;
    for (let j = 0; j < 32; j++) {
      const v = src[b * 32 + j];
      if (!Number.isFinite(v)) bad++;
      if (amax < Math.abs(v)) {
        amax = Math.abs(v);
        max = v;
      }
    }
    const d = fr(max / -8);
    const id = d !== 0 ? fr(1 / d) : 0;
    dv.setUint16(b * 18, f32ToF16(d), true);
    for (let j = 0; j < 16; j++) {
      const q0 = Math.min(15, truncI8(fr(fr(src[b * 32 + j] * id) + 8.5)));
      const q1 = Math.min(15, truncI8(fr(fr(src[b * 32 + 16 + j] * id) + 8.5)));
      dst[b * 18 + 2 + j] = q0 | (q1 << 4);
    }
  }
  return bad;
}

function truncI8(v: number): number {
  if (Number.isNaN(v)) return 0;
  return Math.max(-128, Math.min(127, Math.trunc(v)));
}

export function dequantizeQ4_0(src: Uint8Array, dst: Float32Array): void {
  const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  for (let b = 0; b < dst.length / 32; b++) {
    const d = f16ToF32(dv.getUint16(b * 18, true));
    for (let j = 0; j < 16; j++) {
      const q = src[b * 18 + 2 + j];
      dst[b * 32 + j] = d * ((q & 15) - 8);
      dst[b * 32 + 16 + j] = d * ((q >> 4) - 8);
    }
  }
}

/** Row r of a [rows, cols] table as float64 values (f32/f16/q8_0/q4_0 storage). */
export function dequantRow(dtype: string, bytes: Uint8Array, cols: number, r: number): Float64Array {
  const out = new Float64Array(cols);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dtype === "f32") {
    for (let k = 0; k < cols; k++) out[k] = dv.getFloat32((r * cols + k) * 4, true);
  } else if (dtype === "f16") {
    for (let k = 0; k < cols; k++) out[k] = f16ToF32(dv.getUint16((r * cols + k) * 2, true));
  } else if (dtype === "q8_0") {
    const rb = (cols / 32) * 34;
    for (let b = 0; b < cols / 32; b++) {
      const d = f16ToF32(dv.getUint16(r * rb + b * 34, true));
      for (let j = 0; j < 32; j++) out[b * 32 + j] = d * dv.getInt8(r * rb + b * 34 + 2 + j);
    }
  } else if (dtype === "q4_0") {
    const rb = (cols / 32) * 18;
    for (let b = 0; b < cols / 32; b++) {
      const o = r * rb + b * 18;
      const d = f16ToF32(dv.getUint16(o, true));
      for (let j = 0; j < 16; j++) {
        const q = bytes[o + 2 + j];
        out[b * 32 + j] = d * ((q & 15) - 8);
        out[b * 32 + 16 + j] = d * ((q >> 4) - 8);
      }
    }
  } else {
    throw new Error(`dequantRow: unsupported dtype ${dtype}`);
  }
  return out;
}
