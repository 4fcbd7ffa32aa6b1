/** Test helpers: a seeded RNG, NMSE, and a pair of backends under test. */
import { ReferenceBackend, type Tensor, WasmBackend } from "../src/index";

export { splitmix32 as rng } from "../src/index";

/** n values uniform in [lo, hi) */
export function uniform(r: () => number, n: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * r();
  return out;
}

/** normalized mean squared error, as ggml's test-backend-ops defines it */
export function nmse(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) return Number.POSITIVE_INFINITY;
  let num = 0;
  let den = 0;
  for (let i = 0; i < want.length; i++) {
    if (Number.isNaN(got[i]) !== Number.isNaN(want[i])) return Number.POSITIVE_INFINITY;
    if (Number.isNaN(want[i])) continue;
    if (!Number.isFinite(want[i]) || !Number.isFinite(got[i])) {
      if (got[i] !== want[i]) return Number.POSITIVE_INFINITY;
      continue;
    }
    num += (got[i] - want[i]) ** 2;
    den += want[i] ** 2;
  }
  return den === 0 ? (num === 0 ? 0 : Number.POSITIVE_INFINITY) : num / den;
}

export interface Pair {
  wasm: WasmBackend;
  ref: ReferenceBackend;
}

export async function backends(): Promise<Pair> {
  const simd = (process.env.EDGESPEC_SIMD as "baseline" | "relaxed" | undefined) ?? "baseline";
  const wasm = await WasmBackend.create({ simd, canaries: true });
  if (wasm.variant !== simd) throw new Error(`asked for ${simd} kernels, got ${wasm.variant}`);
  return { wasm, ref: new ReferenceBackend() };
}

/** Bytes of a tensor, to prove inputs are untouched by an op. */
export function snapshot(ts: Tensor[]): Uint8Array[] {
  return ts.map((t) => {
    const r = t.owner as unknown as { read(t: Tensor): ArrayBufferView };
    const v = r.read(t);
    return new Uint8Array(v.buffer, v.byteOffset, v.byteLength).slice();
  });
}

export function sameBytes(a: Uint8Array[], b: Uint8Array[]): boolean {
  return a.length === b.length && a.every((x, i) => x.length === b[i].length && x.every((v, j) => v === b[i][j]));
}
