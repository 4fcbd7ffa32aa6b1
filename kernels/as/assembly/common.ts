// Shared helpers for the kernels. Every pointer is a byte offset into the one
// linear memory that the JS tensor arena manages; kernels never allocate.

/** 2^112: scales f16 bits shifted into f32 position back to their value. */
export const F16_MAGIC: f32 = reinterpret<f32>(0x77800000);

/** Exact f16 -> f32 for every input, NaN and subnormals included. */
@inline
export function f16_to_f32(h: u32): f32 {
  const sign = (h & 0x8000) << 16;
  const bits = (h & 0x7fff) << 13;
  // Zero, subnormal and normal values scale exactly by 2^112; Inf/NaN keep an all-ones exponent.
  const v = reinterpret<u32>(reinterpret<f32>(bits) * F16_MAGIC);
  const r = bits >= 0x0f800000 ? bits | 0x7f800000 : v;
  return reinterpret<f32>(r | sign);
}

/** f32 -> f16 with round-to-nearest-even, overflow to Inf, NaN kept quiet. */
@inline
export function f32_to_f16(f: f32): u16 {
  const x = reinterpret<u32>(f);
  const sign = (x >> 16) & 0x8000;
  const ax = x & 0x7fffffff;
  if (ax >= 0x7f800000) return <u16>(sign | (ax > 0x7f800000 ? 0x7e00 : 0x7c00));
  if (ax >= 0x477ff000) return <u16>(sign | 0x7c00); // rounds to >= 65520 -> Inf
  if (ax < 0x38800000) {
    // Result is subnormal (or zero): let the FPU round by adding 0.5 (2^-1) as a bias.
    const v = reinterpret<f32>(ax) + reinterpret<f32>(0x3f000000);
    return <u16>(sign | ((reinterpret<u32>(v) - 0x3f000000) & 0xffff));
  }
  const mant_odd = (ax >> 13) & 1;
  const r = ax + 0xc8000fff + mant_odd; // rebias exponent (-112 << 23) and round half to even
  return <u16>(sign | (r >> 13));
}

@inline
export function hsum(v: v128): f32 {
  const s = f32x4.add(v, i32x4.shuffle(v, v, 2, 3, 0, 1));
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1);
}

@inline
export function hmax(v: v128): f32 {
  const s = f32x4.max(v, i32x4.shuffle(v, v, 2, 3, 0, 1));
  return max(f32x4.extract_lane(s, 0), f32x4.extract_lane(s, 1));
}

/** a*b + c; fused where relaxed SIMD is compiled in (results may then differ in the last bit). */
@inline
export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

/** Vector exp(x), about 2 ulp; underflows to 0 below -87.3, Inf above 88.72, NaN stays NaN. */
@inline
export function exp4(x: v128): v128 {
  const hi = f32x4.splat(88.72283);
  const lo = f32x4.splat(-87.33654);
  const under = f32x4.lt(x, lo);
  const over = f32x4.gt(x, hi);
  let v = f32x4.pmax(f32x4.pmin(x, hi), lo);
  const n = f32x4.nearest(f32x4.mul(v, f32x4.splat(1.44269504088896341)));
  v = f32x4.sub(v, f32x4.mul(n, f32x4.splat(0.693359375)));
  v = f32x4.sub(v, f32x4.mul(n, f32x4.splat(-2.12194440e-4)));
  let p = f32x4.splat(1.9875691500e-4);
  p = f32x4.add(f32x4.mul(p, v), f32x4.splat(1.3981999507e-3));
  p = f32x4.add(f32x4.mul(p, v), f32x4.splat(8.3334519073e-3));
  p = f32x4.add(f32x4.mul(p, v), f32x4.splat(4.1665795894e-2));
  p = f32x4.add(f32x4.mul(p, v), f32x4.splat(1.6666665459e-1));
  p = f32x4.add(f32x4.mul(p, v), f32x4.splat(5.0000001201e-1));
  p = f32x4.add(f32x4.mul(f32x4.mul(p, v), v), f32x4.add(v, f32x4.splat(1.0)));
  // 2^n assembled in two halves so n = 128 (x near 88.7) does not overflow the exponent field.
  const ni = i32x4.trunc_sat_f32x4_s(n);
  const n1 = i32x4.shr_s(ni, 1);
  const n2 = i32x4.sub(ni, n1);
  const s1 = i32x4.shl(i32x4.add(n1, i32x4.splat(127)), 23);
  const s2 = i32x4.shl(i32x4.add(n2, i32x4.splat(127)), 23);
  let r = f32x4.mul(f32x4.mul(p, s1), s2);
  r = v128.bitselect(f32x4.splat(0), r, under);
  r = v128.bitselect(f32x4.splat(Infinity), r, over);
  return r;
}

/** Scalar exp with the same polynomial, for tails, so tails match the vector body. */
@inline
export function exp1(x: f32): f32 {
  return f32x4.extract_lane(exp4(f32x4.splat(x)), 0);
}

/** f16 held sign-extended in i32 lanes -> exact f32 (Inf and NaN included). */
@inline
export function f16x4(e: v128): v128 {
  const bits = v128.and(i32x4.shl(e, 13), i32x4.splat(0x8fffe000));
  const v = f32x4.mul(bits, f32x4.splat(F16_MAGIC));
  // exponent 31 (Inf/NaN) would scale to a finite 65536*1.m: force the exponent to all ones
  const special = i32x4.ge_u(v128.and(bits, i32x4.splat(0x7fffffff)), i32x4.splat(0x0f800000));
  return v128.bitselect(v128.or(bits, i32x4.splat(0x7f800000)), v, special);
}

/** y[0..len) = x * s (x may be y): the scale kernel, and the 1 / sum that ends a softmax. */
@inline
export function scale_row(x: usize, y: usize, len: i32, s: f32): void {
  const l4 = len & ~3;
  const sv = f32x4.splat(s);
  for (let i = 0; i < l4; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, f32x4.mul(v128.load(x + o), sv));
  }
  for (let i = l4; i < len; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, load<f32>(x + o) * s);
  }
}
