// Matrix products y[t, r] = sum_k W[r, k] * x[t, k] for f32, f16, q8_0 and q4_0 weights.
//
// W is [rows, cols] row-major, x is [n, cols] f32, y is [n, ld] f32 with ld >= rows (a
// thread computing rows r0.. of a larger product gets W and y offset by r0 and ld = all
// rows). n = 1 is GEMV (decoding); n > 1 is GEMM (prefill, tree verification). The weight tile is the outer
// loop and tokens the inner one, so each weight byte comes from DRAM once per call.
// Every token row gets the GEMV's operations in the GEMV's order, whatever n: a row's output
// is the same bits in a step, a batch or a tree verify, which beam search and greedy
// speculative decoding rely on when they compare them. Within that, only f16 gains from a
// GEMM tile (dot2_f16); see dot2_f16 for what was measured on the others.
//
// Quantized weights use GGUF blocks of 32 (q8_0: f16 d + 32 x i8; q4_0: f16 d + 16 bytes
// of nibbles, low nibbles are elements 0..15, high nibbles 16..31), either row-major as in
// the file or repacked "x4": four rows interleaved block by block, one sequential stream
// whose four scales sit together, which runs about 30% faster than the file layout on one thread.
//
// Relaxed-SIMD builds run q4_0 on i16x8.relaxed_dot_i8x16_i7x16_s against int8 activations
// (dot_q4_relaxed). Nibbles are valid i7 operands, so the integer sums are exact on every
// host, and with the float steps after them kept unfused (madd_exact) every q4_0 output is
// the same bits as in the baseline build (packages/runtime/test/relaxed-q4.test.ts). q8_0
// keeps the baseline dot there: its signed weights are no i7 operand, and the exact split
// w = (w & 0x7f) - 128 * (w >>> 7) takes two dots and two widenings per 16 bytes where
// dot_q8 takes two i32x4.dot_i16x8_s; |x| against sign-flipped weights would be cheaper but
// is wrong for w = -128.
import { f16_to_f32, f16x4, hsum, madd } from "./common";

// ---------------------------------------------------------------- f32 ----

@inline
function store_dot8(y: usize, a0: v128, a1: v128, a2: v128, a3: v128, a4: v128, a5: v128, a6: v128, a7: v128): void {
  store<f32>(y, hsum(a0));
  store<f32>(y, hsum(a1), 4);
  store<f32>(y, hsum(a2), 8);
  store<f32>(y, hsum(a3), 12);
  store<f32>(y, hsum(a4), 16);
  store<f32>(y, hsum(a5), 20);
  store<f32>(y, hsum(a6), 24);
  store<f32>(y, hsum(a7), 28);
}

/** Dot product of one f32 row with x over cols: 4 independent accumulators, then a scalar tail. */
@inline
function dot_f32(w: usize, x: usize, cols: i32): f32 {
  let a0 = f32x4.splat(0);
  let a1 = a0;
  let a2 = a0;
  let a3 = a0;
  let k = 0;
  for (; k + 16 <= cols; k += 16) {
    const o = <usize>k << 2;
    a0 = madd(v128.load(w + o), v128.load(x + o), a0);
    a1 = madd(v128.load(w + o, 16), v128.load(x + o, 16), a1);
    a2 = madd(v128.load(w + o, 32), v128.load(x + o, 32), a2);
    a3 = madd(v128.load(w + o, 48), v128.load(x + o, 48), a3);
  }
  for (; k + 4 <= cols; k += 4) {
    const o = <usize>k << 2;
    a0 = madd(v128.load(w + o), v128.load(x + o), a0);
  }
  let s = hsum(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)));
  for (; k < cols; k++) s += load<f32>(w + (<usize>k << 2)) * load<f32>(x + (<usize>k << 2));
  return s;
}

/** Rows up to this many f32 use the one-row path; longer ones the eight-row path (see below). */
const SHORT_ROW_COLS = 2560;

