/**
 * Rebuilding one matrix for the donor's vocabulary, on synthetic data where the right answer
 * is known: the base space is a linear image of the donor space, so OMP's coefficients over
 * the donor anchors, applied to the base anchors, must give exactly the image of every
 * k-sparse donor row.
 */
import { OmpSolver, ShapeError, splitmix32 } from "@edgespec/runtime";
import { beforeAll, describe, expect, it } from "vitest";
import { initializeMatrix, type Matrix, type VocabularyMatch } from "../src/index";

let solver: OmpSolver;
beforeAll(async () => {
  solver = await OmpSolver.create();
});

function gaussian(seed: number, n: number): Float32Array {
  const u = splitmix32(seed);
  return Float32Array.from({ length: n }, () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u()));
}

/** donor ids 0..anchors-1 are anchors (base id = donor id + 5), the rest new; base has anchors + 5 rows. */
function synthetic(anchors: number, fresh: number, donorDim: number, baseDim: number, k: number, seed: number) {
  const u = splitmix32(seed);
  const donorRows = anchors + fresh;
  const donor = new Float32Array(donorRows * donorDim);
  donor.set(gaussian(seed + 1, anchors * donorDim));
  const supports: number[][] = [];
  for (let t = anchors; t < donorRows; t++) {
    const support = new Set<number>();
    while (support.size < k) support.add(Math.floor(u() * anchors));
    supports.push([...support]);
    for (const a of support) {
      const c = (1 + u()) * (u() < 0.5 ? -1 : 1);
      for (let j = 0; j < donorDim; j++) donor[t * donorDim + j] += c * donor[a * donorDim + j];
    }
  }
  // base = donor x M^T for a random M [baseDim, donorDim] (plus 5 rows the donor lacks)
  const M = gaussian(seed + 2, baseDim * donorDim);
  const image = (row: Float32Array) => Float64Array.from({ length: baseDim }, (_, i) => row.reduce((s, v, j) => s + M[i * donorDim + j] * v, 0));
  const baseRows = anchors + 5;
  const base = new Float32Array(baseRows * baseDim);
  base.set(gaussian(seed + 3, 5 * baseDim));
  for (let a = 0; a < anchors; a++) base.set(image(donor.subarray(a * donorDim, (a + 1) * donorDim)), (a + 5) * baseDim);
  const match: VocabularyMatch = {
    donorToBase: Int32Array.from({ length: donorRows }, (_, i) => (i < anchors ? i + 5 : -1)),
    anchors: Int32Array.from({ length: anchors }, (_, i) => i),
    unmatched: Int32Array.from({ length: fresh }, (_, i) => anchors + i),
  };
  return {
    base: { data: base, rows: baseRows, dim: baseDim } as Matrix,
    donor: { data: donor, rows: donorRows, dim: donorDim } as Matrix,
    match,
    supports,
    image,
  };
}

