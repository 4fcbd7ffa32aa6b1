import { NonFiniteError, OutOfRangeError, ShapeError } from "@edgespec/runtime";
import { describe, expect, it } from "vitest";
import { DenseIndex, DuplicateDocumentError, HybridIndex, SparseIndex } from "../src/index/index";

describe("input checks", () => {
  it("rejects bad sparse vectors before they reach the module", async () => {
    const idx = await SparseIndex.create({ vocab: 100 });
    expect(() => idx.add(1, { ids: [100], weights: [1] })).toThrow(OutOfRangeError);
    expect(() => idx.add(1, { ids: [-1], weights: [1] })).toThrow(/outside \[0, 100\)/);
    expect(() => idx.add(1, { ids: [1.5], weights: [1] })).toThrow(OutOfRangeError);
    expect(() => idx.add(1, { ids: [1], weights: [Number.NaN] })).toThrow(NonFiniteError);
    expect(() => idx.add(1, { ids: [1], weights: [Number.POSITIVE_INFINITY] })).toThrow(NonFiniteError);
    expect(() => idx.add(1, { ids: [1], weights: [-0.5] })).toThrow(/>= 0/);
    expect(() => idx.add(1, { ids: [1, 2], weights: [1] })).toThrow(ShapeError);
    expect(() => idx.add(1, { ids: [4, 4], weights: [1, 1] })).toThrow(/appears twice/);
    expect(() => idx.add(-1, { ids: [1], weights: [1] })).toThrow(OutOfRangeError);
    expect(() => idx.add(0xffffffff, { ids: [1], weights: [1] })).toThrow(OutOfRangeError);
    expect(idx.size).toBe(0);
    expect(() => idx.search({ ids: [1], weights: [1] }, 0)).toThrow(/k must be/);
    expect(() => idx.search({ ids: [1], weights: [1] }, 1.5)).toThrow(OutOfRangeError);
    expect(() => idx.search({ ids: [1], weights: [Number.NaN] }, 3)).toThrow(NonFiniteError);
    expect(() => idx.search({ ids: [200], weights: [1] }, 3)).toThrow(OutOfRangeError);
    await expect(SparseIndex.create({ vocab: 0 })).rejects.toThrow(OutOfRangeError);
  });

  it("rejects duplicate document ids, all or nothing", async () => {
    const idx = await SparseIndex.create({ vocab: 10 });
    idx.add(5, { ids: [1], weights: [1] });
    expect(() => idx.add(5, { ids: [2], weights: [1] })).toThrow(DuplicateDocumentError);
    expect(() =>
      idx.addBatch(
        [
          { ids: [1], weights: [1] },
          { ids: [2], weights: [1] },
        ],
        [7, 7],
      ),
    ).toThrow(/document 7 is already/);
    expect(() =>
      idx.addBatch(
        [
          { ids: [1], weights: [1] },
          { ids: [99], weights: [1] },
        ],
        [8, 9],
      ),
    ).toThrow(OutOfRangeError);
    expect(idx.size).toBe(1);
    expect(idx.has(7)).toBe(false);
    expect(idx.has(8)).toBe(false);
    expect(idx.search({ ids: [1], weights: [1] }, 5).ids.length).toBe(1);
  });

  it("checks dense vectors and hybrid arguments", async () => {
    const d = await DenseIndex.create({ dim: 3 });
    expect(() => d.add(1, [1, 2])).toThrow(ShapeError);
    expect(() => d.add(1, [1, Number.NaN, 2])).toThrow(NonFiniteError);
    d.add(1, [1, 2, 3]);
    expect(() => d.add(1, [1, 2, 3])).toThrow(DuplicateDocumentError);
    expect(() => d.search([1, 2, 3], 0)).toThrow(OutOfRangeError);
    await expect(DenseIndex.create({ dim: 0 })).rejects.toThrow(OutOfRangeError);
    const h = await HybridIndex.create({ vocab: 5, dim: 2 });
    h.add(1, { sparse: { ids: [1], weights: [1] }, dense: [1, 1] });
    // the dense half fails: the sparse half is taken back
    expect(() => h.add(2, { sparse: { ids: [1], weights: [1] }, dense: [1] })).toThrow(ShapeError);
    expect(h.sparse.has(2)).toBe(false);
    expect(() => h.search({ sparse: { ids: [1], weights: [1] }, dense: [1, 1] }, 1, { weights: { dense: -1 } })).toThrow(/>= 0/);
  });
});
