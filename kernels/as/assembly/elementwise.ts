// Row-wise norms, softmax and element-wise activations. Rows are contiguous [n, dim].
// Vector bodies handle 4 lanes; tails use the same formulas lane by lane so a row's
// result does not depend on where the tail starts.
import { exp1, exp4, hmax, hsum, scale_row } from "./common";

/** y = x / sqrt(mean(x^2) + eps) * w  (w = 0: no weight). */
export function rmsnorm(x: usize, w: usize, y: usize, n: i32, dim: i32, eps: f32): void {
  const d4 = dim & ~3;
  for (let r = 0; r < n; r++) {
    const xr = x + <usize>r * (<usize>dim << 2);
    const yr = y + <usize>r * (<usize>dim << 2);
    let acc = f32x4.splat(0);
    for (let k = 0; k < d4; k += 4) {
      const v = v128.load(xr + (<usize>k << 2));
      acc = f32x4.add(acc, f32x4.mul(v, v));
    }
    let ss = hsum(acc);
    for (let k = d4; k < dim; k++) {
      const v = load<f32>(xr + (<usize>k << 2));
      ss += v * v;
    }
    const inv: f32 = <f32>1.0 / sqrt<f32>(ss / <f32>dim + eps);
    const iv = f32x4.splat(inv);
    for (let k = 0; k < d4; k += 4) {
      const o = <usize>k << 2;
      let v = f32x4.mul(v128.load(xr + o), iv);
      if (w) v = f32x4.mul(v, v128.load(w + o));
      v128.store(yr + o, v);
    }
    for (let k = d4; k < dim; k++) {
      const o = <usize>k << 2;
      let v = load<f32>(xr + o) * inv;
      if (w) v *= load<f32>(w + o);
      store<f32>(yr + o, v);
    }
  }
}

/** y = (x - mean) / sqrt(var + eps) * w + b  (w, b = 0: none). Two passes for a stable variance. */
export function layernorm(x: usize, w: usize, b: usize, y: usize, n: i32, dim: i32, eps: f32): void {
  const d4 = dim & ~3;
  for (let r = 0; r < n; r++) {
    const xr = x + <usize>r * (<usize>dim << 2);
    const yr = y + <usize>r * (<usize>dim << 2);
    let acc = f32x4.splat(0);
    for (let k = 0; k < d4; k += 4) acc = f32x4.add(acc, v128.load(xr + (<usize>k << 2)));
    let s = hsum(acc);
    for (let k = d4; k < dim; k++) s += load<f32>(xr + (<usize>k << 2));
    const mean: f32 = s / <f32>dim;
    const mv = f32x4.splat(mean);
    acc = f32x4.splat(0);
    for (let k = 0; k < d4; k += 4) {
      const v = f32x4.sub(v128.load(xr + (<usize>k << 2)), mv);
      acc = f32x4.add(acc, f32x4.mul(v, v));
    }
    let ss = hsum(acc);
    for (let k = d4; k < dim; k++) {
      const v = load<f32>(xr + (<usize>k << 2)) - mean;
      ss += v * v;
    }
    const inv: f32 = <f32>1.0 / sqrt<f32>(ss / <f32>dim + eps);
    const iv = f32x4.splat(inv);
    for (let k = 0; k < d4; k += 4) {
      const o = <usize>k << 2;
      let v = f32x4.mul(f32x4.sub(v128.load(xr + o), mv), iv);
      if (w) v = f32x4.mul(v, v128.load(w + o));
      if (b) v = f32x4.add(v, v128.load(b + o));
      v128.store(yr + o, v);
    }
    for (let k = d4; k < dim; k++) {
      const o = <usize>k << 2;
      let v = (load<f32>(xr + o) - mean) * inv;
      if (w) v *= load<f32>(w + o);
      if (b) v += load<f32>(b + o);
      store<f32>(yr + o, v);
    }
  }
}

/** Numerically stable softmax per row. A row whose max is +-Inf or NaN becomes NaN, as in PyTorch. */
export function softmax(x: usize, y: usize, n: i32, dim: i32): void {
  const d4 = dim & ~3;
  for (let r = 0; r < n; r++) {
    const xr = x + <usize>r * (<usize>dim << 2);
    const yr = y + <usize>r * (<usize>dim << 2);
    let mv = f32x4.splat(-Infinity);
    for (let k = 0; k < d4; k += 4) mv = f32x4.max(mv, v128.load(xr + (<usize>k << 2)));
    let m = hmax(mv);
    for (let k = d4; k < dim; k++) m = max(m, load<f32>(xr + (<usize>k << 2)));
    const ms = f32x4.splat(m);
    let acc = f32x4.splat(0);
    for (let k = 0; k < d4; k += 4) {
      const o = <usize>k << 2;
      const e = exp4(f32x4.sub(v128.load(xr + o), ms));
      v128.store(yr + o, e);
      acc = f32x4.add(acc, e);
    }
    let s = hsum(acc);
    for (let k = d4; k < dim; k++) {
      const o = <usize>k << 2;
      const e = exp1(load<f32>(xr + o) - m);
      store<f32>(yr + o, e);
      s += e;
    }
    scale_row(yr, yr, dim, <f32>1.0 / s);
  }
}