describe("initializeMatrix", () => {
  it("OMP (plain form: uncentred, no ridge) recovers k-sparse donor rows exactly and maps them through the anchors", () => {
    const k = 4;
    // 80 random atoms in 64 dims are incoherent enough for OMP to find every 4-sparse support
    const s = synthetic(80, 25, 64, 20, k, 7);
    const out = initializeMatrix(s.base, s.donor, s.match, { method: "omp", k, solver, center: false, ridge: 0 });
    expect(out.rows).toBe(105);
    expect(out.dim).toBe(20);
    for (let t = 0; t < 25; t++) {
      const id = 80 + t;
      // the atoms OMP chose are the true support
      const atoms = Array.from(out.atoms?.subarray(t * k, (t + 1) * k) ?? []).sort((a, b) => a - b);
      expect(atoms).toEqual([...s.supports[t]].sort((a, b) => a - b));
      const want = s.image(s.donor.data.subarray(id * 64, (id + 1) * 64));
      const scale = Math.max(...want.map(Math.abs));
      for (let i = 0; i < 20; i++) expect(Math.abs(out.data[id * 20 + i] - want[i])).toBeLessThan(1e-4 * scale);
    }
  });

  it("copies anchor rows bit for bit, whatever the method", () => {
    const s = synthetic(40, 10, 16, 12, 3, 11);
    for (const method of ["omp", "mean", "zero", "randn"] as const) {
      const out = initializeMatrix(s.base, s.donor, s.match, { method, k: 3, solver });
      for (let a = 0; a < 40; a++) {
        const got = new Uint32Array(out.data.buffer, a * 12 * 4, 12);
        const want = new Uint32Array(s.base.data.buffer, (a + 5) * 12 * 4, 12);
        expect(Array.from(got), `${method} anchor ${a}`).toEqual(Array.from(want));
      }
      expect(Array.from(out.approximated)).toEqual(Array.from({ length: 10 }, (_, i) => 40 + i));
    }
  });

  it("mean, zero and randn fill new rows from the base's statistics", () => {
    const s = synthetic(40, 300, 16, 12, 3, 13);
    const colMean = Array.from({ length: 12 }, (_, j) => {
      let sum = 0;
      for (let r = 0; r < s.base.rows; r++) sum += s.base.data[r * 12 + j];
      return sum / s.base.rows;
    });
    const mean = initializeMatrix(s.base, s.donor, s.match, { method: "mean" });
    const zero = initializeMatrix(s.base, s.donor, s.match, { method: "zero" });
    const randn = initializeMatrix(s.base, s.donor, s.match, { method: "randn", seed: 3 });
    for (let t = 40; t < 340; t++) {
      for (let j = 0; j < 12; j++) {
        expect(mean.data[t * 12 + j]).toBeCloseTo(colMean[j], 5);
        expect(zero.data[t * 12 + j]).toBe(0);
      }
    }
    // randn: 300 draws per column around the base's column mean (within 4 standard errors)
    for (let j = 0; j < 12; j++) {
      let sum = 0;
      let sq = 0;
      for (let r = 0; r < s.base.rows; r++) sq += (s.base.data[r * 12 + j] - colMean[j]) ** 2;
      const sd = Math.sqrt(sq / s.base.rows);
      for (let t = 40; t < 340; t++) sum += randn.data[t * 12 + j];
      expect(Math.abs(sum / 300 - colMean[j])).toBeLessThan((4 * sd) / Math.sqrt(300));
    }
    // seeded: the same seed gives the same rows
    expect(initializeMatrix(s.base, s.donor, s.match, { method: "randn", seed: 3 }).data).toEqual(randn.data);
  });

  it("names a k larger than the anchor set or the donor's hidden size", () => {
    const s = synthetic(20, 5, 16, 12, 2, 17);
    expect(() => initializeMatrix(s.base, s.donor, s.match, { method: "omp", k: 21, solver })).toThrow(ShapeError);
    expect(() => initializeMatrix(s.base, s.donor, s.match, { method: "omp", k: 21, solver })).toThrow(
      /k = 21 is larger than the anchor set \(20 shared tokens\)/,
    );
    expect(() => initializeMatrix(s.base, s.donor, s.match, { method: "omp", k: 17, solver })).toThrow(/larger than the donor's hidden size 16/);
  });

  it("names matrices whose shapes do not add up", () => {
    const s = synthetic(20, 5, 16, 12, 2, 19);
    const bad = { ...s.base, dim: 13 };
    expect(() => initializeMatrix(bad, s.donor, s.match, { method: "mean", name: "embed_tokens" })).toThrow(/base embed_tokens: expected/);
    const short = { data: s.donor.data.subarray(0, 20 * 16), rows: 20, dim: 16 };
    expect(() => initializeMatrix(s.base, short, s.match, { method: "mean", name: "lm_head" })).toThrow(
      /donor lm_head has 20 rows but the donor tokenizer has 25 tokens/,
    );
  });
});