export function matmul_f32(w: usize, x: usize, y: usize, rows: i32, cols: i32, n: i32, ld: i32): void {
  const stride = <usize>cols << 2;
  const cols4 = cols & ~3;
  let r = 0;
  // Short rows: x stays in L1 and one row at a time is a single sequential stream, which
  // the prefetchers follow at full speed. Long rows: x no longer fits beside the streamed
  // weights, so eight rows share each x load instead.
  for (; cols > SHORT_ROW_COLS && r + 8 <= rows; r += 8) {
    const w0 = w + <usize>r * stride;
    for (let t = 0; t < n; t++) {
      const xt = x + <usize>t * stride;
      let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
      for (let k = 0; k < cols4; k += 4) {
        const o = <usize>k << 2;
        const xv = v128.load(xt + o);
        let p = w0 + o;
        a0 = madd(v128.load(p), xv, a0); p += stride;
        a1 = madd(v128.load(p), xv, a1); p += stride;
        a2 = madd(v128.load(p), xv, a2); p += stride;
        a3 = madd(v128.load(p), xv, a3); p += stride;
        a4 = madd(v128.load(p), xv, a4); p += stride;
        a5 = madd(v128.load(p), xv, a5); p += stride;
        a6 = madd(v128.load(p), xv, a6); p += stride;
        a7 = madd(v128.load(p), xv, a7);
      }
      const yo = y + ((<usize>t * <usize>ld + <usize>r) << 2);
      store_dot8(yo, a0, a1, a2, a3, a4, a5, a6, a7);
      for (let k = cols4; k < cols; k++) {
        const xk = load<f32>(xt + (<usize>k << 2));
        for (let i = 0; i < 8; i++) {
          const yi = yo + (<usize>i << 2);
          store<f32>(yi, load<f32>(yi) + load<f32>(w0 + <usize>i * stride + (<usize>k << 2)) * xk);
        }
      }
    }
  }
  for (; r < rows; r++) {
    const wr = w + <usize>r * stride;
    for (let t = 0; t < n; t++) {
      store<f32>(y + ((<usize>t * <usize>ld + <usize>r) << 2), dot_f32(wr, x + <usize>t * stride, cols));
    }
  }
}

// ---------------------------------------------------------------- f16 ----

@inline
function dot_f16(w: usize, x: usize, cols: i32): f32 {
  let a0 = f32x4.splat(0);
  let a1 = a0;
  let k = 0;
  for (; k + 8 <= cols; k += 8) {
    const h = v128.load(w + (<usize>k << 1));
    const xo = x + (<usize>k << 2);
    a0 = madd(f16x4(i32x4.extend_low_i16x8_s(h)), v128.load(xo), a0);
    a1 = madd(f16x4(i32x4.extend_high_i16x8_s(h)), v128.load(xo, 16), a1);
  }
  let s = hsum(f32x4.add(a0, a1));
  for (; k < cols; k++) s += f16_to_f32(<u32>load<u16>(w + (<usize>k << 1))) * load<f32>(x + (<usize>k << 2));
  return s;
}

/**
 * dot_f16 of one row with two x rows (GEMM, n >= 2): each 8 weights are loaded and
 * converted once for both tokens, ~1.7x faster per token than two dot_f16 (the conversion,
 * not the multiply-add, is the work). Each token keeps dot_f16's operations and order.
 * Measured and not kept (Zen 4, V8 11.3): the same pairing for f32 (dot_f32 twice sharing
 * the weight loads) ran ~10% slower; f32 tiles that reorder the sums (4 rows x 2 tokens:
 * 1.5-1.8x on weights in cache, but 0.5x on weights streamed from DRAM, whose 4 interleaved
 * row streams the prefetchers follow badly; 1 row x 4 tokens: 1.25-1.35x for n >= 5) change
 * results with n by ~1e-7 relative. The x4 q8_0/q4_0 kernels are bound by
 * i32x4.dot_i16x8_s, which no tiling shares, and 4 x 2 tiles ran 10-20% slower there; the
 * row-major ones gained <= 13% from pairing, swinging to 0.5x with unrelated code layout.
 * Relaxed builds' q4_0 (dot_q4_relaxed; Zen 4, V8 11.3, two cores under load 3-9, medians):
 * a 1536x576 x4 GEMV with weights in L2 takes 32 us instead of 44 (row-major 62 instead of
 * 74); SmolLM2-135M decode runs 1.25-1.35x the baseline build's tok/s (best runs 150 vs 118,
 * about 50% of the memory roofline instead of 40%). The i32x4 add form with its two dots
 * chained ran at 46 us, slower than the baseline.
 */