@inline
function silu4(v: v128): v128 {
  return f32x4.div(v, f32x4.add(f32x4.splat(1), exp4(f32x4.neg(v))));
}

/** erfc(z) for z >= 0, relative error < 1.2e-7 (Numerical Recipes' Chebyshev fit). */
@inline
function erfc4(z: v128): v128 {
  const t = f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), f32x4.mul(f32x4.splat(0.5), z)));
  let p = f32x4.splat(0.17087277);
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(-0.82215223));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(1.48851587));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(-1.13520398));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(0.27886807));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(-0.18628806));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(0.09678418));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(0.37409196));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(1.00002368));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(-1.26551223));
  return f32x4.mul(t, exp4(f32x4.add(f32x4.neg(f32x4.mul(z, z)), p)));
}

/** Exact (erf) GELU as in BERT: 0.5 x (1 + erf(x / sqrt 2)), via erfc to keep the negative tail accurate. */
@inline
function gelu4(v: v128): v128 {
  const z = f32x4.mul(f32x4.abs(v), f32x4.splat(0.70710678118654752));
  const c = erfc4(z);
  const neg = f32x4.lt(v, f32x4.splat(0));
  const onePlusErf = v128.bitselect(c, f32x4.sub(f32x4.splat(2), c), neg);
  return f32x4.mul(f32x4.mul(f32x4.splat(0.5), v), onePlusErf);
}

/** tanh-approximate GELU: x / (1 + exp(-2u)), u = sqrt(2/pi) (x + 0.044715 x^3). */
@inline
function gelu_tanh4(v: v128): v128 {
  const u = f32x4.mul(
    f32x4.splat(0.79788456080286536),
    f32x4.add(v, f32x4.mul(f32x4.splat(0.044715), f32x4.mul(v, f32x4.mul(v, v)))),
  );
  return f32x4.div(v, f32x4.add(f32x4.splat(1), exp4(f32x4.mul(f32x4.splat(-2), u))));
}

// kind: 0 silu, 1 gelu (erf), 2 gelu (tanh)
@inline
function act4(kind: i32, v: v128): v128 {
  if (kind == 0) return silu4(v);
  if (kind == 1) return gelu4(v);
  return gelu_tanh4(v);
}

function unary(kind: i32, x: usize, y: usize, len: i32): void {
  const l4 = len & ~3;
  for (let i = 0; i < l4; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, act4(kind, v128.load(x + o)));
  }
  for (let i = l4; i < len; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, f32x4.extract_lane(act4(kind, f32x4.splat(load<f32>(x + o))), 0));
  }
}

export function silu(x: usize, y: usize, len: i32): void {
  unary(0, x, y, len);
}
export function gelu(x: usize, y: usize, len: i32): void {
  unary(1, x, y, len);
}
export function gelu_tanh(x: usize, y: usize, len: i32): void {
  unary(2, x, y, len);
}

/** y = silu(gate) * up, the Llama MLP gate. */
export function swiglu(g: usize, u: usize, y: usize, len: i32): void {
  const l4 = len & ~3;
  for (let i = 0; i < l4; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, f32x4.mul(silu4(v128.load(g + o)), v128.load(u + o)));
  }
  for (let i = l4; i < len; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, f32x4.extract_lane(silu4(f32x4.splat(load<f32>(g + o))), 0) * load<f32>(u + o));
  }
}

// op: 0 add, 1 mul.  b is broadcast: element i of a meets element i % blen of b.
function binary(op: i32, a: usize, b: usize, y: usize, len: i32, blen: i32): void {
  const b4 = blen & ~3;
  for (let r = 0; r < len; r += blen) {
    const ar = a + (<usize>r << 2);
    const yr = y + (<usize>r << 2);
    for (let k = 0; k < b4; k += 4) {
      const o = <usize>k << 2;
      const va = v128.load(ar + o);
      const vb = v128.load(b + o);
      v128.store(yr + o, op == 0 ? f32x4.add(va, vb) : f32x4.mul(va, vb));
    }
    for (let k = b4; k < blen; k++) {
      const o = <usize>k << 2;
      const va = load<f32>(ar + o);
      const vb = load<f32>(b + o);
      store<f32>(yr + o, op == 0 ? va + vb : va * vb);
    }
  }
}

export function add(a: usize, b: usize, y: usize, len: i32, blen: i32): void {
  binary(0, a, b, y, len, blen);
}
export function mul(a: usize, b: usize, y: usize, len: i32, blen: i32): void {
  binary(1, a, b, y, len, blen);
}

/** y = x * s, used for scaling residuals and embeddings. */
export function scale(x: usize, y: usize, len: i32, s: f32): void {
  scale_row(x, y, len, s);
}
