/**
 * The reference backend: every op in plain TypeScript with float64 accumulation.
 * It is slow on purpose and shares no code with the kernels; the op tests treat it as
 * the ground truth for the wasm backend.
 */
import { type AttentionMask, Backend, type BackendName, type RopeStyle, type TopK } from "../backend";
import type { DType } from "../dtype";
import { f16ArrayToF32, f32ArrayToF16 } from "../half";
import { type Layout, Tensor } from "../tensor";
import { erf, fr, gelu, geluTanh, silu } from "./math";
import { dequantizeQ4_0, dequantizeQ8_0, dequantRow, quantizeQ4_0, quantizeQ8_0 } from "./quant";

export class ReferenceBackend extends Backend {
  readonly name: BackendName = "reference";

  protected overlaps(a: Tensor, b: Tensor): boolean {
    const sa = a.storage as Uint8Array;
    const sb = b.storage as Uint8Array;
    if (sa.buffer !== sb.buffer) return false;
    return sa.byteOffset < sb.byteOffset + sb.byteLength && sb.byteOffset < sa.byteOffset + sa.byteLength;
  }

  protected addressOf(t: Tensor): number {
    return (t.storage as Uint8Array).byteOffset;
  }

  protected kCreate(dtype: DType, shape: number[], bytes: number, data: Uint8Array | undefined, layout: Layout): Tensor {
    const store = new Uint8Array(bytes);
    if (data) store.set(data);
    return new Tensor(this, dtype, shape, bytes, store, layout);
  }

  protected kView(parent: Tensor, byteOffset: number, dtype: DType, shape: number[], bytes: number): Tensor {
    const s = parent.storage as Uint8Array;
    return new Tensor(this, dtype, shape, bytes, s.subarray(byteOffset, byteOffset + bytes), "rows", parent.parent ?? parent);
  }

  protected kCopy(dst: Tensor, src: Tensor): void {
    // TypedArray.set copies as if through a temporary when the two views share a buffer
    (dst.storage as Uint8Array).set(src.storage as Uint8Array);
  }

  protected kRead(t: Tensor): Uint8Array {
    return (t.storage as Uint8Array).slice();
  }

  protected kWrite(t: Tensor, data: Uint8Array): void {
    (t.storage as Uint8Array).set(data);
  }

  protected kFree(_t: Tensor): void {}

  private f32(t: Tensor): Float32Array {
    const s = t.storage as Uint8Array;
    if (s.byteOffset % 4 === 0) return new Float32Array(s.buffer, s.byteOffset, s.byteLength / 4);
    return new Float32Array(s.slice().buffer);
  }

  /** A KV cache tensor's values as f32 (f16 caches widened exactly). */
  private cacheF32(t: Tensor): Float32Array {
    if (t.dtype === "f32") return this.f32(t);
    const s = (t.storage as Uint8Array).slice();
    return f16ArrayToF32(new Uint16Array(s.buffer, 0, s.byteLength / 2));
  }

  protected kMatmul(y: Tensor, w: Tensor, x: Tensor, rows: number, cols: number, n: number): void {
    const xs = this.f32(x);
    const out = new Float32Array(n * rows);
    const bytes = w.storage as Uint8Array;
    for (let r = 0; r < rows; r++) {
      const wr = dequantRow(w.dtype, bytes, cols, r);
      for (let t = 0; t < n; t++) {
        let s = 0;
        for (let k = 0; k < cols; k++) s += wr[k] * xs[t * cols + k];
        out[t * rows + r] = s;
      }
    }
    this.f32(y).set(out);
  }

  protected kRmsnorm(y: Tensor, x: Tensor, w: Tensor | null, n: number, dim: number, eps: number): void {
    const xs = this.f32(x);
    const ws = w ? this.f32(w) : null;
    const ys = this.f32(y);
    for (let r = 0; r < n; r++) {
      let ss = 0;
      for (let k = 0; k < dim; k++) ss += xs[r * dim + k] ** 2;
      const inv = 1 / Math.sqrt(ss / dim + eps);
      for (let k = 0; k < dim; k++) ys[r * dim + k] = xs[r * dim + k] * inv * (ws ? ws[k] : 1);
    }
  }