@inline
function dot2_f16(w: usize, xa: usize, xb: usize, cols: i32, ya: usize, yb: usize): void {
  let a0 = f32x4.splat(0), a1 = a0, b0 = a0, b1 = a0;
  let k = 0;
  for (; k + 8 <= cols; k += 8) {
    const h = v128.load(w + (<usize>k << 1));
    const o = <usize>k << 2;
    const lo = f16x4(i32x4.extend_low_i16x8_s(h));
    const hi = f16x4(i32x4.extend_high_i16x8_s(h));
    a0 = madd(lo, v128.load(xa + o), a0);
    b0 = madd(lo, v128.load(xb + o), b0);
    a1 = madd(hi, v128.load(xa + o, 16), a1);
    b1 = madd(hi, v128.load(xb + o, 16), b1);
  }
  let sa = hsum(f32x4.add(a0, a1));
  let sb = hsum(f32x4.add(b0, b1));
  for (; k < cols; k++) {
    const wk = f16_to_f32(<u32>load<u16>(w + (<usize>k << 1)));
    sa += wk * load<f32>(xa + (<usize>k << 2));
    sb += wk * load<f32>(xb + (<usize>k << 2));
  }
  store<f32>(ya, sa);
  store<f32>(yb, sb);
}

export function matmul_f16(w: usize, x: usize, y: usize, rows: i32, cols: i32, n: i32, ld: i32): void {
  const wstride = <usize>cols << 1;
  const xstride = <usize>cols << 2;
  for (let r = 0; r < rows; r++) {
    const wr = w + <usize>r * wstride;
    let t = 0;
    for (; t + 2 <= n; t += 2) {
      const ya = y + ((<usize>t * <usize>ld + <usize>r) << 2);
      dot2_f16(wr, x + <usize>t * xstride, x + <usize>(t + 1) * xstride, cols, ya, ya + (<usize>ld << 2));
    }
    for (; t < n; t++) {
      store<f32>(y + ((<usize>t * <usize>ld + <usize>r) << 2), dot_f16(wr, x + <usize>t * xstride, cols));
    }
  }
}

// ------------------------------------------------- quantized activations ----
//
// For q8_0/q4_0 weights, x is quantized per block of 32 to int8 (scale dx = amax/127) and
// widened to i16 in the order the integer dot wants: per block, 4 vectors of 8 lanes:
//   s0 = x[0,2,..,14]  s1 = x[1,3,..,15]  s2 = x[16,18,..,30]  s3 = x[17,19,..,31]
// The weight side then needs only a shift or a mask per 16 bytes (see dot_q8 / dot_q4),
// and every partial sum comes out multiplied by 256.
// q4 mode pre-multiplies the slots by 256, 1, 16 and 256 to match the nibble masks.
// Relaxed-SIMD builds store q4 activations instead as the plain int8 x[0..31] per block,
// in the first nb*32 bytes (see dot_q4_relaxed); the rest of the row is laid out as below.
//
// Per token row the buffer holds: nb*64 bytes of lanes | nb f32 block scales xs |
// nb i32 block sums (q4 offset correction) | f64 final factor | 24 bytes pad.
// xs = dx * 2^E with E chosen per row so the largest xs is near 2^60; weight scales enter
// as raw f16 bits in f32 position (value * 2^-112); the final factor 2^(104-E) undoes both.

export function act_row_bytes(cols: i32): i32 {
  return (cols >> 5) * 72 + 32;
}

/**
 * Address of the fence slot: the 16 output bytes of rows g..g+3 of token t, which the
 * kernel overwrites with the result anyway. The x4 kernels store each row's partial sums
 * there before loading the next row's weights. The store orders the loads: V8's TurboFan
 * otherwise hoists all eight weight loads of a block above the arithmetic, runs out of the
 * 16 xmm registers and spills a dozen vectors per block (seen in its machine code). With
 * the fences q8_0 x4 runs ~20% and q4_0 x4 ~25% faster. The slot is the thread's own
 * output: a slot shared by all threads (the activation row, as before) bounced its cache
 * line between cores on every block and made two threads slower than one. The relaxed q4_0
 * path holds two activation vectors instead of four, spills nothing without fences, and
 * ran 1-3% slower with them, so it has none.
 */
