/**
 * Plain scalar math for the reference backend, in float64 unless the semantics need
 * float32 (storage rounding, Hugging Face's f32 RoPE angles, ggml's quantizers).
 * Nothing here is shared with the wasm kernels: it is the independent ground truth.
 */

const fr = Math.fround;

/** erf(x) to ~1e-15: power series near 0, continued fraction for erfc beyond. */
export function erf(x: number): number {
  if (Number.isNaN(x)) return Number.NaN;
  const ax = Math.abs(x);
  if (ax < 2.5) {
    // erf x = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1))
    let term = ax;
    let sum = ax;
    const x2 = ax * ax;
    for (let n = 1; n < 100; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    const r = (2 / Math.sqrt(Math.PI)) * sum;
    return x < 0 ? -r : r;
  }
  const r = 1 - erfcLarge(ax);
  return x < 0 ? -r : r;
}

/** erfc(x) for x >= 0, accurate in the tail (used by GELU for negative inputs). */
export function erfc(x: number): number {
  if (x < 2.5) return 1 - erf(x);
  return erfcLarge(x);
}

function erfcLarge(x: number): number {
  // Lentz's method on erfc x = exp(-x^2)/sqrt(pi) * 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...))))
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let n = 1; n < 500; n++) {
    const a = n / 2;
    d = x + a * d;
    d = d === 0 ? tiny : d;
    c = x + a / c;
    c = c === 0 ? tiny : c;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
}

export function silu(x: number): number {
  return x / (1 + Math.exp(-x));
}

export function gelu(x: number): number {
  // 0.5 x (1 + erf(x/sqrt2)); the negative side via erfc to avoid cancellation
  const z = Math.abs(x) / Math.SQRT2;
  return x >= 0 ? 0.5 * x * (2 - erfc(z)) : 0.5 * x * erfc(z);
}

export function geluTanh(x: number): number {
  const u = Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x);
  return 0.5 * x * (1 + Math.tanh(u));
}

/** ggml's roundf: half away from zero. */
export function roundHalfAway(v: number): number {
  return Math.sign(v) * Math.floor(Math.abs(v) + 0.5);
}

export { fr };