  protected kLayernorm(y: Tensor, x: Tensor, w: Tensor | null, b: Tensor | null, n: number, dim: number, eps: number): void {
    const xs = this.f32(x);
    const ws = w ? this.f32(w) : null;
    const bs = b ? this.f32(b) : null;
    const ys = this.f32(y);
    for (let r = 0; r < n; r++) {
      let mean = 0;
      for (let k = 0; k < dim; k++) mean += xs[r * dim + k];
      mean /= dim;
      let v = 0;
      for (let k = 0; k < dim; k++) v += (xs[r * dim + k] - mean) ** 2;
      const inv = 1 / Math.sqrt(v / dim + eps);
      for (let k = 0; k < dim; k++) ys[r * dim + k] = (xs[r * dim + k] - mean) * inv * (ws ? ws[k] : 1) + (bs ? bs[k] : 0);
    }
  }

  protected kSoftmax(y: Tensor, x: Tensor, n: number, dim: number): void {
    const xs = this.f32(x);
    const ys = this.f32(y);
    for (let r = 0; r < n; r++) {
      let m = Number.NEGATIVE_INFINITY;
      let nan = false;
      for (let k = 0; k < dim; k++) {
        const v = xs[r * dim + k];
        if (Number.isNaN(v)) nan = true;
        if (v > m) m = v;
      }
      if (nan || !Number.isFinite(m)) {
        for (let k = 0; k < dim; k++) ys[r * dim + k] = Number.NaN;
        continue;
      }
      const e = new Float64Array(dim);
      let s = 0;
      for (let k = 0; k < dim; k++) {
        e[k] = Math.exp(xs[r * dim + k] - m);
        s += e[k];
      }
      for (let k = 0; k < dim; k++) ys[r * dim + k] = e[k] / s;
    }
  }

  protected kUnary(kind: "silu" | "gelu" | "gelu_tanh", y: Tensor, x: Tensor): void {
    const f = kind === "silu" ? silu : kind === "gelu" ? gelu : geluTanh;
    const xs = this.f32(x);
    const ys = this.f32(y);
    for (let i = 0; i < xs.length; i++) ys[i] = f(xs[i]);
  }

  protected kSwiglu(y: Tensor, g: Tensor, u: Tensor): void {
    const gs = this.f32(g);
    const us = this.f32(u);
    const ys = this.f32(y);
    for (let i = 0; i < gs.length; i++) ys[i] = silu(gs[i]) * us[i];
  }

  protected kBinary(op: "add" | "mul", y: Tensor, a: Tensor, b: Tensor): void {
    const as = this.f32(a);
    const bs = Float32Array.from(this.f32(b));
    const ys = this.f32(y);
    for (let i = 0; i < as.length; i++) ys[i] = op === "add" ? as[i] + bs[i % bs.length] : as[i] * bs[i % bs.length];
  }

  protected kScale(y: Tensor, x: Tensor, s: number): void {
    const xs = this.f32(x);
    const ys = this.f32(y);
    const sf = fr(s);
    for (let i = 0; i < xs.length; i++) ys[i] = xs[i] * sf;
  }

  protected kRope(x: Tensor, pos: Int32Array, invFreq: Float32Array, ropeDim: number, style: RopeStyle, af: number): void {
    const xs = this.f32(x);
    const [nTok, nHeads, headDim] = x.shape;
    const half = ropeDim / 2;
    for (let t = 0; t < nTok; t++) {
      for (let i = 0; i < half; i++) {
        // Hugging Face: angle = float32(pos * inv_freq); cos/sin of it, times the attention factor, in float32
        const theta = fr(pos[t] * invFreq[i]);
        const c = fr(fr(Math.cos(theta)) * fr(af));
        const s = fr(fr(Math.sin(theta)) * fr(af));
        const i0 = style === "neox" ? i : 2 * i;
        const i1 = style === "neox" ? i + half : 2 * i + 1;
        for (let h = 0; h < nHeads; h++) {
          const base = (t * nHeads + h) * headDim;
          const x0 = xs[base + i0];
          const x1 = xs[base + i1];
          xs[base + i0] = x0 * c - x1 * s;
          xs[base + i1] = x1 * c + x0 * s;
        }
      }
    }
  }