@inline
function fence_slot(y: usize, t: i32, ld: i32, g: i32): usize {
  return y + ((<usize>t * <usize>ld + <usize>g) << 2);
}

export function quantize_act(x: usize, act: usize, cols: i32, n: i32, q4: i32): void {
  const nb = cols >> 5;
  const rowb = <usize>act_row_bytes(cols);
  for (let t = 0; t < n; t++) {
    const xr = x + <usize>t * (<usize>cols << 2);
    const ar = act + <usize>t * rowb;
    const xs = ar + (<usize>nb << 6);
    const xc = xs + (<usize>nb << 2);
    // Largest |x| over the row sets the common exponent E.
    let m = f32x4.splat(0);
    for (let k = 0; k < cols; k += 4) m = f32x4.max(m, f32x4.abs(v128.load(xr + (<usize>k << 2))));
    const s0 = f32x4.max(m, i32x4.shuffle(m, m, 2, 3, 0, 1));
    const amax = max(f32x4.extract_lane(s0, 0), f32x4.extract_lane(s0, 1));
    const dmax = amax / 127.0;
    let E: i32 = 0;
    if (dmax > 0 && dmax < Infinity) E = 60 - ((<i32>(reinterpret<u32>(dmax) >> 23) & 0xff) - 127);
    const pe = reinterpret<f32>(<u32>(127 + (E >> 1)) << 23);
    const pe2 = reinterpret<f32>(<u32>(127 + E - (E >> 1)) << 23);
    for (let b = 0; b < nb; b++) {
      const xb = xr + (<usize>b << 7);
      const v0 = v128.load(xb), v1 = v128.load(xb, 16), v2 = v128.load(xb, 32), v3 = v128.load(xb, 48);
      const v4 = v128.load(xb, 64), v5 = v128.load(xb, 80), v6 = v128.load(xb, 96), v7 = v128.load(xb, 112);
      let a = f32x4.max(f32x4.max(f32x4.abs(v0), f32x4.abs(v1)), f32x4.max(f32x4.abs(v2), f32x4.abs(v3)));
      a = f32x4.max(a, f32x4.max(f32x4.max(f32x4.abs(v4), f32x4.abs(v5)), f32x4.max(f32x4.abs(v6), f32x4.abs(v7))));
      const s = f32x4.max(a, i32x4.shuffle(a, a, 2, 3, 0, 1));
      const bmax = max(f32x4.extract_lane(s, 0), f32x4.extract_lane(s, 1));
      const d: f32 = bmax / 127.0;
      const id: f32 = d > 0 ? 1.0 / d : 0;
      const idv = f32x4.splat(id);
      // round half away from zero, like ggml's roundf
      const q0 = quant4(v0, idv);
      const q1 = quant4(v1, idv);
      const q2 = quant4(v2, idv);
      const q3 = quant4(v3, idv);
      const q4v = quant4(v4, idv);
      const q5 = quant4(v5, idv);
      const q6 = quant4(v6, idv);
      const q7 = quant4(v7, idv);
      // i32 lanes -> i16, then split into even and odd element lanes.
      const h0 = i16x8.narrow_i32x4_s(q0, q1); // x0..x7
      const h1 = i16x8.narrow_i32x4_s(q2, q3); // x8..x15
      const h2 = i16x8.narrow_i32x4_s(q4v, q5); // x16..x23
      const h3 = i16x8.narrow_i32x4_s(q6, q7); // x24..x31
      if (q4) {
        // Block sum for the "-8" offset of q4 nibbles, in the same x256 units.
        const sum = i32x4.add(i32x4.add(i32x4.add(q0, q1), i32x4.add(q2, q3)), i32x4.add(i32x4.add(q4v, q5), i32x4.add(q6, q7)));
        const s2 = i32x4.add(sum, i32x4.shuffle(sum, sum, 2, 3, 0, 1));
        store<i32>(xc + (<usize>b << 2), (i32x4.extract_lane(s2, 0) + i32x4.extract_lane(s2, 1)) * 2048);
      }
      if (ASC_FEATURE_RELAXED_SIMD && q4) {
        const ab = ar + (<usize>b << 5);
        v128.store(ab, i8x16.narrow_i16x8_s(h0, h1));
        v128.store(ab, i8x16.narrow_i16x8_s(h2, h3), 16);
      } else {
        let e0 = i16x8.shuffle(h0, h1, 0, 2, 4, 6, 8, 10, 12, 14);
        const o0 = i16x8.shuffle(h0, h1, 1, 3, 5, 7, 9, 11, 13, 15);
        let e1 = i16x8.shuffle(h2, h3, 0, 2, 4, 6, 8, 10, 12, 14);
        let o1 = i16x8.shuffle(h2, h3, 1, 3, 5, 7, 9, 11, 13, 15);
        if (q4) {
          e0 = i16x8.shl(e0, 8);
          e1 = i16x8.shl(e1, 4);
          o1 = i16x8.shl(o1, 8);
        }
        const ab = ar + (<usize>b << 6);
        v128.store(ab, e0);
        v128.store(ab, o0, 16);
        v128.store(ab, e1, 32);
        v128.store(ab, o1, 48);
      }
      const dv = bmax == bmax && bmax < Infinity ? d * pe * pe2 : NaN;
      store<f32>(xs + (<usize>b << 2), <f32>dv);
    }
    // 2^(104 - E): 112 undoes the f16-bits trick, -8 the x256 of the integer dots.
    store<f64>(xc + (<usize>nb << 2), Math.pow(2.0, <f64>(104 - E)));
  }
}

