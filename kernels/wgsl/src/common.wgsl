// Shared helpers (no bindings). WGSL lets implementations assume no NaN or infinity in
// float arithmetic, so NaN and infinity are recognised from bits, and masked scores use a
// large finite sentinel instead of -inf.

const NEG_BIG: f32 = -3.0e38;

fn is_nan_bits(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

fn is_finite_bits(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7f800000u) != 0x7f800000u;
}

fn half_to_f32(bits: u32) -> f32 {
  return unpack2x16float(bits & 0xffffu).x;
}

// f32 -> f16 bits, round half to even, NaN kept quiet with its sign (as half.ts does)
fn f32_to_half(v: f32) -> u32 {
  let x = bitcast<u32>(v);
  let sign = (x >> 16u) & 0x8000u;
  let ax = x & 0x7fffffffu;
  if (ax > 0x7f800000u) { return sign | 0x7e00u; }
  if (ax >= 0x477ff000u) { return sign | 0x7c00u; }
  if (ax < 0x38800000u) {
    if (ax <= 0x33000000u) { return sign; }
    let e = ax >> 23u;
    let m = (ax & 0x7fffffu) | 0x800000u;
    let shift = 126u - e;
    var r = m >> shift;
    let rem = m & ((1u << shift) - 1u);
    let half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (r & 1u) == 1u)) { r = r + 1u; }
    return sign | r;
  }
  var r = (ax - 0x38000000u) >> 13u;
  let rem = ax & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (r & 1u) == 1u)) { r = r + 1u; }
  return sign | r;
}

fn sign_ext8(v: u32) -> f32 {
  return f32(extractBits(i32(v), 0u, 8u));
}

fn silu_f(x: f32) -> f32 {
  return x / (1.0 + exp(-x));
}

// erf through erfc's Chebyshev fit (Numerical Recipes' erfcc): relative error < 1.2e-7
fn erf_f(x: f32) -> f32 {
  let z = abs(x);
  let t = 1.0 / (1.0 + 0.5 * z);
  let r = t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return select(r - 1.0, 1.0 - r, x >= 0.0);
}

fn gelu_f(x: f32) -> f32 {
  return 0.5 * x * (1.0 + erf_f(x * 0.70710678118654752));
}

fn gelu_tanh_f(x: f32) -> f32 {
  let u = clamp(0.7978845608028654 * (x + 0.044715 * x * x * x), -15.0, 15.0);
  return 0.5 * x * (1.0 + tanh(u));
}

fn linear_group(wid: vec3u, nwg: vec3u) -> u32 {
  return wid.y * nwg.x + wid.x;
}

// Sum (or max) of v over a 256-thread workgroup; every thread gets the result. Call it from
// uniform control flow. (Unused by a shader, the array costs that shader nothing.)
var<workgroup> wg_red: array<f32, 256>;

fn wg_reduce256(tid: u32, v: f32, take_max: bool) -> f32 {
  wg_red[tid] = v;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s = s >> 1u) {
    if (tid < s) {
      if (take_max) { wg_red[tid] = max(wg_red[tid], wg_red[tid + s]); } else { wg_red[tid] = wg_red[tid] + wg_red[tid + s]; }
    }
    workgroupBarrier();
  }
  let r = wg_red[0];
  workgroupBarrier();
  return r;
}