  protected kAttention(out: Tensor, q: Tensor, k: Tensor, v: Tensor, kvLen: number, mask: AttentionMask, scale: number): void {
    const qs = this.f32(q);
    const ks = this.cacheF32(k);
    const vs = this.cacheF32(v);
    const os = this.f32(out);
    const [nQ, nHeads, d] = q.shape;
    const [nKv, cap] = k.shape;
    const group = nHeads / nKv;
    const prefix = kvLen - nQ;
    for (let i = 0; i < nQ; i++) {
      for (let h = 0; h < nHeads; h++) {
        const kh = Math.floor(h / group);
        const visible: number[] = [];
        for (let t = 0; t < kvLen; t++) {
          if (mask === "causal" && t > prefix + i) continue;
          if (mask instanceof Uint8Array && t >= prefix && !mask[i * nQ + (t - prefix)]) continue;
          visible.push(t);
        }
        const sc = visible.map((t) => {
          let s = 0;
          for (let e = 0; e < d; e++) s += qs[(i * nHeads + h) * d + e] * ks[(kh * cap + t) * d + e];
          return s * scale;
        });
        const m = Math.max(...sc);
        const p = sc.map((s) => Math.exp(s - m));
        const z = p.reduce((a, b) => a + b, 0);
        for (let e = 0; e < d; e++) {
          let acc = 0;
          for (let j = 0; j < visible.length; j++) acc += p[j] * vs[(kh * cap + visible[j]) * d + e];
          os[(i * nHeads + h) * d + e] = acc / z;
        }
      }
    }
  }

  protected kArgmax(x: Tensor, n: number, dim: number): Int32Array {
    const xs = this.f32(x);
    const out = new Int32Array(n);
    for (let r = 0; r < n; r++) {
      let best = -1;
      let bv = Number.NEGATIVE_INFINITY;
      for (let k = 0; k < dim; k++) {
        const v = xs[r * dim + k];
        if (Number.isNaN(v)) continue;
        if (best < 0 || v > bv) {
          best = k;
          bv = v;
        }
      }
      out[r] = best;
    }
    return out;
  }

  protected kTopk(x: Tensor, n: number, dim: number, k: number): TopK {
    const xs = this.f32(x);
    const indices = new Int32Array(n * k).fill(-1);
    const values = new Float32Array(n * k).fill(Number.NEGATIVE_INFINITY);
    for (let r = 0; r < n; r++) {
      const idx: number[] = [];
      for (let j = 0; j < dim; j++) if (!Number.isNaN(xs[r * dim + j])) idx.push(j);
      idx.sort((a, b) => xs[r * dim + b] - xs[r * dim + a] || a - b);
      for (let j = 0; j < Math.min(k, idx.length); j++) {
        indices[r * k + j] = idx[j];
        values[r * k + j] = xs[r * dim + idx[j]];
      }
    }
    return { indices, values };
  }

  protected kQuantize(dst: Tensor, src: Tensor): number {
    const s = this.f32(src);
    const d = dst.storage as Uint8Array;
    switch (dst.dtype) {
      case "f32":
        new Uint8Array(d.buffer, d.byteOffset, d.byteLength).set(new Uint8Array(s.buffer, s.byteOffset, s.byteLength));
        return 0;
      case "f16": {
        const h = f32ArrayToF16(s);
        d.set(new Uint8Array(h.buffer));
        return s.filter((v) => !Number.isFinite(v)).length;
      }
      case "q8_0":
        return quantizeQ8_0(s, d);
      default:
        return quantizeQ4_0(s, d);
    }
  }

  protected kDequantize(dst: Tensor, src: Tensor): void {
    const out = this.f32(dst);
    const s = src.storage as Uint8Array;
    switch (src.dtype) {
      case "f32":
        out.set(this.f32(src));
        return;
      case "f16":
        out.set(f16ArrayToF32(new Uint16Array(s.slice().buffer)));
        return;
      case "q8_0":
        dequantizeQ8_0(s, out);
        return;
      default:
        dequantizeQ4_0(s, out);
    }
  }

  protected kGetRows(dst: Tensor, table: Tensor, ids: Int32Array): void {
    const cols = table.shape[1];
    const out = this.f32(dst);
    for (let i = 0; i < ids.length; i++) {
      out.set(dequantRow(table.dtype, table.storage as Uint8Array, cols, ids[i]), i * cols);
    }
  }
}

/** exported for tests that want the scalar functions */
export const referenceMath = { erf, gelu, geluTanh, silu };