/**
 * x * id rounded to an int8 value in i32 lanes. The clamp matters only where 1/d overflowed
 * (block amax below ~3.7e-37): x * Inf would saturate to 2^31-1 and wrap in the q4 slot
 * shifts and block sums, and the int8 layout of relaxed builds could not hold it, so the
 * two builds would differ. Elsewhere |x * id| <= 127.00002 and the clamp changes nothing.
 */
@inline
function quant4(v: v128, idv: v128): v128 {
  const c = f32x4.pmin(f32x4.pmax(f32x4.mul(v, idv), f32x4.splat(-127)), f32x4.splat(127));
  return i32x4.trunc_sat_f32x4_s(roundv(c));
}

/** Round half away from zero, like C's roundf (v - trunc(v) is exact in f32). */
@inline
function roundv(v: v128): v128 {
  const t = f32x4.trunc(v);
  const up = f32x4.ge(f32x4.abs(f32x4.sub(v, t)), f32x4.splat(0.5));
  const one = v128.or(f32x4.splat(1), v128.and(v, i32x4.splat(0x80000000)));
  return f32x4.add(t, v128.and(one, up));
}

// ---------------------------------------------------------------- q8_0 ----

/** 256 * sum(q * x) over one q8_0 block, as 4 partial i32 lanes. */
@inline
function dot_q8(v: v128, u: v128, x0: v128, x1: v128, x2: v128, x3: v128): v128 {
  const m = i16x8.splat(<i16>0xff00);
  return i32x4.add(
    i32x4.add(i32x4.dot_i16x8_s(i16x8.shl(v, 8), x0), i32x4.dot_i16x8_s(v128.and(v, m), x1)),
    i32x4.add(i32x4.dot_i16x8_s(i16x8.shl(u, 8), x2), i32x4.dot_i16x8_s(v128.and(u, m), x3)),
  );
}

/** Weight scale bits as f32 (value * 2^-112), for one f16. */
@inline
function wscale(p: usize): f32 {
  const h = <u32>load<u16>(p);
  return reinterpret<f32>(((h & 0x7fff) << 13) | ((h & 0x8000) << 16));
}

