/** The Rust OMP solver against a plain reference, and exact recovery of sparse signals. */
import { beforeAll, describe, expect, it } from "vitest";
import { OmpSolver, OutOfRangeError, ompReference, ShapeError } from "../src/index";
import { rng } from "./util";

let omp: OmpSolver;
beforeAll(async () => {
  omp = await OmpSolver.create();
});

function gaussian(r: () => number, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  return out;
}

function normalizeRows(d: Float32Array, dim: number): Float32Array {
  for (let a = 0; a < d.length / dim; a++) {
    let s = 0;
    for (let i = 0; i < dim; i++) s += d[a * dim + i] ** 2;
    for (let i = 0; i < dim; i++) d[a * dim + i] /= Math.sqrt(s);
  }
  return d;
}

describe("OMP", () => {
  for (const [nAtoms, dim, k] of [
    [256, 64, 5],
    [512, 128, 8],
    [400, 192, 12],
  ]) {
    it(`recovers ${k}-sparse signals exactly over ${nAtoms} random atoms in ${dim} dims`, () => {
      const r = rng(nAtoms + dim + k);
      const dict = normalizeRows(gaussian(r, nAtoms * dim), dim);
      const nT = 20;
      const targets = new Float32Array(nT * dim);
      const truth: Map<number, number>[] = [];
      for (let t = 0; t < nT; t++) {
        const m = new Map<number, number>();
        while (m.size < k) m.set(Math.floor(r() * nAtoms), (1 + r()) * (r() < 0.5 ? -1 : 1));
        for (const [a, c] of m) for (let i = 0; i < dim; i++) targets[t * dim + i] += c * dict[a * dim + i];
        truth.push(m);
      }
      const res = omp.solve(dict, nAtoms, targets, nT, { k });
      for (let t = 0; t < nT; t++) {
        const got = new Map<number, number>();
        for (let j = 0; j < k; j++) got.set(res.indices[t * k + j], res.coefficients[t * k + j]);
        expect([...got.keys()].sort((a, b) => a - b)).toEqual([...truth[t].keys()].sort((a, b) => a - b));
        for (const [a, c] of truth[t]) expect(Math.abs((got.get(a) ?? 0) - c)).toBeLessThan(1e-4);
        expect(res.residualNorms[t]).toBeLessThan(1e-4);
      }
    });
  }

  for (const [nAtoms, dim, k, normalize] of [
    [64, 16, 4, true],
    [300, 48, 12, true],
    [300, 48, 12, false],
    [40, 200, 40, true],
  ] as const) {
    it(`matches the reference on dense targets (${nAtoms} atoms, dim ${dim}, k ${k}, normalize ${normalize})`, () => {
      const r = rng(nAtoms * 3 + k);
      // unnormalized atoms of different lengths, like embedding rows
      const dict = gaussian(r, nAtoms * dim).map((v, i) => v * (0.5 + (((i / dim) | 0) % 7)) * 0.3);
      const nT = 37; // more than two batches of 16
      const targets = gaussian(r, nT * dim);
      const got = omp.solve(dict, nAtoms, targets, nT, { k, normalize });
      const want = ompReference(dict, nAtoms, targets, nT, { k, normalize });
      expect(Array.from(got.indices)).toEqual(Array.from(want.indices));
      for (let i = 0; i < got.coefficients.length; i++) expect(got.coefficients[i]).toBeCloseTo(want.coefficients[i], 4);
      for (let t = 0; t < nT; t++) expect(got.residualNorms[t]).toBeCloseTo(want.residualNorms[t], 3);
    });
  }

  it("ridge: same atoms as plain OMP, the reference's regularised coefficients, smaller than plain ones", () => {
    const [nAtoms, dim, k] = [120, 32, 32]; // k = dim: the plain solve fits exactly
    const r = rng(4242);
    const dict = gaussian(r, nAtoms * dim).map((v, i) => v * (0.5 + (((i / dim) | 0) % 5)) * 0.3);
    const nT = 21;
    const targets = gaussian(r, nT * dim);
    const plain = omp.solve(dict, nAtoms, targets, nT, { k });
    const got = omp.solve(dict, nAtoms, targets, nT, { k, ridge: 0.5 });
    const want = ompReference(dict, nAtoms, targets, nT, { k, ridge: 0.5 });
    expect(Array.from(got.indices)).toEqual(Array.from(plain.indices));
    expect(Array.from(got.indices)).toEqual(Array.from(want.indices));
    for (let i = 0; i < got.coefficients.length; i++) expect(got.coefficients[i]).toBeCloseTo(want.coefficients[i], 4);
    let plainNorm = 0;
    let ridgeNorm = 0;
    for (let i = 0; i < got.coefficients.length; i++) {
      plainNorm += plain.coefficients[i] ** 2;
      ridgeNorm += got.coefficients[i] ** 2;
    }
    expect(ridgeNorm).toBeLessThan(0.5 * plainNorm);
    for (let t = 0; t < nT; t++) {
      expect(plain.residualNorms[t]).toBeLessThan(1e-3);
      expect(got.residualNorms[t]).toBeGreaterThan(1e-2);
      expect(got.residualNorms[t]).toBeCloseTo(want.residualNorms[t], 3);
    }
    expect(() => omp.solve(dict, nAtoms, targets, nT, { k, ridge: -1 })).toThrow(OutOfRangeError);
  });

  it("stops early at the tolerance and skips duplicate (dependent) atoms", () => {
    const dim = 8;
    const e = (i: number) => Float32Array.from({ length: dim }, (_, j) => (j === i ? 1 : 0));
    // atom 1 duplicates atom 0; atom 3 is zero
    const dict = new Float32Array([...e(0), ...e(0), ...e(1), ...new Array(dim).fill(0), ...e(2)]);
    const y = new Float32Array(dim);
    y[0] = 3;
    y[1] = 2;
    y[2] = 0.001;
    const res = omp.solve(dict, 5, y, 1, { k: 4, tol: 0.01 });
    expect(Array.from(res.indices)).toEqual([0, 2, -1, -1]);
    expect(Array.from(res.coefficients.subarray(0, 2))).toEqual([3, 2]);
    const ref = ompReference(dict, 5, y, 1, { k: 4, tol: 0.01 });
    expect(Array.from(ref.indices)).toEqual([0, 2, -1, -1]);
    // without a tolerance it continues, never picking the duplicate or the zero atom
    const all = omp.solve(dict, 5, y, 1, { k: 4 });
    expect(Array.from(all.indices)).toEqual([0, 2, 4, -1]);
  });

  it("zero targets get no atoms", () => {
    const r = rng(1);
    const res = omp.solve(gaussian(r, 10 * 4), 10, new Float32Array(8), 2, { k: 3 });
    expect(Array.from(res.indices)).toEqual(new Array(6).fill(-1));
  });

  it("rejects bad arguments with clear errors", () => {
    const d = new Float32Array(40);
    expect(() => omp.solve(d, 10, new Float32Array(5), 1, { k: 2 })).toThrow(ShapeError);
    expect(() => omp.solve(d, 10, new Float32Array(4), 1, { k: 5 })).toThrow(OutOfRangeError);
    expect(() => omp.solve(d, 7, new Float32Array(4), 1, { k: 1 })).toThrow(/not a multiple/);
    expect(() => omp.solve(d, 10, new Float32Array([1, Number.NaN, 0, 0]), 1, { k: 1 })).toThrow(/not finite/);
    expect(() => omp.solve(d, 10, new Float32Array(4), 1, { k: 1, tol: -1 })).toThrow(OutOfRangeError);
  });

  it("runs a transplant-sized batch (2000 atoms x 256 dims, 64 targets, k = 32)", () => {
    const r = rng(77);
    const nAtoms = 2000;
    const dim = 256;
    const dict = gaussian(r, nAtoms * dim);
    const targets = gaussian(r, 64 * dim);
    const res = omp.solve(dict, nAtoms, targets, 64, { k: 32 });
    // 32 random atoms explain part of a random target: residual strictly between 0 and 1
    for (let t = 0; t < 64; t++) {
      let yn = 0;
      for (let i = 0; i < dim; i++) yn += targets[t * dim + i] ** 2;
      const rel = res.residualNorms[t] / Math.sqrt(yn);
      expect(rel).toBeGreaterThan(0.3);
      expect(rel).toBeLessThan(0.99);
      expect(new Set(res.indices.subarray(t * 32, t * 32 + 32)).size).toBe(32);
    }
  });
});
