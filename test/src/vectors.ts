/** Seeded inputs and the NMSE the conformance checks use (shared by the wasm and WebGPU suites). */
import { splitmix32 as rng } from "@edgespec/runtime";

export function uniform(seed: number, n: number, lo = -1, hi = 1): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * r());
}

/** sum (got - want)^2 / sum want^2; NaN must sit where the expected NaN sits */
export function nmse(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) return Number.POSITIVE_INFINITY;
  let num = 0;
  let den = 0;
  for (let i = 0; i < want.length; i++) {
    const g = got[i];
    const w = want[i];
    if (Number.isNaN(g) || Number.isNaN(w)) {
      if (Number.isNaN(g) !== Number.isNaN(w)) return Number.POSITIVE_INFINITY;
      continue;
    }
    num += (g - w) ** 2;
    den += w * w;
  }
  return den === 0 ? (num === 0 ? 0 : Number.POSITIVE_INFINITY) : num / den;
}