export function matmul_q8_0(w: usize, act: usize, y: usize, rows: i32, cols: i32, n: i32, ld: i32): void {
  const nb = cols >> 5;
  const rs = <usize>nb * 34;
  const rowb = <usize>act_row_bytes(cols);
  for (let r = 0; r < rows; r++) {
    const wr = w + <usize>r * rs;
    for (let t = 0; t < n; t++) {
      const ar = act + <usize>t * rowb;
      const xs = ar + (<usize>nb << 6);
      let acc = f32x4.splat(0);
      let p = wr;
      for (let b = 0; b < nb; b++) {
        const xo = ar + (<usize>b << 6);
        const s = dot_q8(v128.load(p, 2), v128.load(p, 18), v128.load(xo), v128.load(xo, 16), v128.load(xo, 32), v128.load(xo, 48));
        const d = wscale(p) * load<f32>(xs + (<usize>b << 2));
        acc = madd(f32x4.convert_i32x4_s(s), f32x4.splat(d), acc);
        p += 34;
      }
      store<f32>(y + ((<usize>t * <usize>ld + <usize>r) << 2), <f32>(<f64>hsum(acc) * load<f64>(xs + (<usize>nb << 3))));
    }
  }
}

/** Four i32x4 partial sums -> one i32x4 holding each one's total. */
@inline
function transpose_sum(s0: v128, s1: v128, s2: v128, s3: v128): v128 {
  const a = i32x4.add(i32x4.shuffle(s0, s1, 0, 4, 1, 5), i32x4.shuffle(s0, s1, 2, 6, 3, 7));
  const c = i32x4.add(i32x4.shuffle(s2, s3, 0, 4, 1, 5), i32x4.shuffle(s2, s3, 2, 6, 3, 7));
  return i32x4.add(i32x4.shuffle(a, c, 0, 1, 4, 5), i32x4.shuffle(a, c, 2, 3, 6, 7));
}

/** Four packed f16 scales (8 bytes at p) -> f32x4 of their bits (value * 2^-112). */
@inline
function wscale4(p: usize): v128 {
  return v128.and(i32x4.shl(i32x4.extend_low_i16x8_s(v128.load64_zero(p)), 13), i32x4.splat(0x8fffe000));
}

/** Four consecutive outputs = lanes of acc times the row's final factor. */
@inline
function store_scaled4(y: usize, acc: v128, f: f64): void {
  store<f32>(y, <f32>(<f64>f32x4.extract_lane(acc, 0) * f));
  store<f32>(y, <f32>(<f64>f32x4.extract_lane(acc, 1) * f), 4);
  store<f32>(y, <f32>(<f64>f32x4.extract_lane(acc, 2) * f), 8);
  store<f32>(y, <f32>(<f64>f32x4.extract_lane(acc, 3) * f), 12);
}

/** x4 layout: per group of 4 rows, per block: [4 x f16 d][4 x 32 i8] = 136 bytes. */
export function matmul_q8_0x4(w: usize, act: usize, y: usize, rows: i32, cols: i32, n: i32, ld: i32): void {
  const nb = cols >> 5;
  const gs = <usize>nb * 136;
  const rowb = <usize>act_row_bytes(cols);
  for (let g = 0; g < rows; g += 4) {
    const wg = w + (<usize>(g >> 2)) * gs;
    for (let t = 0; t < n; t++) {
      const ar = act + <usize>t * rowb;
      const xs = ar + (<usize>nb << 6);
      const fence = fence_slot(y, t, ld, g);
      let acc = f32x4.splat(0);
      let p = wg;
      for (let b = 0; b < nb; b++) {
        const xo = ar + (<usize>b << 6);
        const x0 = v128.load(xo), x1 = v128.load(xo, 16), x2 = v128.load(xo, 32), x3 = v128.load(xo, 48);
        const s0 = dot_q8(v128.load(p, 8), v128.load(p, 24), x0, x1, x2, x3);
        v128.store(fence, s0);
        const s1 = dot_q8(v128.load(p, 40), v128.load(p, 56), x0, x1, x2, x3);
        v128.store(fence, s1);
        const s2 = dot_q8(v128.load(p, 72), v128.load(p, 88), x0, x1, x2, x3);
        v128.store(fence, s2);
        const s3 = dot_q8(v128.load(p, 104), v128.load(p, 120), x0, x1, x2, x3);
        const d = f32x4.mul(wscale4(p), v128.load32_splat(xs + (<usize>b << 2)));
        acc = madd(f32x4.convert_i32x4_s(transpose_sum(s0, s1, s2, s3)), d, acc);
        p += 136;
      }
      // lanes are rows g..g+3 of token t
      store_scaled4(y + ((<usize>t * <usize>ld + <usize>g) << 2), acc, load<f64>(xs + (<usize>nb << 3)));
    }
  }
}

// ---------------------------------------------------------------- q4_0 ----

/** 256 * sum(nibble * x) over one q4_0 block (16 bytes v), with q4-mode activation slots. */
@inline
function dot_q4(v: v128, x0: v128, x1: v128, x2: v128, x3: v128): v128 {
  const e_lo = v128.and(v, i16x8.splat(0x000f)); // element 2i       (x slot scaled 256)
  const o_lo = v128.and(v, i16x8.splat(0x0f00)); // element 2i+1 *256 (x slot scaled 1)
  const e_hi = v128.and(v, i16x8.splat(0x00f0)); // element 2i+16 *16 (x slot scaled 16)
  const o_hi = i16x8.shr_u(v, 12); //               element 2i+17     (x slot scaled 256)
  return i32x4.add(
    i32x4.add(i32x4.dot_i16x8_s(e_lo, x0), i32x4.dot_i16x8_s(o_lo, x1)),
    i32x4.add(i32x4.dot_i16x8_s(e_hi, x2), i32x4.dot_i16x8_s(o_hi, x3)),
  );
}

/**
 * sum(nibble * x) over one q4_0 block against int8 x[0..15] (xl) and x[16..31] (xh), as 8
 * partial i16 lanes: lane j covers elements 2j, 2j+1, 16+2j and 17+2j. Nibbles are 0..15, a
 * valid i7 operand, so the relaxed dot has one defined result on every host, and with
 * |x| <= 127 a lane stays within 4*15*127 = 7620: nothing saturates or wraps.
 * i16x8 rather than i32x4.relaxed_dot_i8x16_i7x16_add_s: V8 11.3 (Node 20) lowers the latter
 * to five x64 instructions (it rebuilds its ones vector each time), and its Liftoff tier
 * adds the dot to itself instead of to c, so the first calls of a fresh module return wrong
 * sums. An i16 shift and a mask give the high nibbles: V8 builds i8x16.shr_u from about five.
 */
@inline
function dot_q4_relaxed(v: v128, xl: v128, xh: v128): v128 {
  const m = i8x16.splat(0x0f);
  const hi = v128.and(i16x8.shr_u(v, 4), m);
  return i16x8.add(i16x8.relaxed_dot_i8x16_i7x16_s(xl, v128.and(v, m)), i16x8.relaxed_dot_i8x16_i7x16_s(xh, hi));
}

/**
 * transpose_sum for four dot_q4_relaxed results: each row's total in an i32 lane. Adding in
 * i16 first (|lane| <= 4 * 7620) leaves one widening multiply-add instead of four.
 */
@inline
function transpose_sum16(p0: v128, p1: v128, p2: v128, p3: v128): v128 {
  const a = i16x8.add(i32x4.shuffle(p0, p1, 0, 4, 1, 5), i32x4.shuffle(p0, p1, 2, 6, 3, 7));
  const c = i16x8.add(i32x4.shuffle(p2, p3, 0, 4, 1, 5), i32x4.shuffle(p2, p3, 2, 6, 3, 7));
  return i32x4.extadd_pairwise_i16x8_s(i16x8.add(i64x2.shuffle(a, c, 0, 2), i64x2.shuffle(a, c, 1, 3)));
}

/** a*b + c, unfused in every build: the q4 paths of the two builds give the same bits. */
@inline
function madd_exact(a: v128, b: v128, c: v128): v128 {
  return f32x4.add(f32x4.mul(a, b), c);
}

export function matmul_q4_0(w: usize, act: usize, y: usize, rows: i32, cols: i32, n: i32, ld: i32): void {
  const nb = cols >> 5;
  const rs = <usize>nb * 18;
  const rowb = <usize>act_row_bytes(cols);
  for (let r = 0; r < rows; r++) {
    const wr = w + <usize>r * rs;
    for (let t = 0; t < n; t++) {
      const ar = act + <usize>t * rowb;
      const xs = ar + (<usize>nb << 6);
      const xc = xs + (<usize>nb << 2);
      let acc = f32x4.splat(0);
      let p = wr;
      for (let b = 0; b < nb; b++) {
        let s: v128;
        if (ASC_FEATURE_RELAXED_SIMD) {
          const xo = ar + (<usize>b << 5);
          // lane i = elements 4i..4i+3 and 16+4i..19+4i, as in dot_q4, whose lanes are 256x these
          s = i32x4.shl(i32x4.extadd_pairwise_i16x8_s(dot_q4_relaxed(v128.load(p, 2), v128.load(xo), v128.load(xo, 16))), 8);
        } else {
          const xo = ar + (<usize>b << 6);
          s = dot_q4(v128.load(p, 2), v128.load(xo), v128.load(xo, 16), v128.load(xo, 32), v128.load(xo, 48));
        }
        // subtract 8 * sum(x) (x256), spread over lane 0
        s = i32x4.sub(s, i32x4.replace_lane(i32x4.splat(0), 0, load<i32>(xc + (<usize>b << 2))));
        const d = wscale(p) * load<f32>(xs + (<usize>b << 2));
        acc = madd_exact(f32x4.convert_i32x4_s(s), f32x4.splat(d), acc);
        p += 18;
      }
      store<f32>(y + ((<usize>t * <usize>ld + <usize>r) << 2), <f32>(<f64>hsum(acc) * load<f64>(xs + (<usize>nb << 3))));
    }
  }
}

/** x4 layout: per group of 4 rows, per block: [4 x f16 d][4 x 16 bytes] = 72 bytes. */
export function matmul_q4_0x4(w: usize, act: usize, y: usize, rows: i32, cols: i32, n: i32, ld: i32): void {
  const nb = cols >> 5;
  const gs = <usize>nb * 72;
  const rowb = <usize>act_row_bytes(cols);
  for (let g = 0; g < rows; g += 4) {
    const wg = w + (<usize>(g >> 2)) * gs;
    for (let t = 0; t < n; t++) {
      const ar = act + <usize>t * rowb;
      const xs = ar + (<usize>nb << 6);
      const xc = xs + (<usize>nb << 2);
      const fence = fence_slot(y, t, ld, g);
      let acc = f32x4.splat(0);
      let p = wg;
      for (let b = 0; b < nb; b++) {
        let tot: v128;
        if (ASC_FEATURE_RELAXED_SIMD) {
          const xo = ar + (<usize>b << 5);
          const xl = v128.load(xo), xh = v128.load(xo, 16);
          const s0 = dot_q4_relaxed(v128.load(p, 8), xl, xh);
          const s1 = dot_q4_relaxed(v128.load(p, 24), xl, xh);
          const s2 = dot_q4_relaxed(v128.load(p, 40), xl, xh);
          const s3 = dot_q4_relaxed(v128.load(p, 56), xl, xh);
          tot = i32x4.shl(transpose_sum16(s0, s1, s2, s3), 8);
        } else {
          const xo = ar + (<usize>b << 6);
          const x0 = v128.load(xo), x1 = v128.load(xo, 16), x2 = v128.load(xo, 32), x3 = v128.load(xo, 48);
          const s0 = dot_q4(v128.load(p, 8), x0, x1, x2, x3);
          v128.store(fence, s0);
          const s1 = dot_q4(v128.load(p, 24), x0, x1, x2, x3);
          v128.store(fence, s1);
          const s2 = dot_q4(v128.load(p, 40), x0, x1, x2, x3);
          v128.store(fence, s2);
          const s3 = dot_q4(v128.load(p, 56), x0, x1, x2, x3);
          tot = transpose_sum(s0, s1, s2, s3);
        }
        const s = i32x4.sub(tot, v128.load32_splat(xc + (<usize>b << 2)));
        const d = f32x4.mul(wscale4(p), v128.load32_splat(xs + (<usize>b << 2)));
        acc = madd_exact(f32x4.convert_i32x4_s(s), d, acc);
        p += 72;
      }
      store_scaled4(y + ((<usize>t * <usize>ld + <usize>g) << 2), acc, load<f64>(xs + (<usize>nb << 3)));
    }
  }
}
